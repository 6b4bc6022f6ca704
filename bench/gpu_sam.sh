#!/usr/bin/env bash
# The prepared GPU check of issue 14 (one short script for the `device` tool, ~6 minutes on an H100/H200):
# SAM vit_b LoRA training throughput and memory per --batch x --precision on CUDA (batched, plus the
# per-image batch-1 fp32 baseline: wood before issue 14) and the CUDA mixed-precision tests. One GPU: DDP
# stays the CPU (gloo) test. Wheels the GPU machine lacks travel in .whl/ (git-ignored), as for
# bench/gpu_run.sh:   OUT=/tmp/gpu bash bench/gpu_sam.sh
set -uo pipefail
export PYTHONUNBUFFERED=1 WOOD_HOME=/tmp/wood-home
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
if ls .whl/*.whl >/dev/null 2>&1; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
python3 -m pip install -q --no-deps --no-build-isolation -e . || exit 1
nvidia-smi -L
python3 -c "import torch, accelerate, segment_anything; print('torch', torch.__version__, torch.cuda.get_device_name(0), 'accelerate', accelerate.__version__)"

echo "== SAM mixed precision on CUDA (tests)"
timeout 90 python3 -m pytest tests/finetune/sam/test_sam_accelerate.py -m gpu -p no:socket -o addopts="" -q -rs 2>&1 | tail -4

echo "== SAM vit_b LoRA 1024^2: images/s and CUDA memory, batch 1,2,4,8 x fp32,bf16 (+ per-image batch-1 fp32 baseline)"
timeout 300 python3 bench/sam_bench.py --model vit_b --device cuda --batches 1,2,4,8 --precisions fp32,bf16 \
    --per-image-batches 1 --seconds 3 --json "$OUT/sam_bench_cuda.json" 2>&1 | tee "$OUT/sam_bench_cuda.log" | tail -22
echo "== the same, bf16 batch 8 with --grad-checkpoint (memory per image)"
timeout 90 python3 bench/sam_bench.py --model vit_b --device cuda --batches 8 --precisions bf16 --per-image-batches 0 \
    --grad-checkpoint --seconds 3 2>&1 | tail -6
echo "done"
