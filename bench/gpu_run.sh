#!/usr/bin/env bash
# The one prepared GPU check (the `device` tool lends an H100 for a few minutes): SAM vit_b LoRA images/s per
# batch x precision, the YOLO offline AMP check and a from-scratch YOLO training on GPU, and the full
# 30-epoch classification table. The GPU machine has torch but not ultralytics/segment-anything/
# pycocotools/pytest-socket: their wheels travel in .whl/ (git-ignored; see /work/.library/device).
#   OUT=/tmp/gpu bash bench/gpu_run.sh
set -uo pipefail
export PYTHONUNBUFFERED=1 WOOD_HOME=/tmp/wood-home
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site
python3 -m pip install -q --no-deps --no-build-isolation -e . || exit 1
nvidia-smi -L
python3 -c "import torch, ultralytics, segment_anything; print('torch', torch.__version__, torch.cuda.get_device_name(0), 'ultralytics', ultralytics.__version__)"

echo "== SAM vit_b LoRA 1024^2: images/s and memory, batch 1 and 8 x fp32/bf16 (the full grid: bench/gpu_sam.sh)"
timeout 200 python3 bench/sam_bench.py --model vit_b --device cuda --batches 1,8 --precisions fp32,bf16 \
    --per-image-batches 1 --seconds 3 --json "$OUT/sam_bench_cuda.json" 2>&1 | tee "$OUT/sam_bench.log" | tail -16

echo "== YOLO: offline AMP check on CUDA, then from-scratch training on synthetic data"
timeout 60 python3 -m pytest tests/finetune/yolo/test_yolo_gpu.py -m gpu -rs 2>&1 | tail -3
timeout 170 python3 bench/yolo_learning.py --device cuda --minutes 2 --workers 8 --work /tmp/yl 2>&1 | tee "$OUT/yolo_learning.log" | grep -v "^\s*$" | tail -15

echo "== Classification: the five attempts, full 30 (+10) epochs, on synthetic data"
wood synth /tmp/g/wood --size 256 --per-defect 10 --good 10 --seed 0 --exist-ok >/dev/null 2>&1
wood prep /tmp/g/wood --out /tmp/g/prep >/dev/null 2>&1
timeout 110 wood experiments classify --data /tmp/g/prep --device cuda --out /tmp/g/classify 2>&1 | tail -12
cp /tmp/g/classify/table.md "$OUT/classify_table_synth.md" 2>/dev/null
echo "done"
