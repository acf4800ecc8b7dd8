#!/usr/bin/env bash
# Every GPU figure of BENCHMARKS.md in one prepared run, for a GPU machine lent for a few minutes
# (about 9 minutes on one H100/H200). From the repository root, with the environment active:
#
#   bash bench/gpu_run.sh [OUT_DIR]          # rows in OUT_DIR/gpu_run.txt (default: .)
#
# 1. bench_gpu.py: checks that training on the GPU works, pretraining and extraction clips/s,
#    TFLOP/s and memory per model size, fp32 and bf16 (budgeted to 240 s).
# 2. bench_dataloader.py: what the node's CPUs deliver to the GPU (clips/s per worker count, with
#    and without repeated sampling), the rate the pretraining step above has to be fed.
# 3. bench_finetune.py and bench_features.py on the GPU: fine-tuning and extraction of the base
#    model through the downstream code paths.
# 4. bench_lipsync.py on the GPU: lip-sync expert and generator training and scoring, base
#    encoder (the plan's lip-sync GPU rates are derived from CPU rows until this is recorded).
# Each part has its own time limit, so that one slow part leaves the others their time.
set -uo pipefail
out=${1:-.}
mkdir -p "$out"
log="$out/gpu_run.txt"
cd "$(dirname "$0")/.."
export PYTHONPATH=src${PYTHONPATH:+:$PYTHONPATH}
part() {  # part SECONDS COMMAND...: run, log, and carry on whatever it does
    local limit=$1
    shift
    echo "## $*" | tee -a "$log"
    timeout -k 10 "$limit" "$@" 2>&1 | tee -a "$log"
    echo "(exit ${PIPESTATUS[0]})" | tee -a "$log"
}
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; nproc; } 2>&1 | tee "$log"
part 300 python bench/bench_gpu.py --budget 240
cores=$(nproc)
part 120 python bench/bench_dataloader.py --size base --batch 16 --batches 8 --videos 16 \
    --workers 0 $((cores / 2)) "$cores" --repeated 1 4 --runs 2
part 60 python bench/bench_finetune.py --size base --videos 32 --batch-size 16 --device cuda
part 60 python bench/bench_features.py --size base --batch 32 --iters 10 --device cuda
part 60 python bench/bench_lipsync.py --sizes base --steps 5 --batch-size 16 --device cuda
