"""Stage `make_val`: query groups from the held-out val split, in the challenge's query layout.

Reads the `make_val` section of params.yaml and preprocess's output (`prepared`: the val
store, and report.json for the raw root); writes `out`/
  <i>/text.txt, motion_1..N.npy   one caption, N candidates (hard links to the raw files)
  gt.csv                          query_id,correct
  groups.csv                      query_id,candidate,clip_id: which clip each candidate is
  wordings.csv                    where the source describes its clips in other wordings too
                                  (wordings.json): each query asked again in each of them
  report.json                     group sizes, hard negatives, what was left out and why

Each val caption is a query at most once. Candidates that mean the same as the query are
left out: by semantic signature where the source wrote metadata.json, else (real data) by
text-embedding cosine between the query caption and the candidate's captions above
`duplicate_threshold` (TMR's protocol), with the pretrained sentence encoder the project
ships (MiniLM). A val split smaller than `n_candidates` gives groups of all val clips.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from textmotion.cli import run_stage
from textmotion.errors import DataError
from textmotion.groups import build_query_groups, reword_groups
from textmotion.io import atomic_dir, check_writable, write_json
from textmotion.layout import (motion_path, read_clip_wordings, read_metadata, write_group_clips, write_gt,
                               write_query_batches, write_query_wordings)
from textmotion.params import load_section
from textmotion.prepared import read_report
from textmotion.store import MotionStore
from textmotion.text_encoders import sentence_embeddings


def near_duplicate_clips(ids: list[str], captions: list[list[str]], threshold: float) -> dict[str, set[str]]:
    """Caption → the other clips with a caption whose embedding cosine to it exceeds `threshold`."""
    flat = [(clip, caption) for clip, clip_captions in zip(ids, captions) for caption in clip_captions]
    embeddings = sentence_embeddings([caption for _, caption in flat])
    similar = embeddings @ embeddings.T > threshold
    duplicates: dict[str, set[str]] = {}
    for row, (clip, caption) in enumerate(flat):
        others = {flat[col][0] for col in np.flatnonzero(similar[row]) if flat[col][0] != clip}
        duplicates.setdefault(caption, set()).update(others)
    return duplicates


def main() -> None:
    cfg = load_section("make_val")
    check_writable(folders=[cfg.out])
    prepared = Path(cfg.prepared)
    store = MotionStore.open(prepared / "val")
    raw_root = Path(read_report(prepared, "raw_root")["raw_root"])
    if len(store) < 2:
        raise DataError(prepared / "val", f"the val split has {len(store)} clip(s); at least 2 are "
                                          f"needed: raise preprocess.val_fraction")
    paths = {clip: motion_path(raw_root, clip) for clip in store.ids}
    for path in paths.values():
        if not path.is_file():
            raise DataError(path, "val clip's raw motion is missing (raw_root changed since preprocess?)")
    metadata = read_metadata(raw_root, store.ids)
    duplicates = (None if metadata is not None
                  else near_duplicate_clips(store.ids, store.captions, cfg.duplicate_threshold))
    try:
        groups, report = build_query_groups(store.ids, dict(zip(store.ids, store.captions)), metadata,
                                            cfg.n_groups, cfg.n_candidates, cfg.hard_fraction,
                                            np.random.default_rng(cfg.seed), duplicates)
    except ValueError as err:
        raise DataError(prepared / "val", str(err)) from None

    with atomic_dir(cfg.out) as out:
        write_query_batches(out, groups, paths)
        write_gt(out / "gt.csv", groups)
        wordings = read_clip_wordings(raw_root, store.ids)
        if wordings:
            write_query_wordings(out, reword_groups(groups, dict(zip(store.ids, store.captions)), wordings))
        write_group_clips(out, groups)
        write_json(out / "report.json", {"raw_root": str(raw_root), **report})
    left_out = (f"{report['same_meaning_excluded']} same-meaning candidates left out "
                + ("(by signature)" if metadata is not None else f"(caption cosine > {cfg.duplicate_threshold})"))
    hard = (f"; hard negatives per group: min {report['hard_negatives_min']}, mean "
            f"{report['hard_negatives_mean']}, {report['groups_short_of_hard_negatives']} groups short"
            if metadata is not None else "; no metadata: random candidates")
    sizes = sorted({report['candidates_min'], report['candidates_max']})
    print(f"{report['n_groups']} val query groups of {'–'.join(map(str, sizes))} "
          f"candidates from {report['distinct_query_clips']} query clips → {cfg.out} ({left_out}{hard})")


if __name__ == "__main__":
    run_stage(main, __doc__)
