"""Stage `generate`: the embedded synthetic two-person dataset, in the challenge layout.

Stage mode (no arguments) reads the `generate` section of params.yaml and writes
  - `out`: motions/, texts/, specs/, train.txt, dataset.json (fps, statistics)
  - `test_queries_dir`: held-out clips as query groups (<qid>/text.txt, motion_1..N.npy,
    each clip's file stored once and hard-linked between groups), with hard negatives
  - `test_gt`: their ground truth, kept apart from the queries.
CLI mode makes clips from explicit specs (see textmotion/synth/spec.py for the format):
    python src/generate.py --specs FILE --out DIR [--seed S] [--captions K] [--fps F] [--force]

Every clip draws from its own generator seeded by (seed, stream, clip index), so a clip
depends on nothing but those: adding clips leaves the others unchanged.
"""
from __future__ import annotations

import argparse
import collections
import shutil
from pathlib import Path
from typing import Iterable

import numpy as np
from tqdm import tqdm

from textmotion.errors import DataError, run_cli
from textmotion.groups import QueryGroup, build_query_groups
from textmotion.io import atomic_dir, load_params, write_json
from textmotion.layout import DATASET_INFO, check_motion, write_clip, write_gt, write_query_batches, write_train_list
from textmotion.synth.captions import make_captions
from textmotion.synth.motion import synthesize
from textmotion.synth.spec import action_names, load_specs, sample_spec

POOL_STREAM, TEST_STREAM, GROUP_STREAM = 0, 1, 2


def make_clip(seed: int, stream: int, index: int, fps: int, spec: dict | None = None,
              n_captions: int | None = None) -> tuple[dict, np.ndarray, list[str]]:
    """(spec, motion, captions) of one clip; the spec is sampled when not given."""
    rng = np.random.default_rng([seed, stream, index])
    if spec is None:
        spec = sample_spec(rng)
    return spec, synthesize(spec, rng, fps), make_captions(spec, rng, n_captions)


def dataset_statistics(specs: list[dict], lengths: list[int], captions: list[list[str]], fps: int) -> dict:
    actions = collections.Counter(action for spec in specs for action in action_names(spec))
    return {"clips": len(specs), "frames": int(sum(lengths)),
            "seconds": {"min": min(lengths) / fps, "median": float(np.median(lengths)) / fps,
                        "max": max(lengths) / fps, "total": sum(lengths) / fps},
            "captions_per_clip": {str(n): sum(len(c) == n for c in captions) for n in (1, 2, 3)},
            "segments_per_clip": {str(n): sum(len(s["segments"]) == n for s in specs) for n in (1, 2, 3)},
            "clips_with_action": dict(sorted(actions.items()))}


def write_dataset(root: Path, clips: Iterable[tuple[dict, np.ndarray, list[str]]], ids: list[str],
                  info: dict) -> dict:
    """Write clips (as they come), train.txt and dataset.json (info + statistics); return the stats."""
    specs, lengths, captions = [], [], []
    for clip_id, (spec, motion, clip_captions) in zip(ids, clips, strict=True):
        write_clip(root, clip_id, motion, clip_captions, spec)
        specs.append(spec)
        lengths.append(len(motion))
        captions.append(clip_captions)
    write_train_list(root, ids)
    stats = dataset_statistics(specs, lengths, captions, info["fps"])
    write_json(root / DATASET_INFO, {**info, "statistics": stats})
    return stats


def write_test_queries(queries: Path, cfg: dict) -> tuple[list[QueryGroup], dict]:
    """Held-out clips as hard query groups in `queries`; the groups and their report.

    Each clip's file is written once, then hard-linked into every group that uses it.
    """
    seed, fps = cfg["seed"], cfg["fps"]
    staging = queries / ".clips"
    staging.mkdir()
    paths, captions, specs = {}, {}, {}
    for i in tqdm(range(cfg["n_test_clips"]), desc="test clips", unit="clip"):
        clip_id = f"test_{i:05d}"
        specs[clip_id], motion, captions[clip_id] = make_clip(seed, TEST_STREAM, i, fps)
        paths[clip_id] = staging / f"{clip_id}.npy"
        np.save(paths[clip_id], check_motion(motion, paths[clip_id]))
    groups, report = build_query_groups(list(paths), captions, specs, cfg["n_test_queries"],
                                        cfg["n_candidates"], cfg["hard_fraction"],
                                        np.random.default_rng([seed, GROUP_STREAM]))
    write_query_batches(queries, groups, paths)
    shutil.rmtree(staging)
    return groups, report


def generate_stage(cfg: dict) -> None:
    seed, fps, n_clips = cfg["seed"], cfg["fps"], cfg["n_clips"]
    with atomic_dir(cfg["out"]) as root, atomic_dir(cfg["test_queries_dir"]) as queries:
        test_groups, test_report = write_test_queries(queries, cfg)
        clips = (make_clip(seed, POOL_STREAM, i, fps)
                 for i in tqdm(range(n_clips), desc="train pool", unit="clip"))
        stats = write_dataset(root, clips, [f"{i:05d}" for i in range(n_clips)],
                              {"generator": "src/generate.py", "seed": seed, "fps": fps,
                               "test_queries": test_report})
        write_gt(cfg["test_gt"], test_groups)  # last: written only when everything else was
    print(f"generated {stats['clips']} clips ({stats['frames']} frames, "
          f"{stats['seconds']['total'] / 60:.1f} min at {fps} fps) in {cfg['out']}; "
          f"{test_report['n_groups']} test queries x {cfg['n_candidates']} candidates from "
          f"{cfg['n_test_clips']} held-out clips in {cfg['test_queries_dir']} (hard negatives per "
          f"group: min {test_report['hard_negatives_min']}, mean {test_report['hard_negatives_mean']})")


def generate_from_specs(specs_file: str, out: str, seed: int, n_captions: int | None, fps: int,
                        force: bool) -> None:
    specs = load_specs(specs_file)
    out_dir = Path(out)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())) and not force:
        raise DataError(out_dir, "exists and is not empty; pass --force to replace it")
    clips = (make_clip(seed, POOL_STREAM, i, fps, spec, n_captions)
             for i, spec in enumerate(tqdm(specs, desc="clips", unit="clip")))
    with atomic_dir(out_dir) as root:
        write_dataset(root, clips, [f"{i:05d}" for i in range(len(specs))],
                      {"generator": "src/generate.py --specs", "specs_file": str(specs_file),
                       "seed": seed, "fps": fps})
    print(f"wrote {len(specs)} clips from {specs_file} to {out_dir}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specs", help="JSON file of clip specs (CLI mode)")
    parser.add_argument("--out", help="folder to write the clips to, in the challenge layout")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--captions", type=int, choices=(1, 2, 3),
                        help="captions per clip (default: 1 to 3 at random)")
    parser.add_argument("--fps", type=int, default=20)
    parser.add_argument("--force", action="store_true", help="replace a non-empty --out folder")
    args = parser.parse_args(argv)
    if args.specs is None and args.out is None:
        generate_stage(load_params("generate"))
    elif args.specs is None or args.out is None:
        parser.error("--specs and --out go together")
    else:
        generate_from_specs(args.specs, args.out, args.seed, args.captions, args.fps, args.force)


if __name__ == "__main__":
    run_cli(main)
