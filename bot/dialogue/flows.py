"""Load flows from ``dialogues/*.yml`` and pick the next step to ask."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

DIALOGUES_DIR = Path(__file__).resolve().parents[2] / "dialogues"


@dataclass
class Step:
    slot: str
    parser: str
    ask: str | None = None
    choices: list[str] = field(default_factory=list)
    when: str | None = None
    request_location: bool = False
    silent: bool = False  # no prompt: the parser runs as soon as the step is reached
    fallback: str | None = None  # slot whose parser gets the answer when this step's parser rejects it


@dataclass
class Flow:
    name: str
    steps: list[Step]
    on_complete: str | None = None

    def step(self, slot: str) -> Step | None:
        return next((s for s in self.steps if s.slot == slot), None)


def load_flows(root: Path = DIALOGUES_DIR) -> dict[str, Flow]:
    flows = {}
    for path in sorted(root.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or "flow" not in data:
            continue
        steps = [Step(**s) for s in data.get("steps", [])]
        flows[data["flow"]] = Flow(data["flow"], steps, data.get("on_complete"))
    return flows


def load_keywords(root: Path = DIALOGUES_DIR) -> dict:
    return yaml.safe_load((root / "keywords.yml").read_text(encoding="utf-8"))
