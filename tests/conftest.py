"""Shared test set-up. Fixture modules live in tests/fixtures/ (one per subsystem) and are plugins here."""
pytest_plugins = [
    "tests.fixtures.db",
    "tests.fixtures.nlu",
    "tests.fixtures.fakes",
]
