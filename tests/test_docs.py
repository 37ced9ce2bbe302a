"""The README's configuration table and bot/config.py's Settings describe the same settings."""
import re
from pathlib import Path

from bot.config import Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_settings() -> set[str]:
    """Every variable named in the first column of the table under ``## Configuration``."""
    section = README.read_text(encoding="utf-8").split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names = set()
    for line in section.splitlines():
        cells = line.split("|")
        if line.startswith("|") and len(cells) > 2:
            names |= set(re.findall(r"`([A-Z][A-Z0-9_]*)`", cells[1]))
    return names


def test_readme_table_is_found():
    assert {"MONGODB_URI", "TELEGRAM_BOT_TOKEN"} <= readme_settings()


def test_every_readme_setting_exists_in_config():
    fields = {name.upper() for name in Settings.model_fields}
    assert readme_settings() - fields == set()


def test_every_config_setting_is_in_the_readme():
    fields = {name.upper() for name in Settings.model_fields}
    assert fields - readme_settings() == set()
