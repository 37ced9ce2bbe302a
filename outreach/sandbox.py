"""The jinja2 sandbox every staff-written text is rendered in (campaign texts, WhatsApp template parameters).

A staff account is not a shell: texts run in ``ImmutableSandboxedEnvironment`` (no access to underscore
attributes, no mutation of lists or dicts) with no globals at all (no ``cycler``, ``range``, ``lipsum``...),
only the variables the caller passes (``render.context``: contact, sub, campaign). The source is checked
before it runs: only plain syntax (output, ``if``, ``for`` nested at most twice, ``set``, comparisons,
arithmetic, attribute and item access except names starting with ``_``, a short list of filters); no calls, macros, includes or imports;
integer literals up to 10,000; ``*`` and ``**`` refused when the result would be huge. Every refusal is a
``jinja2.exceptions.SecurityError`` (a ``TemplateError``), which preview and the staff API report as a
template error (422) before anything is stored or sent.
"""
from __future__ import annotations

import operator
from functools import lru_cache

from jinja2 import StrictUndefined, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_SOURCE_CHARS = 20_000  # one campaign text or parameter
MAX_RESULT_ITEMS = 10_000  # longest string or list ``*`` may build
MAX_EXPONENT = 64
MAX_INT_LITERAL = 10_000
MAX_LOOP_DEPTH = 2
ALLOWED_NODES = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const, nodes.Getattr,
                 nodes.Getitem, nodes.Slice, nodes.If, nodes.CondExpr, nodes.And, nodes.Or, nodes.Not,
                 nodes.Compare, nodes.Operand, nodes.Test, nodes.Filter, nodes.For, nodes.Concat, nodes.Add,
                 nodes.Sub, nodes.Mul, nodes.Div, nodes.FloorDiv, nodes.Mod, nodes.Pow, nodes.Neg, nodes.Pos,
                 nodes.Tuple, nodes.List, nodes.Dict, nodes.Pair, nodes.Assign, nodes.Keyword)
ALLOWED_FILTERS = frozenset({"upper", "lower", "title", "capitalize", "trim", "default", "d", "length", "count",
                             "first", "last", "string", "int", "round", "truncate", "abs", "e", "escape"})


class _StrictButFalsy(StrictUndefined):
    """Printing a missing variable is an error; testing it with ``if`` is allowed (same rule as bot texts)."""

    __bool__ = lambda self: False  # noqa: E731


def _size(value) -> int | None:
    return len(value) if isinstance(value, (str, bytes, list, tuple)) else None


class CampaignSandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context, op, left, right):
        if op == "**":
            if isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT or \
                    isinstance(left, (int, float)) and abs(left) > 10 ** 12:
                raise SecurityError("exponent or base too large")
            return operator.pow(left, right)
        if op == "*":
            for seq, n in ((left, right), (right, left)):
                size = _size(seq)
                if size is not None and isinstance(n, int) and size * n > MAX_RESULT_ITEMS:
                    raise SecurityError("repetition too large")
            if isinstance(left, int) and isinstance(right, int) and abs(left * right) > 10 ** 12:
                raise SecurityError("number too large")
            return operator.mul(left, right)
        return super().call_binop(context, op, left, right)


@lru_cache(maxsize=1)
def environment() -> CampaignSandbox:
    env = CampaignSandbox(undefined=_StrictButFalsy, trim_blocks=True, lstrip_blocks=True,
                          keep_trailing_newline=False, autoescape=False)
    env.globals.clear()  # whitelist: only the variables passed to ``render``
    return env


def _check_node(node: nodes.Node, loops: int = 0) -> None:
    if not isinstance(node, ALLOWED_NODES):
        raise SecurityError(f"{type(node).__name__} is not allowed in a campaign text")
    if isinstance(node, nodes.Filter) and node.name not in ALLOWED_FILTERS:
        raise SecurityError(f"filter {node.name!r} is not allowed; use {', '.join(sorted(ALLOWED_FILTERS))}")
    if isinstance(node, nodes.Const) and isinstance(node.value, int) and abs(node.value) > MAX_INT_LITERAL:
        raise SecurityError(f"numbers above {MAX_INT_LITERAL} are not allowed")
    name = node.attr if isinstance(node, nodes.Getattr) else \
        node.arg.value if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) else None
    if isinstance(name, str) and name.startswith("_"):
        raise SecurityError(f"attribute {name!r} is not allowed")
    if isinstance(node, nodes.For):
        loops += 1
        if loops > MAX_LOOP_DEPTH:
            raise SecurityError(f"loops nested deeper than {MAX_LOOP_DEPTH}")
    for child in node.iter_child_nodes():
        _check_node(child, loops)


def check(source: str) -> None:
    """Raise SecurityError (or a syntax error) unless ``source`` is a text the sandbox will run."""
    if not isinstance(source, str):
        raise SecurityError("a template must be text")
    if len(source) > MAX_SOURCE_CHARS:
        raise SecurityError(f"template longer than {MAX_SOURCE_CHARS} characters")
    _check_node(environment().parse(source))


def render(source: str, **variables) -> str:
    """Render one staff-written text. Raises jinja2 errors (SecurityError, UndefinedError, syntax)."""
    check(source)
    return environment().from_string(source).render(**variables).strip()
