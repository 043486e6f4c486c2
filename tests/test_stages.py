"""generate → preprocess → make_val on tiny params: outputs, determinism, held-out splits, the --specs CLI."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from textmotion.errors import DataError
from textmotion.layout import (find_test_set, read_dataset, read_gt, read_metadata, read_query_batches,
                               read_clip_wordings, read_paraphrases, read_query_wordings, read_scored_queries,
                               write_clip_wordings)
from textmotion.sources.synthetic.spec import action_names, validate_spec
from textmotion.store import MotionStore, NormStats

SRC = Path(__file__).resolve().parents[1] / "src"
TINY = {
    "generate": {"out": "data/generated", "seed": 0, "n_clips": 40, "n_test_clips": 16,
                 "n_test_queries": 6, "n_candidates": 8, "hard_fraction": 0.25, "fps": 20,
                 "paraphrases": 2},
    "preprocess": {"raw_root": "data/generated", "out": "data/prepared", "val_fraction": 0.3,
                   "seed": 0, "downsample": 1, "skip_bad": False},
    "make_val": {"prepared": "data/prepared", "out": "data/val", "n_groups": 15, "n_candidates": 8,
                 "hard_fraction": 0.25, "duplicate_threshold": 0.9, "seed": 0},
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
    specs = {clip: json.loads((data / "generated" / "specs" / f"{clip}.json").read_text()) for clip in dataset.ids}
    metadata = read_metadata(data / "generated", dataset.ids)
    assert all(metadata[clip]["labels"] == sorted(action_names(specs[clip])) for clip in dataset.ids)
    info = json.loads((data / "generated" / "dataset.json").read_text())
    assert info["statistics"]["clips"] == 40 and info["test_queries"]["n_groups"] == 6
    assert info["clips"] == {"train": 40, "val": 0, "test": 16} and info["test_queries"]["metadata_known"]
    assert info["source"] == "synthetic" and dataset.up_axis == "y"

    queries, gt_path = find_test_set(data / "generated")
    batches, gt = read_scored_queries(queries, gt_path)
    assert [b.query_id for b in batches] == [str(q) for q in range(1, 7)]
    assert all(len(b.motion_paths) == 8 for b in batches)
    assert not (data / "generated" / ".test_clips").exists()
    assert not (queries / "gt.csv").exists()  # ground truth kept apart from the queries
    novel = read_query_wordings(queries, list(gt))["novel"]  # each test query in held-out phrasings
    assert all(novel[b.query_id] != b.text for b in batches)
    assert set(read_clip_wordings(data / "generated", dataset.ids)) == {"novel"}
    paraphrases = read_paraphrases(data / "generated", dataset.ids)  # training wording, new sentences
    assert set(paraphrases) == set(dataset.ids) and all(1 <= len(p) <= 2 for p in paraphrases.values())
    assert all(not set(p) & set(dataset.captions(clip)) for clip, p in paraphrases.items())
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
    paraphrases = read_paraphrases(pipeline / "data" / "generated", listed)  # the train split's only
    assert train.paraphrases == [paraphrases[clip] for clip in train.ids]
    assert val.paraphrases == [[] for _ in val.ids] and not (prepared / "val" / "paraphrases.json").exists()
    assert report["train_paraphrases"] == sum(len(p) for p in train.paraphrases) > 0


@pytest.mark.parametrize("content, problem", [
    ({"nope": ["a caption"]}, "1 ids not in the dataset, e.g. 'nope'"),
    ({"a": []}, "clip 'a'\\): no caption"),
    ({"a": "a caption"}, "clip 'a': expected a list of captions"),
    (["a caption"], "expected a JSON object"),
])
def test_bad_paraphrases_file_names_the_file_and_the_problem(tmp_path, content, problem):
    (tmp_path / "paraphrases.json").write_text(json.dumps(content))
    with pytest.raises(DataError, match=problem) as err:
        read_paraphrases(tmp_path, ["a", "b"])
    assert "paraphrases.json" in str(err.value)


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
    assert report["metadata_known"] and report["candidates_min"] == 8 and report["hard_negatives_mean"] > 0


def make_val_on(pipeline: Path, workdir: Path, **overrides) -> subprocess.CompletedProcess:
    """make_val in `workdir` on the pipeline's prepared data (its relative raw root linked in)."""
    (workdir / "data").mkdir(exist_ok=True)
    if pipeline.exists():
        (workdir / "data" / "generated").symlink_to(pipeline / "data" / "generated")
    params = {**TINY, "make_val": {**TINY["make_val"], "prepared": str(pipeline / "data" / "prepared"),
                                   **overrides}}
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    return run(workdir, "make_val")


def test_make_val_on_a_val_split_smaller_than_a_group(pipeline, tmp_path):
    result = make_val_on(pipeline, tmp_path, n_candidates=13)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "data" / "val" / "report.json").read_text())
    assert report["candidates_min"] <= 12 and report["pool_clips"] == 12
    assert all(len(b.motion_paths) <= 12 for b in read_query_batches(tmp_path / "data" / "val"))


def test_make_val_without_metadata_leaves_out_near_duplicate_captions(pipeline, tmp_path):
    """Real-data protocol: no metadata.json, so candidates whose captions say the same as the
    query's (MiniLM cosine above the threshold) are left out; each caption is queried once."""
    raw = tmp_path / "raw"
    shutil.copytree(pipeline / "data" / "generated", raw)
    (raw / "metadata.json").unlink()
    prepared = tmp_path / "prepared"
    shutil.copytree(pipeline / "data" / "prepared", prepared)
    captions = json.loads((prepared / "val" / "captions.json").read_text())
    captions[1] = [captions[0][0]]  # the second val clip is described in the same words
    (prepared / "val" / "captions.json").write_text(json.dumps(captions))
    val = MotionStore.open(prepared / "val")
    twins = set(val.ids[:2])
    report = json.loads((prepared / "report.json").read_text())
    (prepared / "report.json").write_text(json.dumps({**report, "raw_root": str(raw)}))
    result = make_val_on(tmp_path / "unused", tmp_path, prepared=str(prepared), n_groups=1000)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "data" / "val" / "report.json").read_text())
    assert not report["metadata_known"] and report["same_meaning_excluded"] >= 1
    assert report["n_groups"] == sum(len(c) for c in val.captions)  # each caption once
    groups = pd.read_csv(tmp_path / "data" / "val" / "groups.csv", dtype={"query_id": str, "clip_id": str})
    batches = read_query_batches(tmp_path / "data" / "val")
    shared = [b for b in batches if b.text == val.captions[0][0]]
    assert len(shared) == 2  # one query per caption, each clip's
    for batch in shared:  # the clip with the same words is never the other's distractor
        assert len(twins & set(groups[groups.query_id == batch.query_id].clip_id)) == 1


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
    assert [json.loads((tmp_path / "clips" / "specs" / f"{c}.json").read_text())
            for c in dataset.ids] == [validate_spec(s) for s in SPECS]
    assert all(len(dataset.captions(c)) == 2 for c in dataset.ids)
    assert len(dataset.motion("00001")) >= 2
    assert dataset.info["clips"] == {"train": 2, "val": 0, "test": 0} and dataset.info["test_queries"] is None
    assert set(read_clip_wordings(tmp_path / "clips", dataset.ids)) == {"novel"}
    assert read_metadata(tmp_path / "clips", dataset.ids)["00000"]["labels"] == ["shake_hands", "wave"]

    refused = run(tmp_path, "generate", "--specs", "specs.json", "--out", "clips")
    assert refused.returncode == 1 and "not empty; pass --force" in refused.stderr
    assert run(tmp_path, "generate", "--specs", "specs.json", "--out", "clips", "--force").returncode == 0

    (tmp_path / "bad.json").write_text(json.dumps([{"segments": [{"action": "fly", "actor": 0}]}]))
    bad = run(tmp_path, "generate", "--specs", "bad.json", "--out", "other")
    assert bad.returncode == 1 and bad.stderr.startswith("error: bad.json: spec 0:")
    assert len(bad.stderr.splitlines()) == 1 and not (tmp_path / "other").exists()


def test_make_val_asks_each_query_again_in_the_sources_other_wordings(pipeline, tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(pipeline / "data" / "generated", raw)
    dataset = read_dataset(raw)
    write_clip_wordings(raw, {"shout": {clip: [c.upper() for c in dataset.captions(clip)] for clip in dataset.ids}})
    prepared = tmp_path / "prepared"
    shutil.copytree(pipeline / "data" / "prepared", prepared)
    report = json.loads((prepared / "report.json").read_text())
    (prepared / "report.json").write_text(json.dumps({**report, "raw_root": str(raw)}))
    result = make_val_on(tmp_path / "unused", tmp_path, prepared=str(prepared))
    assert result.returncode == 0, result.stderr
    val = tmp_path / "data" / "val"
    batches = read_query_batches(val)
    wordings = read_query_wordings(val, [b.query_id for b in batches])
    assert list(wordings) == ["shout"]
    assert all(wordings["shout"][b.query_id] == b.text.upper() for b in batches)
