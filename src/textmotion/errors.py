"""One error type for bad user input, and the one place that turns it into a one-line exit."""
from __future__ import annotations

import signal
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
    """Run a stage's main(); a DataError, or an OSError from the system (no space left,
    read-only file system, permission denied, file too large), becomes one line on stderr
    naming the path, and exit status 1.

    SIGXFSZ is ignored so that exceeding a file-size limit is an OSError (EFBIG) raised by the
    write, not a kill.
    """
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    try:
        main()
    except DataError as err:
        _exit(str(err))
    except OSError as err:
        _exit(f"{err.filename}: {err.strerror}" if err.filename and err.strerror else str(err))


def _exit(message: str) -> None:
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    sys.exit(1)
