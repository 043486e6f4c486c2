"""Stage `make_val`: query groups from the held-out val split, in the challenge's query layout.

Reads the `make_val` section of params.yaml and preprocess's output (`prepared`: the val
store, and report.json for the raw root); writes `out`/
  <i>/text.txt, motion_1..N.npy   one caption, N candidates (hard links to the raw files)
  gt.csv                          query_id,correct
  groups.csv                      query_id,candidate,clip_id: which clip each candidate is
  report.json                     hard-negative counts (specs known: generated data only)
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from textmotion.errors import DataError, run_cli
from textmotion.groups import build_query_groups
from textmotion.io import atomic_dir, atomic_path, load_params, write_json
from textmotion.layout import load_spec, motion_path, write_gt, write_query_batches
from textmotion.store import MotionStore


def read_raw_root(prepared: Path) -> Path:
    path = prepared / "report.json"
    try:
        return Path(json.loads(path.read_text(encoding="utf-8"))["raw_root"])
    except FileNotFoundError:
        raise DataError(path, "file not found (made by the preprocess stage)") from None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DataError(path, f"no readable raw_root ({err})") from None


def main() -> None:
    cfg = load_params("make_val")
    prepared = Path(cfg["prepared"])
    store = MotionStore.open(prepared / "val")
    raw_root = read_raw_root(prepared)
    if len(store) < cfg["n_candidates"]:
        raise DataError(prepared / "val", f"the val split has {len(store)} clips, fewer than "
                                          f"make_val.n_candidates = {cfg['n_candidates']}: raise "
                                          f"preprocess.val_fraction or lower n_candidates")
    paths = {clip: motion_path(raw_root, clip) for clip in store.ids}
    for path in paths.values():
        if not path.is_file():
            raise DataError(path, "val clip's raw motion is missing (raw_root changed since preprocess?)")
    specs = {clip: load_spec(raw_root, clip) for clip in store.ids}
    known = None if any(spec is None for spec in specs.values()) else specs
    try:
        groups, report = build_query_groups(store.ids, dict(zip(store.ids, store.captions)), known,
                                            cfg["n_groups"], cfg["n_candidates"], cfg["hard_fraction"],
                                            np.random.default_rng(cfg["seed"]))
    except ValueError as err:
        raise DataError(prepared / "val", str(err)) from None

    with atomic_dir(cfg["out"]) as out:
        write_query_batches(out, groups, paths)
        write_gt(out / "gt.csv", groups)
        rows = [(g.query_id, number, clip) for g in groups for number, clip in enumerate(g.candidates, 1)]
        with atomic_path(out / "groups.csv") as tmp:
            pd.DataFrame(rows, columns=["query_id", "candidate", "clip_id"]).to_csv(tmp, index=False)
        write_json(out / "report.json", {"raw_root": str(raw_root), **report})
    hard = (f"hard negatives per group: min {report['hard_negatives_min']}, mean "
            f"{report['hard_negatives_mean']}, {report['groups_short_of_hard_negatives']} groups short; "
            f"{report['signature_collisions_excluded']} same-meaning candidates excluded"
            if known else "no specs: random candidates")
    print(f"{len(groups)} val query groups x {cfg['n_candidates']} candidates from "
          f"{report['distinct_query_clips']} query clips → {cfg['out']} ({hard})")


if __name__ == "__main__":
    run_cli(main)
