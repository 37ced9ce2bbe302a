"""Hypothesis strategies for hostile input: JSON that BSON cannot store, deep nesting, bad bytes, odd names."""
from __future__ import annotations

import json

from hypothesis import strategies as st

# every code point, lone surrogates included (JSON can carry them as \ud800 escapes)
any_char = st.characters(codec=None, categories=None, exclude_categories=())
nasty_text = st.one_of(
    st.text(any_char, max_size=40),
    st.sampled_from(["", "\x00", "\ud800", "$where", "a.b", "..", "../../etc/passwd", "%2F..%2F", "²", "٣", "-1",
                     "9" * 20, "x" * 300, "{{ 7*7 }}", "<script>", "null", "NaN", "1e309", "🙂" * 50]),
)
numbers = st.one_of(st.integers(), st.sampled_from([2 ** 63, -(2 ** 63) - 1, 10 ** 20, -1, 0]),
                    st.floats(allow_nan=True, allow_infinity=True))
leaves = st.one_of(st.none(), st.booleans(), numbers, nasty_text)
json_values = st.recursive(leaves, lambda c: st.one_of(st.lists(c, max_size=4),
                                                       st.dictionaries(nasty_text, c, max_size=4)), max_leaves=25)


def dumps(value) -> bytes:
    """JSON text with non-ASCII (and lone surrogates) as escapes; NaN/Infinity as Python writes them."""
    return json.dumps(value, ensure_ascii=True).encode()


deep = st.builds(lambda n, open_, close: (open_ * n + close * n).encode(), st.integers(30, 6000),
                 st.sampled_from(["[", '{"a":']), st.sampled_from(["]", "}"]))
raw_bodies = st.one_of(st.binary(max_size=300), deep, st.just(b"\xff\xfe\xfd"), json_values.map(dumps))


def shaped(template: dict):
    """A dict with the keys of ``template``; each value kept or replaced by a hostile one."""
    return st.fixed_dictionaries({k: st.one_of(st.just(v), json_values) for k, v in template.items()},
                                 optional={"extra": json_values})
