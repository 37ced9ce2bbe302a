"""Move short ``templates/<lang>/**/*.j2`` files into ``templates/<lang>/messages.yml``.

    .venv/bin/python scripts/fold_templates.py            # fold, check, delete the folded files
    .venv/bin/python scripts/fold_templates.py --dry-run  # only list what would move

For the integrator after merging a branch that still adds ``.j2`` files. Each file of at most
``MAX_LINES`` lines (and not listed in ``KEEP_AS_FILES``) becomes one entry, written after the last
entry of its group (``filing/…``) so the hand-written comments stay. The jinja2 source is kept exactly
(only the file's final newline goes, which the renderer drops anyway); the new catalogue is parsed back
and every folded entry must equal its file before the catalogue is written and the files deleted. An entry that already
exists with different text stops the script before that language's catalogue is written.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent / "templates"
LANGUAGES = ("id", "en")
MAX_LINES = 6
KEEP_AS_FILES = {"tracking/status"}  # short, but each line hangs on its own condition
HEADER = """\
# Every text the bot sends in {name}, keyed by the name the code uses: render("errors/unavailable"),
# turn.say("filing/ask_location"), dialogues/filing.yml `ask:`. Values are jinja2 (variables, filters such
# as tanggal, label('status.' ~ x, lang), {{% if %}}); `|-` blocks keep line breaks exactly as written.
# Longer texts with several conditional lines are .j2 files beside this one (same key, same lookup).
# English must define the same keys with the same variables (tests/test_templates.py).
"""
NAMES = {"id": "Indonesian", "en": "English"}
KEY_LINE = re.compile(r"^([a-z0-9_]+)/\S*:")


def entry_text(key: str, source: str) -> str:
    """One ``key: value`` entry: a plain scalar when YAML allows one, otherwise a literal block."""
    if "\n" not in source and source == source.strip():
        plain = yaml.safe_dump({key: source}, allow_unicode=True, width=10**6, sort_keys=False)
        if not plain.startswith(f"{key}: '") and not plain.startswith(f'{key}: "'):
            return plain
    if any(line != line.rstrip() or line.startswith(" ") for line in source.split("\n")):
        raise ValueError(f"{key}: leading/trailing spaces on a line; fold it by hand")
    body = "".join(f"  {line}\n" if line else "\n" for line in source.split("\n"))
    return f"{key}: |-\n{body}"


def _continues(lines: list[str], i: int) -> bool:
    """Line ``i`` still belongs to the entry above: indented, or blank inside a literal block."""
    if lines[i].startswith("  "):
        return True
    rest = [ln for ln in lines[i:] if ln.strip()]
    return not lines[i].strip() and bool(rest) and rest[0].startswith("  ")


def insert(text: str, key: str, entry: str) -> str:
    """Place ``entry`` after the last entry of its group, or append a new group at the end."""
    group = key.split("/", 1)[0]
    lines = text.splitlines(keepends=True)
    end = None
    i = 0
    while i < len(lines):
        m = KEY_LINE.match(lines[i])
        i += 1
        if m:
            while i < len(lines) and _continues(lines, i):
                i += 1
            if m.group(1) == group:
                end = i
    if end is None:
        sep = "" if not text or text.endswith("\n\n") else "\n"
        return f"{text}{sep}# -- {group}\n{entry}"
    return "".join(lines[:end]) + entry + "".join(lines[end:])


def fold(lang: str, dry_run: bool, root: Path = ROOT) -> list[str]:
    base = root / lang
    path = base / "messages.yml"
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER.format(name=NAMES[lang])
    existing = yaml.safe_load(text) or {}
    moved: dict[str, Path] = {}
    expected: dict[str, str] = {}
    for f in sorted(base.rglob("*.j2")):
        key = f.relative_to(base).as_posix()[:-3]
        source = f.read_text(encoding="utf-8").removesuffix("\n")
        if key in KEEP_AS_FILES or source.count("\n") + 1 > MAX_LINES:
            continue
        if key in existing and existing[key] != source:
            sys.exit(f"{lang}/{key}: the catalogue already has a different text; resolve by hand")
        if key not in existing:
            text = insert(text, key, entry_text(key, source))
        moved[key], expected[key] = f, source
    if dry_run or not moved:
        return sorted(moved)
    back = yaml.safe_load(text)
    wrong = [k for k, v in expected.items() if back.get(k) != v]
    if wrong or set(back) - set(existing) - set(expected):
        sys.exit(f"{lang}: read-back differs for {wrong}; nothing written")
    path.write_text(text, encoding="utf-8")
    for f in moved.values():
        f.unlink()
    for d in sorted({f.parent for f in moved.values()}, key=lambda p: -len(p.parts)):
        if d != base and not any(d.iterdir()):
            d.rmdir()
    return sorted(moved)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--root", type=Path, default=ROOT, help="templates directory (default: this checkout's)")
    args = ap.parse_args()
    for lang in LANGUAGES:
        keys = fold(lang, args.dry_run, args.root)
        print(f"{lang}: {'would fold' if args.dry_run else 'folded'} {len(keys)} texts")
        for k in keys:
            print(f"  {k}")


if __name__ == "__main__":
    main()
