#!/usr/bin/env bash
# Install Taguette 1.5.2 into its own virtualenv (.venv-taguette) for the
# interop tests in tests/interop/test_taguette.py. Taguette pins SQLAlchemy 1.4
# and alembic<1.9, so it cannot share chimeqda's .venv.
#
# Usage: bash scripts/setup-taguette.sh [VENV_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
venv="${1:-$here/.venv-taguette}"
python="${PYTHON:-python3}"
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "taguette==1.5.2"
"$venv/bin/python" -c "import taguette, sys; print('taguette', taguette.__version__, 'in', sys.prefix)"
