#!/usr/bin/env bash
# Builds the separate Rasa virtualenv (.venv-rasa). Idempotent: a stamp file holding the hash of the
# constraints records a finished install, so a second run returns at once.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${RASA_VENV:-.venv-rasa}
STAMP="$VENV/.installed"
want=$(sha256sum scripts/rasa-constraints.txt scripts/install-rasa.sh | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then exit 0; fi
echo "[rasa] building $VENV (first run takes several minutes)"
# matplotlib 3.5.3 has no cp311 wheel; its source build needs system freetype/qhull to stay offline.
need=""
for p in libfreetype-dev libqhull-dev pkg-config; do dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"; done
if [ -n "$need" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi
cfg=$(mktemp); printf '[libs]\nsystem_freetype = true\nsystem_qhull = true\n' > "$cfg"
export MPLSETUPCFG="$cfg"
# The machine-wide pip constraint (if any) caps torch only; Rasa needs none of it, so ignore that file here.
export PIP_CONSTRAINT=""
python3.11 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade "pip<25" "setuptools<70" wheel
"$VENV/bin/pip" install -q --ignore-requires-python -c scripts/rasa-constraints.txt rasa==3.6.21
"$VENV/bin/pip" install -q --ignore-requires-python -c scripts/rasa-constraints.txt dask==2022.10.2
RASA_TELEMETRY_ENABLED=false "$VENV/bin/python" -c "import rasa, tensorflow; print('[rasa] ok', rasa.__version__, tensorflow.__version__)"
echo "$want" > "$STAMP"
