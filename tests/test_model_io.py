"""The model-folder loader: every damaged folder is one DataError naming the file and the stage
that makes it, before anything is used."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from textmotion.errors import DataError
from textmotion.model_io import RetrievalModel, TrainedConfig, build_untrained, load_model, save_model
from textmotion.retrieval import encode_texts
from textmotion.store import NormStats
from tiny import minilm, tiny_model, tiny_train

TRAIN_STAGE = r"model folders are made by the train stage: run it \(dvc repro train\)$"


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """A tiny model folder with a fine-tuned (so saved) text backbone."""
    torch.manual_seed(0)
    root = tmp_path_factory.mktemp("saved")
    model_cfg = tiny_model(freeze_text=False)
    stats = NormStats(np.zeros(384, np.float32), np.ones(384, np.float32))
    model = RetrievalModel.from_config(model_cfg, minilm(), stats, downsample=1)
    save_model(root / "models", model, TrainedConfig.resolve(minilm(), model_cfg, tiny_train(root, root), 1,
                                                             model.text_weights))
    return root / "models"


@pytest.fixture
def folder(saved, tmp_path) -> Path:
    return Path(shutil.copytree(saved, tmp_path / "models"))


def edit_config(folder: Path, change) -> None:
    config = json.loads((folder / "config.json").read_text())
    change(config)
    (folder / "config.json").write_text(json.dumps(config))


def refused(folder: Path, pattern: str) -> str:
    with pytest.raises(DataError, match=pattern) as raised:
        load_model(folder, device="cpu")
    problem = raised.value.problem
    assert "\n" not in problem and "weights_only" not in problem and "pickle" not in problem
    return problem


def test_a_good_folder_loads(folder):
    assert encode_texts(load_model(folder, device="cpu"), ["a person waves"]).shape == (1, 16)


def test_texts_come_back_in_their_order_whatever_the_batching(saved, monkeypatch):
    # encode_texts batches texts shortest first; each row must still be its own text's
    model = load_model(saved, device="cpu")
    texts = ["two people shake hands, then one of them waves twice", "jumps", "a person walks forward",
             "hop", "someone sits down slowly on a chair"]
    alone = np.concatenate([encode_texts(model, [text]) for text in texts])
    monkeypatch.setattr("textmotion.retrieval.TEXT_BATCH", 2)
    np.testing.assert_allclose(encode_texts(model, texts), alone, rtol=0, atol=1e-5)
    assert encode_texts(model, []).shape == (0, 16)


@pytest.mark.parametrize("name", ["motion_encoder.pt", "text_encoder.pt", "config.json", "stats.npz"])
def test_missing_file(folder, name):
    (folder / name).unlink()
    refused(folder, rf"models/{name}: missing from the model folder; .*{TRAIN_STAGE}")
    with pytest.raises(DataError, match=rf"{name}: missing"):
        build_untrained(folder)


def test_missing_folder_or_a_file_in_its_place(tmp_path):
    refused(tmp_path / "models", rf"models: no model folder; .*{TRAIN_STAGE}")
    (tmp_path / "models").write_text("")
    refused(tmp_path / "models", rf"models: not a folder; .*{TRAIN_STAGE}")


@pytest.mark.parametrize("name", ["motion_encoder.pt", "text_encoder.pt"])
@pytest.mark.parametrize("damage", ["truncated", "random bytes", "pickled object"])
def test_unreadable_weights(folder, name, damage):
    path = folder / name
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "random bytes":
        path.write_bytes(np.random.default_rng(0).bytes(4096))
    else:  # loading it would run code: weights_only refuses it
        torch.save({"weights": Path("x")}, path)
    refused(folder, rf"models/{name}: not a readable PyTorch weights file \(truncated, corrupt, or holding more than tensors\); .*{TRAIN_STAGE}")


def test_weights_that_are_not_a_state_dict(folder):
    torch.save([torch.zeros(2)], folder / "motion_encoder.pt")
    refused(folder, rf"motion_encoder.pt: not a state dict of named tensors; .*{TRAIN_STAGE}")


def test_swapped_weight_files(folder):
    motion, text = (folder / "motion_encoder.pt").read_bytes(), (folder / "text_encoder.pt").read_bytes()
    (folder / "motion_encoder.pt").write_bytes(text)
    (folder / "text_encoder.pt").write_bytes(motion)
    refused(folder, rf"motion_encoder.pt: holds the weights of the text encoder: the two weight files are swapped; .*{TRAIN_STAGE}")


@pytest.mark.parametrize("change, pattern", [
    (lambda c: c["model"].update(ff_dim=64),
     r"motion_encoder.pt: transformer.layers.0.linear1.weight has shape \(32, 16\), but config.json implies "
     r"\(64, 16\)"),
    (lambda c: c["model"].update(n_layers=2),
     r"motion_encoder.pt: does not match config.json \(12 weights missing, 0 unexpected, "
     r"e.g. missing 'transformer.layers.1.linear1.bias'\)"),
    (lambda c: c["model"].update(embed_dim=8),
     r"motion_encoder.pt: does not match config.json \(2 weights missing, 0 unexpected, e.g. missing 'projection.bias'\)"),
], ids=["feed-forward width", "layers", "embedding size"])
def test_config_that_disagrees_with_the_weights(folder, change, pattern):
    edit_config(folder, change)
    assert refused(folder, pattern).endswith("the files come from different runs; model folders are made by the train stage: "
                            "run it (dvc repro train)")


def test_text_weights_from_another_run(folder):
    state = torch.load(folder / "text_encoder.pt")
    state["text_encoder.projection.weight"] = torch.zeros(8, 384)
    torch.save(state, folder / "text_encoder.pt")
    refused(folder, r"text_encoder.pt: text_encoder.projection.weight has shape \(8, 384\), but config.json implies "
                    rf"\(16, 384\): the files come from different runs; .*{TRAIN_STAGE}")


@pytest.mark.parametrize("content, pattern", [
    ("{not json", r"config.json: not valid JSON \(line 1, column 2: Expecting property name"),
    ("[1, 2]", r"config.json: must be a mapping of keys, got \[1, 2\]"),
], ids=["not JSON", "not an object"])
def test_unreadable_config(folder, content, pattern):
    (folder / "config.json").write_text(content)
    refused(folder, rf"{pattern}.*; {TRAIN_STAGE}")


@pytest.mark.parametrize("change, pattern", [
    (lambda c: c["model"].pop("n_heads"), r"model.n_heads: missing \(an integer >= 1\)"),
    (lambda c: c["model"].update(n_heads="two"), r"model.n_heads: must be an integer >= 1, got 'two'"),
    (lambda c: c["model"].update(n_heads=3), r"model.d_model: 16 is not divisible by model.n_heads = 3"),
    (lambda c: c.pop("downsample"), r"downsample: missing \(an integer >= 1\)"),
    (lambda c: c["model"].update(n_head=2), r"model.n_head: unknown key; did you mean 'n_heads'\?"),
], ids=["missing key", "wrong type", "rule", "missing downsample", "unknown key"])
def test_config_with_bad_keys(folder, change, pattern):
    edit_config(folder, change)
    refused(folder, rf"config.json: {pattern}; {TRAIN_STAGE}")


def test_damaged_statistics(folder):
    (folder / "stats.npz").write_bytes(np.random.default_rng(0).bytes(1000))
    refused(folder, rf"stats.npz: not a readable .npz archive of normalisation statistics; {TRAIN_STAGE}")


def test_folders_saved_with_the_temperature_still_load(folder):
    """Before the temperature moved to the loss, text_encoder.pt held it too: it is ignored."""
    texts = ["a person waves", "two people shake hands"]
    expected = encode_texts(load_model(folder, device="cpu"), texts)
    state = torch.load(folder / "text_encoder.pt")
    torch.save({**state, "temperature.log_value": torch.tensor(-2.66)}, folder / "text_encoder.pt")
    np.testing.assert_array_equal(encode_texts(load_model(folder, device="cpu"), texts), expected)


def test_folders_saved_before_the_typed_config_still_load(folder):
    """config.json of the earlier shape: `seed` and `text_pretrained` beside the sections, and
    none of the keys added since (they take the values those models were trained with)."""
    texts = ["a person waves", "two people shake hands"]
    expected = encode_texts(load_model(folder, device="cpu"), texts)

    def older(config: dict) -> None:
        text = config.pop("text")
        config.update(seed=config["train"]["seed"], text_pretrained=False)
        del config["text_weights"]
        config["model"].update(text_encoder=text["encoder"], clip_checkpoint=text["clip_checkpoint"])
        for section, keys in (("model", ["length_feature", "normalisation", "text_head", "text_layers", "text_width",
                                         "text_heads", "text_pooling"]),
                              ("train", ["paraphrases", "captions_per_clip", "text_noise", "false_negative_threshold",
                                         "num_workers", "compile", "text_features"])):
            for key in keys:
                del config[section][key]
    edit_config(folder, older)
    loaded = load_model(folder, device="cpu")
    np.testing.assert_array_equal(encode_texts(loaded, texts), expected)
    assert loaded.normalisation == "dataset" and loaded.motion_encoder.length is None


def test_non_finite_weights_are_refused(folder):
    """A run that diverged must not rank anything (NaN similarities would rank first)."""
    state = torch.load(folder / "motion_encoder.pt")
    state["input.weight"][0, 0] = float("nan")
    torch.save(state, folder / "motion_encoder.pt")
    refused(folder, rf"motion_encoder.pt: input.weight holds NaN or infinite values: the run that wrote it "
                    rf"diverged; {TRAIN_STAGE}")


def test_a_model_refuses_other_text_weights_than_those_it_was_trained_on(tmp_path):
    """A frozen pretrained backbone is rebuilt on loading, from weights config.json names by
    their sha256: other weights under the same name are one line."""
    model_cfg = tiny_model()
    stats = NormStats(np.zeros(384, np.float32), np.ones(384, np.float32))
    model = RetrievalModel.from_config(model_cfg, minilm(), stats, downsample=1)
    assert not model.text_encoder.saves_backbone and len(model.text_weights) == 64
    save_model(tmp_path / "models", model, TrainedConfig.resolve(minilm(), model_cfg, tiny_train(tmp_path, tmp_path), 1,
                                                                 model.text_weights))
    assert not any(key.startswith("text_encoder.backbone.") for key in torch.load(tmp_path / "models" / "text_encoder.pt"))
    load_model(tmp_path / "models", device="cpu")
    edit_config(tmp_path / "models", lambda c: c.update(text_weights="0" * 64))
    refused(tmp_path / "models", r"models/config.json: trained on the text backbone 'minilm' with weights of sha256 "
                                 r"0000000000000000…, but here 'minilm' has weights [0-9a-f]{16}…")
