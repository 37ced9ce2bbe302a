#!/usr/bin/env bash
# Builds the separate Rasa virtualenv (.venv-rasa) for Rasa Open Source 3.6.21 on CPython 3.11.
# Idempotent: a stamp file holding the hash of the constraints and of RECIPE records a finished
# install, so a second run returns at once. Works as root on a fresh Debian 12 (installs the few
# Debian packages it needs); see docs/nlu.md for why each pin exists.
set -euo pipefail
cd "$(dirname "$0")/.."
RECIPE=2   # bump when the install steps below change in a way that needs a rebuild
VENV=${RASA_VENV:-.venv-rasa}
PY=${RASA_PYTHON:-python3.11}
STAMP="$VENV/.installed"
want=$( (cat scripts/rasa-constraints.txt; echo "recipe=$RECIPE") | sha256sum | cut -c1-16)
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] && [ -x "$VENV/bin/rasa" ]; then exit 0; fi
echo "[rasa] building $VENV (first run takes several minutes)"
start=$(date +%s)

# Debian packages: matplotlib 3.5.3 has no cp311 wheel and its source build must use the system
# freetype/qhull (it would otherwise download them); a compiler and Python headers for that build;
# venv support when the interpreter is Debian's own python3.11.
need=""
for p in libfreetype-dev libqhull-dev pkg-config; do dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"; done
command -v g++ >/dev/null 2>&1 || need="$need build-essential"
if ! command -v "$PY" >/dev/null 2>&1; then need="$need python3 python3-venv python3-dev"; fi
if command -v "$PY" >/dev/null 2>&1; then
  "$PY" -c "import ensurepip" >/dev/null 2>&1 || need="$need python3-venv"
  inc=$("$PY" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
  [ -f "$inc/Python.h" ] || need="$need python3-dev"
fi
if [ -n "$need" ]; then
  if [ "$(id -u)" != 0 ]; then echo "[rasa] need Debian packages:$need (run as root)" >&2; exit 1; fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need >/dev/null
fi
cfg=$(mktemp); printf '[libs]\nsystem_freetype = true\nsystem_qhull = true\n' > "$cfg"
export MPLSETUPCFG="$cfg"
# A machine-wide pip constraint file (if any) is for the application; Rasa gets its own pins only.
export PIP_CONSTRAINT=""
export RASA_TELEMETRY_ENABLED=false
"$PY" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade "pip<25" "setuptools<70" wheel
# Rasa 3.6 declares Requires-Python <3.11; the pins make it resolve to releases that work on 3.11.
"$VENV/bin/pip" install -q --ignore-requires-python -c scripts/rasa-constraints.txt rasa==3.6.21
# dask's marker skips 3.11, but `rasa train` imports it.
"$VENV/bin/pip" install -q --ignore-requires-python -c scripts/rasa-constraints.txt dask==2022.10.2
"$VENV/bin/python" -c "import rasa, tensorflow; print('[rasa] ok', rasa.__version__, tensorflow.__version__)"
rm -f "$cfg"
echo "$want" > "$STAMP"
echo "[rasa] done in $(( $(date +%s) - start )) s"
