"""The submission validator on malformed files, the writer, and the scorer CLI's exit."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from textmotion.errors import DataError
from textmotion.submission import (COLUMNS, format_submission, read_submission, score_submission,
                                   write_submission)

REPO = Path(__file__).resolve().parents[1]
HEADER = ",".join(COLUMNS)
GOOD_ROWS = ["1,3,1,2,4,5,6,7,8,9,10", "2,1,2,3,4,5,6,7,8,9,10"]
IDS = ["1", "2"]


def write_csv(tmp_path: Path, lines: list[str], name: str = "submission.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_valid_submission_reads_back(tmp_path):
    path = write_csv(tmp_path, [HEADER, *GOOD_ROWS])
    submission = read_submission(path, IDS, 32)
    assert submission == {"1": [3, 1, 2, 4, 5, 6, 7, 8, 9, 10], "2": list(range(1, 11))}
    assert score_submission(submission, {"1": 1, "2": 1})["R@1"] == 0.5


@pytest.mark.parametrize("lines, expected_problem", [
    ([HEADER, GOOD_ROWS[0]], "missing"),
    ([HEADER, *GOOD_ROWS, GOOD_ROWS[1]], "line 4, column query_id: query '2' appears twice"),
    ([HEADER, GOOD_ROWS[0], "2,1,2,3,4,5,6,7,8,9,1"], "line 3, column candidate_10: candidate 1 is listed twice"),
    ([HEADER, GOOD_ROWS[0], "2,1,2,3,4,5,6,7,8,9,33"], "line 3, column candidate_10: candidate 33 is not in 1..32"),
    ([HEADER, GOOD_ROWS[0], "2,0,2,3,4,5,6,7,8,9,10"], "line 3, column candidate_1: candidate 0 is not in 1..32"),
    ([HEADER, GOOD_ROWS[0], "2,1,2.5,3,4,5,6,7,8,9,10"], "line 3, column candidate_2: '2.5' is not an integer"),
    ([HEADER, GOOD_ROWS[0], "2,1,x,3,4,5,6,7,8,9,10"], "line 3, column candidate_2: 'x' is not an integer"),
    ([HEADER, GOOD_ROWS[0], "2,1,²,3,4,5,6,7,8,9,10"], "line 3, column candidate_2: '²' is not an integer"),
    ([HEADER, GOOD_ROWS[0], "2,1,٣,3,4,5,6,7,8,9,10"], "line 3, column candidate_2: '٣' is not an integer"),
    ([HEADER, GOOD_ROWS[0], "2,1,３,3,4,5,6,7,8,9,10"], "line 3, column candidate_2: '３' is not an integer"),
    ([HEADER, GOOD_ROWS[0], "2,1,--2,3,4,5,6,7,8,9,10"], "line 3, column candidate_2: '--2' is not an integer"),
    ([HEADER, GOOD_ROWS[0], "2,1,-2,3,4,5,6,7,8,9,10"], "line 3, column candidate_2: candidate -2 is not in 1..32"),
    ([HEADER, GOOD_ROWS[0], "2,1,2,3,4,5,6,7,8,9"], "line 3, column candidate_10: empty"),
    ([HEADER.replace("candidate_1,", "cand_1,"), *GOOD_ROWS], "header must be exactly"),
    ([HEADER.rsplit(",", 1)[0], *GOOD_ROWS], "header must be exactly"),
    ([HEADER, *GOOD_ROWS, "7,1,2,3,4,5,6,7,8,9,10"], "line 4, column query_id: unknown query id '7'"),
    ([], "not a readable CSV"),
])
def test_malformed_submission_is_rejected_naming_file_and_place(tmp_path, lines, expected_problem):
    path = write_csv(tmp_path, lines)
    with pytest.raises(DataError) as err:
        read_submission(path, IDS, 32)
    assert err.value.path == str(path)
    assert expected_problem in err.value.problem


def test_per_query_candidate_counts_and_short_groups(tmp_path):
    path = write_csv(tmp_path, [HEADER, GOOD_ROWS[0], "2,3,1,2,,,,,,,"])
    assert read_submission(path, IDS, {"1": 32, "2": 3})["2"] == [3, 1, 2]
    with pytest.raises(DataError, match="line 3, column candidate_4: empty"):
        read_submission(path, IDS, {"1": 32, "2": 8})


def test_writer_validates_before_writing(tmp_path):
    out = tmp_path / "sub.csv"
    write_submission(out, {"a": list(range(10, 0, -1)), "b": [2, 1]}, {"a": 12, "b": 2})
    assert read_submission(out, ["a", "b"], {"a": 12, "b": 2}) == {"a": list(range(10, 0, -1)), "b": [2, 1]}
    bad = tmp_path / "bad.csv"
    with pytest.raises(DataError, match="candidate 13 is not in 1..12"):
        write_submission(bad, {"a": [13, *range(1, 10)]}, {"a": 12})
    assert not bad.exists() and list(tmp_path.iterdir()) == [out]


def test_format_round_trips():
    text = format_submission({"q1": list(range(1, 11))})
    assert text.splitlines() == [HEADER, "q1,1,2,3,4,5,6,7,8,9,10"]


def run_score(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "src/score.py", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=60)


def test_score_cli_scores_and_rejects_bad_submission_in_one_line(tmp_path):
    gt = write_csv(tmp_path, ["query_id,correct", "1,3", "2,10"], "gt.csv")
    good = run_score("--gt", str(gt), "--submission", str(write_csv(tmp_path, [HEADER, *GOOD_ROWS])))
    assert good.returncode == 0, good.stderr
    lines = dict(line.split() for line in good.stdout.splitlines())
    assert float(lines["R@1"]) == 0.5 and float(lines["R@10"]) == 1.0 and float(lines["mrr"]) == 0.55

    bad_path = write_csv(tmp_path, [HEADER, GOOD_ROWS[0]], "bad.csv")
    bad = run_score("--gt", str(gt), "--submission", str(bad_path))
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and bad.stderr.startswith(f"error: {bad_path}:")


def test_score_cli_refuses_a_gt_answer_in_other_digits(tmp_path):
    """'²'.isdigit() is true, and int('²') a ValueError: the answer is one line naming gt.csv."""
    gt = write_csv(tmp_path, ["query_id,correct", "1,3", "2,²"], "gt.csv")
    bad = run_score("--gt", str(gt), "--submission", str(write_csv(tmp_path, [HEADER, *GOOD_ROWS])))
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr == f"error: {gt}: line 3: correct must be a candidate number >= 1, got '²'\n"
