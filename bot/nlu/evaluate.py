"""Evaluate the bot's understanding on a JSONL file.

Each line: {"text": ..., "intent": ..., "category": optional, "entities": optional {"lokasi": "...", ...}}.
Entities are scored per line and entity type, on lines that carry an "entities" object: an expected value
matches when a prediction equals it case-insensitively; for `lokasi` the normalized region name (or any
ambiguous candidate) counts as well as Rasa's surface text, for `nomor_laporan` the normalized ID, for
`tanggal` the phrase or the ISO date.

Region accuracy (issue 14) scores places at the level the bot files them: the resolved regency/city (or
province), not the surface string. A line's expected region is its "region" field (a name, or a list when the text itself is ambiguous), else the region(s) its
`lokasi` entity resolves to. A prediction is right when the resolved region is expected, or when the text is
left ambiguous with exactly the expected candidates (the bot then asks, e.g. "Semarang": city or regency).
"""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

from bot.nlu.interpret import ENTITIES, Interpretation


def load_jsonl(path: str | Path) -> list[dict]:
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        row = json.loads(line)
        if not isinstance(row, dict) or "text" not in row or "intent" not in row:
            raise ValueError(f"{path}:{n}: each line needs 'text' and 'intent'")
        rows.append(row)
    return rows


def _predicted(kind: str, it: Interpretation) -> set[str]:
    if kind == "lokasi":
        vals = list(it.locations) + [r.name for r in it.region_candidates]
        if it.region:
            vals.append(it.region.name)
    elif kind == "nomor_laporan":
        vals = [it.tracking_id] if it.tracking_id else []
    elif kind == "tanggal":
        vals = [v for v in (it.date_text, it.incident_date.isoformat() if it.incident_date else None) if v]
    else:
        vals = list(it.agencies)
    return {v.strip().lower() for v in vals if v}


def _norm_expected(kind: str, value: str) -> str:
    value = str(value).strip()
    if kind == "nomor_laporan":
        from bot import tracking
        try:
            return tracking.normalize(value).lower()
        except tracking.TrackingIdError:
            return value.lower()
    return value.lower()


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def score(rows: list[dict], interps: list[Interpretation]) -> dict:
    n = len(rows)
    intent_ok = 0
    cat_rows = 0
    cat_ok = 0
    per_class: dict[str, list[int]] = {}  # label -> [tp, fp, fn]
    ent_counts = {k: [0, 0, 0] for k in ENTITIES}
    errors = []
    region_rows = region_ok = 0
    for row, it in zip(rows, interps):
        wrong = False
        expected_regions = _expected_regions(row)
        if expected_regions:
            region_rows += 1
            if _region_right(expected_regions, it):
                region_ok += 1
            else:
                wrong = True
        if it.intent == row["intent"]:
            intent_ok += 1
        else:
            wrong = True
        gold_cat = row.get("category")
        if gold_cat:
            cat_rows += 1
            pred = it.category
            if pred == gold_cat:
                cat_ok += 1
                per_class.setdefault(gold_cat, [0, 0, 0])[0] += 1
            else:
                wrong = True
                per_class.setdefault(gold_cat, [0, 0, 0])[2] += 1
                if pred:
                    per_class.setdefault(pred, [0, 0, 0])[1] += 1
        gold_ents = row.get("entities")
        if isinstance(gold_ents, dict):
            for kind in ENTITIES:
                predicted = _predicted(kind, it)
                expected = gold_ents.get(kind)
                c = ent_counts[kind]
                if expected:
                    if _norm_expected(kind, expected) in predicted:
                        c[0] += 1
                    else:
                        c[2] += 1
                        if predicted:
                            c[1] += 1
                        wrong = True
                elif predicted:
                    c[1] += 1
        if wrong:
            errors.append({"text": row["text"], "expected_intent": row["intent"], "intent": it.intent,
                           "confidence": round(it.confidence, 3), "expected_category": gold_cat,
                           "category": it.category, "expected_entities": gold_ents or None,
                           "expected_region": sorted(expected_regions) or None,
                           "region": it.region.name if it.region else None,
                           "source": it.source})
    f1s = []
    for label in sorted({r.get("category") for r in rows if r.get("category")}):
        tp, fp, fn = per_class.get(label, [0, 0, 0])
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        f1s.append(_f1(p, r))
    entities = {}
    for kind, (tp, fp, fn) in ent_counts.items():
        if tp + fp + fn == 0:
            continue
        p = tp / (tp + fp) if tp + fp else 0.0
        r = tp / (tp + fn) if tp + fn else 0.0
        entities[kind] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(_f1(p, r), 4)}
    return {
        "n": n,
        "intent_accuracy": round(intent_ok / n, 4) if n else 0.0,
        "category_accuracy": round(cat_ok / cat_rows, 4) if cat_rows else 0.0,
        "category_macro_f1": round(sum(f1s) / len(f1s), 4) if f1s else 0.0,
        "entities": entities,
        "region_lines": region_rows,
        "region_accuracy": round(region_ok / region_rows, 4) if region_rows else 0.0,
        "errors": errors,
    }


def _expected_regions(row: dict) -> set[str]:
    if row.get("region"):  # a name, or the list of candidates the text leaves open
        return set(row["region"]) if isinstance(row["region"], list) else {row["region"]}
    loc = (row.get("entities") or {}).get("lokasi") if isinstance(row.get("entities"), dict) else None
    if not loc:
        return set()
    from bot.nlu import regions

    return {r.name for r in regions.resolve(loc, allow_common=True)}


def _region_right(expected: set[str], it: Interpretation) -> bool:
    if it.region is not None:
        return it.region.name in expected
    return len(expected) > 1 and {r.name for r in it.region_candidates} == expected


async def evaluate(rows: list[dict], client, concurrency: int = 8) -> dict:
    sem = asyncio.Semaphore(concurrency)

    async def one(row: dict) -> Interpretation:
        async with sem:
            return await client.parse(row["text"])

    interps = await asyncio.gather(*(one(r) for r in rows))
    return score(rows, list(interps))


def format_report(result: dict) -> str:
    lines = [f"lines              {result['n']}",
             f"intent accuracy    {result['intent_accuracy']:.4f}",
             f"category accuracy  {result['category_accuracy']:.4f}",
             f"category macro-F1  {result['category_macro_f1']:.4f}",
             "entities           precision  recall  f1"]
    for kind, m in result["entities"].items():
        lines.append(f"  {kind:<16} {m['precision']:.4f}     {m['recall']:.4f}  {m['f1']:.4f}")
    if result.get("region_lines"):
        lines.append(f"region accuracy    {result['region_accuracy']:.4f}  ({result['region_lines']} lines name a place)")
    lines.append(f"errors             {len(result['errors'])}")
    for e in result["errors"]:
        lines.append(f"  - {e['text'][:70]!r}: intent {e['expected_intent']} -> {e['intent']}"
                     + (f", category {e['expected_category']} -> {e['category']}" if e["expected_category"] else ""))
    return "\n".join(lines)
