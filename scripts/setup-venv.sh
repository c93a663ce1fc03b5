#!/usr/bin/env bash
# Create .venv (once) and install the course into it; sourced by the other scripts.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# editable_mode=compat puts the course folder on sys.path with a .pth file. The default
# (strict finder) would resolve a missing `tinytorch.models` in a student copy to this
# folder's reference package, which is exactly the leak a course must not have.
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
  --config-settings editable_mode=compat -e ".[dev]"
