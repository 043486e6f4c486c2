"""Stage `generate`: the embedded synthetic two-person dataset, in the challenge layout.

The synthetic source (textmotion/sources/synthetic/source.py), written like every importer's
clips by sources/common.write_source. Stage mode (no arguments) reads the `generate` section
of params.yaml and writes `out` in the layout every source writes (textmotion/layout.py):
  - motions/, texts/, train.txt, dataset.json (source, fps, up axis, statistics, clips per
    split, frames)
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
"""
from __future__ import annotations

from pathlib import Path

from textmotion.cli import ArgumentParser, positive_int, run_stage_or_cli, seed
from textmotion.io import check_out_dir, check_writable
from textmotion.params import PARAMS_FILE, Generate, load_section
from textmotion.sources.common import QueryGrouping, write_source
from textmotion.sources.synthetic.kit import KitGroups, build_kit_groups, load_queries
from textmotion.sources.synthetic.source import GROUP_STREAM, synthetic_source
from textmotion.sources.synthetic.spec import load_specs


def real_wording_tests(cfg: Generate) -> KitGroups | None:
    """KIT captions with their generated clips, the extra test set "real"; None (said on the
    console) where KIT's annotations are absent."""
    annotations = cfg.real_captions
    if annotations is None or not Path(annotations).is_file():
        print(f"no KIT annotations at {annotations}: the real-wording test set (score_real) is skipped")
        return None
    return build_kit_groups(load_queries(cfg.real_queries, annotations), cfg.n_candidates, seed=cfg.seed, fps=cfg.fps)


def generate_stage(cfg: Generate) -> None:
    check_writable(folders=[cfg.out])
    real = real_wording_tests(cfg)
    clips, info, write_own_files = synthetic_source(
        Path(PARAMS_FILE), {"generator": "src/generate.py", "seed": cfg.seed, "fps": cfg.fps,
                            "real_wording_tests": None if real is None else real.report},
        cfg.seed, cfg.fps, [None] * cfg.n_clips, n_paraphrases=cfg.paraphrases, n_test=cfg.n_test_clips, real=real)
    grouping = QueryGrouping(cfg.n_candidates, (cfg.seed, GROUP_STREAM), cfg.n_test_queries, cfg.hard_fraction)
    info = write_source(Path(cfg.out), Path(PARAMS_FILE), clips, info, grouping, write_own_files)
    stats, tests = info["statistics"], info["test_queries"]
    print(f"generated {stats['clips']} clips ({stats['frames']} frames, "
          f"{stats['seconds']['total'] / 60:.1f} min at {cfg.fps} fps) in {cfg.out}; "
          f"{tests['n_groups']} test queries x {cfg.n_candidates} candidates from "
          f"{cfg.n_test_clips} held-out clips in {cfg.out}/test_queries (hard negatives per "
          f"group: min {tests['hard_negatives_min']}, mean {tests['hard_negatives_mean']})")


def generate_from_specs(specs_file: str, out: str, seed: int, n_captions: int | None, fps: int,
                        force: bool) -> None:
    specs = load_specs(specs_file)
    out_dir = check_out_dir(out, force)
    clips, info, write_own_files = synthetic_source(
        Path(specs_file), {"generator": "src/generate.py --specs", "specs_file": str(specs_file), "seed": seed,
                           "fps": fps},
        seed, fps, specs, n_captions=n_captions)
    write_source(out_dir, Path(specs_file), clips, info, None, write_own_files)
    print(f"wrote {len(specs)} clips from {specs_file} to {out_dir}")


def cli(argv: list[str]) -> None:
    parser = ArgumentParser(prog="generate.py", description="clips from explicit specs (CLI mode)")
    parser.add_argument("--specs", required=True, help="JSON file of clip specs")
    parser.add_argument("--out", required=True, help="folder to write the clips to, in the challenge layout")
    parser.add_argument("--seed", type=seed, default=0)
    parser.add_argument("--captions", type=int, choices=(1, 2, 3),
                        help="captions per clip (default: 1 to 3 at random)")
    parser.add_argument("--fps", type=positive_int, default=20)
    parser.add_argument("--force", action="store_true", help="replace a non-empty --out folder")
    args = parser.parse_args(argv)
    generate_from_specs(args.specs, args.out, args.seed, args.captions, args.fps, args.force)


if __name__ == "__main__":
    run_stage_or_cli(lambda: generate_stage(load_section("generate")), cli, __doc__)
