"""The failure matrix: each row injects one defect into a copy of a small valid project (data,
trained model and earlier outputs in place), runs one stage, and checks that it ends with the
expected exit code, exactly one `error:` line matching the row's pattern, no traceback, no
temporaries left, and every file of the project byte-identical to before the run.

The project (generate → preprocess → make_val → train on tiny params) is built once per module;
evaluate, tsne and predict outputs are stand-ins whose bytes must survive. Rows marked `lead`
need a change in a stage file and are expected to fail until it is made (xfail, strict).
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import resource
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
import yaml

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
TINY = {
    "generate": {"n_clips": 40, "n_test_clips": 12, "n_test_queries": 3, "n_candidates": 8},
    "preprocess": {"val_fraction": 0.3},
    "text": {"encoder": "minilm"},  # the small text backbone: the failures do not depend on which
    "make_val": {"n_groups": 4, "n_candidates": 8},
    "model": {"embed_dim": 16, "d_model": 16, "n_layers": 1, "n_heads": 2, "ff_dim": 32, "patch_size": 2,
              "max_frames": 24},
    "train": {"epochs": 1, "batch_size": 8, "warmup_steps": 0, "threads": 1, "device": "cpu"},
    "evaluate": {"n_examples": 1},
    "tsne": {"n_pairs": 6, "perplexity": 2},
    "scoring": {"n_bootstrap": 10, "chunk_size": 64},
}
STAND_INS = ["metrics/val_submission.csv", "metrics/evaluate.json", "plots/recall_at_k.csv",
             "plots/retrieval_examples.png", "plots/tsne_latent_space.png", "submission.csv", "metrics/test.json"]
FILE_SIZE_LIMIT = 1 << 20


def run_stage(workdir: Path, stage: str, *args: str, preexec: Callable[[], None] | None = None):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, str(SRC / f"{stage}.py"), *args], cwd=workdir, env=env,
                          capture_output=True, text=True, timeout=300, preexec_fn=preexec)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("project")
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    for section, overrides in TINY.items():
        params[section].update(overrides)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    for stage in ("generate", "preprocess", "make_val", "encode_text", "train"):
        done = run_stage(root, stage)
        assert done.returncode == 0, f"{stage}: {done.stderr[-3000:]}"
    for name in STAND_INS:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(f"earlier {name}\n")
    return root


def digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "folder"
            for p in sorted(root.rglob("*")) if not p.is_symlink()}


# --- defects ----------------------------------------------------------------------------------

def set_param(section: str, key: str, value) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        params = yaml.safe_load((root / "params.yaml").read_text())
        params[section][key] = value
        (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return apply


def drop_param(section: str, key: str | None = None) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        params = yaml.safe_load((root / "params.yaml").read_text())
        del (params[section] if key else params)[key or section]
        (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return apply


def write(path: str, content: bytes | str | Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        target = root / path
        if callable(content):
            target.write_bytes(content(target.read_bytes()))
        elif isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content)
    return apply


def remove(path: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        (shutil.rmtree if (root / path).is_dir() else os.remove)(root / path)
    return apply


def edit_json(path: str, change: Callable[[dict], None]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        data = json.loads((root / path).read_text())
        change(data)
        (root / path).write_text(json.dumps(data))
    return apply


def swap(a: str, b: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        (root / a).rename(root / "swap")
        (root / b).rename(root / a)
        (root / "swap").rename(root / b)
    return apply


def both(*defects: Callable[[Path], None]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        for defect in defects:
            defect(root)
    return apply


def half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def first_answer(answer: int) -> Callable[[bytes], bytes]:
    def change(data: bytes) -> bytes:
        header, first, *rest = data.decode().splitlines()
        return "\n".join([header, f"{first.split(',')[0]},{answer}", *rest, ""]).encode()
    return change


def nan_weights(data: bytes) -> bytes:
    state = torch.load(io.BytesIO(data))
    state["input.weight"][0, 0] = float("nan")
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


RANDOM = np.random.default_rng(0).bytes(4096)
TRAIN_STAGE = r"; model folders are made by the train stage: run it \(dvc repro train\)"


def limit_file_size() -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, FILE_SIZE_LIMIT))


@dataclass
class Row:
    id: str
    stage: str
    defect: Callable[[Path], None]
    pattern: str                       # the error line, after "error: "
    args: tuple[str, ...] = ()
    returncode: int = 1
    lead: str | None = None            # the stage-file change this row waits for
    mount: str | None = None           # tmpfs options: the row runs with `mounted/` on it
    preexec: Callable[[], None] | None = None
    marks: list = field(default_factory=list)


ROWS = [
    # params.yaml: every stage checks the whole file in load_section, before touching any output, so
    # most rows run the quickest stage (preprocess); one row per stage shows that it is wired in
    Row("val_fraction text", "preprocess", set_param("preprocess", "val_fraction", "ten"),
        r"params.yaml: preprocess.val_fraction: must be a finite number in \[0, 1\), got 'ten'"),
    Row("seed text", "preprocess", set_param("preprocess", "seed", "zero"),
        r"params.yaml: preprocess.seed: must be an integer in \[0, 4294967295\], got 'zero'"),
    Row("downsample 0", "preprocess", set_param("preprocess", "downsample", 0),
        r"params.yaml: preprocess.downsample: must be an integer >= 1, got 0"),
    Row("skip_bad maybe", "preprocess", set_param("preprocess", "skip_bad", "maybe"),
        r"params.yaml: preprocess.skip_bad: must be true or false, got 'maybe'"),
    Row("typo skip_bda", "preprocess", set_param("preprocess", "skip_bda", True),
        r"params.yaml: preprocess.skip_bda: unknown key; did you mean 'skip_bad'\?"),
    Row("missing section", "preprocess", drop_param("preprocess"),
        r"params.yaml: preprocess: missing section \(keys: raw_root, out, "),
    Row("missing key", "preprocess", drop_param("preprocess", "seed"),
        r"params.yaml: preprocess.seed: missing \(an integer in \[0, 4294967295\]\)"),
    Row("no params.yaml", "preprocess", remove("params.yaml"), r"params.yaml: file not found"),
    Row("invalid YAML", "preprocess", write("params.yaml", "preprocess:\n  out: [data\n"),
        r"params.yaml: not valid YAML: .*\(line 3, column 1\)"),
    Row("empty params.yaml", "preprocess", write("params.yaml", ""), r"params.yaml: empty; expected the sections"),
    Row("epochs text", "train", set_param("train", "epochs", "ten"),
        r"params.yaml: train.epochs: must be an integer >= 1, got 'ten'"),
    Row("typo epoch", "preprocess", set_param("train", "epoch", 3),
        r"params.yaml: train.epoch: unknown key; did you mean 'epochs'\?"),
    Row("device tpu", "preprocess", set_param("train", "device", "tpu"),
        r"params.yaml: train.device: must be one of 'auto', 'cpu', 'cuda', got 'tpu'; did you mean 'cpu'\?"),
    Row("heads do not divide d_model", "train", set_param("model", "n_heads", 3),
        r"params.yaml: model.d_model: 16 is not divisible by model.n_heads = 3"),
    Row("generate n_clips 0", "generate", set_param("generate", "n_clips", 0),
        r"params.yaml: generate.n_clips: must be an integer >= 1, got 0"),
    Row("make_val n_candidates text", "make_val", set_param("make_val", "n_candidates", "8"),
        r"params.yaml: make_val.n_candidates: must be an integer >= 2, got '8'"),
    Row("scoring n_bootstrap 0", "evaluate", set_param("scoring", "n_bootstrap", 0),
        r"params.yaml: scoring.n_bootstrap: must be an integer >= 1, got 0"),
    Row("tsne perplexity text", "preprocess", set_param("tsne", "perplexity", "30"),
        r"params.yaml: tsne.perplexity: must be a finite number > 0, got '30'"),
    Row("scoring chunk_size 0", "predict", set_param("scoring", "chunk_size", 0),
        r"params.yaml: scoring.chunk_size: must be an integer >= 1, got 0"),
    Row("infinite learning rate", "train", set_param("train", "lr", float("inf")),
        r"params.yaml: train.lr: must be a finite number > 0, got inf"),
    Row("seed past NumPy's range", "train", set_param("train", "seed", 2**64),
        r"params.yaml: train.seed: must be an integer in \[0, 4294967295\], got 18446744073709551616"),
    Row("seed past scikit-learn's range", "tsne", set_param("tsne", "seed", 2**32),
        r"params.yaml: tsne.seed: must be an integer in \[0, 4294967295\], got 4294967296"),
    Row("output is the root folder", "preprocess", set_param("preprocess", "out", "/"),
        r"params.yaml: preprocess.out: '/' is the project folder or one above it"),
    Row("two stages write one file", "preprocess", set_param("predict", "metrics", "metrics/evaluate.json"),
        r"params.yaml: evaluate.metrics and predict.metrics overlap"),

    # the model folder, read by evaluate, tsne and predict
    Row("model folder missing", "predict", remove("models"), rf"models: no model folder{TRAIN_STAGE}"),
    Row("motion weights missing", "predict", remove("models/motion_encoder.pt"),
        rf"models/motion_encoder.pt: missing from the model folder{TRAIN_STAGE}"),
    Row("config missing", "tsne", remove("models/config.json"),
        rf"models/config.json: missing from the model folder{TRAIN_STAGE}"),
    Row("motion weights truncated", "predict", write("models/motion_encoder.pt", half),
        rf"models/motion_encoder.pt: not a readable PyTorch weights file .*{TRAIN_STAGE}"),
    Row("text weights random bytes", "predict", write("models/text_encoder.pt", RANDOM),
        rf"models/text_encoder.pt: not a readable PyTorch weights file .*{TRAIN_STAGE}"),
    Row("config not JSON", "predict", write("models/config.json", "{model: 1"),
        rf"models/config.json: not valid JSON \(line 1, column 2: .*{TRAIN_STAGE}"),
    Row("config disagrees with weights", "predict", edit_json("models/config.json", lambda c: c["model"].update(ff_dim=64)),
        rf"models/motion_encoder.pt: transformer.layers.0.linear1.weight has shape \(32, 16\), but config.json "
        rf"implies \(64, 16\): the files come from different runs{TRAIN_STAGE}"),
    Row("weight files swapped", "predict", swap("models/motion_encoder.pt", "models/text_encoder.pt"),
        rf"models/motion_encoder.pt: holds the weights of the text encoder: the two weight files are swapped{TRAIN_STAGE}"),
    Row("weights of a diverged run", "evaluate", write("models/motion_encoder.pt", nan_weights),
        rf"models/motion_encoder.pt: input.weight holds NaN or infinite values: the run that wrote it diverged{TRAIN_STAGE}"),

    # the text backbone and its caption features
    Row("text encoder that is not here", "encode_text", set_param("text", "encoder", "no-such-model"),
        r"no-such-model: not a local folder, and the model hub could not provide it"),
    Row("caption features of other weights", "train",
        edit_json("data/text_features/info.json", lambda info: info.update(weights_sha256="0" * 64)),
        r"data/text_features/info.json: made with the text backbone 'minilm' \(other weights than the one training "
        r"builds\): re-run encode_text"),

    # arguments: a stage takes none, predict's CLI mode needs --queries; none is ever ignored
    Row("stage argument", "preprocess", lambda root: None,
        r".*preprocess.py: takes no arguments, got '--raw-root': a stage reads its params from params.yaml",
        args=("--raw-root", "/nonexistent")),
    Row("predict flags without --queries", "predict", lambda root: None,
        r"predict.py: the following arguments are required: --queries",
        args=("--out", "mine.csv", "--model", "other", "--gt", "nothere.csv")),
    Row("predict --metrics without --gt", "predict", lambda root: None,
        r"predict.py: --metrics needs --gt", args=("--queries", "data/val", "--out", "mine.csv", "--metrics", "m.json")),
    Row("predict --chunk-size 0", "predict", lambda root: None,
        r"predict.py: argument --chunk-size: must be a whole number >= 1, got '0'",
        args=("--queries", "data/val", "--out", "mine.csv", "--chunk-size", "0")),

    # data files
    Row("raw motion random bytes", "preprocess", write("data/generated/motions/00000.npy", RANDOM),
        r"data/generated/motions/00000.npy: not a .npy array \(no NumPy header\)"),
    Row("store frames random bytes", "tsne", write("data/prepared/val/frames.npy", RANDOM),
        r"data/prepared/val/frames.npy: not a .npy array \(no NumPy header\)"),
    Row("train store random bytes keeps dvclive", "train", write("data/prepared/train/frames.npy", RANDOM),
        r"data/prepared/train/frames.npy: not a .npy array \(no NumPy header\)"),
    Row("gt answer out of range", "evaluate", write("data/val/gt.csv", first_answer(40)),
        r"data/val/gt.csv: .*40"),
    Row("groups.csv names no query", "evaluate", write("data/val/groups.csv", "query_id,candidate,clip_id\n"),
        r"data/val/groups.csv: does not name each query's clip \(query '1'\); re-run make_val"),

    # outputs
    Row("output folder is a file", "preprocess", both(remove("data/prepared"), write("data/prepared", "a file")),
        r"data/prepared: exists and is not a folder"),
    Row("output under a file", "preprocess", both(write("blocker", "a file"), set_param("preprocess", "out", "blocker/prepared")),
        r"blocker/prepared: cannot be created: .*blocker is a file, not a folder"),
    Row("--out is a folder", "predict", lambda root: (root / "out.csv").mkdir(),
        r"out.csv: is a folder; an output file goes here",
        args=("--queries", "data/val", "--out", "out.csv", "--model", "models")),
    Row("late output is a folder", "evaluate", lambda root: (root / "plots/retrieval_examples.png").unlink()
        or (root / "plots/retrieval_examples.png").mkdir(),
        r"plots/retrieval_examples.png: is a folder; an output file goes here"),
    Row("model folder is a file", "train", both(remove("models"), write("models", "a file")),
        r"models: exists and is not a folder"),
    Row("file size limit", "preprocess", lambda root: None, r"data/prepared: File too large",
        preexec=limit_file_size),
    Row("read-only file system", "preprocess", set_param("preprocess", "out", "mounted/prepared"),
        r"mounted/prepared: .*Read-only file system", mount="ro,size=1m"),
    Row("full disk", "preprocess", set_param("preprocess", "out", "mounted/prepared"),
        r"mounted/prepared: No space left on device", mount="size=256k"),
]


def param(row: Row):
    marks = list(row.marks)
    if row.lead:
        marks.append(pytest.mark.xfail(strict=True, reason=f"lead: {row.lead}"))
    return pytest.param(row, id=row.id, marks=marks)


@pytest.fixture
def mounted(request, tmp_path):
    """`tmp_path/mounted` as a tmpfs with the row's options (skips where mounting is not allowed)."""
    row = request.node.callspec.params["row"]
    if not row.mount:
        yield None
        return
    target = tmp_path / "mounted"
    target.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", row.mount, "tmpfs", str(target)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root): the full-disk and read-only rows need one")
    yield target
    subprocess.run(["umount", str(target)], check=True)


@pytest.mark.parametrize("row", [param(row) for row in ROWS])
def test_failure(project, tmp_path, mounted, row: Row):
    root = tmp_path
    shutil.copytree(project, root, dirs_exist_ok=True)
    row.defect(root)
    before = digest(root)
    done = run_stage(root, row.stage, *row.args, preexec=row.preexec)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.returncode == row.returncode, done.stderr[-3000:]
    assert len(errors) == 1, done.stderr[-3000:]
    assert re.match(row.pattern, errors[0].removeprefix("error: ")), errors[0]
    after = digest(root)
    assert after == before, f"changed: {sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))}"


def test_next_run_removes_what_a_killed_run_left(project, tmp_path):
    shutil.copytree(project, tmp_path, dirs_exist_ok=True)
    (tmp_path / "data/.prepared.k2j_x9a1.tmp/train").mkdir(parents=True)  # a killed preprocess
    (tmp_path / "data/.prepared.old").mkdir()                            # a swap killed after both renames
    (tmp_path / "metrics/.evaluate.json.abcdefgh.tmp").write_text("{")   # a killed write_json
    done = run_stage(tmp_path, "preprocess")
    assert done.returncode == 0, done.stderr[-3000:]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["generated", "prepared", "text_features", "val"]
    assert (tmp_path / "metrics/.evaluate.json.abcdefgh.tmp").exists()  # another target's: left for its own next run


@pytest.mark.parametrize("stage", ["generate", "preprocess", "make_val", "encode_text", "train", "evaluate", "tsne",
                                   "predict"])
def test_help_says_what_the_stage_does_and_runs_nothing(project, tmp_path, stage):
    shutil.copytree(project, tmp_path, dirs_exist_ok=True)
    before = digest(tmp_path)
    done = run_stage(tmp_path, stage, "--help")
    assert done.returncode == 0 and done.stdout.startswith(f"Stage `{stage}`"), done.stdout[:300] + done.stderr[-2000:]
    assert digest(tmp_path) == before
