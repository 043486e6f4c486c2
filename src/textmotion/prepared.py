"""The one reader of preprocess's report.json (raw root, downsample, fps, up axis)."""
from __future__ import annotations

import json
from pathlib import Path

from textmotion.errors import DataError

REPORT = "report.json"


def read_report(prepared: str | Path, *required: str) -> dict:
    """preprocess's report of the folder `prepared` (or the report file itself), holding the
    `required` keys."""
    path = Path(prepared)
    if path.name != REPORT:
        path = path / REPORT
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(path, "file not found (made by the preprocess stage)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(path, f"not readable JSON ({err}); re-run the preprocess stage") from None
    missing = [key for key in required if not isinstance(report, dict) or key not in report]
    if missing:
        raise DataError(path, f"no {', '.join(missing)}; re-run the preprocess stage")
    return report
