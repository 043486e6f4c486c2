"""How much of the held-out wording the pretrained sentence model itself understands.

No motion is involved: both measurements ask a frozen sentence model alone (`--text-model`:
minilm by default, mpnet, or a sentence-transformers folder), so they bound what any projection
trained on top of it can learn from the training phrasings.

1. Caption to caption: each val query in the novel wording is compared with the training-wording
   captions of its 32 candidates (the answer's own captions included, which no retrieval
   model is given), and the candidates are ranked by the best (or the mean) cosine. The
   challenge score of that ranking is what sentence similarity alone achieves on the groups.
2. Phrase to action: every held-out verb phrase of the lexicon, with its slots filled, is
   assigned to the action whose training phrases' mean embedding is nearest. The accuracy says
   how often the model puts an unseen idiom ("lean forward from the hips in a polite gesture")
   closest to its own action ("bow").

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/text_ceiling.py --text-model minilm mpnet
The data stages must have run first (`dvc repro make_val`).
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Callable

import numpy as np

from textmotion.errors import run_cli
from textmotion.layout import read_group_clips, read_gt, read_query_wordings
from textmotion.metrics import challenge_score, ranks_from_similarity
from textmotion.params import load_section
from textmotion.sources.synthetic import lexicon
from textmotion.store import MotionStore
from textmotion.text_models import resolve_text_model

REPO = Path(__file__).resolve().parents[1]

SLOT_FILLERS = {"direction": "forward", "speed": "", "count": "", "hand": "with the hand", "arm": "the arm",
                "side": "left", "obj": "the other person"}


Embed = Callable[[list[str]], np.ndarray]  # texts -> L2-normalised sentence embeddings (N, D)


def sentence_model(name: str) -> Embed:
    from sentence_transformers import SentenceTransformer
    resolved = resolve_text_model(name)
    print(f"text_model: {name} ({resolved.folder}, weights sha256 {resolved.weights_sha256[:16]}…)")
    model = SentenceTransformer(str(resolved.folder))
    return lambda texts: model.encode(texts, batch_size=256, normalize_embeddings=True, convert_to_numpy=True)


def caption_to_caption(embed: Embed) -> dict[str, float]:
    cfg = load_section("evaluate")
    val_dir, store = Path(cfg.val_dir), MotionStore.open(cfg.val_store)
    row_of = {clip: i for i, clip in enumerate(store.ids)}
    candidates = read_group_clips(val_dir)
    gt = read_gt(val_dir / "gt.csv", {q: len(c) for q, c in candidates.items()})
    novel = read_query_wordings(val_dir, list(gt))[lexicon.NOVEL]
    owner = np.array([i for i, captions in enumerate(store.captions) for _ in captions])
    captions = embed([c for captions in store.captions for c in captions])
    queries = embed([novel[q] for q in gt])
    results = {}
    for pooling in ("max", "mean"):
        similarity = np.array([[_pooled(captions[owner == row_of[clip]] @ query, pooling) for clip in candidates[q]]
                               for q, query in zip(gt, queries)])
        ranks = ranks_from_similarity(similarity, [gt[q] - 1 for q in gt])
        results[f"caption_to_caption_{pooling}"] = challenge_score(ranks)
        results[f"caption_to_caption_{pooling}_R@1"] = float(np.mean(ranks == 1))
    return results


def _pooled(cosines: np.ndarray, pooling: str) -> float:
    return float(cosines.max() if pooling == "max" else cosines.mean())


def filled(template: str) -> str:
    """A verb phrase of the lexicon as plain words: conditions, brackets and slots resolved."""
    text = re.sub(r"^when [^:]*: ", "", template).replace("[", "").replace("]", "")
    text = re.sub(r"\{n:([^}]*)\}", r"some \1s", text)
    text = re.sub(r"\{(\w+)\}", lambda slot: SLOT_FILLERS[slot.group(1)], text)
    return "a person " + re.sub(r"<(\w+)>", r"\1s", text).strip()


def phrase_to_action(embed: Embed) -> dict[str, float]:
    results = {}
    for name, table in (("solo", lexicon.SOLO), ("interaction", lexicon.ASYMMETRIC_ACTIVE),
                        ("pair", lexicon.SYMMETRIC_PLURAL)):
        actions = list(table)
        centroids = np.stack([embed([filled(t) for t in table[a].train]).mean(0) for a in actions])
        novel = [(a, filled(t)) for a in actions for t in table[a].novel]
        nearest = (embed([text for _, text in novel]) @ centroids.T).argmax(1)
        results[f"phrase_to_action_{name}"] = float(np.mean([actions[n] == a for n, (a, _) in zip(nearest, novel)]))
        results[f"phrase_to_action_{name}_phrases"] = len(novel)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--text-model", nargs="+", default=["minilm"],
                        help="one or more of minilm, mpnet, a sentence-transformers folder (default: minilm)")
    results = {}
    for name in parser.parse_args().text_model:
        embed = sentence_model(name)
        results[name] = {**caption_to_caption(embed), **phrase_to_action(embed)}
    names = list(results)
    print(f"{'measure':<36}" + "".join(f"{name[-12:]:>14}" for name in names))
    for measure in results[names[0]]:
        print(f"{measure:<36}" + "".join(f"{results[name][measure]:>14.3f}" if isinstance(results[name][measure], float)
                                         else f"{results[name][measure]:>14}" for name in names))


if __name__ == "__main__":
    run_cli(main)
