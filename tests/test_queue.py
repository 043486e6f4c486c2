"""Queued experiments on the real dvc.yaml with tiny params: two `dvc exp run --queue -S …`,
one `dvc queue start -j 1` worker, then both experiments in `dvc exp show --json` with their
params and metrics, and `dvc plots diff` between them.

The experiments target `evaluate` (train and evaluate are what a sweep compares); the first
one runs generate, preprocess and make_val too, the second restores them from DVC's run cache.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from test_pipeline_smoke import REPO, TINY, tiny_params

pytestmark = pytest.mark.slow  # a minute or more: whole tiny pipelines run under DVC
QUEUE_TIMEOUT_S = 900
POLL_S = 10


def dvc_env() -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def run(cwd: Path, *command: str) -> subprocess.CompletedProcess:
    """`command` in `cwd` (dvc as this interpreter's module); fails the test with its output."""
    argv = [sys.executable, "-m", "dvc", *command[1:]] if command[0] == "dvc" else list(command)
    result = subprocess.run(argv, cwd=cwd, env=dvc_env(), capture_output=True, text=True)
    assert result.returncode == 0, f"{' '.join(command)}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def tiny_git_project(path: Path) -> Path:
    """A committed git + DVC repository of the pipeline (src/, resources/, dvc.yaml) with tiny params."""
    path.mkdir(parents=True)
    for folder in ("src", "resources"):
        if (REPO / folder).is_dir():
            shutil.copytree(REPO / folder, path / folder, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "dvc.yaml", path / "dvc.yaml")
    (path / "params.yaml").write_text(yaml.safe_dump(tiny_params(), sort_keys=False))
    run(path, "git", "init", "-q")
    run(path, "git", "config", "user.name", "textmotion tests")
    run(path, "git", "config", "user.email", "tests@textmotion.invalid")
    run(path, "dvc", "init", "-q")
    run(path, "dvc", "config", "core.analytics", "false")
    run(path, "git", "add", "-A")
    run(path, "git", "commit", "-q", "-m", "tiny pipeline")
    return path


def wait_for_queue(project: Path, names: list[str]) -> None:
    """Until no experiment is queued or running (the worker exits once the queue is empty);
    fails with the experiments' logs when one failed."""
    deadline = time.monotonic() + QUEUE_TIMEOUT_S
    while True:
        status = run(project, "dvc", "queue", "status").stdout
        if not any(state in status for state in ("Queued", "Running")):
            if "Failed" in status:
                logs = [subprocess.run([sys.executable, "-m", "dvc", "queue", "logs", name], cwd=project,
                                       env=dvc_env(), capture_output=True, text=True).stdout[-2000:]
                        for name in names]
                pytest.fail(status + "\n".join(logs))
            return
        assert time.monotonic() < deadline, f"queue not done after {QUEUE_TIMEOUT_S} s:\n{status}"
        time.sleep(POLL_S)


def experiments_by_name(exp_show: list[dict]) -> dict[str, dict]:
    """`dvc exp show --json` rows → {experiment name: its data (params, metrics, …)}."""
    return {rev["name"]: {**rev["data"], "state": experiment["executor"]["state"]}
            for row in exp_show for experiment in row.get("experiments") or []
            for rev in experiment["revs"]}


def test_two_queued_experiments_appear_in_exp_show(tmp_path):
    project = tiny_git_project(tmp_path / "project")
    sweep = {"lr-2e-3": 0.002, "lr-5e-3": 0.005}
    for name, lr in sweep.items():
        run(project, "dvc", "exp", "run", "--queue", "-n", name, "-S", f"train.lr={lr}", "evaluate")
    run(project, "dvc", "queue", "start", "-j", "1")
    try:
        wait_for_queue(project, list(sweep))
    except BaseException:
        run(project, "dvc", "queue", "stop", "--kill")
        raise

    experiments = experiments_by_name(json.loads(run(project, "dvc", "exp", "show", "--json").stdout))
    assert set(experiments) == set(sweep)
    for name, lr in sweep.items():
        data = experiments[name]
        assert data["state"] == "success"
        assert data["params"]["params.yaml"]["data"]["train"]["lr"] == lr
        live = data["metrics"]["dvclive/train/metrics.json"]["data"]
        assert live["step"] == TINY["train"]["epochs"] - 1
        val = data["metrics"]["metrics/evaluate.json"]["data"]
        assert val["score_ci95"]["low"] <= val["score"] <= val["score_ci95"]["high"]
    # each experiment trained with its own learning rate
    losses = {experiments[name]["metrics"]["dvclive/train/metrics.json"]["data"]["train_loss"] for name in sweep}
    assert len(losses) == 2

    table = run(project, "dvc", "exp", "show", "--only-changed", "--md", "--drop",
                "Created|State|Executor|.*(clips_per_s|epoch_s|ci95|R@([2-9]|10)|novel|gallery|rank|mrr"
                "|temperature|loss|val_R@5).*").stdout
    header = table.splitlines()[0]
    assert "train.lr" in header and re.search(r"\| (metrics/evaluate\.json:)?score ", header), header
    assert not re.search("ci95|clips_per_s|State", header), header
    assert all(name in table for name in sweep)

    run(project, "dvc", "plots", "diff", *sweep, "-o", "plots_diff")
    page = (project / "plots_diff" / "index.html").read_text()
    assert all(name in page for name in sweep)
