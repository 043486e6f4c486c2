"""Import a real motion dataset into the challenge layout: one command per source format.

    python src/import_data.py interhuman SRC --out DIR [--fps F]
    python src/import_data.py humanml3d SRC --out DIR [--fps F]
    python src/import_data.py bvh SRC --out DIR [--fps F] [--joint-map FILE] [--captions FILE]
                                                [--pairs FILE] [--units auto|m|cm|mm|inch|cmu]

Each writes DIR whole or not at all (motions/, texts/, train.txt, dataset.json; val.txt and
test_queries/ + test_gt.csv where the source has those splits), ready for
`dvc exp run -S preprocess.raw_root=DIR`. What each format reads and how it maps onto the
two-person (T, 384) frames: textmotion/sources/{interhuman,humanml3d,bvh}.py; the person-B
policy for single-person data: textmotion/sources/common.py. Common options: --fps resamples
(default: the source's own rate; 20 for BVH; at most 1000), --force replaces a non-empty DIR,
--seed and --n-candidates shape the test query groups. A bad argument is one error line, like
a bad file.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

from textmotion.cli import ArgumentParser, seed
from textmotion.errors import DataError, run_cli
from textmotion.io import check_out_dir, parse_int
from textmotion.sources.bvh import DEFAULT_FPS, UNITS, read_bvh_folder
from textmotion.sources.common import QueryGrouping, summary_line, write_source
from textmotion.sources.humanml3d import read_humanml3d
from textmotion.sources.interhuman import read_interhuman

N_CANDIDATES = 32
MAX_FPS = 1000  # above any capture rate; resampling far above it would only exhaust memory


def frame_rate(text: str) -> float:
    """An argument that is a frame rate: a number in (0, MAX_FPS] (not NaN, not Inf)."""
    try:
        value = float(text) if text.isascii() else math.nan
    except ValueError:
        value = math.nan
    if not 0 < value <= MAX_FPS:  # NaN fails too
        raise argparse.ArgumentTypeError(f"must be a number in (0, {MAX_FPS}], got {text!r}")
    return value


def group_size(text: str) -> int:
    """An argument that is a number of candidates per query group: a whole number >= 2."""
    value = parse_int(text)
    if value is None or value < 2:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 2, got {text!r}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = ArgumentParser(prog="import_data.py", description=__doc__.splitlines()[0])
    formats = parser.add_subparsers(dest="format", required=True, metavar="FORMAT")
    helps = {"interhuman": "InterHuman release folder (motions_processed/, annots/, split lists)",
             "humanml3d": "HumanML3D folder (new_joints/, new_joint_vecs/, texts/, split lists)",
             "bvh": "folder of BVH files (searched recursively)"}
    for name, help_text in helps.items():
        sub = formats.add_parser(name, help=help_text)
        sub.add_argument("source", metavar="SRC", type=Path, help=help_text)
        sub.add_argument("--out", type=Path, required=True, help="dataset folder to write")
        sub.add_argument("--fps", type=frame_rate, help="frame rate to resample to (default: the source's"
                                                        + (f"; {DEFAULT_FPS} for BVH)" if name == "bvh" else ")"))
        sub.add_argument("--force", action="store_true", help="replace a non-empty --out folder")
        sub.add_argument("--seed", type=seed, default=0, help="seed of the test query groups")
        sub.add_argument("--n-candidates", type=group_size, default=N_CANDIDATES,
                         help="candidates per test query group")
        if name == "bvh":
            sub.add_argument("--joint-map", type=Path, help="JSON: each of the 22 project joint names "
                                                            "-> the rig's joint name (default: CMU or Mixamo)")
            sub.add_argument("--captions", type=Path, help="CSV file,text (up to 3 rows per file; default: "
                                                           "a caption from the file name)")
            sub.add_argument("--pairs", type=Path, help="CSV file_a,file_b: two-person clips")
            sub.add_argument("--units", choices=("auto", *UNITS), default="auto",
                             help="the files' length unit (auto: the one that makes the body 1-2 m tall)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    out = check_out_dir(args.out, args.force)
    if not args.source.exists():
        raise DataError(args.source, "not found")
    if args.format == "interhuman":
        clips, info = read_interhuman(args.source, args.fps)
    elif args.format == "humanml3d":
        clips, info = read_humanml3d(args.source, args.fps)
    else:
        clips, info = read_bvh_folder(args.source, args.fps, args.joint_map, args.captions, args.pairs, args.units)
    info = write_source(out, args.source, clips, info, QueryGrouping(args.n_candidates, args.seed))
    print(summary_line(out, info))


if __name__ == "__main__":
    run_cli(main)
