"""The frozen text backbone's features of every caption, computed once per dataset and backbone.

The encode_text stage writes a folder:
  captions.json   the distinct captions of the train and val stores and of the train clips'
                  paraphrases, in the order of the rows below (shortest first)
  pooled.npy      (N, D) float16: each caption's pooled sentence vector
  tokens.npy      (T, D) float16: every caption's token states, one caption after another
  offsets.npy     (N + 1,) int64: caption i's states are rows offsets[i]:offsets[i + 1]
  info.json       the backbone (text.encoder and the sha256 of its weights), D, N, T
Float16 halves the files (the ablation table shows what the rounding does to the scores).
Captions are encoded shortest first, so a batch holds captions of similar length and little
padding.

Training reads the folder (`FeatureCache.load`) instead of running the backbone, and gathers a
batch's features on its device (`FeatureCache.gather`): the pooled vectors, and the token
states padded to the batch's longest caption.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
import torch
from tqdm import tqdm

from textmotion.errors import DataError
from textmotion.io import atomic_dir, read_json, read_npy, write_json
from textmotion.params import Text
from textmotion.store import MotionStore
from textmotion.text_encoders import TextFeatures, batched_features, pretrained_backbone

CAPTIONS, POOLED, TOKENS, OFFSETS, INFO = "captions.json", "pooled.npy", "tokens.npy", "offsets.npy", "info.json"
MADE_BY = "the encode_text stage"
BATCH = 128


def encode_captions(prepared: str | Path, text: Text, out: str | Path) -> dict:
    """The encode_text stage: every caption of preprocess's train and val stores (and the train
    clips' paraphrases) through `text`'s backbone into `out`; returns info.json's content."""
    stores = [MotionStore.open(Path(prepared) / split) for split in ("train", "val")]
    captions = {caption for store in stores for pool in [*store.captions, *store.paraphrases] for caption in pool}
    backbone = pretrained_backbone(text).eval()
    return write_features(out, backbone, captions, {"encoder": text.encoder, "weights_sha256": backbone.weights_id})


def write_features(out: str | Path, backbone: torch.nn.Module, captions: Iterable[str], info: dict) -> dict:
    """Encode every distinct caption with the (frozen, eval-mode) `backbone` into the folder `out`
    (whole, or not at all); returns info.json's content (`info` completed with the sizes)."""
    captions = sorted(set(captions), key=lambda caption: (len(caption), caption))
    pooled, tokens, lengths = [], [], []
    batches = batched_features(backbone, captions, BATCH)
    for features in tqdm(batches, total=-(-len(captions) // BATCH), desc="captions", unit="batch", leave=False):
        pooled.append(features.pooled.cpu().numpy().astype(np.float16))
        mask = features.mask.cpu().numpy()
        states = features.states.cpu().numpy().astype(np.float16)
        tokens.append(states[mask])  # row after row: each caption's real tokens, in order
        lengths.extend(mask.sum(1).tolist())
    dim = backbone.feature_dim
    pooled = np.concatenate(pooled) if pooled else np.zeros((0, dim), np.float16)
    tokens = np.concatenate(tokens) if tokens else np.zeros((0, dim), np.float16)
    info = {**info, "dim": int(dim), "captions": len(captions), "tokens": int(len(tokens))}
    with atomic_dir(out) as folder:
        write_json(folder / CAPTIONS, captions)
        np.save(folder / POOLED, pooled)
        np.save(folder / TOKENS, tokens)
        np.save(folder / OFFSETS, np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)]))
        write_json(folder / INFO, info)
    return info


@dataclass
class FeatureCache:
    row_of: dict[str, int]   # caption → its row
    pooled: torch.Tensor     # (N, D) float16
    tokens: torch.Tensor     # (T, D) float16
    offsets: torch.Tensor    # (N + 1,) int64

    @classmethod
    def load(cls, folder: str | Path, weights_id: str | None, needed: set[str],
             device: torch.device) -> "FeatureCache":
        """The cache of the backbone whose weights' sha256 is `weights_id`, holding every caption
        of `needed`; DataError (re-run encode_text) when it was made otherwise."""
        folder = Path(folder)
        info = read_json(folder / INFO, MADE_BY)
        if not isinstance(info, dict) or info.get("weights_sha256") != weights_id:
            made_with = info.get("encoder") if isinstance(info, dict) else None
            raise DataError(folder / INFO, f"made with the text backbone {made_with!r} (other weights than "
                                           f"the one training builds): re-run encode_text (dvc repro)")
        captions = read_json(folder / CAPTIONS, MADE_BY)
        row_of = {caption: row for row, caption in enumerate(captions)}
        missing = sorted(needed - row_of.keys())
        if missing:
            raise DataError(folder, f"{len(missing)} training captions are not in the cache (e.g. {missing[0]!r}): "
                                    f"the data changed since; re-run encode_text (dvc repro)")
        pooled, tokens, offsets = (read_npy(folder / name) for name in (POOLED, TOKENS, OFFSETS))
        if not (len(pooled) == len(captions) == len(offsets) - 1 and offsets[-1] == len(tokens)
                and pooled.shape[1:] == tokens.shape[1:] == (info["dim"],)):
            raise DataError(folder, f"inconsistent caption features: {len(captions)} captions, pooled "
                                    f"{pooled.shape}, tokens {tokens.shape}, {len(offsets)} offsets; re-run encode_text")
        return cls(row_of, *(torch.from_numpy(array).to(device) for array in (pooled, tokens, offsets)))

    def gather(self, rows: torch.Tensor) -> TextFeatures:
        """The features of the captions at `rows`, as float32 on the cache's device; token states
        padded with zeros to the longest of them."""
        rows = rows.to(self.offsets.device)
        starts, ends = self.offsets[rows], self.offsets[rows + 1]
        positions = torch.arange(int((ends - starts).max()), device=rows.device)
        mask = positions < (ends - starts)[:, None]
        index = torch.where(mask, starts[:, None] + positions, 0)
        states = self.tokens[index].float() * mask.unsqueeze(-1)
        return TextFeatures(states, mask, self.pooled[rows].float())
