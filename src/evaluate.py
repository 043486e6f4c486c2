"""Stage `evaluate`: the trained model on the make_val query groups and on the full val gallery.

Query groups: ranked with the same code as `predict`, written as a val submission, scored
(challenge score with a bootstrap 95 % interval, R@1..10, MRR@10, mean/median rank). The
bootstrap resamples query clips (from make_val's groups.csv), not groups: groups made from
one clip's captions share its motion and are not independent. Where make_val wrote other
wordings of the queries (wordings.csv), each is scored too: `score_<wording>` with its interval.
Full gallery (TMR's protocol): every val caption against every val clip, both directions.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from textmotion.errors import DataError, run_cli
from textmotion.gallery import store_fps
from textmotion.io import atomic_path, check_writable, load_params, write_json
from textmotion.layout import (GROUP_CLIPS, QueryBatch, load_motion, read_group_clips, read_query_wordings,
                               read_scored_queries, reworded)
from textmotion.metrics import gallery_metrics, ranks_from_rankings, recall_curve, retrieval_summary, scored
from textmotion.model_io import load_model
from textmotion.render import draw_motion
from textmotion.retrieval import Retriever, encode_in_chunks, rank_candidates, top_k
from textmotion.store import MotionStore
from textmotion.submission import write_submission
from textmotion.web import ResultSection, ShownClip, write_results_page

N_SHOWN = 3  # retrieved clips drawn per example query


def full_gallery_metrics(model, store: MotionStore, chunk_size: int) -> dict:
    """Every caption of the split against every clip (t2m and m2t R@1/5/10, median rank)."""
    captions, caption_clip = [], []
    for clip, clip_captions in enumerate(store.captions):
        captions += clip_captions
        caption_clip += [clip] * len(clip_captions)
    text_embeddings = model.encode_texts(captions)
    motion_embeddings = encode_in_chunks(model, len(store), store.motion, chunk_size)
    return gallery_metrics(text_embeddings @ motion_embeddings.T, caption_clip)


def query_clips(val_dir: Path, gt: dict[str, int]) -> list[str]:
    """The query clip of each gt query (the clip at its correct candidate), from groups.csv."""
    path = val_dir / GROUP_CLIPS
    if not path.exists():
        raise DataError(path, "file not found (made by the make_val stage)")
    candidates = read_group_clips(val_dir)
    unnamed = [query_id for query_id, correct in gt.items() if len(candidates.get(query_id, ())) < correct]
    if unnamed:
        raise DataError(path, f"does not name each query's clip (query {unnamed[0]!r}); re-run make_val")
    return [candidates[query_id][correct - 1] for query_id, correct in gt.items()]


def write_recall_plot(path: str | Path, ranks) -> None:
    """R@k for k = 1..10 as a small CSV series for `dvc plots`."""
    table = pd.DataFrame({"k": range(1, 11), "recall": recall_curve(ranks).round(6)})
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)


def draw_retrieval_examples(path: str | Path, batches: list[QueryBatch], rankings: dict,
                            gt: dict[str, int]) -> None:
    """One row per query: its caption, the correct clip, then the top retrieved clips."""
    fig = Figure(figsize=(3.2 * (N_SHOWN + 1), 2.9 * len(batches)), layout="constrained")
    rows = fig.subfigures(len(batches), 1, squeeze=False)[:, 0]
    for row, batch in zip(rows, batches):
        correct = gt[batch.query_id]
        row.suptitle(f"query {batch.query_id}: " + "\n".join(textwrap.wrap(batch.text, 90)),
                     fontsize=11)
        axes = row.subplots(1, N_SHOWN + 1)
        shown = [(correct, f"correct: #{correct}", "black")]
        for place, candidate in enumerate(rankings[batch.query_id][:N_SHOWN], start=1):
            hit = candidate == correct
            shown.append((candidate, f"top-{place}: #{candidate} " + ("✓ correct" if hit else "✗ wrong"),
                          "tab:green" if hit else "tab:red"))
        for ax, (candidate, title, colour) in zip(axes, shown):
            draw_motion(ax, load_motion(batch.motion_paths[candidate - 1]))
            ax.set_title(title, color=colour, fontsize=10)
            for spine in ax.spines.values():
                spine.set_edgecolor(colour)
                spine.set_linewidth(2)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)


def write_examples_page(path: str | Path, batches: list[QueryBatch], scored_candidates: dict,
                        gt: dict[str, int], fps: float) -> None:
    """The examples as a page of playing 3D clips (offline): per query, the correct clip, then
    the top N_SHOWN retrieved, with their cosines."""
    sections = []
    for batch in batches:
        order, scores = scored_candidates[batch.query_id]
        correct = gt[batch.query_id]
        shown = [ShownClip(f"correct: #{correct}", load_motion(batch.motion_paths[correct - 1]),
                           detail=f"cosine {scores[correct - 1]:.3f}")]
        for place, index in enumerate(order[:N_SHOWN], start=1):
            hit = index + 1 == correct
            shown.append(ShownClip(f"top-{place}: #{index + 1} " + ("✓ correct" if hit else "✗ wrong"),
                                   load_motion(batch.motion_paths[index]), detail=f"cosine {scores[index]:.3f}",
                                   mark="correct" if hit else "wrong"))
        sections.append(ResultSection(f"query {batch.query_id}: {batch.text}", shown))
    write_results_page(path, "Retrieval examples (val query groups)", sections, fps)


def main() -> None:
    cfg = load_params("evaluate")
    batches, gt = read_scored_queries(cfg["val_dir"], Path(cfg["val_dir"]) / "gt.csv")
    clips = query_clips(Path(cfg["val_dir"]), gt)
    check_writable(cfg["submission"], cfg["metrics"], cfg["recall_plot"], cfg["examples_plot"],
                   cfg["examples_page"])
    model = load_model(cfg["model_dir"])

    scored_candidates = Retriever(model).score_candidates(batches, cfg["chunk_size"])
    rankings = {query_id: order + 1 for query_id, (order, _) in scored_candidates.items()}
    write_submission(cfg["submission"], top_k(rankings),
                     {batch.query_id: len(batch.motion_paths) for batch in batches})
    # Full rankings: the same score, R@k and MRR@10 as the scorer gives the top-10
    # submission, plus the mean and median rank.
    ranks = ranks_from_rankings([rankings[q] for q in gt], list(gt.values()))
    summary = {**scored(ranks, cfg["n_bootstrap"], cfg["seed"], clips), **retrieval_summary(ranks)}
    for name, texts in read_query_wordings(cfg["val_dir"], list(gt)).items():
        worded = rank_candidates(model, reworded(batches, texts), cfg["chunk_size"])
        worded_ranks = ranks_from_rankings([worded[q] for q in gt], list(gt.values()))
        summary.update(scored(worded_ranks, cfg["n_bootstrap"], cfg["seed"], clips, f"_{name}"))
    sizes = [len(batch.motion_paths) for batch in batches]
    summary.update(query_clips=len(set(clips)), n_candidates={"min": min(sizes), "max": max(sizes)})
    summary["gallery"] = full_gallery_metrics(model, MotionStore.open(cfg["val_store"]),
                                              cfg["chunk_size"])
    write_json(cfg["metrics"], summary)
    write_recall_plot(cfg["recall_plot"], ranks)
    draw_retrieval_examples(cfg["examples_plot"], batches[:cfg["n_examples"]], rankings, gt)
    write_examples_page(cfg["examples_page"], batches[:cfg["n_examples"]], scored_candidates, gt,
                        store_fps(Path(cfg["val_store"])))
    print(", ".join(f"val {key} {summary[key]:.4f} (95 % CI {summary[key + '_ci95']['low']:.4f}–"
                    f"{summary[key + '_ci95']['high']:.4f})" for key in summary if key + "_ci95" in summary)
          + f", R@1 {summary['R@1']:.3f}, gallery t2m R@1 {summary['gallery']['t2m']['R@1']:.3f}")


if __name__ == "__main__":
    run_cli(main)
