#!/usr/bin/env bash
# The exact commands that trained the shipped checkpoint checkpoints/her2net-v1.pt
# (docs/training.md): CPU, 2 cores, about 80 minutes in all (the last step, 15 s).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p runs/synthetic runs/synthetic_refine
.venv/bin/python -m train fit --config configs/synthetic.yaml 2>&1 | tee runs/synthetic/train.log
.venv/bin/python -m train export runs/synthetic/logs/version_0/checkpoints/last.ckpt runs/synthetic/stage1.pt
.venv/bin/python -m train fit --config configs/synthetic.yaml --config configs/synthetic_refine.yaml \
    2>&1 | tee runs/synthetic_refine/train.log
best=$(ls runs/synthetic_refine/logs/version_0/checkpoints/best-*.ckpt | head -n 1)
.venv/bin/python -m train export "$best" checkpoints/her2net-v1.pt
# Threshold for use: best mean F1 over a simulated dose ladder (standard, 0.3x, 0.12x), 15 s.
.venv/bin/python -m train calibrate checkpoints/her2net-v1.pt --scenes 60
