"""Where a trained model's errors are on the held-out wording: the val query groups in the
training wording and in the novel wording, side by side, by what the query clip shows (solo
actions only, or an interaction) and by its number of actions; then, for the queries whose
first candidate is wrong, the query clip's actions that candidate lacks, most often first;
then the KIT captions written by people (the real-wording test set), by the action each one
describes.

Labels come from the source's metadata.json (the synthetic source writes it), so this reads
the generated data. The scoring is the pipeline's (`scoring.score_query_set`).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/wording_errors.py [--model models]
"""
from __future__ import annotations

import argparse
import collections
from pathlib import Path

import numpy as np

from textmotion.errors import run_cli
from textmotion.layout import read_group_clips, read_metadata, reworded
from textmotion.metrics import challenge_score, ranks_from_rankings
from textmotion.model_io import load_model
from textmotion.params import load_section
from textmotion.prepared import read_report
from textmotion.retrieval import candidate_embeddings, rank_queries
from textmotion.scoring import QuerySet, read_test_sets
from textmotion.sources.synthetic.kit import load_queries
from textmotion.sources.synthetic.vocabulary import ACTIONS, INTERACTION


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model folder (default: evaluate.model_dir)")
    args = parser.parse_args()
    evaluate = load_section("evaluate")
    val_dir = Path(evaluate.val_dir)
    query_set = QuerySet.read(val_dir, val_dir / "gt.csv")
    model = load_model(args.model or evaluate.model_dir, "cpu")
    raw_root = read_report(load_section("make_val").prepared, "raw_root")["raw_root"]
    clips = read_group_clips(val_dir)
    metadata = read_metadata(raw_root, {clip for group in clips.values() for clip in group})
    candidates = candidate_embeddings(model, query_set.batches, load_section("scoring").chunk_size)
    gt = query_set.gt
    ranks, top = {}, {}
    for wording, texts in [("training", None), *query_set.wordings.items()]:
        batches = query_set.batches if texts is None else reworded(query_set.batches, texts)
        rankings = rank_queries(model, batches, candidates)
        ranks[wording] = ranks_from_rankings([rankings[q][0] + 1 for q in gt], list(gt.values()))
        top[wording] = {q: clips[q][rankings[q][0][0]] for q in gt}

    def kind(query_id: str) -> str:
        labels = metadata[clips[query_id][gt[query_id] - 1]]["labels"]
        return "interaction" if any(ACTIONS[label][0] == INTERACTION for label in labels) else "solo only"

    def segments(query_id: str) -> str:
        return f"{len(metadata[clips[query_id][gt[query_id] - 1]]['labels'])} action(s)"

    queries = list(gt)
    print(f"{len(queries)} val queries; score (R@1) per wording")
    for name, group_of in (("all", lambda q: "all"), ("what the clip shows", kind), ("length", segments)):
        groups = collections.defaultdict(list)
        for index, query_id in enumerate(queries):
            groups[group_of(query_id)].append(index)
        for group, rows in sorted(groups.items()):
            cells = [f"{wording} {challenge_score(r[rows]):.3f} ({np.mean(r[rows] == 1):.2f})"
                     for wording, r in ranks.items()]
            print(f"  {name}: {group} ({len(rows)} queries): " + ", ".join(cells))
    for wording in list(ranks)[1:]:
        missed, same_actions, wrong = collections.Counter(), 0, 0
        for index, query_id in enumerate(queries):
            if ranks[wording][index] > 1:
                wrong += 1
                own = set(metadata[clips[query_id][gt[query_id] - 1]]["labels"])
                lacking = own - set(metadata[top[wording][query_id]]["labels"])
                missed.update(lacking)
                same_actions += not lacking
        print(f"{wording} wording: {wrong} wrong first places; in {same_actions} the top candidate shows every action "
              f"of the query clip (another actor, count, side or direction); the query clip's actions it lacks, "
              f"most often: " + ", ".join(f"{action} {count}" for action, count in missed.most_common(10)))
    real = read_test_sets(raw_root)[1].get("real")
    if real is not None:
        kit_by_action(model, real, load_queries(load_section("generate").real_queries))


def kit_by_action(model, real: QuerySet, queries: list[dict]) -> None:
    """Score and R@1 of the KIT captions (query i is the i-th KIT query) by their action."""
    rankings = rank_queries(model, real.batches, candidate_embeddings(model, real.batches))
    ranks = ranks_from_rankings([rankings[q][0] + 1 for q in real.gt], list(real.gt.values()))
    by_action = collections.defaultdict(list)
    for index, query_id in enumerate(real.gt):
        by_action[queries[int(query_id) - 1]["action"]].append(index)
    print(f"KIT captions written by people ({len(ranks)}): score {challenge_score(ranks):.3f}, "
          f"R@1 {np.mean(ranks == 1):.2f}; by action (queries: score, R@1):")
    for action, rows in sorted(by_action.items(), key=lambda item: challenge_score(ranks[item[1]])):
        print(f"  {action:<12} {len(rows):3d}: {challenge_score(ranks[rows]):.3f}, {np.mean(ranks[rows] == 1):.2f}")

if __name__ == "__main__":
    run_cli(main)
