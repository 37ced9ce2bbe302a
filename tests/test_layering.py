"""Import layering: no cycles (imports inside functions included) and no upward import across layers.

The layers, lowest first, are declared in ``LAYERS`` and drawn in docs/architecture.md. A module may import
its own layer and the ones below; the most specific prefix decides a module's layer.
"""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "channels", "outreach")

LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("bot.messages", "bot.config", "bot.phones", "bot.tracking", "bot.reports", "bot.templates",
              "bot.ratelimit", "bot.embedded_db", "bot.progress", "bot.processes", "bot.tasks", "bot.appkeys", "bot.sending", "bot.untrusted",
              "bot.privacy.exif", "bot.kept_keys")),
    ("storage", ("bot.storage",)),
    ("domain", ("bot.agencies", "bot.nlu", "bot.outbox", "bot.held", "bot.filing", "bot.privacy.rights")),
    ("dialogue", ("bot.dialogue",)),
    ("engine", ("bot.engine",)),
    ("features", ("channels", "bot.staff", "outreach", "bot.backoffice", "bot.privacy", "bot.open311",
                  "bot.publik", "bot.forwarding")),
    ("app", ("bot.app", "bot.cli", "bot.http", "bot.nlu.cli", "bot.staff.cli", "outreach.cli")),
]


def modules() -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def imports(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Every in-tree module each module imports, wherever the import statement is (function bodies too)."""

    def resolve(name: str) -> str | None:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    anchor = anchor[:len(anchor) - (node.level - 1)]
                    base = ".".join(anchor + ([base] if base else []))
                names = [base] + [f"{base}.{a.name}" for a in node.names]
            for name in names:
                target = resolve(name)
                if target and target != mod and not mod.startswith(target + "."):
                    graph[mod].add(target)
    return graph


def layer_of(mod: str) -> int:
    if mod == "bot":
        return 0  # the bare package ``bot`` (its __init__ imports nothing)
    best, best_len = None, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (mod == p or mod.startswith(p + ".")) and len(p) > best_len:
                best, best_len = i, len(p)
    assert best is not None, f"{mod} is in no layer: add it to LAYERS in tests/test_layering.py"
    return best


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state:
                found = visit(n)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_every_module_has_a_layer():
    for mod in modules():
        layer_of(mod)


def test_no_import_cycles_even_lazy_ones():
    cycle = find_cycle(imports(modules()))
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_upward_imports():
    upward = []
    for mod, targets in imports(modules()).items():
        for t in sorted(targets):
            if layer_of(t) > layer_of(mod):
                upward.append(f"{mod} ({LAYERS[layer_of(mod)][0]}) imports {t} ({LAYERS[layer_of(t)][0]})")
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_the_checker_sees_lazy_imports_and_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    mods = modules()
    # bot.app starts outreach from inside a method: a lazy import the graph must contain
    assert "outreach" in imports(mods)["bot.app"]


def test_the_dialogue_does_not_import_feature_packages():
    for mod, targets in imports(modules()).items():
        if mod.startswith("bot.dialogue"):
            assert not {t for t in targets if t.split(".")[0] in ("outreach", "channels")
                        or t.startswith(("bot.staff", "bot.backoffice"))}, mod
