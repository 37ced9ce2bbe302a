#!/usr/bin/env bash
# Train the NLU model if nlu_data/ changed (cached under $LAPOR_DATA_DIR/nlu/, default ./var/nlu/).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-rasa.sh
exec .venv/bin/python -m bot.nlu.cli nlu train
