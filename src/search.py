"""Search a motion gallery with a sentence: print the k most similar clips, optionally as GIFs.

    python src/search.py "two people shake hands" [--gallery DIR] [--model DIR] [-k 5]
                         [--render DIR] [--cache DIR]

The gallery is any folder in the challenge layout or a store made by preprocess; by default
the pipeline's held-out val clips (evaluate.val_store in params.yaml) searched with its model
(evaluate.model_dir). Gallery embeddings are cached on disk (see textmotion.gallery), so only
the first search of a gallery under a model encodes its clips.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from textmotion.cli import ArgumentParser, positive_int
from textmotion.errors import run_cli
from textmotion.gallery_cli import add_gallery_arguments, gallery_and_model
from textmotion.gallery import EmbeddingCache, Hit, check_gallery
from textmotion.model_io import load_model
from textmotion.render import render_gif
from textmotion.retrieval import MAX_QUERY_CHARS, query_problem


def query_text(text: str) -> str:
    """An argument that is a search sentence (`retrieval.query_problem`)."""
    problem = query_problem(text)
    if problem:
        raise argparse.ArgumentTypeError(problem)
    return text


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("query", type=query_text,
                        help=f"the sentence to search for (at most {MAX_QUERY_CHARS} characters)")
    add_gallery_arguments(parser)
    parser.add_argument("-k", type=positive_int, default=5, help="results to show (default 5)")
    parser.add_argument("--render", type=Path, metavar="DIR", help="write an animated GIF per result here")
    args = parser.parse_args(argv)
    args.gallery, args.model = gallery_and_model(args)
    return args


def render_hits(out_dir: Path, indexed, hits: list[Hit]) -> list[Path]:
    """One GIF per hit, `<rank>_<id>.gif`; all appear in `out_dir` only once all are drawn."""
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [f"{hit.rank:02d}_{hit.clip_id}.gif" for hit in hits]
    with tempfile.TemporaryDirectory(prefix=".render.", dir=out_dir) as tmp:
        for hit, name in zip(hits, names):
            render_gif(indexed.gallery.motion(hit.index), Path(tmp) / name,
                       fps=round(indexed.gallery.fps))
        for name in names:
            (Path(tmp) / name).replace(out_dir / name)
    return [out_dir / name for name in names]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    check_gallery(args.gallery)  # a wrong folder fails before the slow model load
    model = load_model(args.model)
    started = time.perf_counter()
    indexed = EmbeddingCache(args.cache).index(args.gallery, model, args.model)
    hits = indexed.search(model, args.query, args.k)
    print(f"{len(indexed.gallery)} clips in {args.gallery} "
          f"({'cached embeddings' if indexed.from_cache else 'encoded and cached'}), "
          f"searched in {time.perf_counter() - started:.2f} s", file=sys.stderr)
    width = max(len(hit.clip_id) for hit in hits)
    print(f"{'rank':>4}  {'id':<{width}}  {'cosine':>6}  caption")
    for hit in hits:
        print(f"{hit.rank:>4}  {hit.clip_id:<{width}}  {hit.score:6.3f}  {indexed.gallery.captions[hit.index][0]}")
    if args.render:
        paths = render_hits(args.render, indexed, hits)
        print(f"wrote {len(paths)} GIFs to {args.render}", file=sys.stderr)


if __name__ == "__main__":
    run_cli(main)
