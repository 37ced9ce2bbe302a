#!/usr/bin/env python3
"""Build the training sets for the two category designs compared in docs/nlu.md.

A (chosen): one model, problem descriptions labelled `lapor+<kategori>` (nlu_data/ as is).
B: two models. B-intent: every `lapor+<kategori>` relabelled `lapor`; B-category: only the problem
descriptions, labelled `<kategori>`. Served by two `rasa run` processes; the bot would ask the second
only when the first says `lapor`.

Usage: python scripts/nlu_design_compare.py OUTDIR   (writes OUTDIR/b_intent/ and OUTDIR/b_category/)
"""
import re
import shutil
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "nlu_data"


def main(out: Path) -> None:
    for sub in ("b_intent", "b_category"):
        d = out / sub
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    for f in sorted(SRC.rglob("*.yml")):
        text = f.read_text(encoding="utf-8")
        if f.name == "config.yml":
            continue
        rel = f.relative_to(SRC)
        for sub in ("b_intent", "b_category"):
            (out / sub / rel).parent.mkdir(parents=True, exist_ok=True)
        (out / "b_intent" / rel).write_text(re.sub(r"intent: lapor\+\w+", "intent: lapor", text), encoding="utf-8")
        # category model: keep only lapor+X blocks, renamed to X
        blocks = re.split(r"(?m)^(?=- (?:intent|regex|lookup|synonym):)", text)
        keep = [b for b in blocks if b.startswith("- intent: lapor+") or b.startswith(("- regex", "- lookup", "- synonym"))]
        keep = [re.sub(r"^- intent: lapor\+(\w+)", r"- intent: \1", b) for b in keep]
        if keep:
            (out / "b_category" / rel).write_text('version: "3.1"\nnlu:\n' + "".join(keep), encoding="utf-8")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
