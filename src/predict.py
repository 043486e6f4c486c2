"""Stage `predict`: rank each test query's candidates and write the challenge's submission.csv.

Stage mode (no arguments) reads the `predict` and `scoring` sections of params.yaml and ranks
the test set of the source preprocess read (`<raw_root>/test_queries/`, `<raw_root>/test_gt.csv`:
the generated test set, or an importer's test split). A source without a test set gets a
one-line message, a header-only submission and metrics saying why. The test set is scored as
evaluate scores the val groups (`textmotion.scoring`: the score with a 95 % interval that
resamples query clips, R@k, MRR, ranks, and each other wording of the queries), and so is
each of the source's extra test sets (extra_tests/<name>/, e.g. real captions) as score_<name>.

CLI mode works on any folder in the query layout (the challenge's own test queries, for instance):
    python src/predict.py --queries DIR --out FILE [--model DIR] [--gt FILE [--metrics FILE]]
                          [--chunk-size N]
With --gt the submission is scored the same way and the score printed; --metrics writes it
(and needs --gt). Scoring follows the `scoring` section of params.yaml when the working folder
has one, else its defaults (1000 resamples, seed 0, chunks of 256 motions).
"""
from __future__ import annotations

from pathlib import Path

from textmotion.cli import ArgumentParser, positive_int, run_stage_or_cli
from textmotion.errors import DataError
from textmotion.io import check_writable, write_json
from textmotion.layout import QueryBatch, read_query_batches
from textmotion.model_io import RetrievalModel, load_model
from textmotion.params import PARAMS_FILE, Scoring, load_section
from textmotion.prepared import read_report
from textmotion.retrieval import candidate_embeddings, rank_queries
from textmotion.scoring import QuerySet, Rankings, read_test_sets, score_query_set
from textmotion.submission import format_summary, top_k, write_submission

def stage() -> None:
    """The test sets of the source preprocess read."""
    cfg, scoring = load_section("predict"), load_section("scoring")
    raw_root = read_report(cfg.prepared, "raw_root")["raw_root"]
    check_writable(cfg.out, cfg.metrics)
    test_set, extra = read_test_sets(raw_root)
    if test_set is None:
        reason = f"{raw_root} has no test set (test_queries/, test_gt.csv): nothing to predict"
        print(f"predict skipped: {reason}")
        write_submission(cfg.out, {}, {})
        write_json(cfg.metrics, {"n_queries": 0, "skipped": reason})
        return
    predict_and_score(load_model(cfg.model_dir), test_set, extra, scoring, cfg.out, cfg.metrics)


def cli(argv: list[str]) -> None:
    """Any query folder, scored when its ground truth is given."""
    parser = ArgumentParser(prog="predict.py", description=__doc__.splitlines()[0])
    parser.add_argument("--queries", required=True, help="folder of queries: <query_id>/text.txt, motion_<n>.npy")
    parser.add_argument("--out", required=True, help="submission CSV to write")
    parser.add_argument("--model", default="models", help="trained model folder (default: models)")
    parser.add_argument("--gt", help="ground truth CSV (query_id,correct) to score against")
    parser.add_argument("--metrics", help="JSON file for the score (needs --gt)")
    parser.add_argument("--chunk-size", type=positive_int, help="motions loaded and encoded at a time "
                                                                "(default: scoring.chunk_size)")
    args = parser.parse_args(argv)
    if args.metrics and not args.gt:
        raise DataError("predict.py", "--metrics needs --gt: without ground truth there is no score to write")
    scoring = load_section("scoring") if Path(PARAMS_FILE).is_file() else Scoring()
    if args.chunk_size:
        scoring = scoring.updated(chunk_size=args.chunk_size)
    check_writable(*[path for path in (args.out, args.metrics) if path])
    if args.gt:
        query_set = QuerySet.read(args.queries, args.gt)
        predict_and_score(load_model(args.model), query_set, {}, scoring, args.out, args.metrics)
    else:
        batches = read_query_batches(args.queries)
        model = load_model(args.model)
        write_ranked(args.out, batches, rank_queries(model, batches, candidate_embeddings(model, batches,
                                                                                          scoring.chunk_size)))


def predict_and_score(model: RetrievalModel, test_set: QuerySet, extra: dict[str, QuerySet], scoring: Scoring,
                      out: str, metrics: str | None) -> None:
    """The submission for `test_set`, its score and the extra test sets' scores (printed, and
    written to `metrics` when given)."""
    rankings, summary = score_query_set(model, test_set, scoring)
    write_ranked(out, test_set.batches, rankings)
    for name, query_set in extra.items():
        summary.update(score_query_set(model, query_set, scoring, name)[1])
    print(format_summary({k: v for k, v in summary.items() if not isinstance(v, dict)}))
    if metrics:
        write_json(metrics, summary)


def write_ranked(out: str, batches: list[QueryBatch], rankings: Rankings) -> None:
    submission = top_k({query_id: order + 1 for query_id, (order, _) in rankings.items()})
    write_submission(out, submission, {batch.query_id: len(batch.motion_paths) for batch in batches})
    print(f"wrote {out} ({len(submission)} queries)")


if __name__ == "__main__":
    run_stage_or_cli(stage, cli, __doc__)
