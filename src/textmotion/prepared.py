"""The one reader of preprocess's report.json (raw root, downsample, fps, up axis)."""
from __future__ import annotations

from pathlib import Path

from textmotion.errors import DataError
from textmotion.io import read_json

REPORT = "report.json"


def read_report(prepared: str | Path, *required: str) -> dict:
    """preprocess's report of the folder `prepared` (or the report file itself), holding the
    `required` keys."""
    path = Path(prepared)
    if path.name != REPORT:
        path = path / REPORT
    report = read_json(path, "the preprocess stage")
    missing = [key for key in required if not isinstance(report, dict) or key not in report]
    if missing:
        raise DataError(path, f"no {', '.join(missing)}; re-run the preprocess stage")
    return report
