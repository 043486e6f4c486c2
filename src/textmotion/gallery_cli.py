"""The command-line defaults search.py, serve.py and tools/search_page_screenshot.py share: the
gallery and model they search, unless told otherwise, are the pipeline's held-out val store and
its model (the `evaluate` section of params.yaml)."""
from __future__ import annotations

import argparse
from pathlib import Path

from textmotion.errors import DataError
from textmotion.gallery import default_cache_dir
from textmotion.params import load_section


def add_gallery_arguments(parser: argparse.ArgumentParser) -> None:
    """--gallery, --model and --cache; see `gallery_and_model` for their defaults."""
    parser.add_argument("--gallery", type=Path, help="challenge-layout folder or motion store "
                                                     "(default: evaluate.val_store of params.yaml)")
    parser.add_argument("--model", type=Path, help="model folder (default: evaluate.model_dir)")
    parser.add_argument("--cache", type=Path, default=None,
                        help=f"embedding cache folder (default {default_cache_dir()})")


def gallery_and_model(args: argparse.Namespace) -> tuple[Path, Path]:
    """(gallery, model folder): the arguments, or the pipeline's held-out val store and model
    (the `evaluate` section of params.yaml) for those not given."""
    if args.gallery is not None and args.model is not None:
        return args.gallery, args.model
    try:
        cfg = load_section("evaluate")
    except DataError as err:
        raise DataError(err.path, f"{err.problem}; or pass --gallery and --model") from None
    return args.gallery or Path(cfg.val_store), args.model or Path(cfg.model_dir)
