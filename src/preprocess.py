"""Stage `preprocess`: validate the raw data, split it train/val, pack it, fit normalisation.

Reads the `preprocess` section of params.yaml and any source's folder in the challenge layout
(textmotion/layout.py). The val split is the source's own (val.txt) when it has one, else a
seeded draw of `val_fraction` of the clips. A dataset needs at least MIN_CLIPS valid clips.
Writes `out`/
  train/, val/    packed motion stores (textmotion/store.py); val is held out, never trained on;
                  train/ also keeps the train clips' paraphrases (the source's paraphrases.json)
  stats.npz       per-feature mean/std over every train-split frame, as the model sees them
  report.json     counts, lengths, captions per clip, skipped clips and why, downsample
"""
from __future__ import annotations

import collections
from pathlib import Path

import numpy as np

from textmotion.cli import run_stage
from textmotion.errors import DataError
from textmotion.io import atomic_dir, check_writable, write_json
from textmotion.layout import VAL_LIST, Dataset, read_dataset, read_paraphrases, read_val_ids
from textmotion.params import Preprocess, load_section
from textmotion.store import MotionStore, NormStats

# Below this, a val split and a train split of any use cannot both be made.
MIN_CLIPS = 40


def split_ids(ids: list[str], val_fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """(train, val), each in the dataset's order; val has round(fraction x n) clips, at least
    one when the fraction is positive, and train keeps at least one."""
    if not 0 <= val_fraction < 1:
        raise DataError("params.yaml", f"preprocess.val_fraction must be in [0, 1), got {val_fraction}")
    n_val = round(val_fraction * len(ids))
    if val_fraction > 0:
        n_val = min(max(n_val, 1), len(ids) - 1)
    chosen = set(np.random.default_rng(seed).permutation(len(ids))[:n_val].tolist())
    return ([clip for i, clip in enumerate(ids) if i not in chosen],
            [clip for i, clip in enumerate(ids) if i in chosen])


def length_summary(lengths: np.ndarray) -> dict:
    return {"min": int(lengths.min()), "median": float(np.median(lengths)), "max": int(lengths.max())}


def build_report(cfg: Preprocess, dataset: Dataset, splits: dict[str, MotionStore], source_val: bool) -> dict:
    lengths = np.concatenate([store.lengths for store in splits.values()])
    captions = collections.Counter(len(c) for store in splits.values() for c in store.captions)
    return {
        "raw_root": str(cfg.raw_root),
        "downsample": cfg.downsample,
        "val_split": VAL_LIST if source_val else f"random {cfg.val_fraction}",
        "seed": cfg.seed,
        "clips": {split: len(store) for split, store in splits.items()},
        "frames": {split: int(store.lengths.sum()) for split, store in splits.items()},
        "fps": dataset.fps,
        "up_axis": dataset.up_axis,
        "length_frames": length_summary(lengths),
        "length_seconds": ({key: round(value / dataset.fps, 3)
                            for key, value in length_summary(lengths).items()} if dataset.fps else None),
        "captions_per_clip": {str(n): captions[n] for n in sorted(captions)},
        "mean_captions_per_clip": round(sum(n * k for n, k in captions.items()) / len(lengths), 3),
        "train_paraphrases": sum(len(p) for p in splits["train"].paraphrases),
        "skipped": [{"path": path, "reason": reason} for path, reason in dataset.skipped],
    }


def main() -> None:
    cfg = load_section("preprocess")
    check_writable(folders=[cfg.out])
    dataset = read_dataset(cfg.raw_root, skip_bad=cfg.skip_bad)
    if len(dataset.ids) < MIN_CLIPS:
        raise DataError(cfg.raw_root, f"{len(dataset.ids)} valid clips; the pipeline needs at least "
                                         f"{MIN_CLIPS}")
    val_ids = read_val_ids(cfg.raw_root, dataset.ids)
    source_val = val_ids is not None
    if not source_val:
        train_ids, val_ids = split_ids(dataset.ids, cfg.val_fraction, cfg.seed)
    else:
        held_out = set(val_ids)
        train_ids = [clip for clip in dataset.ids if clip not in held_out]
        if not val_ids or not train_ids:
            raise DataError(Path(cfg.raw_root) / VAL_LIST, f"leaves {len(train_ids)} train and "
                                                             f"{len(val_ids)} val clips; both must be >= 1")
    skipped_ids = [Path(path).stem for path, _ in dataset.skipped]
    paraphrases = read_paraphrases(cfg.raw_root, dataset.ids + skipped_ids)
    with atomic_dir(cfg.out) as out:
        for split, ids in (("train", train_ids), ("val", val_ids)):
            MotionStore.write(out / split, ids, [dataset.motion(i) for i in ids],
                              [dataset.captions(i) for i in ids],
                              [paraphrases.get(i, []) for i in ids] if split == "train" else None)
        splits = {split: MotionStore.open(out / split) for split in ("train", "val")}
        NormStats.fit(splits["train"], cfg.downsample).save(out / "stats.npz")
        report = build_report(cfg, dataset, splits, source_val)
        write_json(out / "report.json", report)
    lengths = report["length_seconds"] or report["length_frames"]
    unit = "s" if report["length_seconds"] else " frames"
    print(f"{Path(cfg.raw_root)}: {report['clips']['train']} train + {report['clips']['val']} val clips, "
          f"{sum(report['frames'].values())} frames, length {lengths['min']}–{lengths['max']}{unit} "
          f"(median {lengths['median']}), {report['mean_captions_per_clip']} captions per clip "
          f"(+ {report['train_paraphrases']} training paraphrases), "
          f"{len(dataset.skipped)} skipped → {cfg.out}")
    for path, reason in dataset.skipped[:10]:
        print(f"  skipped {path}: {reason}")


if __name__ == "__main__":
    run_stage(main, __doc__)
