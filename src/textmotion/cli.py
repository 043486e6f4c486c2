"""What the command-line entry points share: the stage scripts' argument rule, and arguments
checked as strictly as params are (one `error:` line for a bad one)."""
from __future__ import annotations

import argparse
import sys
from typing import Callable

from textmotion.errors import DataError, run_cli
from textmotion.io import parse_int
from textmotion.params import MAX_SEED, PARAMS_FILE

MAX_PORT = 65535


def run_stage(main: Callable[[], object], doc: str) -> None:
    """A stage script's entry point. A stage reads its params from params.yaml and takes no
    arguments: `--help` prints what it does and runs nothing; any other argument is one error
    line, never silently ignored."""
    args = sys.argv[1:]
    if args in (["-h"], ["--help"]):
        print(doc.strip())
        return
    if args:
        def refuse() -> None:
            raise DataError(sys.argv[0], f"takes no arguments, got {args[0]!r}: a stage reads its params from "
                                         f"{PARAMS_FILE} (change them there, or with dvc exp run -S); --help "
                                         f"says what it does")
        run_cli(refuse)
    run_cli(main)


def run_stage_or_cli(stage: Callable[[], object], cli: Callable[[list[str]], object], doc: str) -> None:
    """A script that is a stage without arguments (see `run_stage`) and a command-line tool
    with them: `cli(arguments)` parses them."""
    if sys.argv[1:] and sys.argv[1:] not in (["-h"], ["--help"]):
        run_cli(lambda: cli(sys.argv[1:]))
    else:
        run_stage(stage, doc)


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with a bad argument reported as the project reports every bad input: one
    `error:` line naming the program (argparse prints its usage text first). Options are never
    abbreviated, so a prefix cannot stand for another option."""

    def __init__(self, **kwargs):
        super().__init__(allow_abbrev=False, **kwargs)

    def error(self, message: str):
        raise DataError(self.prog, message)


def positive_int(text: str) -> int:
    """An argument that is a whole number >= 1."""
    value = parse_int(text)
    if value is None or value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


def port_number(text: str) -> int:
    """An argument that is a TCP port: a whole number from 1 to MAX_PORT."""
    value = parse_int(text)
    if value is None or not 1 <= value <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"must be a whole number from 1 to {MAX_PORT}, got {text[:80]!r}")
    return value


def seed(text: str) -> int:
    """An argument that is a random seed: a whole number in 0..MAX_SEED (what NumPy and
    scikit-learn accept)."""
    value = parse_int(text)
    if value is None or not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be a whole number from 0 to {MAX_SEED}, got {text!r}")
    return value
