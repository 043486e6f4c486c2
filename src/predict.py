"""Stage `predict`: rank each test query's candidates and write the challenge's submission.csv.

Stage mode (no arguments) reads the `predict` section of params.yaml and scores the test set
of the source preprocess read (`<raw_root>/test_queries/`, `<raw_root>/test_gt.csv`: the
generated test set, or an importer's test split). A source without a test set gets a
one-line message, a header-only submission and metrics saying why. The source's extra test
sets (extra_tests/<name>/, e.g. real captions) are scored too, as score_<name>. CLI mode works on any
folder in the query layout (the challenge's own test queries, for instance):
    python src/predict.py --queries DIR --out FILE [--model DIR] [--gt FILE] [--metrics FILE]
Where ground truth is given, the submission is scored (printed, and written to the metrics
file, with a 95 % bootstrap interval), and so is each other wording of the queries the query
folder holds (wordings.csv: `score_<wording>`).
"""
from __future__ import annotations

import argparse

from textmotion.errors import run_cli
from textmotion.io import check_writable, load_params, write_json
from textmotion.layout import (find_extra_test_sets, find_test_set, read_query_batches, read_query_wordings,
                               read_scored_queries, reworded)
from textmotion.metrics import scored
from textmotion.model_io import load_model
from textmotion.prepared import read_report
from textmotion.retrieval import rank_candidates, top_k
from textmotion.submission import format_summary, score_submission, submission_ranks, write_submission

N_BOOTSTRAP = 1000


def parse_args(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", help="folder of queries: <query_id>/text.txt, motion_<n>.npy")
    parser.add_argument("--out", help="submission CSV to write")
    parser.add_argument("--model", default="models", help="trained model folder")
    parser.add_argument("--gt", help="ground truth CSV (query_id,correct) to score against")
    parser.add_argument("--metrics", help="JSON file for the score (needs --gt)")
    parser.add_argument("--chunk-size", type=int, default=256, help="motions encoded per call")
    args = parser.parse_args(argv)
    if args.queries is None:
        return stage_config(load_params("predict"))
    if args.out is None:
        parser.error("--queries needs --out")
    return {"queries": args.queries, "out": args.out, "model_dir": args.model, "gt": args.gt,
            "metrics": args.metrics, "chunk_size": args.chunk_size}


def stage_config(cfg: dict) -> dict:
    """Stage params plus the queries and ground truth of the source's test set (None if none)."""
    raw_root = read_report(cfg["prepared"], "raw_root")["raw_root"]
    queries, gt = find_test_set(raw_root) or (None, None)
    return {**cfg, "queries": queries, "gt": gt, "raw_root": raw_root, "extra": find_extra_test_sets(raw_root)}


def main(argv: list[str] | None = None) -> None:
    cfg = parse_args(argv)
    check_writable(*[path for path in (cfg["out"], cfg["metrics"]) if path])
    if cfg["queries"] is None:
        reason = f"{cfg['raw_root']} has no test set (test_queries/, test_gt.csv): nothing to predict"
        print(f"predict skipped: {reason}")
        write_submission(cfg["out"], {}, {})
        write_json(cfg["metrics"], {"n_queries": 0, "skipped": reason})
        return
    if cfg["gt"]:
        batches, gt = read_scored_queries(cfg["queries"], cfg["gt"])
    else:
        batches, gt = read_query_batches(cfg["queries"]), None

    model = load_model(cfg["model_dir"])
    rankings = rank_candidates(model, batches, cfg["chunk_size"])
    submission = top_k(rankings)
    write_submission(cfg["out"], submission, {b.query_id: len(b.motion_paths) for b in batches})
    print(f"wrote {cfg['out']} ({len(submission)} queries)")
    if gt is not None:
        summary = {**scored(submission_ranks(submission, gt), N_BOOTSTRAP), **score_submission(submission, gt),
                   "n_candidates": max(len(b.motion_paths) for b in batches)}
        for name, texts in read_query_wordings(cfg["queries"], list(gt)).items():
            worded = top_k(rank_candidates(model, reworded(batches, texts), cfg["chunk_size"]))
            summary.update(scored(submission_ranks(worded, gt), N_BOOTSTRAP, suffix=f"_{name}"))
        for name, (queries, gt_path) in cfg.get("extra", {}).items():
            extra_batches, extra_gt = read_scored_queries(queries, gt_path)
            extra = top_k(rank_candidates(model, extra_batches, cfg["chunk_size"]))
            summary.update(scored(submission_ranks(extra, extra_gt), N_BOOTSTRAP, suffix=f"_{name}"),
                           **{f"n_queries_{name}": len(extra_batches)})
        print(format_summary({k: v for k, v in summary.items() if not isinstance(v, dict)}))
        if cfg["metrics"]:
            write_json(cfg["metrics"], summary)


if __name__ == "__main__":
    run_cli(main)
