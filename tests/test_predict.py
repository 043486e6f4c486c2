"""predict.py end to end on a tiny query folder with a tiny untrained model."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

import tiny
from textmotion.metrics import bootstrap_score_interval, ranks_from_rankings
from textmotion.retrieval import encode_motions, encode_texts
from textmotion.submission import read_submission

REPO = Path(__file__).resolve().parents[1]
N_CANDIDATES = 12
CAPTIONS = ["a person walks forward and waves", "two people shake hands",
            "someone jumps twice while the other watches"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    """An untrained tiny model folder (random motion encoder, local MiniLM text backbone)."""
    from textmotion.model_io import RetrievalModel, TrainedConfig, save_model
    from textmotion.store import NormStats
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("tiny")
    stats = NormStats(np.zeros(384, np.float32), np.ones(384, np.float32))
    model = RetrievalModel.from_config(tiny.tiny_model(), tiny.minilm(), stats, downsample=1)
    config = TrainedConfig.resolve(tiny.minilm(), tiny.tiny_model(), tiny.tiny_train(root, root), 1, model.text_weights)
    save_model(root / "models", model, config)
    return root / "models"


def write_queries(root: Path) -> Path:
    rng = np.random.default_rng(0)
    for query, caption in enumerate(CAPTIONS, start=1):
        folder = root / str(query)
        folder.mkdir(parents=True)
        (folder / "text.txt").write_text(caption + "\n", encoding="utf-8")
        for candidate in range(1, N_CANDIDATES + 1):
            motion = rng.normal(size=(int(rng.integers(8, 24)), 384)).astype(np.float32)
            np.save(folder / f"motion_{candidate}.npy", motion)
    return root


def rank_one_by_one(model_dir: Path, queries: Path) -> dict[str, list[int]]:
    """The reference ranking: every candidate encoded on its own, no batching."""
    from textmotion.model_io import load_model
    model = load_model(model_dir, device="cpu")
    rankings = {}
    for query in range(1, len(CAPTIONS) + 1):
        folder = queries / str(query)
        text = encode_texts(model, [(folder / "text.txt").read_text().strip()])[0]
        sims = [float(encode_motions(model, [np.load(folder / f"motion_{c}.npy")])[0] @ text)
                for c in range(1, N_CANDIDATES + 1)]
        rankings[str(query)] = (np.argsort(sims)[::-1] + 1).tolist()
    return rankings


def run_predict(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run([sys.executable, "src/predict.py", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)


def test_predict_writes_valid_submission_and_scores_it(tmp_path, tiny_model):
    queries = write_queries(tmp_path / "queries")
    expected = rank_one_by_one(tiny_model, queries)
    # oracle-like ground truth: the model's own 1st, 2nd and 12th choice → ranks 1, 2, absent
    gt = tmp_path / "gt.csv"
    gt.write_text(f"query_id,correct\n1,{expected['1'][0]}\n2,{expected['2'][1]}\n"
                  f"3,{expected['3'][11]}\n", encoding="utf-8")
    out, metrics = tmp_path / "sub" / "submission.csv", tmp_path / "test.json"

    run = run_predict("--queries", queries, "--out", out, "--model", tiny_model,
                      "--gt", gt, "--metrics", metrics)
    assert run.returncode == 0, run.stderr

    submission = read_submission(out, ["1", "2", "3"], N_CANDIDATES)
    assert submission == {q: ranking[:10] for q, ranking in expected.items()}
    h10 = sum(Fraction(1, k) for k in range(1, 11))
    expected_score = (Fraction(1, 3) + Fraction(2, 3) * (h10 - 1)) / h10  # R@1 = 1/3, R@2..10 = 2/3
    summary = json.loads(metrics.read_text())
    assert summary["score"] == pytest.approx(float(expected_score))
    assert summary["R@1"] == pytest.approx(1 / 3) and summary["n_queries"] == 3


def test_malformed_query_folder_gives_one_line_error_and_no_submission(tmp_path, tiny_model):
    queries = write_queries(tmp_path / "queries")
    (queries / "2" / "text.txt").unlink()
    out = tmp_path / "submission.csv"
    run = run_predict("--queries", queries, "--out", out, "--model", tiny_model)
    assert run.returncode == 1
    assert run.stderr.startswith("error: ") and run.stderr.count("\n") == 1, run.stderr
    assert not out.exists()


def test_the_interval_resamples_clips_not_queries(tmp_path, tiny_model):
    """Queries 1 and 2 ask for one clip (query 2's answer is a copy of query 1's), so the
    bootstrap draws them together: the interval is the clip-clustered one, which differs here
    from the one that treats the three queries as independent."""
    queries = write_queries(tmp_path / "queries")
    answers = {"1": 3, "2": 5, "3": 7}
    (queries / "2" / "motion_5.npy").write_bytes((queries / "1" / "motion_3.npy").read_bytes())
    gt = tmp_path / "gt.csv"
    gt.write_text("query_id,correct\n" + "".join(f"{q},{c}\n" for q, c in answers.items()), encoding="utf-8")

    metrics = tmp_path / "test.json"
    run = run_predict("--queries", queries, "--out", tmp_path / "s.csv", "--model", tiny_model, "--gt", gt,
                      "--metrics", metrics)
    assert run.returncode == 0, run.stderr
    summary = json.loads(metrics.read_text())
    expected = rank_one_by_one(tiny_model, queries)
    ranks = ranks_from_rankings([expected[q] for q in answers], list(answers.values()))
    clustered = bootstrap_score_interval(ranks, 1000, 0, clusters=["a", "a", "b"])
    assert clustered != bootstrap_score_interval(ranks, 1000, 0)
    assert (summary["score_ci95"]["low"], summary["score_ci95"]["high"]) == pytest.approx(clustered)
    assert summary["query_clips"] == 2


@pytest.mark.parametrize("args, message", [
    (["--out", "x.csv", "--gt", "nothere.csv"], "the following arguments are required: --queries"),
    (["--queries", "q", "--out", "x.csv", "--metrics", "m.json"], "--metrics needs --gt"),
    (["--queries", "q", "--out", "x.csv", "--chunk-size", "0"], "argument --chunk-size: must be a whole number >= 1, got '0'"),
    (["--queries", "q", "--out", "x.csv", "--que", "r"], "unrecognized arguments: --que r"),
], ids=["a query flag without --queries", "--metrics without --gt", "zero chunk size", "an abbreviation"])
def test_cli_flags_are_never_ignored(tmp_path, args, message):
    """Each is one line before anything runs: the stage's outputs are never written instead."""
    before = {p: p.read_bytes() for p in (REPO / "submission.csv", REPO / "metrics" / "test.json") if p.exists()}
    run = run_predict(*args)
    assert run.returncode == 1 and run.stderr.startswith("error: predict.py: ") and message in run.stderr
    assert run.stderr.count("\n") == 1 and "Traceback" not in run.stderr, run.stderr
    assert {p: p.read_bytes() for p in before} == before
