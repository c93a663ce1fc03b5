#!/usr/bin/env bash
# The main job: install, complete every module, run the TinyGPT milestone, show the status.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh
.venv/bin/tito module complete --all
.venv/bin/tito milestone run tinygpt "$@"
.venv/bin/tito status
