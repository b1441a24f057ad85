#!/usr/bin/env bash
# The whole test suite: on SQLite, then again on a throwaway PostgreSQL cluster.
set -euo pipefail
cd "$(dirname "$0")/.."
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
bash scripts/system-deps.sh
bash scripts/setup-taguette.sh  # a real Taguette, in its own venv, for the exchange tests
# The LLM coder's end-to-end tests need a real llama.cpp server (the `llm` extra; compiling it
# takes minutes the first time, so `make demo` does not install it).
llm_stamp=".venv/.installed-llm-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$llm_stamp" ]; then
  .venv/bin/python -m pip install --quiet -e ".[dev,llm]"
  rm -f .venv/.installed-llm-*
  touch "$llm_stamp"
fi
echo "== tests on SQLite =="
.venv/bin/python -m pytest -q -p no:cacheprovider
if [ "${CHIMEQDA_SKIP_POSTGRES:-0}" = 1 ]; then
  echo "CHIMEQDA_SKIP_POSTGRES=1: PostgreSQL run skipped"; exit 0
fi
pgdir=$(mktemp -d /tmp/chimeqda-pg.XXXXXX)
trap 'bash scripts/postgres.sh stop "$pgdir"; rm -rf "$pgdir"' EXIT
url=$(bash scripts/postgres.sh start "$pgdir")
echo "== tests on PostgreSQL ($url) =="
CHIMEQDA_TEST_DATABASE_URL="$url" .venv/bin/python -m pytest -q -p no:cacheprovider tests/store tests/services tests/scale tests/test_cli.py tests/rigour tests/interop tests/web tests/privacy
