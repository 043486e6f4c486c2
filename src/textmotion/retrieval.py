"""Text → motion retrieval: the `Retriever` that search, serve, predict and evaluate all rank with.

A Retriever wraps a loaded model folder. Texts are encoded in one call, motions in chunks of
`chunk_size` (never one forward pass per motion, never more than `chunk_size` raw motions in
memory), and ranking is `rank_by_cosine`: cosine similarity of L2-normalised embeddings, most
similar first, ties kept in input order. The module functions below are the same operations
for callers that hold a bare model.
"""
from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, Sequence

import numpy as np
import torch

from textmotion.layout import QueryBatch, load_motion
from textmotion.metrics import K_MAX
from textmotion.model_io import load_model

if TYPE_CHECKING:
    from textmotion.gallery import IndexedGallery

MAX_QUERY_CHARS = 300  # a search sentence, as search.py and serve.py accept it (captions are far shorter)


def rank_by_cosine(query: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order, scores): candidate indices, most similar to `query` first (stable), and every
    candidate's cosine. Embeddings are L2-normalised, so the dot product is the cosine."""
    scores = candidates @ query
    return np.argsort(-scores, kind="stable"), scores


def model_fingerprint(model_dir: str | Path) -> str:
    """sha256 of every file in the model folder (names and bytes): what the model computes."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(model_dir).iterdir() if p.is_file()):
        digest.update(path.name.encode() + b"\0")
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run torch on one CPU thread inside the block (the process-wide setting is restored).

    For one short sentence a second thread cannot help, and on a busy machine waiting for it
    costs a lot: measured on 2 shared cores, 0.40 s per query with 2 threads, 0.015 s with 1.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@dataclass(frozen=True)
class Hit:
    rank: int       # 1 = most similar
    index: int      # position in the gallery
    clip_id: str
    score: float    # cosine similarity


class Retriever:
    """A model folder's encoders and the one ranking of motions for a text."""

    def __init__(self, model, model_dir: str | Path | None = None):
        self.model = model
        self.model_dir = Path(model_dir) if model_dir is not None else None
        # what the model folder holds, hashed once: the model half of gallery cache keys
        self.fingerprint = model_fingerprint(model_dir) if model_dir is not None else None

    @classmethod
    def load(cls, model_dir: str | Path, device: str | None = None) -> "Retriever":
        """The model of a folder written by `model_io.save_model` (CUDA if any, else the CPU)."""
        return cls(load_model(model_dir, device), model_dir)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(N, D) L2-normalised text embeddings."""
        return self.model.encode_texts(list(texts))

    def encode_motions(self, n: int, motion: Callable[[int], np.ndarray],
                       chunk_size: int = 256) -> np.ndarray:
        """(n, D) embeddings of motion(0..n-1), `chunk_size` raw motions loaded at a time."""
        chunks = [self.model.encode_motions([motion(i) for i in range(start, min(start + chunk_size, n))])
                  for start in range(0, n, chunk_size)]
        return np.concatenate(chunks) if chunks else self.model.encode_motions([])

    def encode_motion_files(self, paths: Sequence[str | Path], chunk_size: int = 256) -> np.ndarray:
        """(N, D) embeddings of the motion files, validated by `load_motion` as they are read.

        A file reached by several paths (query folders hard-link one clip into many groups) is
        read and encoded once."""
        row_of_file: dict[tuple[int, int], int] = {}
        unique_paths, rows = [], []
        for path in paths:
            try:
                stat = os.stat(path)
            except OSError:  # load_motion says what is wrong, naming the file
                load_motion(path)
                raise
            key = (stat.st_dev, stat.st_ino)
            if key not in row_of_file:
                row_of_file[key] = len(unique_paths)
                unique_paths.append(path)
            rows.append(row_of_file[key])
        embeddings = self.encode_motions(len(unique_paths), lambda i: load_motion(unique_paths[i]), chunk_size)
        return embeddings[np.asarray(rows, dtype=np.int64)] if rows else embeddings

    def score_candidates(self, batches: Sequence[QueryBatch],
                         chunk_size: int = 256) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Query id → (order, scores) of its candidates (see `rank_by_cosine`); every query's
        text is encoded in one call and all candidates are encoded together, in chunks."""
        texts = self.encode_texts([batch.text for batch in batches])
        paths = [path for batch in batches for path in batch.motion_paths]
        motions = self.encode_motion_files(paths, chunk_size)
        splits = np.cumsum([len(batch.motion_paths) for batch in batches])[:-1]
        return {batch.query_id: rank_by_cosine(text, candidates)
                for batch, text, candidates in zip(batches, texts, np.split(motions, splits), strict=True)}

    def rank_candidates(self, batches: Sequence[QueryBatch], chunk_size: int = 256) -> dict[str, np.ndarray]:
        """Query id → every candidate number (1-based), most similar to the query's text first."""
        return {query_id: order + 1
                for query_id, (order, _) in self.score_candidates(batches, chunk_size).items()}

    def search(self, query: str, indexed: "IndexedGallery", k: int) -> list[Hit]:
        """The k clips of a gallery (indexed under this model, see gallery.EmbeddingCache) most
        similar to `query`."""
        with one_torch_thread():
            text = self.encode_texts([query])[0]
        order, scores = rank_by_cosine(text, indexed.embeddings)
        return [Hit(rank, int(index), indexed.gallery.ids[index], float(scores[index]))
                for rank, index in enumerate(order[:k], start=1)]


# --- the same operations for callers holding a bare model (predict, evaluate) ----------------

def encode_in_chunks(model, n: int, motion: Callable[[int], np.ndarray],
                     chunk_size: int = 256) -> np.ndarray:
    """Embeddings (n, D) of motion(0..n-1), encoded `chunk_size` motions per call."""
    return Retriever(model).encode_motions(n, motion, chunk_size)


def encode_motion_files(model, paths: Sequence[str | Path], chunk_size: int = 256) -> np.ndarray:
    """Embeddings (N, D) of the motion files, loaded and encoded `chunk_size` at a time."""
    return Retriever(model).encode_motion_files(paths, chunk_size)


def rank_candidates(model, batches: Sequence[QueryBatch], chunk_size: int = 256) -> dict[str, np.ndarray]:
    """Query id → every candidate number (1-based), most similar to the query's text first."""
    return Retriever(model).rank_candidates(batches, chunk_size)


def top_k(rankings: dict[str, np.ndarray], k: int = K_MAX) -> dict[str, list[int]]:
    """The submission rows: the first k candidates of each ranking."""
    return {query_id: ranking[:k].tolist() for query_id, ranking in rankings.items()}
