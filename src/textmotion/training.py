"""The train loop: symmetric InfoNCE, AdamW in two groups, warmup + cosine, resumable.

Reproducibility: model weights come from `seed`; the data order and every augmentation draw
come from (seed, epoch, clip index), never from a global generator, so an epoch is the same
whether or not the run was resumed before it; dropout's generator is checkpointed. After
each epoch `checkpoints/<config hash>/last.pt` holds everything needed to continue (weights,
optimizer, scheduler, RNG states, the metric history, which is replayed into dvclive since
DVC may have deleted dvclive's folder before the re-run). It is deleted once the model
folder is saved.

dvclive's folder is rewritten whole after every epoch (beside, then swapped in), so a run
that fails before its first epoch leaves the previous run's metrics and plots as they were.

Small datasets: a train split smaller than `batch_size` trains on batches of the whole
split, and a warmup longer than a tenth of the run is clipped to that tenth (both logged).

Several processes (`torchrun --nproc_per_node N src/train.py`): `batch_size` is the global
batch, each process trains on its 1/N of it and the loss sees all of it, so the run computes
what one process computes (see `textmotion.distributed`). On a GPU: batches are pinned and
copied without waiting, the frozen backbone's caption features stay on the device (batches
carry row numbers into them), the forward runs under bf16 autocast (the loss in float32),
`train.compile` wraps it in torch.compile, and the only wait for the GPU in an epoch is the
reading of its mean loss at the end.
"""
from __future__ import annotations

import hashlib
import json
import math
import random
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from dvclive import Live
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from textmotion.distributed import (RankBatches, World, data_parallel, from_main, gather_batch, per_rank_batch,
                                    process_group)
from textmotion.errors import DataError
from textmotion.io import atomic_dir, check_writable
from textmotion.loss import Temperature, symmetric_info_nce
from textmotion.metrics import challenge_score, ranks_from_similarity, recall_at_k
from textmotion.model_io import RetrievalModel, TrainedConfig, save_model, save_state
from textmotion.params import PARAMS_FILE, Model, Text, Train
from textmotion.prepared import read_report
from textmotion.skeleton import swap_persons
from textmotion.store import MotionStore, NormStats, prepare_motion
from textmotion.text_encoders import sentence_embeddings
from textmotion.text_features import FeatureCache

NON_REPRODUCIBLE_METRICS = ("clips_per_s", "epoch_s")
# Train params that change where or how fast a run goes, not what it computes: a resumed run
# may change them.
RUN_INDEPENDENT_PARAMS = ("threads", "device", "num_workers", "compile", "model_dir", "live_dir",
                          "checkpoint_dir")
MAX_WARMUP_FRACTION = 0.1


class CaptionedClips(Dataset):
    """(prepared motion, caption) pairs of a store.

    With `augment`: a random caption of the clip's training pool (its first `captions_per_clip`
    captions, all 1–3 when None: the reference configuration's augmentation, plus its paraphrases when
    `paraphrases`), a random `max_frames` window when `random_crop`, and persons A/B exchanged
    with probability `swap_probability`, all drawn from (seed, epoch, index). Without: the first
    caption and the first frames, which is exactly what `RetrievalModel.encode_*` sees at inference.
    """

    def __init__(self, store: MotionStore, model: RetrievalModel, cfg: Train, augment: bool):
        self.store = store
        self.pools = [captions[:cfg.captions_per_clip] + (extra if cfg.paraphrases else [])
                      for captions, extra in zip(store.captions, store.paraphrases)]
        self.model = model
        self.augment = augment
        self.seed = cfg.seed
        self.random_crop = cfg.random_crop
        self.swap_probability = cfg.swap_probability
        self.epoch = 0

    def captions(self) -> set[str]:
        """Every caption this dataset can give."""
        return {c for pool in (self.pools if self.augment else self.store.captions) for c in pool}

    def __len__(self) -> int:
        return len(self.store)

    def __getitem__(self, index: int) -> tuple[np.ndarray, str]:
        raw = self.store.motion(index)
        if not self.augment:
            return self.model.prepare(raw), self.store.captions[index][0]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        pool = self.pools[index]
        caption = pool[rng.integers(len(pool))]
        if rng.random() < self.swap_probability:
            raw = swap_persons(raw)
        start = 0
        if self.random_crop:
            n_frames = len(prepare_motion(raw, self.model.downsample))
            start = int(rng.integers(max(n_frames - self.model.max_frames, 0) + 1))
        return self.model.prepare(raw, start), caption


class Collate:
    """Pads motions; turns captions into their rows of the frozen backbone's feature cache, or
    into tokens for a backbone that trains.

    Only CPU tensors: it may run in DataLoader workers, and the cache stays on the device."""

    def __init__(self, model: RetrievalModel, feature_rows: dict[str, int] | None,
                 similarity_rows: dict[str, int] | None = None):
        self.model = model
        self.feature_rows = feature_rows  # caption → its row of the feature cache
        self.similarity_rows = similarity_rows  # caption → its row of the false-negative filter's cache

    def __call__(self, items: Sequence[tuple[np.ndarray, str]]) -> dict:
        motions, captions = zip(*items)
        batch, mask = self.model.pad(motions)
        if self.feature_rows is not None:
            text = {"feature_rows": torch.tensor([self.feature_rows[c] for c in captions])}
        else:
            text = self.model.text_encoder.tokenize(list(captions))
        out = {"motions": batch, "mask": mask, "text": text}
        if self.similarity_rows is not None:
            out["similarity_rows"] = torch.tensor([self.similarity_rows[c] for c in captions])
        return out


def to_device(batch: dict, device: torch.device) -> dict:
    """The batch's tensors on `device`; from pinned memory the copies do not wait for the host."""
    return {k: to_device(v, device) if isinstance(v, dict) else v.to(device, non_blocking=True)
            for k, v in batch.items()}


class Embedder(nn.Module):
    """The training forward, the module DDP and torch.compile wrap: a batch on the device →
    (text embeddings, motion embeddings, both float32, and the temperature)."""

    def __init__(self, model: RetrievalModel, temperature: Temperature, feature_cache: FeatureCache | None,
                 text_noise: float = 0.0):
        super().__init__()
        self.model = model
        self.temperature = temperature  # the loss's, not the model folder's
        self.feature_cache = feature_cache  # the frozen backbone's, on the model's device
        self.text_noise = text_noise

    def forward(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        text, encoder = batch["text"], self.model.text_encoder
        features = (self.feature_cache.gather(text["feature_rows"]) if "feature_rows" in text
                    else encoder.backbone_features(text))
        if self.training and self.text_noise > 0:  # on what the head reads
            features = (replace(features, pooled=with_relative_noise(features.pooled, self.text_noise))
                        if encoder.head is None else
                        replace(features, states=with_relative_noise(features.states, self.text_noise)))
        text_embeddings = encoder.project(features)
        motion_embeddings = self.model.motion_encoder(batch["motions"], batch["mask"])
        return text_embeddings.float(), motion_embeddings.float(), self.temperature()


def with_relative_noise(features: torch.Tensor, scale: float) -> torch.Tensor:
    """Each vector (along the last axis) plus a random direction of `scale` times its own norm.
    Training on backbone features shifted this way keeps the text head from fitting the exact
    points of the training wordings, so a caption worded otherwise (a nearby point) still
    lands near its motion: `train.text_noise`, chosen by the ablation table for the novel and
    real wordings. Zero vectors (padding) stay zero."""
    noise = torch.randn_like(features)
    return features + scale * features.norm(dim=-1, keepdim=True) * F.normalize(noise, dim=-1)


def caption_similarity_cache(captions: set[str], device: torch.device) -> tuple[dict[str, int], torch.Tensor]:
    """Every distinct caption's pretrained sentence embedding (the filter's fixed yardstick,
    whatever the text encoder being trained), computed once."""
    captions = sorted(captions)
    return {c: i for i, c in enumerate(captions)}, torch.from_numpy(sentence_embeddings(captions)).to(device)


def parameter_groups(model: RetrievalModel, temperature: Temperature, lr: float,
                     text_lr_scale: float) -> list[dict]:
    """The pretrained text backbone learns at lr × text_lr_scale; everything new (a learnable
    temperature too) at lr."""
    backbone = [p for p in model.text_encoder.backbone.parameters() if p.requires_grad]
    backbone_ids = {id(p) for p in backbone}
    rest = [p for p in [*model.parameters(), *temperature.parameters()]
            if p.requires_grad and id(p) not in backbone_ids]
    groups = [{"params": rest, "lr": lr}]
    if backbone:
        groups.append({"params": backbone, "lr": lr * text_lr_scale})
    return groups


def warmup_cosine(warmup_steps: int, total_steps: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = (step - warmup_steps) / max(total_steps - warmup_steps, 1)
        return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))
    return factor


@torch.no_grad()
def validate(embedder: Embedder, loader: DataLoader, device: torch.device) -> dict[str, float]:
    """Val loss (batch InfoNCE, no gradient) and text→motion retrieval over the whole split."""
    embedder.eval()
    texts, motions, loss_sum = [], [], 0.0
    for batch in loader:
        text_embeddings, motion_embeddings, temperature = embedder(to_device(batch, device))
        loss_sum += float(symmetric_info_nce(text_embeddings, motion_embeddings, temperature)) * len(text_embeddings)
        texts.append(text_embeddings.cpu())
        motions.append(motion_embeddings.cpu())
    texts, motions = torch.cat(texts).numpy(), torch.cat(motions).numpy()
    ranks = ranks_from_similarity(texts @ motions.T, np.arange(len(texts)))
    return {"val_loss": loss_sum / len(texts), "val_R@1": recall_at_k(ranks, 1),
            "val_R@5": recall_at_k(ranks, 5), "val_score": challenge_score(ranks)}


def config_hash(config: TrainedConfig) -> str:
    """Identifies a run: the resolved config (less RUN_INDEPENDENT_PARAMS) and the training
    data (via its statistics)."""
    digest = hashlib.sha256(json.dumps(config.model_dump(exclude={"train": set(RUN_INDEPENDENT_PARAMS)}),
                                       sort_keys=True).encode())
    digest.update(Path(config.train.stats).read_bytes())
    return digest.hexdigest()[:16]


def _rng_states() -> dict:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def _restore_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    np.random.set_state(states["numpy"])
    random.setstate(states["python"])
    if states["cuda"] is not None:
        torch.cuda.set_rng_state_all(states["cuda"])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    # deterministic mode also fills every new tensor with NaN (~200 fills a step on a CPU); no
    # kernel here reads memory it has not written, so results do not depend on that fill
    torch.utils.deterministic.fill_uninitialized_memory = False


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """`train.device` for the process with this local rank (its own GPU under torchrun)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name, local_rank) if name == "cuda" else torch.device(name)


class TrainingSession:
    """A model with its data, optimizer and schedule, ready to train; built from params.

    In a world of several processes (`textmotion.distributed`) this process trains on its
    rows of each global batch of `train.batch_size` clips; only rank 0 logs.
    """

    def __init__(self, model_cfg: Model, text_cfg: Text, cfg: Train, world: World = World()):
        self.cfg = cfg
        self.world = world
        torch.set_num_threads(cfg.threads)
        downsample = read_report(cfg.report, "downsample")["downsample"]
        self.device = pick_device(cfg.device, world.local_rank)

        seed_everything(cfg.seed)
        stats = NormStats.load(cfg.stats)
        self.model = model = RetrievalModel.from_config(model_cfg, text_cfg, stats, downsample).to(self.device)
        self.config = TrainedConfig.resolve(text_cfg, model_cfg, cfg, downsample, model.text_weights)
        self.checkpoint = Path(cfg.checkpoint_dir) / config_hash(self.config) / "last.pt"
        self.temperature = Temperature(cfg.temperature, cfg.learnable_temperature).to(self.device)
        train_store, val_store = MotionStore.open(cfg.train_store), MotionStore.open(cfg.val_store)
        self.train_clips = CaptionedClips(train_store, model, cfg, augment=True)
        val_clips = CaptionedClips(val_store, model, cfg, augment=False)
        captions = self.train_clips.captions() | val_clips.captions()
        cache = (FeatureCache.load(cfg.text_features, model.text_encoder.backbone.weights_id, captions, self.device)
                 if model.text_encoder.frozen else None)
        similarity_rows, self.caption_similarity = (
            caption_similarity_cache(captions, self.device)
            if cfg.false_negative_threshold is not None else (None, None))
        self.collate = Collate(model, cache and cache.row_of, similarity_rows)
        self.embedder = Embedder(model, self.temperature, cache, cfg.text_noise)
        parallel = data_parallel(self.embedder, world)
        self.forward = torch.compile(parallel) if cfg.compile else parallel
        self.val_loader = self._data_loader(val_clips, batch_size=cfg.batch_size)
        self.optimizer = torch.optim.AdamW(parameter_groups(model, self.temperature, cfg.lr, cfg.text_lr_scale),
                                           weight_decay=cfg.weight_decay, fused=self.device.type == "cuda")
        self.batch_size = min(cfg.batch_size, len(train_store))  # the global batch
        if self.batch_size < cfg.batch_size:
            self._log(f"train.batch_size {cfg.batch_size} > the {len(train_store)} train clips: "
                      f"batches of {self.batch_size}")
        per_rank_batch(self.batch_size, world)  # an uneven split is refused before any step
        self.steps_per_epoch = len(train_store) // self.batch_size
        total_steps = self.steps_per_epoch * cfg.epochs
        warmup = min(cfg.warmup_steps, int(MAX_WARMUP_FRACTION * total_steps))
        if warmup < cfg.warmup_steps:
            self._log(f"train.warmup_steps {cfg.warmup_steps} > a tenth of the {total_steps}-step run: "
                      f"warmup clipped to {warmup} steps")
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, warmup_cosine(warmup, total_steps))

    def _log(self, message: str) -> None:
        if self.world.is_main:
            print(message, flush=True)

    def _data_loader(self, clips: CaptionedClips, **batching) -> DataLoader:
        """`train.num_workers` workers; pinned batches when they go to a GPU."""
        return DataLoader(clips, collate_fn=self.collate, num_workers=self.cfg.num_workers,
                          pin_memory=self.device.type == "cuda", **batching)

    def loader(self, epoch: int) -> DataLoader:
        """This process's batches of the epoch: order and augmentations depend on (seed, epoch)
        only, and the global batches on neither the number of processes nor of workers."""
        self.train_clips.epoch = epoch
        order = torch.Generator().manual_seed(self.cfg.seed * 100_003 + epoch)
        return self._data_loader(self.train_clips, generator=order,
                                 batch_sampler=RankBatches(len(self.train_clips), self.batch_size, self.world, order))

    def gradients(self, batch: dict) -> torch.Tensor:
        """Forward and backward of this process's rows; returns the global batch's loss, on the
        device (reading it would wait for the GPU). bf16 autocast on GPU only; the loss in float32."""
        self.embedder.train()
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.device.type == "cuda"):
            text_embeddings, motion_embeddings, temperature = self.forward(to_device(batch, self.device))
        loss = symmetric_info_nce(gather_batch(text_embeddings, self.world),
                                  gather_batch(motion_embeddings, self.world), temperature,
                                  self.false_negatives(batch))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        return loss.detach()

    def false_negatives(self, batch: dict) -> torch.Tensor | None:
        """Pairs of the global batch whose captions say the same (pretrained sentence-embedding
        cosine above `train.false_negative_threshold`), off the diagonal; None when not filtering."""
        if self.caption_similarity is None:
            return None
        captions = gather_batch(self.caption_similarity[batch["similarity_rows"].to(self.device)], self.world)
        same = captions @ captions.T > self.cfg.false_negative_threshold
        return same & ~torch.eye(len(same), dtype=torch.bool, device=same.device)

    def step(self, batch: dict) -> torch.Tensor:
        """One optimisation step; returns the global batch's loss, on the device."""
        loss = self.gradients(batch)
        torch.nn.utils.clip_grad_norm_([p for g in self.optimizer.param_groups for p in g["params"]],
                                       self.cfg.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        return loss

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """One pass; the mean loss is summed on the device and read once, at the end."""
        loss_sum, n_steps, started = torch.zeros((), dtype=torch.float64, device=self.device), 0, time.perf_counter()
        for batch in tqdm(self.loader(epoch), desc=f"epoch {epoch + 1}", leave=False, disable=not self.world.is_main):
            loss_sum += self.step(batch)
            n_steps += 1
        train_loss = (loss_sum / n_steps).item()
        seconds = time.perf_counter() - started
        n_clips = n_steps * self.batch_size
        return {"train_loss": train_loss, "clips_per_s": n_clips / seconds, "epoch_s": seconds}

    def validate(self) -> dict[str, float]:
        return validate(self.embedder, self.val_loader, self.device)

    def check_finite(self, epoch: int, train_loss: float) -> None:
        """A diverged run stops after its first bad epoch, before it writes anything."""
        if math.isfinite(train_loss):
            bad = next((name for name, p in self.model.named_parameters() if not torch.isfinite(p).all()), None)
            if bad is None:
                return
            what = f"the weight {bad} is not finite"
        else:
            what = f"the training loss is {train_loss}"
        raise DataError(PARAMS_FILE, f"train: {what} after epoch {epoch + 1}: the run diverged (train.lr "
                                     f"{self.cfg.lr:g}); nothing was written, the previous model folder and "
                                     f"dvclive output are kept")

    def save_checkpoint(self, history: list[dict]) -> None:
        save_state(self.checkpoint, {"model": _trainable_state(self.model),
                                     "temperature": self.temperature.state_dict(),
                                     "optimizer": self.optimizer.state_dict(),
                                     "scheduler": self.scheduler.state_dict(), "rng": _rng_states(),
                                     "history": history})

    def load_checkpoint(self) -> list[dict]:
        """Restore the interrupted run, if any; returns its metric history (one row per epoch)."""
        if not self.checkpoint.exists():
            return []
        state = torch.load(self.checkpoint, map_location=self.device, weights_only=False)
        self.model.load_state_dict(state["model"], strict=False)
        self.temperature.load_state_dict(state["temperature"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        _restore_rng_states(state["rng"])
        self._log(f"resuming from {self.checkpoint} after epoch {len(state['history'])}")
        return state["history"]


def train(model_cfg: Model, text_cfg: Text, cfg: Train) -> list[dict]:
    """Train (or resume) the run `cfg` describes; returns the per-epoch metrics.

    Under torchrun every process trains and resumes from the same checkpoint; rank 0 alone
    validates and writes dvclive, the checkpoint and the model folder while the others wait.
    """
    check_writable(folders=[cfg.model_dir, cfg.live_dir, cfg.checkpoint_dir])
    with process_group(pick_device(cfg.device).type) as world:
        session = TrainingSession(model_cfg, text_cfg, cfg, world)
        history = session.load_checkpoint()
        for epoch in range(len(history), cfg.epochs):
            row = session.train_epoch(epoch)
            session.check_finite(epoch, row["train_loss"])
            if world.is_main:
                row.update(session.validate(), temperature=session.temperature().item(),
                           lr=session.scheduler.get_last_lr()[0])
                history.append(row)
                write_live(cfg.live_dir, history)
                print(f"epoch {epoch + 1}/{cfg.epochs}: " + ", ".join(f"{k} {v:.4g}" for k, v in row.items()),
                      flush=True)
                session.save_checkpoint(history)
            history = from_main(history, world)
        if world.is_main:
            save_model(cfg.model_dir, session.model, session.config)
            session.checkpoint.unlink(missing_ok=True)
            session.checkpoint.parent.rmdir()
        return from_main(history, world)


def _trainable_state(model: RetrievalModel) -> dict[str, torch.Tensor]:
    """The model's state without its frozen backbone (rebuilt identically from its source)."""
    frozen = model.text_encoder.frozen
    return {k: v for k, v in model.state_dict().items() if not (frozen and k.startswith("text_encoder.backbone."))}


def write_live(live_dir: str | Path, history: list[dict]) -> None:
    """dvclive's metrics.json and per-epoch plot series of `history`, replacing `live_dir` whole."""
    with atomic_dir(live_dir) as tmp:
        live = Live(dir=str(tmp), dvcyaml=None, save_dvc_exp=False)
        for row in history:
            for name, value in row.items():
                live.log_metric(name, value)
            live.next_step()
        live.end()
