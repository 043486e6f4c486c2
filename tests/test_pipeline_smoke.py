"""The whole DVC pipeline, end to end, on tiny params: the wiring of dvc.yaml and every stage."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]

TINY = {
    "generate": {"n_clips": 48, "n_test_clips": 16, "n_test_queries": 6, "n_candidates": 8},
    "preprocess": {"val_fraction": 0.25},
    "make_val": {"n_groups": 8, "n_candidates": 8},
    "model": {"d_model": 32, "n_layers": 1, "ff_dim": 64, "n_heads": 2},
    "train": {"epochs": 2, "batch_size": 16},
    "evaluate": {"n_examples": 2, "n_bootstrap": 50},
    "tsne": {"n_pairs": 10, "perplexity": 3},
}


def tiny_params() -> dict:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for section, overrides in TINY.items():
        for key, value in overrides.items():
            assert key in params[section], f"params.yaml has no {section}.{key}"
            params[section][key] = value
    return params


def test_dvc_repro_end_to_end(tmp_path):
    shutil.copytree(REPO / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "dvc.yaml", tmp_path / "dvc.yaml")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(tiny_params(), sort_keys=False))
    env = {**os.environ, "HF_HUB_OFFLINE": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    dvc = [sys.executable, "-m", "dvc"]
    subprocess.run([*dvc, "init", "--no-scm", "-q"], cwd=tmp_path, env=env, check=True)
    subprocess.run([*dvc, "config", "core.analytics", "false"], cwd=tmp_path, env=env, check=True)
    run = subprocess.run([*dvc, "repro"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]

    val = json.loads((tmp_path / "metrics/evaluate.json").read_text())
    assert 0.0 <= val["score"] <= 1.0 and val["n_queries"] == 8
    assert val["score_ci95"]["low"] <= val["score"] <= val["score_ci95"]["high"]
    submission = pd.read_csv(tmp_path / "submission.csv")
    assert list(submission.columns) == ["query_id"] + [f"candidate_{k}" for k in range(1, 11)]
    assert len(submission) == 6
    assert (tmp_path / "plots/tsne_latent_space.png").stat().st_size > 0
    assert (tmp_path / "plots/retrieval_examples.png").stat().st_size > 0

    again = subprocess.run([*dvc, "repro"], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert again.returncode == 0 and "didn't change" in again.stdout, again.stdout
