"""One error type for bad user input, and the one place that turns it into a one-line exit."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable


class DataError(Exception):
    """Bad input: names the offending file and what is wrong with it."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def run_cli(main: Callable[[], object]) -> None:
    """Run a stage's main(); a DataError becomes one line on stderr and exit status 1."""
    try:
        main()
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(1)
