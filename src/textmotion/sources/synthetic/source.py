"""The synthetic source: clips made from specs, yielded as sources/common.py's Clips.

Each clip carries what the generic code may know of it beside its training captions: its
metadata (action labels and semantic signature, for hard negatives), its "novel" wording
(the same clip described with only the lexicon's held-out phrasings, never in a training
caption, so val and test can measure how a model does on words it never saw) and, for the
train pool, paraphrases (further captions in the training wording, for training only). The
source's own files are each pool clip's spec (specs/; nothing generic reads them) and,
where given, the real-wording test set (extra_tests/real/: KIT captions with their
generated clips).

Every clip draws from its own generator seeded by (seed, stream, clip index), so a clip
depends on nothing but those: adding clips leaves the others unchanged. The novel wording
and the paraphrases draw from streams of their own, so they leave the training captions as
they would be without.
"""
from __future__ import annotations

import collections
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Generator, Sequence

import numpy as np
from tqdm import tqdm

from textmotion.layout import check_motion, write_test_set
from textmotion.sources.common import Clip
from textmotion.sources.synthetic.captions import make_captions
from textmotion.sources.synthetic.kit import KitGroups
from textmotion.sources.synthetic.motion import synthesize
from textmotion.sources.synthetic.spec import action_names, sample_spec, semantic_signature

POOL_STREAM, TEST_STREAM, GROUP_STREAM, NOVEL_STREAM, PARAPHRASE_STREAM = 0, 1, 2, 3, 4
PARAPHRASE_TRIES = 4  # draws of 3 captions per paraphrase wanted, before settling for fewer
SPECS = "specs"
NOVEL, REAL = "novel", "real"


@dataclass
class SynthesizedClip:
    spec: dict
    motion: np.ndarray
    captions: list[str]        # training wording
    novel_captions: list[str]  # the same clip in held-out phrasings only, as many
    paraphrases: list[str]     # further training-wording captions, for training only

    def as_clip(self, clip_id: str, split: str, origin: Path) -> Clip:
        """The clip as write_source takes it; a problem with it names `origin`."""
        return Clip(clip_id, self.motion, self.captions, split, origin, origin, metadata=clip_metadata(self.spec),
                    wordings={NOVEL: self.novel_captions}, paraphrases=self.paraphrases)


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
              n_captions: int | None = None, n_paraphrases: int = 0) -> SynthesizedClip:
    """One clip; the spec is sampled when not given."""
    rng = np.random.default_rng([seed, stream, index])
    if spec is None:
        spec = sample_spec(rng)
    motion, captions = synthesize(spec, rng, fps), make_captions(spec, rng, n_captions)
    novel = make_captions(spec, np.random.default_rng([seed, NOVEL_STREAM, stream, index]), len(captions),
                          wording=NOVEL)
    paraphrases = make_paraphrases(spec, captions, n_paraphrases,
                                   np.random.default_rng([seed, PARAPHRASE_STREAM, stream, index]))
    return SynthesizedClip(spec, motion, captions, novel, paraphrases)


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


def synthetic_source(origin: Path, info: dict, seed: int, fps: int, pool_specs: Sequence[dict | None],
                     n_captions: int | None = None, n_paraphrases: int = 0, n_test: int = 0,
                     real: KitGroups | None = None
                     ) -> tuple[Generator[Clip, None, None], dict, Callable[[Path], None]]:
    """A synthetic dataset as write_source takes it: its clips (lazily), its dataset.json
    entries and the writer of its own files.

    The clips: `n_test` held-out ones (test_00000, ...), then the train pool (00000, ...), one
    per entry of `pool_specs` (its spec, or None to sample one), with `n_captions` captions
    each (None: 1 to 3 at random) and `n_paraphrases` paraphrases. The entries: `info` with
    the up axis and the pool's statistics (filled in as the clips are made). Its own files:
    the pool's specs/ and, where `real` is given, the extra test set extra_tests/real/.
    A problem with a clip names `origin`, the file the clips are made from.
    """
    stats: dict = {}
    specs: dict[str, dict] = {}

    def clips() -> Generator[Clip, None, None]:
        with tqdm(range(n_test), desc="test clips", unit="clip", disable=not n_test) as bar:
            for index in bar:
                yield make_clip(seed, TEST_STREAM, index, fps).as_clip(f"test_{index:05d}", "test", origin)
        lengths, captions, n_paraphrased = [], [], 0
        with tqdm(pool_specs, desc="train pool", unit="clip") as bar:
            for index, spec in enumerate(bar):
                made = make_clip(seed, POOL_STREAM, index, fps, spec, n_captions, n_paraphrases)
                specs[f"{index:05d}"] = made.spec
                lengths.append(len(made.motion))
                captions.append(made.captions)
                n_paraphrased += len(made.paraphrases)
                yield made.as_clip(f"{index:05d}", "train", origin)
        stats.update(dataset_statistics(list(specs.values()), lengths, captions, fps), paraphrases=n_paraphrased)

    def write_own_files(root: Path) -> None:
        (root / SPECS).mkdir()
        for clip_id, spec in specs.items():
            (root / SPECS / f"{clip_id}.json").write_text(json.dumps(spec) + "\n", encoding="utf-8")
        if real is not None:
            write_real_wording_tests(root, real)

    return clips(), {"source": "synthetic", **info, "up_axis": "y", "statistics": stats}, write_own_files


def write_real_wording_tests(root: Path, kit: KitGroups) -> None:
    """KIT captions with their generated clips, as the extra test set "real" in `root`; each
    clip's file written once, then hard-linked into every group that uses it."""
    staging = root / ".real_clips"
    staging.mkdir()
    paths = {clip: staging / f"{clip}.npy" for clip in kit.motions}
    for clip, motion in kit.motions.items():
        np.save(paths[clip], check_motion(motion, paths[clip]))
    write_test_set(root, kit.groups, paths, name=REAL)
    shutil.rmtree(staging)
