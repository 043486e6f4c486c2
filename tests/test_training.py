"""Training on a tiny generated store: determinism, resume equivalence, model folder round trip."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from textmotion.errors import DataError
from textmotion.model_io import RetrievalModel, TrainedConfig, load_model, save_model
from textmotion.retrieval import encode_motions, encode_texts
from textmotion.store import MotionStore, NormStats
from textmotion import text_encoders
from textmotion.training import NON_REPRODUCIBLE_METRICS, TrainingSession, train, with_relative_noise
from tiny import Killed, encode_captions, killed_after, minilm, tiny_model, tiny_train

ACTIONS = ["walks forward", "waves a hand", "jumps twice", "sits down"]


def write_tiny_dataset(root: Path, n_train: int = 32, n_val: int = 12) -> Path:
    """Clips whose motion pattern depends on the action their captions name."""
    rng = np.random.default_rng(0)
    for split, n in [("train", n_train), ("val", n_val)]:
        motions, captions, paraphrases = [], [], []
        for i in range(n):
            action = i % len(ACTIONS)
            t = np.arange(int(rng.integers(12, 40)))[:, None]
            motions.append((np.sin(t * (action + 1) / 5 + np.arange(384) / 50)
                            + 0.1 * rng.normal(size=(len(t), 384))).astype(np.float32))
            captions.append([f"a person {ACTIONS[action]}", f"someone {ACTIONS[action]}"][: 1 + i % 2])
            paraphrases.append([f"the human {ACTIONS[action]}"] if split == "train" else [])
        MotionStore.write(root / split, [f"{split}{i}" for i in range(n)], motions, captions, paraphrases)
    NormStats.fit(MotionStore.open(root / "train")).save(root / "stats.npz")
    (root / "report.json").write_text(json.dumps({"downsample": 1}))
    encode_captions(root)
    return root


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    return write_tiny_dataset(tmp_path_factory.mktemp("data"))


def reproducible(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in NON_REPRODUCIBLE_METRICS} for row in history]


def weights(model_dir: Path) -> dict[str, torch.Tensor]:
    return {**torch.load(model_dir / "motion_encoder.pt"), **torch.load(model_dir / "text_encoder.pt")}


def assert_same_weights(dir_a: Path, dir_b: Path) -> None:
    a, b = weights(dir_a), weights(dir_b)
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.fixture(scope="module")
def uninterrupted(tiny_data, tmp_path_factory) -> tuple[Path, list[dict]]:
    root = tmp_path_factory.mktemp("run_a")
    return root, train(tiny_model(), minilm(), tiny_train(root, tiny_data))


def test_two_runs_give_identical_metrics_and_weights(tiny_data, uninterrupted, tmp_path):
    root_a, history_a = uninterrupted
    history_b = train(tiny_model(), minilm(), tiny_train(tmp_path, tiny_data))
    assert len(history_a) == 2
    assert reproducible(history_a) == reproducible(history_b)
    assert_same_weights(root_a / "models", tmp_path / "models")


def test_killed_run_resumes_to_the_uninterrupted_result(tiny_data, uninterrupted, tmp_path):
    root_a, history_a = uninterrupted
    params = tiny_train(tmp_path, tiny_data)
    with killed_after(epochs=1), pytest.raises(Killed):
        train(tiny_model(), minilm(), params)
    assert not (tmp_path / "models").exists()
    assert len(list((tmp_path / "checkpoints").glob("*/last.pt"))) == 1

    resumed = train(tiny_model(), minilm(), params)
    assert reproducible(resumed) == reproducible(history_a)
    assert_same_weights(root_a / "models", tmp_path / "models")
    assert not list((tmp_path / "checkpoints").glob("*/last.pt"))
    # dvclive's history holds both epochs although the first was trained by another process
    metrics = json.loads((tmp_path / "dvclive" / "metrics.json").read_text())
    assert metrics["step"] == 1 and metrics["val_R@1"] == pytest.approx(history_a[-1]["val_R@1"])
    assert len((tmp_path / "dvclive" / "plots" / "metrics" / "train_loss.tsv").read_text().splitlines()) == 3


@pytest.mark.parametrize("freeze_text, random_backbone", [(True, False), (False, False), (True, True)],
                         ids=["frozen", "fine-tuned", "frozen random weights"])
def test_model_folder_round_trip_gives_identical_embeddings(tiny_data, tmp_path, monkeypatch, freeze_text,
                                                            random_backbone):
    """A frozen pretrained backbone is rebuilt on loading; a fine-tuned one, or one of random
    weights (not rebuildable), is kept in the folder: either way the embeddings come back."""
    model_cfg = tiny_model(freeze_text=freeze_text)
    if random_backbone:
        monkeypatch.setattr(text_encoders, "pretrained_backbone", text_encoders.random_backbone)
    torch.manual_seed(1)
    model = RetrievalModel.from_config(model_cfg, minilm(), NormStats.load(tiny_data / "stats.npz"), downsample=1)
    config = TrainedConfig.resolve(minilm(), model_cfg, tiny_train(tmp_path, tiny_data), 1, model.text_weights)
    with torch.no_grad():  # move the trainable weights away from the seeded initialisation
        for parameter in filter(lambda p: p.requires_grad, model.parameters()):
            parameter.add_(0.01 * torch.randn_like(parameter))
    save_model(tmp_path / "models", model, config)
    monkeypatch.undo()  # loading builds the pretrained backbone; the saved one must replace it
    loaded = load_model(tmp_path / "models", device="cpu")

    store = MotionStore.open(tiny_data / "val")
    motions = [store.motion(i) for i in range(len(store))]
    texts = [c[0] for c in store.captions]
    np.testing.assert_array_equal(encode_motions(model, motions), encode_motions(loaded, motions))
    np.testing.assert_array_equal(encode_texts(model, texts), encode_texts(loaded, texts))
    saved = torch.load(tmp_path / "models" / "text_encoder.pt")
    assert any(key.startswith("text_encoder.backbone.") for key in saved) is (random_backbone or not freeze_text)
    assert TrainedConfig.model_validate(json.loads((tmp_path / "models" / "config.json").read_text())) == config
    # batching does not change an embedding
    one_by_one = np.concatenate([encode_motions(loaded, [m]) for m in motions])
    np.testing.assert_allclose(encode_motions(loaded, motions, batch_size=5), one_by_one, atol=1e-5)


def test_small_train_split_and_long_warmup_are_clipped_and_logged(tiny_data, tmp_path, capsys):
    """32 train clips with batch 64 train on batches of 32; a 500-step warmup in a 3-step
    run is clipped to a tenth of the run."""
    history = train(tiny_model(), minilm(), tiny_train(tmp_path, tiny_data, batch_size=64, warmup_steps=500, epochs=3))
    out = capsys.readouterr().out
    assert "train.batch_size 64 > the 32 train clips: batches of 32" in out
    assert "train.warmup_steps 500 > a tenth of the 3-step run: warmup clipped to 0 steps" in out
    assert len(history) == 3 and all(np.isfinite(row["train_loss"]) for row in history)


def test_a_failing_run_keeps_the_previous_dvclive_output(tiny_data, uninterrupted, tmp_path):
    root_a, _ = uninterrupted
    live = root_a / "dvclive"
    before = {p.relative_to(live): p.read_bytes() for p in live.rglob("*") if p.is_file()}
    assert Path("metrics.json") in before and any(p.suffix == ".tsv" for p in before)
    params = tiny_train(root_a, tiny_data, stats=str(tmp_path / "missing.npz"))
    with pytest.raises(Exception):
        train(tiny_model(), minilm(), params)
    assert {p.relative_to(live): p.read_bytes() for p in live.rglob("*") if p.is_file()} == before
    assert not list(root_a.glob(".dvclive.*"))  # no staging folder left behind


def test_worker_processes_make_the_same_batches(tiny_data, tmp_path):
    """train.num_workers moves batch making off the training process, not what the batches hold."""
    session = TrainingSession(tiny_model(), minilm(), tiny_train(tmp_path, tiny_data))
    in_process = list(session.loader(1))
    session.cfg = session.cfg.updated(num_workers=2)
    in_workers = list(session.loader(1))
    assert len(in_workers) == len(in_process) == 4
    for a, b in zip(in_process, in_workers):
        assert torch.equal(a["motions"], b["motions"]) and torch.equal(a["mask"], b["mask"])
        assert torch.equal(a["text"]["feature_rows"], b["text"]["feature_rows"])


def test_training_variants_train_and_round_trip(tiny_data, tmp_path):
    """The ablation switches: the reference configuration's per-clip z-score, an explicit length feature, one
    caption per clip and the false-negative filter all train to finite losses, and the saved
    folder gives the trained model's embeddings back."""
    model = tiny_model(normalisation="per_clip", length_feature=True)
    history = train(model, minilm(), tiny_train(tmp_path, tiny_data, captions_per_clip=1, false_negative_threshold=0.9))
    assert all(np.isfinite(row["train_loss"]) for row in history)
    loaded = load_model(tmp_path / "models", "cpu")
    assert loaded.normalisation == "per_clip" and loaded.motion_encoder.length is not None
    store = MotionStore.open(tiny_data / "val")
    prepared = loaded.prepare(store.motion(0))
    np.testing.assert_allclose(prepared.mean(0), 0, atol=1e-4)  # each clip by its own statistics


@pytest.mark.parametrize("paraphrases", [False, True])
def test_paraphrases_join_the_training_captions_only_when_asked(tiny_data, tmp_path, paraphrases):
    """train.paraphrases: the store's paraphrases are drawn in training (and cached), never in
    validation; off, training never sees them."""
    session = TrainingSession(tiny_model(), minilm(), tiny_train(tmp_path, tiny_data, paraphrases=paraphrases))
    drawn = set()
    for epoch in range(6):
        session.train_clips.epoch = epoch
        drawn |= {session.train_clips[i][1] for i in range(len(session.train_clips))}
    from_paraphrases = {c for c in drawn if c.startswith("the human")}
    assert bool(from_paraphrases) == paraphrases
    assert from_paraphrases <= set(session.collate.feature_rows)
    val_captions = {session.val_loader.dataset[i][1] for i in range(len(session.val_loader.dataset))}
    assert not any(c.startswith("the human") for c in val_captions)


def test_false_negative_filter_finds_same_captions_in_the_batch(tiny_data, tmp_path):
    session = TrainingSession(tiny_model(), minilm(), tiny_train(tmp_path, tiny_data, false_negative_threshold=0.99))
    batch = next(iter(session.loader(0)))
    captions = [session.train_clips[i][1] for i in range(len(session.train_clips))]
    mask = session.false_negatives(batch)
    rows = batch["similarity_rows"].tolist()
    text_of = {row: caption for caption, row in session.collate.similarity_rows.items()}
    texts = [text_of[row] for row in rows]
    for i in range(len(texts)):
        for j in range(len(texts)):
            if i != j and texts[i] == texts[j]:
                assert mask[i, j]  # the very same caption is always a false negative
    assert not mask.diagonal().any() and len(set(captions)) > 1


def test_relative_noise_moves_each_row_by_its_scale_times_its_norm():
    features = torch.randn(50, 384) * torch.linspace(0.1, 10, 50)[:, None]
    shift = with_relative_noise(features, 0.6) - features
    torch.testing.assert_close(shift.norm(dim=-1), 0.6 * features.norm(dim=-1))
    assert (shift[:, 0] > 0).any() and (shift[:, 0] < 0).any()  # random directions


@pytest.mark.parametrize("frozen, head", [(True, "pooled"), (False, "pooled"), (True, "tokens")])
def test_text_noise_applies_in_training_only(tiny_data, tmp_path, frozen, head):
    """train.text_noise: in training mode the same batch gives other text embeddings each time
    (cached features and a fine-tuned backbone alike, the pooled vector or the token states);
    in eval mode, exactly the noise-free ones."""
    params = tiny_train(tmp_path, tiny_data, text_noise=0.5)
    model = tiny_model(freeze_text=frozen, text_head=head, dropout=0.0)  # no dropout: only the noise can differ
    noisy = TrainingSession(model, minilm(), params)
    clean = TrainingSession(model, minilm(), params.updated(text_noise=0.0))
    batch = next(iter(noisy.loader(0)))
    noisy.embedder.train()
    noisy.model.text_encoder.backbone.eval()
    first, second = noisy.embedder(batch)[0], noisy.embedder(batch)[0]
    assert not torch.allclose(first, second)
    noisy.embedder.eval()
    clean.embedder.eval()
    torch.testing.assert_close(noisy.embedder(batch)[0], clean.embedder(batch)[0])


def test_a_diverging_run_stops_with_one_line_and_writes_nothing(tiny_data, uninterrupted, tmp_path):
    """A learning rate far too large makes the loss non-finite in the first epoch: the run stops
    there, naming the cause, and the previous model folder and dvclive output are untouched."""
    root_a, _ = uninterrupted
    before = {p: p.read_bytes() for folder in ("models", "dvclive") for p in (root_a / folder).rglob("*") if p.is_file()}
    with pytest.raises(DataError, match=r"^params.yaml: train: the (training loss is nan|weight \S+ is not "
                                        r"finite) after epoch 1: the run diverged \(train.lr 1e\+30\)"):
        train(tiny_model(), minilm(), tiny_train(root_a, tiny_data, lr=1e30, warmup_steps=0))
    after = {p: p.read_bytes() for folder in ("models", "dvclive") for p in (root_a / folder).rglob("*") if p.is_file()}
    assert after == before and not list((root_a / "checkpoints").glob("*/last.pt"))


@pytest.mark.parametrize("pooling", ["end", "attention"])
def test_a_token_level_text_head_trains_and_round_trips(tiny_data, tmp_path, pooling):
    """model.text_head tokens: a small Transformer over the cached token states trains to finite
    losses, its weights are saved (the backbone is not), and the folder gives its embeddings back."""
    model_cfg = tiny_model(text_head="tokens", text_pooling=pooling)
    history = train(model_cfg, minilm(), tiny_train(tmp_path, tiny_data))
    assert all(np.isfinite(row["train_loss"]) for row in history)
    saved = torch.load(tmp_path / "models" / "text_encoder.pt")
    assert any(key.startswith("text_encoder.head.transformer.") for key in saved)
    assert not any(key.startswith("text_encoder.backbone.") for key in saved)
    loaded = load_model(tmp_path / "models", "cpu")
    texts = [c[0] for c in MotionStore.open(tiny_data / "val").captions]
    embeddings = encode_texts(loaded, texts)
    assert embeddings.shape == (len(texts), 16) and np.allclose(np.linalg.norm(embeddings, axis=1), 1, atol=1e-5)
    np.testing.assert_allclose(encode_texts(loaded, texts[:1]), embeddings[:1], atol=1e-5)  # batching aside
