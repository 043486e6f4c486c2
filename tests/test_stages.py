"""generate → preprocess → make_val on tiny params: outputs, determinism, held-out splits, the --specs CLI."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from textmotion.layout import read_dataset, read_gt, read_query_batches
from textmotion.store import MotionStore, NormStats
from textmotion.synth.spec import validate_spec

SRC = Path(__file__).resolve().parents[1] / "src"
TINY = {
    "generate": {"out": "data/generated", "test_queries_dir": "data/test_queries",
                 "test_gt": "data/test_gt.csv", "seed": 0, "n_clips": 40, "n_test_clips": 16,
                 "n_test_queries": 6, "n_candidates": 8, "hard_fraction": 0.25, "fps": 20},
    "preprocess": {"raw_root": "data/generated", "out": "data/prepared", "val_fraction": 0.3,
                   "seed": 0, "downsample": 1, "skip_bad": False},
    "make_val": {"prepared": "data/prepared", "out": "data/val", "n_groups": 15, "n_candidates": 8,
                 "hard_fraction": 0.25, "seed": 0},
}
STAGES = ("generate", "preprocess", "make_val")


def run(workdir: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SRC / f"{script}.py"), *args], cwd=workdir,
                          capture_output=True, text=True, timeout=120)


def run_pipeline(workdir: Path, params: dict = TINY) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    for stage in STAGES:
        result = run(workdir, stage)
        assert result.returncode == 0, result.stderr
    return workdir


def digest_tree(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(root.rglob("*")) if path.is_file()}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Path:
    return run_pipeline(tmp_path_factory.mktemp("pipeline"))


def test_outputs_are_byte_identical_across_runs(pipeline, tmp_path):
    again = run_pipeline(tmp_path / "again")
    assert digest_tree(pipeline / "data") == digest_tree(again / "data")


def test_generated_dataset_and_held_out_test_queries(pipeline):
    data = pipeline / "data"
    dataset = read_dataset(data / "generated")
    assert len(dataset.ids) == 40 and dataset.fps == 20
    assert all(dataset.spec(clip) is not None for clip in dataset.ids)
    info = json.loads((data / "generated" / "dataset.json").read_text())
    assert info["statistics"]["clips"] == 40 and info["test_queries"]["n_groups"] == 6

    batches = read_query_batches(data / "test_queries")
    assert [b.query_id for b in batches] == [str(q) for q in range(1, 7)]
    assert all(len(b.motion_paths) == 8 for b in batches)
    assert set(read_gt(data / "test_gt.csv")) == {b.query_id for b in batches}
    assert not (data / "test_queries" / ".clips").exists()
    assert not (data / "test_queries" / "gt.csv").exists()  # ground truth kept apart
    test_files = {hashlib.sha256(p.read_bytes()).hexdigest() for b in batches for p in b.motion_paths}
    pool_files = {hashlib.sha256(dataset.motion_path(c).read_bytes()).hexdigest() for c in dataset.ids}
    assert not test_files & pool_files
    # each held-out clip is stored once: its candidate files are hard links to each other
    inodes = {p.stat().st_ino for b in batches for p in b.motion_paths}
    assert len(inodes) == len(test_files) < 6 * 8


def test_preprocess_splits_are_disjoint_and_complete(pipeline):
    prepared = pipeline / "data" / "prepared"
    train, val = MotionStore.open(prepared / "train"), MotionStore.open(prepared / "val")
    listed = (pipeline / "data" / "generated" / "train.txt").read_text().split()
    assert not set(train.ids) & set(val.ids) and sorted(train.ids + val.ids) == sorted(listed)
    assert len(val) == round(0.3 * 40)
    report = json.loads((prepared / "report.json").read_text())
    assert report["clips"] == {"train": len(train), "val": len(val)} and report["skipped"] == []
    assert report["downsample"] == 1 and report["raw_root"] == "data/generated"
    assert NormStats.load(prepared / "stats.npz").mean.shape == (384,)


def test_make_val_uses_val_clips_only(pipeline):
    data = pipeline / "data"
    val_ids = set(MotionStore.open(data / "prepared" / "val").ids)
    groups = pd.read_csv(data / "val" / "groups.csv", dtype={"query_id": str, "clip_id": str})
    assert set(groups.clip_id) <= val_ids and len(groups) == 15 * 8
    batches = read_query_batches(data / "val")
    gt = read_gt(data / "val" / "gt.csv")
    assert list(gt) == [b.query_id for b in batches]
    raw = read_dataset(data / "generated")
    for batch in batches:
        rows = groups[groups.query_id == batch.query_id].sort_values("candidate")
        correct_clip = rows.clip_id.iloc[gt[batch.query_id] - 1]
        assert batch.text in raw.captions(correct_clip)
        for path, clip in zip(batch.motion_paths, rows.clip_id):
            assert os.path.samefile(path, raw.motion_path(clip))
    report = json.loads((data / "val" / "report.json").read_text())
    assert report["specs_known"] and report["hard_negatives_target"] == 2


def test_make_val_refuses_a_val_split_smaller_than_a_group(pipeline, tmp_path):
    params = {**TINY, "make_val": {**TINY["make_val"], "prepared": str(pipeline / "data" / "prepared"),
                                   "n_candidates": 13}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    result = run(tmp_path, "make_val")
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1
    assert "the val split has 12 clips, fewer than make_val.n_candidates = 13" in result.stderr
    assert not (tmp_path / "data").exists()


SPECS = [{"segments": [{"action": "wave", "actor": 1, "hand": "left"},
                       {"action": "shake_hands"}]},
         {"persons": [{"height": 1.9}, {"height": 1.6}],
          "segments": [{"action": "jump", "actor": "both", "count": 2, "duration": 2.0}]}]


def test_specs_cli(tmp_path):
    (tmp_path / "specs.json").write_text(json.dumps({"specs": SPECS}))
    made = run(tmp_path, "generate", "--specs", "specs.json", "--out", "clips", "--captions", "2")
    assert made.returncode == 0, made.stderr
    dataset = read_dataset(tmp_path / "clips")
    assert dataset.ids == ["00000", "00001"]
    assert [dataset.spec(c) for c in dataset.ids] == [validate_spec(s) for s in SPECS]
    assert all(len(dataset.captions(c)) == 2 for c in dataset.ids)
    assert len(dataset.motion("00001")) >= 2

    refused = run(tmp_path, "generate", "--specs", "specs.json", "--out", "clips")
    assert refused.returncode == 1 and "not empty; pass --force" in refused.stderr
    assert run(tmp_path, "generate", "--specs", "specs.json", "--out", "clips", "--force").returncode == 0

    (tmp_path / "bad.json").write_text(json.dumps([{"segments": [{"action": "fly", "actor": 0}]}]))
    bad = run(tmp_path, "generate", "--specs", "bad.json", "--out", "other")
    assert bad.returncode == 1 and bad.stderr.startswith("error: bad.json: spec 0:")
    assert len(bad.stderr.splitlines()) == 1 and not (tmp_path / "other").exists()
