"""The params.yaml schema: the committed file passes, each defect is one line naming the key."""
from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from textmotion.errors import DataError
from textmotion.params import SECTIONS, load_section, reference


def load_params(section: str, path: Path) -> dict:
    return load_section(section, path).model_dump()

REPO = Path(__file__).resolve().parents[1]
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))


def test_committed_params_pass_and_sections_keep_their_values():
    for section, schema in SECTIONS.items():
        loaded = load_params(section, REPO / "params.yaml")
        assert {key: loaded[key] for key in PARAMS[section]} == PARAMS[section]
        filled = loaded.keys() - PARAMS[section].keys()  # optional keys left out get their defaults
        assert all(loaded[key] == schema.model_fields[key].default for key in filled)


def test_reference_doc_is_generated_from_the_schema():
    assert (REPO / "docs" / "params.md").read_text(encoding="utf-8") == reference(), \
        "docs/params.md is stale: run python tools/write_params_doc.py"


def test_schema_agrees_with_the_code_it_describes():
    from textmotion.loss import MAX_TEMPERATURE, MIN_TEMPERATURE
    from textmotion.text_encoders import POOLING_MODES
    model, train = SECTIONS["model"].model_fields, SECTIONS["train"].model_fields
    assert set(POOLING_MODES.values()) <= set(model["text_pooling"].annotation.__args__)
    bounds = {type(b).__name__: b for b in train["temperature"].metadata}
    assert (bounds["Ge"].ge, bounds["Le"].le) == (MIN_TEMPERATURE, MAX_TEMPERATURE)


def edit(section: str, key: str, value=None, remove: bool = False):
    def apply(params: dict) -> None:
        if remove:
            del params[section][key]
        else:
            params[section][key] = value
    return apply


DEFECTS = [  # (defect, edit of the parsed file, expected message after "params.yaml: ")
    ("text for a fraction", edit("preprocess", "val_fraction", "ten"),
     "preprocess.val_fraction: must be a finite number in [0, 1), got 'ten'"),
    ("text for a seed", edit("preprocess", "seed", "zero"), "preprocess.seed: must be an integer in [0, 4294967295], got 'zero'"),
    ("zero downsample", edit("preprocess", "downsample", 0), "preprocess.downsample: must be an integer >= 1, got 0"),
    ("not a boolean", edit("preprocess", "skip_bad", "maybe"), "preprocess.skip_bad: must be true or false, got 'maybe'"),
    ("typo in a key", edit("preprocess", "skip_bda", True), "preprocess.skip_bda: unknown key; did you mean 'skip_bad'?"),
    ("typo in a train key", edit("train", "epoch", 3), "train.epoch: unknown key; did you mean 'epochs'?"),
    ("text for epochs", edit("train", "epochs", "ten"), "train.epochs: must be an integer >= 1, got 'ten'"),
    ("float for an integer", edit("train", "epochs", 10.0), "train.epochs: must be an integer >= 1, got 10.0"),
    ("boolean for an integer", edit("train", "epochs", True), "train.epochs: must be an integer >= 1, got true"),
    ("unknown device", edit("train", "device", "tpu"),
     "train.device: must be one of 'auto', 'cpu', 'cuda', got 'tpu'; did you mean 'cpu'?"),
    ("empty text encoder", edit("text", "encoder", ""), "text.encoder: must be a name, got ''"),
    ("unknown text head", edit("model", "text_head", "token"),
     "model.text_head: must be one of 'pooled', 'tokens', got 'token'; did you mean 'tokens'?"),
    ("text heads do not divide the text width", edit("model", "text_heads", 3),
     "model.text_width: 256 is not divisible by model.text_heads = 3"),
    ("heads do not divide the width", edit("model", "n_heads", 3), "model.d_model: 128 is not divisible by model.n_heads = 3"),
    ("checkpoint for minilm", edit("text", "clip_checkpoint", "clip.bin"), "text.clip_checkpoint: set, but"),
    ("temperature out of range", edit("train", "temperature", 0), "train.temperature: must be a finite number in [0.01, 1.0], got 0"),
    ("missing key", edit("train", "epochs", remove=True), "train.epochs: missing (an integer >= 1)"),
    ("null value", edit("train", "lr", None), "train.lr: must be a finite number > 0, got null"),
    ("section not a mapping", lambda p: p.update(train=5), "train: must be a mapping of keys, got 5"),
    ("typo in a section", lambda p: p.update(trian={}), "trian: unknown section; did you mean 'train'?"),
    ("two stages write one file", edit("predict", "metrics", "metrics/evaluate.json"),
     "evaluate.metrics and predict.metrics overlap"),
    ("a stage writes into what it reads", lambda p: (p.pop("generate"), p["preprocess"].update(out="data/generated/x")),
     "preprocess.out overlaps preprocess.raw_root"),
    ("too few held-out clips", edit("generate", "n_candidates", 301),
     "generate.n_candidates: 301 candidates per query need at least as many held-out clips"),
    ("infinite learning rate", edit("train", "lr", float("inf")), "train.lr: must be a finite number > 0, got inf"),
    ("a key of an earlier params.yaml", edit("evaluate", "n_bootstrap", 1000), "evaluate.n_bootstrap: moved to scoring.n_bootstrap"),
    ("NaN noise", edit("train", "text_noise", float("nan")), "train.text_noise: must be a finite number in [0, 2], got nan"),
    ("seed beyond NumPy's range", edit("train", "seed", 2**64), "train.seed: must be an integer in [0, 4294967295], got 18446744073709551616"),
    ("seed beyond scikit-learn's range", edit("tsne", "seed", 2**32), "tsne.seed: must be an integer in [0, 4294967295], got 4294967296"),
    ("the root folder as an output", edit("preprocess", "out", "/"),
     "preprocess.out: '/' is the project folder or one above it; the stage would replace it whole"),
    ("the project folder as an output", edit("make_val", "out", "."),
     "make_val.out: '.' is the project folder or one above it"),
]


@pytest.mark.parametrize("defect, change, message", DEFECTS, ids=[d[0] for d in DEFECTS])
def test_each_defect_is_one_line_naming_the_key(tmp_path, defect, change, message):
    params = copy.deepcopy(PARAMS)
    change(params)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    # the whole file is checked, whichever section the stage reads
    with pytest.raises(DataError) as raised:
        load_params("tsne", tmp_path / "params.yaml")
    assert str(raised.value).startswith(f"{tmp_path / 'params.yaml'}: {message}")
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("text, message", [
    ("", "empty; expected the sections generate, preprocess"),
    ("train:\n  epochs: [1\n", "not valid YAML: expected ',' or ']'"),
    ("- 1\n", "must be a mapping of sections, got [1]"),
    ("train:\n  epochs: 1\n  epochs: 2\n", 'not valid YAML: found duplicate key "epochs"'),
], ids=["empty", "invalid", "list", "duplicate key"])
def test_unreadable_files(tmp_path, text, message):
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(DataError, match="^" + str(tmp_path / "params.yaml: ") + ".*") as raised:
        load_params("train", tmp_path / "params.yaml")
    assert message in str(raised.value)
    with pytest.raises(DataError, match="file not found"):
        load_params("train", tmp_path / "absent.yaml")


def test_a_missing_section_is_an_error_only_for_its_stage(tmp_path):
    (tmp_path / "params.yaml").write_text(yaml.safe_dump({"tsne": PARAMS["tsne"]}))
    assert load_params("tsne", tmp_path / "params.yaml") == PARAMS["tsne"]
    with pytest.raises(DataError, match=r"params.yaml: train: missing section \(keys: seed, train_store"):
        load_params("train", tmp_path / "params.yaml")


def test_yaml_1_2_numbers_as_dvc_writes_them(tmp_path):
    """`dvc exp run -S train.lr=1e-4` writes 1e-4, a float in YAML 1.2 (PyYAML would read text)."""
    text = re.sub(r"(?m)^  lr: .*$", "  lr: 1e-4", (REPO / "params.yaml").read_text(encoding="utf-8"))
    (tmp_path / "params.yaml").write_text(text)
    assert load_params("train", tmp_path / "params.yaml")["lr"] == 1e-4
