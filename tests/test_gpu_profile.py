"""params_gpu.yaml, the one-switch GPU profile, stays true: as DVC applies its flags to
params.yaml, the result passes the schema and holds the profile's values."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from dvc.utils.hydra import apply_overrides

from textmotion.errors import DataError
from textmotion.params import read_params

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
from set_params import read_profile, set_param_flags  # noqa: E402


def test_dvc_applies_the_gpu_profile_to_params_yaml(tmp_path):
    flags = subprocess.run([sys.executable, str(REPO / "tools" / "set_params.py"), "params_gpu.yaml"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    assert flags[::2] == ["-S"] * (len(flags) // 2)
    shutil.copy(REPO / "params.yaml", tmp_path / "params.yaml")
    apply_overrides(tmp_path / "params.yaml", flags[1::2])  # what `dvc exp run -S ...` does

    applied = read_params(tmp_path / "params.yaml")
    original = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    profile = yaml.safe_load((REPO / "params_gpu.yaml").read_text(encoding="utf-8"))
    for section, values in original.items():
        expected = {**values, **profile.get(section, {})}
        got = applied.section(section).model_dump()
        assert got == expected
        assert all(type(got[key]) is type(value) for key, value in profile.get(section, {}).items())


@pytest.mark.parametrize("profile, problem", [
    ({"train": {"num_worker": 8}}, "train.num_worker: unknown key; did you mean 'num_workers'?"),
    ({"model": {"d_model": 130}}, "model.d_model: 130 is not divisible by model.n_heads = 4"),
    ({"text": {"encoder": "clip-vit-b-32", "clip_checkpoint": "/my models/clip.bin"}},
     "text.clip_checkpoint: '/my models/clip.bin' holds whitespace"),
])
def test_a_bad_profile_is_one_line_naming_the_key(tmp_path, profile, problem):
    path = tmp_path / "profile.yaml"
    path.write_text(yaml.safe_dump(profile))
    with pytest.raises(DataError, match=problem.replace("?", r"\?").replace("(", r"\(")):
        read_profile(path, REPO / "params.yaml")


def test_flags_in_override_grammar():
    assert set_param_flags({"text": {"clip_checkpoint": None, "encoder": "clip-vit-b-32"},
                            "train": {"lr": 1e-4, "compile": True}}) == [
        "-S", "text.clip_checkpoint=null", "-S", "text.encoder='clip-vit-b-32'",
        "-S", "train.lr=0.0001", "-S", "train.compile=true"]
