"""The whole DVC pipeline, end to end, on tiny params: the wiring of dvc.yaml and every stage."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest
import yaml

import import_data
from test_importers import write_humanml3d, write_interhuman
from textmotion import skeleton as sk
from textmotion.sources.synthetic.captions import make_captions
from textmotion.sources.synthetic.motion import synthesize
from textmotion.sources.synthetic.spec import sample_spec
from textmotion.layout import read_query_batches

REPO = Path(__file__).resolve().parents[1]
KIT_ANNOTATIONS = REPO.parent / "shared" / "data" / "kitml" / "annotations.json"

TINY = {
    "generate": {"n_clips": 48, "n_test_clips": 16, "n_test_queries": 6, "n_candidates": 8},
    "preprocess": {"val_fraction": 0.25},
    "text": {"encoder": "minilm"},  # the small text backbone (the default's, mpnet, is checked in test_text_models)
    "make_val": {"n_groups": 8, "n_candidates": 8},
    "model": {"d_model": 32, "n_layers": 1, "ff_dim": 64, "n_heads": 2},
    "train": {"epochs": 2, "batch_size": 16},
    "evaluate": {"n_examples": 2},
    "scoring": {"n_bootstrap": 50},
    "tsne": {"n_pairs": 10, "perplexity": 3},
}


def tiny_params() -> dict:
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for section, overrides in TINY.items():
        for key, value in overrides.items():
            assert key in params[section], f"params.yaml has no {section}.{key}"
            params[section][key] = value
    return params


def dvc_project(root: Path, params: dict) -> Callable[..., subprocess.CompletedProcess]:
    """A DVC project in `root` with the repository's code and `params`; returns a dvc runner."""
    shutil.copytree(REPO / "src", root / "src", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "resources", root / "resources")
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "HF_HUB_OFFLINE": "1",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}

    def dvc(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, env=env, capture_output=True, text=True)

    assert dvc("init", "--no-scm", "-q").returncode == 0
    assert dvc("config", "core.analytics", "false").returncode == 0
    return dvc


def test_dvc_repro_end_to_end(tmp_path):
    params = tiny_params()
    if KIT_ANNOTATIONS.exists():  # the real-wording test set needs KIT's own file (beside the repo)
        params["generate"]["real_captions"] = str(KIT_ANNOTATIONS)
    dvc = dvc_project(tmp_path, params)
    run = dvc("repro")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]

    val = json.loads((tmp_path / "metrics/evaluate.json").read_text())
    assert 0.0 <= val["score"] <= 1.0 and val["n_queries"] == 8
    assert val["score_ci95"]["low"] <= val["score"] <= val["score_ci95"]["high"]
    # the same queries in held-out phrasings, scored beside the training wording
    assert val["score_novel_ci95"]["low"] <= val["score_novel"] <= val["score_novel_ci95"]["high"]
    test = json.loads((tmp_path / "metrics/test.json").read_text())
    assert test["n_queries"] == 6 and {"score", "score_ci95", "score_novel", "score_novel_ci95"} <= set(test)
    if KIT_ANNOTATIONS.exists():  # people's KIT captions as queries, each among 32 generated clips
        assert test["n_queries_real"] >= 150 and 0 <= test["score_real"] <= 1
    submission = pd.read_csv(tmp_path / "submission.csv")
    assert list(submission.columns) == ["query_id"] + [f"candidate_{k}" for k in range(1, 11)]
    assert len(submission) == 6
    assert (tmp_path / "plots/tsne_latent_space.png").stat().st_size > 0
    assert (tmp_path / "plots/retrieval_examples.png").stat().st_size > 0
    page = (tmp_path / "plots/retrieval_examples.html").read_text()
    assert page.count("correct: #") >= 2  # the example queries' clips, on the offline 3D page

    again = dvc("repro")
    assert again.returncode == 0 and "didn't change" in again.stdout, again.stdout

    # an experiment that changes only training reuses the caption features: encode_text does not run
    features = {path: path.stat().st_mtime_ns for path in (tmp_path / "data/text_features").iterdir()}
    params["train"]["temperature"] = 0.05
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    experiment = dvc("repro")
    assert experiment.returncode == 0, experiment.stdout[-4000:] + experiment.stderr[-4000:]
    assert "Running stage 'train'" in experiment.stdout
    assert "Stage 'encode_text' didn't change, skipping" in experiment.stdout, experiment.stdout
    assert {path: path.stat().st_mtime_ns for path in (tmp_path / "data/text_features").iterdir()} == features


def described_clip(index: int, fps: int) -> tuple:
    """A generated clip and its captions (distinct words: near-duplicate captions are left out)."""
    rng = np.random.default_rng([5, index])
    spec = sample_spec(rng)
    return synthesize(spec, rng, fps), make_captions(spec, rng, 2)


@pytest.mark.parametrize("source", ["interhuman", "humanml3d"])
def test_an_imported_release_folder_runs_every_stage(tmp_path, source):
    """A folder written in a dataset's release layout, imported, then the pipeline on it:
    its own val split, its test split scored by predict (no generate stage needed)."""
    release, imported = tmp_path / "release", tmp_path / "imported"
    ids = [f"{i:06d}" for i in range(52)]
    splits = {"train": ids[:36], "val": ids[36:44], "test": ids[44:]}
    fps = 30 if source == "interhuman" else 20
    clips = {clip: described_clip(i, fps) for i, clip in enumerate(ids)}
    if source == "interhuman":
        write_interhuman(release, {clip: motion for clip, (motion, _) in clips.items()}, splits)
        for clip, (_, captions) in clips.items():
            (release / "annots" / f"{clip}.txt").write_text("\n".join(captions) + "\n")
    else:
        write_humanml3d(release, {clip: sk.split_persons(motion)[0] for clip, (motion, _) in clips.items()},
                        {clip: [f"{c}#x/X#0.0#0.0" for c in captions] for clip, (_, captions) in clips.items()},
                        splits)
    import_data.main([source, str(release), "--out", str(imported)])
    params = tiny_params()
    params["preprocess"]["raw_root"] = str(imported)
    dvc = dvc_project(tmp_path / "project", params)
    run = dvc("repro", "evaluate", "tsne", "predict")
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-4000:]
    assert "generate" not in run.stdout
    report = json.loads((tmp_path / "project/data/prepared/report.json").read_text())
    assert report["clips"] == {"train": 36, "val": 8} and report["val_split"] == "val.txt"
    val = json.loads((tmp_path / "project/metrics/evaluate.json").read_text())
    assert val["query_clips"] == 8 and val["n_candidates"]["max"] <= 8
    test = json.loads((tmp_path / "project/metrics/test.json").read_text())
    assert test["n_queries"] == len(read_query_batches(imported / "test_queries")) > 0
