#!/usr/bin/env python3
"""Check that nlu_data/ holds the same training examples as at a git revision (default: HEAD).

Compares the multiset of (kind, name, example) -- kind is intent, lookup, synonym or regex -- read
with a YAML parser from every training file, so moving examples between files is proven lossless:
nothing added, dropped or duplicated. Prints the counts and any difference; exit 1 on a difference.

Usage: python scripts/nlu_examples_check.py [REV]
"""
import subprocess
import sys
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
KINDS = ("intent", "lookup", "synonym", "regex")


def examples(texts) -> Counter:
    """Multiset of (kind, name, example) over YAML documents given as strings."""
    out = Counter()
    for text in texts:
        doc = yaml.safe_load(text) or {}
        for block in doc.get("nlu", []) if isinstance(doc, dict) else []:
            kind = next(k for k in KINDS if k in block)
            for line in block["examples"].splitlines():
                line = line.strip()
                if line.startswith("- "):
                    out[(kind, block[kind], line[2:])] += 1
    return out


def at_revision(rev: str) -> Counter:
    names = subprocess.run(["git", "ls-tree", "-r", "--name-only", rev, "nlu_data/"], cwd=ROOT, check=True,
                           capture_output=True, text=True).stdout.split()
    texts = (subprocess.run(["git", "show", f"{rev}:{n}"], cwd=ROOT, check=True, capture_output=True,
                            text=True).stdout for n in names if n.endswith((".yml", ".yaml")))
    return examples(texts)


def in_tree() -> Counter:
    files = sorted(p for p in (ROOT / "nlu_data").rglob("*") if p.suffix in (".yml", ".yaml"))
    return examples(p.read_text(encoding="utf-8") for p in files)


def main(rev: str) -> int:
    before, after = at_revision(rev), in_tree()
    print(f"{rev}: {sum(before.values())} examples ({len(before)} distinct); "
          f"working tree: {sum(after.values())} ({len(after)} distinct)")
    lost, gained = before - after, after - before
    for what, diff in (("missing now", lost), ("new now", gained)):
        for (kind, name, ex), n in sorted(diff.items()):
            print(f"{what}: {kind} {name}: {ex!r} x{n}")
    print("same multiset" if not lost and not gained else "DIFFERENT")
    return 1 if lost or gained else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "HEAD"))
