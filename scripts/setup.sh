#!/usr/bin/env bash
# Create .venv and install chimeqda with everything it needs, offline-model included.
# Idempotent: a second run only checks. Reuses pip's cache (~/.cache/pip).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=.venv
stamp="$VENV/.installed-$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
if [ -f "$stamp" ]; then
  exit 0
fi
if [ ! -x "$VENV/bin/python" ]; then
  "$PY" -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip
# The CPU build of torch first: an unpinned torch would pull a multi-GB CUDA build.
"$VENV/bin/python" -m pip install --quiet "torch==2.13.0"
"$VENV/bin/python" -m pip install --quiet -e ".[dev,audio,scale,privacy]"
# deduce (Dutch identifier detection) pins regex<2025, which transformers refuses; its other
# requirements come with the privacy extra. Then build its lookup tables once (a few minutes).
"$VENV/bin/python" -m pip install --quiet --no-deps "deduce==3.0.6"
# Resemblyzer (speaker diarisation of mono recordings) asks for webrtcvad (built from source) and the
# obsolete `typing` backport; the audio extra carries what it really imports (librosa, webrtcvad-wheels).
"$VENV/bin/python" -m pip install --quiet --no-deps "resemblyzer==0.1.4"
"$VENV/bin/python" -c "import logging; logging.disable(logging.INFO); from deduce import Deduce; Deduce()"
# Embed the example bank and fit the default coder once (about a minute), so the
# first `chimeqda code` / `chimeqda demo` starts from the cache. Offline.
HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 "$VENV/bin/chimeqda" prepare
rm -f "$VENV"/.installed-*
touch "$stamp"
echo "chimeqda installed in $VENV"
