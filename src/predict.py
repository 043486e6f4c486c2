"""Stage `predict`: rank each test query's candidates and write the challenge's submission.csv.

Stage mode (no arguments) reads the `predict` section of params.yaml. CLI mode works on any
folder in the query layout:
    python src/predict.py --queries DIR --out FILE [--model DIR] [--gt FILE] [--metrics FILE]
Where ground truth is given, the submission is scored (printed, and written to the metrics file).
"""
from __future__ import annotations

import argparse

from textmotion.errors import DataError, run_cli
from textmotion.io import load_params, write_json
from textmotion.layout import read_gt, read_query_batches
from textmotion.model_io import load_model
from textmotion.retrieval import rank_candidates, top_k
from textmotion.submission import format_summary, score_submission, write_submission


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
        return load_params("predict")
    if args.out is None:
        parser.error("--queries needs --out")
    return {"queries": args.queries, "out": args.out, "model_dir": args.model, "gt": args.gt,
            "metrics": args.metrics, "chunk_size": args.chunk_size}


def main(argv: list[str] | None = None) -> None:
    cfg = parse_args(argv)
    batches = read_query_batches(cfg["queries"])
    gt = read_gt(cfg["gt"]) if cfg["gt"] else None
    query_ids = {batch.query_id for batch in batches}
    if gt is not None and set(gt) != query_ids:
        raise DataError(cfg["gt"], f"its query ids differ from those in {cfg['queries']}")

    rankings = rank_candidates(load_model(cfg["model_dir"]), batches, cfg["chunk_size"])
    submission = top_k(rankings)
    write_submission(cfg["out"], submission, {b.query_id: len(b.motion_paths) for b in batches})
    print(f"wrote {cfg['out']} ({len(submission)} queries)")
    if gt is not None:
        summary = score_submission(submission, gt)
        print(format_summary(summary))
        if cfg["metrics"]:
            write_json(cfg["metrics"], summary)


if __name__ == "__main__":
    run_cli(main)
