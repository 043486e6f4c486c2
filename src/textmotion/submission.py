"""The challenge's submission.csv: read, validate, write (only validated files), score.

Format: header `query_id,candidate_1,...,candidate_10`, one row per query, candidate numbers
1-based, best first, 10 distinct integers in 1..N written in ASCII digits. A query with N < 10
candidates lists all N and leaves the remaining columns empty.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from textmotion.errors import DataError
from textmotion.io import atomic_path, parse_int
from textmotion.metrics import K_MAX, ranks_from_rankings, retrieval_summary

WIDTH = K_MAX  # candidates a row lists: as many as the score looks at (R@1..R@10)
COLUMNS = ["query_id"] + [f"candidate_{k}" for k in range(1, WIDTH + 1)]

Submission = dict[str, list[int]]  # query_id → candidate numbers, best first


def read_submission(path: str | Path, expected_ids: Sequence[str] | None = None,
                    n_candidates: int | Mapping[str, int] | None = None) -> Submission:
    """Read and validate a submission; raise DataError naming the first problem.

    `expected_ids`: every one must appear exactly once and no other may appear.
    `n_candidates`: N for every query, or per query id; None checks only that numbers are >= 1.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(path, f"cannot read: {err}") from err
    return parse_submission(text, path, expected_ids, n_candidates)


def parse_submission(text: str, path: str | Path, expected_ids: Sequence[str] | None = None,
                     n_candidates: int | Mapping[str, int] | None = None) -> Submission:
    """Validate submission CSV text; `path` names it in errors. See read_submission."""
    try:
        table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise DataError(path, f"not a readable CSV: {str(err).strip()}") from err
    if list(table.columns) != COLUMNS:
        raise DataError(path, f"header must be exactly {','.join(COLUMNS)}; "
                              f"got {','.join(map(str, table.columns))}")

    expected = None if expected_ids is None else set(expected_ids)
    submission: Submission = {}
    for index, row in enumerate(table.itertuples(index=False)):
        line = f"line {index + 2}"
        query_id = row[0].strip()
        if not query_id:
            raise DataError(path, f"{line}, column query_id: empty")
        if expected is not None and query_id not in expected:
            raise DataError(path, f"{line}, column query_id: unknown query id {query_id!r}")
        if query_id in submission:
            raise DataError(path, f"{line}, column query_id: query {query_id!r} appears twice")
        n = n_candidates.get(query_id) if isinstance(n_candidates, Mapping) else n_candidates
        submission[query_id] = _parse_candidates(row[1:], n, path, line)

    if expected is not None:
        missing = sorted(expected - submission.keys())
        if missing:
            raise DataError(path, f"{len(missing)} expected queries missing, first {missing[0]!r}")
    return submission


def _parse_candidates(cells: Sequence[str], n: int | None, path, line: str) -> list[int]:
    """The row's candidate numbers: min(10, N) distinct integers in 1..N, then empty cells."""
    n_listed = WIDTH if n is None else min(WIDTH, n)
    candidates: list[int] = []
    for k, cell in enumerate(cells, start=1):
        where = f"{line}, column candidate_{k}"
        cell = cell.strip()
        if k > n_listed:
            if cell:
                raise DataError(path, f"{where}: must be empty, the query has only {n} candidates")
            continue
        if not cell:
            raise DataError(path, f"{where}: empty, expected a candidate number")
        value = parse_int(cell)
        if value is None:
            raise DataError(path, f"{where}: {cell!r} is not an integer candidate number")
        if value < 1 or (n is not None and value > n):
            allowed = "1.." + (str(n) if n is not None else "N")
            raise DataError(path, f"{where}: candidate {value} is not in {allowed}")
        if value in candidates:
            raise DataError(path, f"{where}: candidate {value} is listed twice")
        candidates.append(value)
    return candidates


def format_submission(submission: Mapping[str, Sequence[int]]) -> str:
    """CSV text of a submission, rows in the given order."""
    rows = []
    for query_id, candidates in submission.items():
        cells = [int(c) for c in candidates[:WIDTH]]
        rows.append([query_id, *cells, *[None] * (WIDTH - len(cells))])
    return pd.DataFrame(rows, columns=COLUMNS).astype(
        {c: "Int64" for c in COLUMNS[1:]}).to_csv(index=False)


def write_submission(path: str | Path, submission: Mapping[str, Sequence[int]],
                     n_candidates: Mapping[str, int]) -> None:
    """Validate the exact text to be written, then write it atomically.

    `n_candidates` maps every query id to its number of candidates N.
    """
    text = format_submission(submission)
    parse_submission(text, path, list(n_candidates), n_candidates)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def score_submission(submission: Mapping[str, Sequence[int]], gt: Mapping[str, int]) -> dict:
    """Score, R@1..R@10 and MRR@10 of a (validated) submission against ground truth."""
    return retrieval_summary(submission_ranks(submission, gt))


def format_summary(summary: Mapping[str, float]) -> str:
    """The summary as aligned `name value` lines, for printing."""
    width = max(map(len, summary), default=0) + 2
    return "\n".join(f"{name:<{width}}{value:.4f}" if isinstance(value, float) else f"{name:<{width}}{value}"
                     for name, value in summary.items())


def submission_ranks(submission: Mapping[str, Sequence[int]], gt: Mapping[str, int]) -> np.ndarray:
    """Rank of each gt query's correct candidate in the submission (np.inf if not listed)."""
    query_ids = list(gt)
    return ranks_from_rankings([submission[q] for q in query_ids], [gt[q] for q in query_ids])


def top_k(rankings: Mapping[str, np.ndarray]) -> dict[str, list[int]]:
    """The submission rows: the first WIDTH candidates of each full ranking."""
    return {query_id: ranking[:WIDTH].tolist() for query_id, ranking in rankings.items()}
