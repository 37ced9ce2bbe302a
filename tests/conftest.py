"""Shared test set-up. Fixture modules live in tests/fixtures/ (one per subsystem) and are plugins here."""
import pytest

pytest_plugins = [
    "tests.fixtures.db",
    "tests.fixtures.nlu",
    "tests.fixtures.fakes",
]

# Every test has a time limit (pyproject: timeout). Tests that may start the session's Rasa server (tens of
# seconds on a loaded machine, minutes if the model was not trained beforehand) or a browser get a longer one.
SLOW_FIXTURES = {"rasa_url", "nlu_client", "nlu_model"}
SLOW_TIMEOUT_S = 600


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.get_closest_marker("timeout"):
            continue
        if SLOW_FIXTURES & set(getattr(item, "fixturenames", ())) or item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.timeout(SLOW_TIMEOUT_S))
