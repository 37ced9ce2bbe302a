"""The training data and the held-out set: complete label coverage, no overlap."""
import json
import re
from pathlib import Path

import yaml

from bot.nlu import CATEGORIES, INTENTS

REPO = Path(__file__).resolve().parents[2]


def training_files():
    """Every training file, subfolders included (Rasa reads nlu_data/ recursively)."""
    return sorted(f for f in (REPO / "nlu_data").rglob("*.yml") if f.name != "config.yml")


def training_examples():
    out = []
    for f in training_files():
        doc = yaml.safe_load(f.read_text(encoding="utf-8"))
        for block in (doc or {}).get("nlu", []) if isinstance(doc, dict) else []:
            if "intent" in block:
                for line in block["examples"].splitlines():
                    line = line.strip()
                    if line.startswith("- "):
                        text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", line[2:])
                        out.append((block["intent"], text))
    return out


def test_each_intent_lives_in_one_file():
    """One file per intent family: adding examples for an intent means opening one file."""
    homes = {}
    for f in training_files():
        doc = yaml.safe_load(f.read_text(encoding="utf-8")) or {}
        for block in doc.get("nlu", []):
            if "intent" in block:
                homes.setdefault(block["intent"], set()).add(f.relative_to(REPO / "nlu_data").as_posix())
    spread = {i: sorted(fs) for i, fs in homes.items() if len(fs) > 1}
    assert not spread, spread
    for c in CATEGORIES:
        assert homes[f"lapor+{c}"] == {f"categories/{c}.yml"}


def norm(s):
    return " ".join(re.findall(r"\w+", s.lower()))


def test_training_labels_are_exactly_the_inventory():
    labels = {i for i, _ in training_examples()}
    expected = set(INTENTS) | {f"lapor+{c}" for c in CATEGORIES}
    assert labels == expected


def test_heldout_size_coverage_and_no_overlap():
    rows = [json.loads(x) for x in (REPO / "tests/nlu/heldout.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    assert len(rows) >= 300
    assert {r["intent"] for r in rows} == set(INTENTS)
    assert {r["category"] for r in rows if r.get("category")} == set(CATEGORIES)
    train = {norm(t) for _, t in training_examples()}
    overlap = [r["text"] for r in rows if norm(r["text"]) in train]
    assert not overlap, overlap


def test_messy_heldout_is_large_covering_and_apart_from_training_and_the_clean_set():
    """Issue 14: the messy set is written on its own; no line is a training sentence or a clean held-out line,
    not even after the normaliser (so "yg" vs "yang" spellings of a training sentence do not count as new)."""
    from bot.nlu import regions
    from bot.nlu.normalize import normalize

    rows = [json.loads(x) for x in (REPO / "tests/nlu/heldout_messy.jsonl").read_text(encoding="utf-8").splitlines()
            if x.strip()]
    assert len(rows) >= 300
    assert {r["intent"] for r in rows} == set(INTENTS)
    assert {r["category"] for r in rows if r.get("category")} == set(CATEGORIES)
    train = {norm(normalize(t)) for _, t in training_examples()}
    clean = {norm(normalize(json.loads(x)["text"]))
             for x in (REPO / "tests/nlu/heldout.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()}
    texts = [norm(normalize(r["text"])) for r in rows]
    assert not [t for t in texts if t in train], "messy held-out lines found in the training data"
    assert not [t for t in texts if t in clean], "messy held-out lines found in the clean held-out set"
    assert len(set(texts)) == len(texts), "duplicate lines"
    names = {r.name for r in regions.all_regions()}
    expected = [r["region"] if isinstance(r["region"], list) else [r["region"]] for r in rows if r.get("region")]
    assert {n for e in expected for n in e} <= names
    assert sum(1 for r in rows if r.get("region")) >= 40
