"""Stage `generate`: the embedded synthetic two-person dataset, in the challenge layout.

The synthetic source. Stage mode (no arguments) reads the `generate` section of params.yaml
and writes `out` in the layout every source writes (textmotion/layout.py):
  - motions/, texts/, train.txt, dataset.json (source, fps, up axis, statistics)
  - metadata.json: each clip's action labels and semantic signature (for hard negatives)
  - wordings.json: each clip described again with only the lexicon's held-out phrasings
    ("novel" wording, never in a training caption), so val and test can measure how a model
    does on words it never saw; the test queries' own novel wording is test_queries/wordings.csv
  - paraphrases.json: `paraphrases` further captions of each train-pool clip in the training
    wording, for training only (caption augmentation; train.paraphrases uses them)
  - extra_tests/real/: real wording, people's KIT-ML captions of solo actions (`real_queries`,
    read from KIT's `real_captions` annotations.json; skipped with a message where that file
    is absent), each with its generated clip among 31 others
  - test_queries/, test_gt.csv: held-out clips as query groups (<qid>/text.txt,
    motion_1..N.npy, each clip's file stored once and hard-linked between groups), with hard
    negatives, and their ground truth
  - specs/: each clip's synthesis spec (this source's own; nothing generic reads it)
CLI mode makes clips from explicit specs (see textmotion/sources/synthetic/spec.py for the format):
    python src/generate.py --specs FILE --out DIR [--seed S] [--captions K] [--fps F] [--force]

Every clip draws from its own generator seeded by (seed, stream, clip index), so a clip
depends on nothing but those: adding clips leaves the others unchanged.
"""
from __future__ import annotations

import argparse
import collections
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import numpy as np
from tqdm import tqdm

from textmotion.errors import run_cli
from textmotion.groups import build_query_groups, reword_groups
from textmotion.io import atomic_dir, check_out_dir, check_writable, load_params
from textmotion.layout import (TEST_QUERIES, TEST_STAGING, check_motion, write_clip, write_clip_wordings, write_dataset_info,
                               write_id_list, write_metadata, write_paraphrases, write_query_wordings,
                               write_test_set)
from textmotion.sources.synthetic.captions import make_captions
from textmotion.sources.synthetic.kit import build_kit_groups, load_queries
from textmotion.sources.synthetic.motion import synthesize
from textmotion.sources.synthetic.spec import action_names, load_specs, sample_spec, semantic_signature

POOL_STREAM, TEST_STREAM, GROUP_STREAM, NOVEL_STREAM, PARAPHRASE_STREAM = 0, 1, 2, 3, 4
PARAPHRASE_TRIES = 4  # draws of 3 captions per paraphrase wanted, before settling for fewer
SPECS = "specs"
NOVEL, REAL = "novel", "real"


@dataclass
class Clip:
    spec: dict
    motion: np.ndarray
    captions: list[str]        # training wording
    novel_captions: list[str]  # the same clip in held-out phrasings only, as many
    paraphrases: list[str]     # further training-wording captions, for training only


def make_paraphrases(spec: dict, captions: list[str], n: int, rng: np.random.Generator) -> list[str]:
    """Up to `n` further distinct captions of the spec in the training wording (fewer when the
    lexicon has fewer ways to say it)."""
    found = []
    for _ in range(PARAPHRASE_TRIES * n):
        if len(found) >= n:
            break
        found += [c for c in make_captions(spec, rng, 3) if c not in captions and c not in found]
    return found[:n]


def make_clip(seed: int, stream: int, index: int, fps: int, spec: dict | None = None,
              n_captions: int | None = None, n_paraphrases: int = 0) -> Clip:
    """One clip; the spec is sampled when not given. The novel wording and the paraphrases draw
    from streams of their own, so they leave the training captions as they would be without."""
    rng = np.random.default_rng([seed, stream, index])
    if spec is None:
        spec = sample_spec(rng)
    motion, captions = synthesize(spec, rng, fps), make_captions(spec, rng, n_captions)
    novel = make_captions(spec, np.random.default_rng([seed, NOVEL_STREAM, stream, index]), len(captions),
                          wording=NOVEL)
    paraphrases = make_paraphrases(spec, captions, n_paraphrases,
                                   np.random.default_rng([seed, PARAPHRASE_STREAM, stream, index]))
    return Clip(spec, motion, captions, novel, paraphrases)


def dataset_statistics(specs: list[dict], lengths: list[int], captions: list[list[str]], fps: int) -> dict:
    actions = collections.Counter(action for spec in specs for action in action_names(spec))
    return {"clips": len(specs), "frames": int(sum(lengths)),
            "seconds": {"min": min(lengths) / fps, "median": float(np.median(lengths)) / fps,
                        "max": max(lengths) / fps, "total": sum(lengths) / fps},
            "captions_per_clip": {str(n): sum(len(c) == n for c in captions) for n in (1, 2, 3)},
            "segments_per_clip": {str(n): sum(len(s["segments"]) == n for s in specs) for n in (1, 2, 3)},
            "clips_with_action": dict(sorted(actions.items()))}


def clip_metadata(spec: dict) -> dict:
    """What the generic code may know of a clip: its action labels and semantic signature."""
    return {"labels": sorted(action_names(spec)), "signature": json.dumps(semantic_signature(spec))}


def write_dataset(root: Path, clips: Iterable[Clip], ids: list[str], info: dict) -> dict:
    """Write clips (as they come) with their specs, train.txt, metadata.json, wordings.json,
    paraphrases.json (where clips have some) and dataset.json (info + statistics); return the
    statistics."""
    specs, lengths, captions, novel, paraphrases = [], [], [], {}, {}
    (root / SPECS).mkdir(parents=True, exist_ok=True)
    for clip_id, clip in zip(ids, clips, strict=True):
        write_clip(root, clip_id, clip.motion, clip.captions)
        (root / SPECS / f"{clip_id}.json").write_text(json.dumps(clip.spec) + "\n", encoding="utf-8")
        specs.append(clip.spec)
        lengths.append(len(clip.motion))
        captions.append(clip.captions)
        novel[clip_id] = clip.novel_captions
        if clip.paraphrases:
            paraphrases[clip_id] = clip.paraphrases
    write_id_list(root, ids)
    write_metadata(root, {clip_id: clip_metadata(spec) for clip_id, spec in zip(ids, specs)})
    write_clip_wordings(root, {NOVEL: novel})
    if paraphrases:
        write_paraphrases(root, paraphrases)
    stats = {**dataset_statistics(specs, lengths, captions, info["fps"]),
             "paraphrases": sum(len(p) for p in paraphrases.values())}
    write_dataset_info(root, {"source": "synthetic", **info, "up_axis": "y", "statistics": stats})
    return stats


def write_test_queries(root: Path, cfg: dict) -> dict:
    """Held-out clips as hard query groups, the source's test set in `root`; their report.

    Each clip's file is written once, then hard-linked into every group that uses it.
    """
    seed, fps = cfg["seed"], cfg["fps"]
    staging = root / TEST_STAGING
    staging.mkdir(parents=True)
    paths, captions, novel, specs = {}, {}, {}, {}
    for i in tqdm(range(cfg["n_test_clips"]), desc="test clips", unit="clip"):
        clip_id = f"test_{i:05d}"
        clip = make_clip(seed, TEST_STREAM, i, fps)
        specs[clip_id], captions[clip_id], novel[clip_id] = clip.spec, clip.captions, clip.novel_captions
        paths[clip_id] = staging / f"{clip_id}.npy"
        np.save(paths[clip_id], check_motion(clip.motion, paths[clip_id]))
    groups, report = build_query_groups(list(paths), captions,
                                        {clip: clip_metadata(spec) for clip, spec in specs.items()},
                                        cfg["n_test_queries"], cfg["n_candidates"], cfg["hard_fraction"],
                                        np.random.default_rng([seed, GROUP_STREAM]))
    write_test_set(root, groups, paths)
    write_query_wordings(root / TEST_QUERIES, reword_groups(groups, captions, {NOVEL: novel}))
    shutil.rmtree(staging)
    return report


def write_real_wording_tests(root: Path, cfg: dict) -> dict | None:
    """KIT captions with their generated clips, as the extra test set "real"; its report."""
    annotations = cfg["real_captions"]
    if annotations is None or not Path(annotations).is_file():
        print(f"no KIT annotations at {annotations}: the real-wording test set (score_real) is skipped")
        return None
    kit = build_kit_groups(load_queries(cfg["real_queries"], annotations), cfg["n_candidates"],
                           seed=cfg["seed"], fps=cfg["fps"])
    staging = root / ".real_clips"
    staging.mkdir()
    paths = {clip: staging / f"{clip}.npy" for clip in kit.motions}
    for clip, motion in kit.motions.items():
        np.save(paths[clip], check_motion(motion, paths[clip]))
    write_test_set(root, kit.groups, paths, name=REAL)
    shutil.rmtree(staging)
    return kit.report


def generate_stage(cfg: dict) -> None:
    check_writable(folders=[cfg["out"]])
    seed, fps, n_clips = cfg["seed"], cfg["fps"], cfg["n_clips"]
    with atomic_dir(cfg["out"]) as root:
        test_report = write_test_queries(root, cfg)
        real_report = write_real_wording_tests(root, cfg)
        clips = (make_clip(seed, POOL_STREAM, i, fps, n_paraphrases=cfg["paraphrases"])
                 for i in tqdm(range(n_clips), desc="train pool", unit="clip"))
        stats = write_dataset(root, clips, [f"{i:05d}" for i in range(n_clips)],
                              {"generator": "src/generate.py", "seed": seed, "fps": fps,
                               "test_queries": test_report, "real_wording_tests": real_report})
    print(f"generated {stats['clips']} clips ({stats['frames']} frames, "
          f"{stats['seconds']['total'] / 60:.1f} min at {fps} fps) in {cfg['out']}; "
          f"{test_report['n_groups']} test queries x {cfg['n_candidates']} candidates from "
          f"{cfg['n_test_clips']} held-out clips in {cfg['out']}/test_queries (hard negatives per "
          f"group: min {test_report['hard_negatives_min']}, mean {test_report['hard_negatives_mean']})")


def generate_from_specs(specs_file: str, out: str, seed: int, n_captions: int | None, fps: int,
                        force: bool) -> None:
    specs = load_specs(specs_file)
    out_dir = check_out_dir(out, force)
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
