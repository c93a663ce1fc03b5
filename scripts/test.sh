#!/usr/bin/env bash
# The test job: install (with PyTorch CPU as the gradient oracle), lint, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh
# torch==2.13.0 is the CPU build on this machine's disk; a plain `torch` would pull CUDA.
if [ "${TITO_SKIP_TORCH:-0}" != "1" ]; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
fi
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python -m pytest "$@"
