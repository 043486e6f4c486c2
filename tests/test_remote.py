"""A local-directory DVC remote on the real dvc.yaml with tiny params: `dvc repro`, `dvc remote
add -d`, `dvc push`; then a fresh `git clone` + `dvc pull` has every output, and there
`dvc status` and `dvc repro` find nothing to do (no stage runs)."""
from __future__ import annotations

import pytest

from test_queue import run, tiny_git_project
from test_stages import digest_tree

pytestmark = pytest.mark.slow  # a minute or more: whole tiny pipelines run under DVC
CACHED_OUTPUTS = ("models", "data/prepared", "data/val")


def test_fresh_clone_pulls_everything_and_reproduces_nothing(tmp_path):
    project = tiny_git_project(tmp_path / "project")
    run(project, "dvc", "repro")
    run(project, "dvc", "remote", "add", "-d", "storage", str(tmp_path / "remote"))
    run(project, "dvc", "push")
    run(project, "git", "add", "-A")
    run(project, "git", "commit", "-q", "-m", "tiny run, outputs on the remote")

    clone = tmp_path / "clone"
    run(tmp_path, "git", "clone", "-q", str(project), str(clone))
    assert not (clone / "models").exists()          # git alone has no DVC-cached outputs
    run(clone, "dvc", "pull")
    for output in CACHED_OUTPUTS:
        assert digest_tree(clone / output) == digest_tree(project / output), output

    assert "Data and pipelines are up to date" in run(clone, "dvc", "status").stdout
    repro = run(clone, "dvc", "repro").stdout
    assert "Running stage" not in repro, repro
    assert run(clone, "git", "status", "--porcelain").stdout == ""
