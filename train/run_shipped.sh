#!/usr/bin/env bash
# The exact command that trained the shipped checkpoint (docs/training.md): CPU, 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p runs/synthetic
.venv/bin/python -m train fit --config configs/synthetic.yaml 2>&1 | tee runs/synthetic/train.log
