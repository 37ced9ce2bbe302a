# Two commands do all set-up on a fresh Debian machine: `make run` and `make test`.
# Every step is idempotent: a stamp file records what is done, so a second run skips it.
SHELL := /bin/bash
PY ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | sha256sum | cut -c1-12)
export RASA_TELEMETRY_ENABLED := false
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: run test install install-rasa test-model browser bench fuzz clean

$(STAMP): pyproject.toml constraints.txt
	@echo "[setup] application virtualenv $(VENV)"
	@test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	@$(VENV)/bin/pip install -q --disable-pip-version-check -c constraints.txt -e '.[test]'
	@rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

install-rasa:
	@bash scripts/install-rasa.sh

browser:
	@bash scripts/install-browser.sh

run: install install-rasa
	@$(VENV)/bin/laporbot run

# The suite's NLU model is trained before pytest starts (cached by content hash), so no test waits for a training.
test-model: install install-rasa
	@LAPOR_DATA_DIR=var/test-nlu $(VENV)/bin/laporbot nlu train >/dev/null

# Every test has a time limit (pyproject.toml); the slowest ones are listed at the end.
# PYTEST_ARGS="--random-order" runs the suite shuffled (the seed is printed, --random-order-seed=N repeats it).
test: install install-rasa browser test-model
	@$(VENV)/bin/python -m pytest -q -p no:cacheprovider --durations=15 $(PYTEST_ARGS)

bench: install install-rasa
	@$(VENV)/bin/python bench/turns.py

# long fuzzing of every public endpoint: FUZZ_EXAMPLES per test (default here 2000; CI runs 25, derandomized)
FUZZ_EXAMPLES ?= 2000
fuzz: install
	@FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(VENV)/bin/python -m pytest -q -p no:cacheprovider tests/fuzz $(PYTEST_ARGS)

clean:
	rm -rf var .pytest_cache
