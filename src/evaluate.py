"""Stage `evaluate`: the trained model on the make_val query groups and on the full val gallery.

Params sections `evaluate` and `scoring`. Query groups: ranked and scored as `predict` scores
the test set (`textmotion.scoring`: challenge score with a 95 % interval resampling query
clips, R@1..10, MRR@10, mean/median rank, and `score_<wording>` for each other wording make_val
wrote), written as a val submission. Full gallery (TMR's protocol): every val caption against
every val clip, both directions.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from textmotion.cli import run_stage
from textmotion.gallery import store_fps
from textmotion.io import atomic_path, check_writable, write_json
from textmotion.layout import QueryBatch, load_motion
from textmotion.metrics import gallery_metrics, ranks_from_rankings, recall_curve
from textmotion.model_io import RetrievalModel, load_model
from textmotion.params import load_section
from textmotion.render import draw_motion
from textmotion.retrieval import encode_clips, encode_texts
from textmotion.scoring import QuerySet, score_query_set
from textmotion.store import MotionStore
from textmotion.submission import top_k, write_submission
from textmotion.web import ResultSection, ShownClip, write_results_page

N_SHOWN = 3  # retrieved clips drawn per example query


def full_gallery_metrics(model: RetrievalModel, store: MotionStore, chunk_size: int) -> dict:
    """Every caption of the split against every clip (t2m and m2t R@1/5/10, median rank)."""
    captions, caption_clip = [], []
    for clip, clip_captions in enumerate(store.captions):
        captions += clip_captions
        caption_clip += [clip] * len(clip_captions)
    text_embeddings = encode_texts(model, captions)
    motion_embeddings = encode_clips(model, len(store), store.motion, lambda i: f"{store.root}: clip {store.ids[i]}",
                                     chunk_size)
    return gallery_metrics(text_embeddings @ motion_embeddings.T, caption_clip)


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
    cfg, scoring = load_section("evaluate"), load_section("scoring")
    queries = QuerySet.read(cfg.val_dir, Path(cfg.val_dir) / "gt.csv")
    check_writable(cfg.submission, cfg.metrics, cfg.recall_plot, cfg.examples_plot, cfg.examples_page)
    model = load_model(cfg.model_dir)

    scored_candidates, summary = score_query_set(model, queries, scoring)
    rankings = {query_id: order + 1 for query_id, (order, _) in scored_candidates.items()}
    batches, gt = queries.batches, queries.gt
    write_submission(cfg.submission, top_k(rankings), {batch.query_id: len(batch.motion_paths) for batch in batches})
    summary["gallery"] = full_gallery_metrics(model, MotionStore.open(cfg.val_store), scoring.chunk_size)
    write_json(cfg.metrics, summary)
    write_recall_plot(cfg.recall_plot, ranks_from_rankings([rankings[q] for q in gt], list(gt.values())))
    draw_retrieval_examples(cfg.examples_plot, batches[:cfg.n_examples], rankings, gt)
    write_examples_page(cfg.examples_page, batches[:cfg.n_examples], scored_candidates, gt,
                        store_fps(Path(cfg.val_store)))
    print(", ".join(f"val {key} {summary[key]:.4f} (95 % CI {summary[key + '_ci95']['low']:.4f}–"
                    f"{summary[key + '_ci95']['high']:.4f})" for key in summary if key + "_ci95" in summary)
          + f", R@1 {summary['R@1']:.3f}, gallery t2m R@1 {summary['gallery']['t2m']['R@1']:.3f}")


if __name__ == "__main__":
    run_stage(main, __doc__)
