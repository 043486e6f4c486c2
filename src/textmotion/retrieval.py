"""Text → motion retrieval: encoding and ranking, the one implementation every tool uses.

Plain functions over a loaded model (`model_io.load_model`) and arrays. Texts are encoded
256 at a time. Motions go through the model's own input path (`RetrievalModel.prepare` and
`pad`, exactly as in validation during training) 64 at a time, and are read from disk
`chunk_size` at a time: never one forward pass per motion, never more than `chunk_size` raw
motions in memory. An embedding that is not finite (a motion with values far outside what
the model saw) is refused, naming the motion, before anything is ranked with it.

Ranking is `rank_by_cosine`: cosine similarity of L2-normalised embeddings, most similar
first, ties kept in input order.
"""
from __future__ import annotations

import hashlib
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
import torch

from textmotion.errors import DataError
from textmotion.layout import QueryBatch, load_motion
from textmotion.model_io import RetrievalModel

MAX_QUERY_CHARS = 300  # a search sentence, as search.py and serve.py accept it (captions are far shorter)
TEXT_BATCH, MOTION_BATCH, CHUNK_SIZE = 64, 64, 256


def query_problem(text: str) -> str | None:
    """What makes `text` no search sentence (empty or blank, or over MAX_QUERY_CHARS characters);
    None when it is one."""
    if not text.strip():
        return "is empty (or blank): give the sentence to search for"
    if len(text) > MAX_QUERY_CHARS:
        return f"has {len(text)} characters; at most {MAX_QUERY_CHARS}"
    return None


@torch.no_grad()
def encode_texts(model: RetrievalModel, texts: Sequence[str]) -> np.ndarray:
    """(N, D) float32, L2-normalised, in the order of `texts`. They are encoded shortest first,
    so a batch pads little: a backbone's cost grows with its batch's longest text."""
    model.eval()
    encoder = model.text_encoder
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    chunks = [encoder.project(features) for features in encoder.features_of([texts[i] for i in order], TEXT_BATCH)]
    embeddings = np.empty((len(texts), encoder.projection.out_features), dtype=np.float32)
    embeddings[order] = _stack(chunks, encoder.projection.out_features)
    return embeddings


@torch.no_grad()
def encode_motions(model: RetrievalModel, motions: Sequence[np.ndarray], batch_size: int = MOTION_BATCH) -> np.ndarray:
    """Raw (T, 384) motions → (N, D) float32, L2-normalised (NaN rows where the encoder overflowed;
    `encode_clips` refuses them)."""
    model.eval()
    chunks = []
    for start in range(0, len(motions), batch_size):
        batch, mask = model.pad([model.prepare(m) for m in motions[start:start + batch_size]])
        chunks.append(model.motion_encoder(batch.to(model.device), mask.to(model.device)))
    return _stack(chunks, model.text_encoder.projection.out_features)


def _stack(chunks: list[torch.Tensor], dim: int) -> np.ndarray:
    if not chunks:
        return np.zeros((0, dim), dtype=np.float32)
    return torch.cat(chunks).float().cpu().numpy()


def encode_clips(model: RetrievalModel, n: int, motion: Callable[[int], np.ndarray],
                 name: Callable[[int], str | Path], chunk_size: int = CHUNK_SIZE) -> np.ndarray:
    """(n, D) embeddings of motion(0..n-1), `chunk_size` raw motions loaded at a time; `name(i)`
    says which motion a refusal is about."""
    chunks = []
    for start in range(0, n, chunk_size):
        embeddings = encode_motions(model, [motion(i) for i in range(start, min(start + chunk_size, n))])
        bad = np.flatnonzero(~np.isfinite(embeddings).all(axis=1))
        if bad.size:
            raise DataError(name(start + int(bad[0])), "its embedding under this model is not finite (values far "
                                                       "outside the range of the training data?)")
        chunks.append(embeddings)
    return np.concatenate(chunks) if chunks else encode_motions(model, [])


def encode_motion_files(model: RetrievalModel, paths: Sequence[str | Path], chunk_size: int = CHUNK_SIZE) -> np.ndarray:
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
    embeddings = encode_clips(model, len(unique_paths), lambda i: load_motion(unique_paths[i]),
                              lambda i: unique_paths[i], chunk_size)
    return embeddings[np.asarray(rows, dtype=np.int64)] if rows else embeddings


def rank_by_cosine(query: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(order, scores): candidate indices, most similar to `query` first (stable), and every
    candidate's cosine. Embeddings are L2-normalised, so the dot product is the cosine."""
    scores = candidates @ query
    return np.argsort(-scores, kind="stable"), scores


def candidate_embeddings(model: RetrievalModel, batches: Sequence[QueryBatch],
                         chunk_size: int = CHUNK_SIZE) -> list[np.ndarray]:
    """Each query's (N_i, D) candidate embeddings, all queries' candidates encoded together."""
    paths = [path for batch in batches for path in batch.motion_paths]
    splits = np.cumsum([len(batch.motion_paths) for batch in batches])[:-1]
    return np.split(encode_motion_files(model, paths, chunk_size), splits)


def rank_queries(model: RetrievalModel, batches: Sequence[QueryBatch],
                 candidates: Sequence[np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Query id → (order, scores) of its candidates (see `rank_by_cosine`); the queries' texts
    are encoded in one call."""
    texts = encode_texts(model, [batch.text for batch in batches])
    return {batch.query_id: rank_by_cosine(text, embeddings)
            for batch, text, embeddings in zip(batches, texts, candidates, strict=True)}


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
