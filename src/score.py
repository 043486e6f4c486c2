"""Score a challenge submission against ground truth, after validating it.

    python src/score.py --gt gt.csv --submission submission.csv [--queries DIR]

--queries (the query folder) supplies each query's number of candidates N, so candidate
numbers are checked against 1..N; without it only their being >= 1 is checked.
"""
from __future__ import annotations

import argparse

from textmotion.errors import run_cli
from textmotion.layout import read_gt, read_query_batches
from textmotion.submission import format_summary, read_submission, score_submission


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gt", required=True, help="ground truth CSV: query_id,correct")
    parser.add_argument("--submission", required=True, help="submission CSV to score")
    parser.add_argument("--queries", help="query folder, to check candidates against 1..N")
    args = parser.parse_args(argv)

    n_candidates = None
    if args.queries:
        n_candidates = {b.query_id: len(b.motion_paths) for b in read_query_batches(args.queries)}
    gt = read_gt(args.gt, n_candidates)
    submission = read_submission(args.submission, list(gt), n_candidates)
    print(format_summary(score_submission(submission, gt)))


if __name__ == "__main__":
    run_cli(main)
