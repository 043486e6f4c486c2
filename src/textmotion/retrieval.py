"""Rank each query's candidates by cosine similarity: the one ranking evaluate and predict share.

Each query's text is encoded once (all texts in one call) and the candidates of all queries
are gathered and encoded in large chunks, so there is no forward pass per candidate and at
most `chunk_size` raw motions are held in memory at a time.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from textmotion.layout import QueryBatch, load_motion
from textmotion.metrics import K_MAX


def encode_motion_files(model, paths: Sequence[str | Path], chunk_size: int = 256) -> np.ndarray:
    """Embeddings (N, D) of the motion files, loaded and encoded `chunk_size` at a time."""
    return encode_in_chunks(model, len(paths), lambda i: load_motion(paths[i]), chunk_size)


def encode_in_chunks(model, n: int, motion: Callable[[int], np.ndarray],
                     chunk_size: int = 256) -> np.ndarray:
    """Embeddings (n, D) of motion(0..n-1), encoded `chunk_size` motions per call."""
    chunks = [model.encode_motions([motion(i) for i in range(start, min(start + chunk_size, n))])
              for start in range(0, n, chunk_size)]
    return np.concatenate(chunks)


def rank_candidates(model, batches: Sequence[QueryBatch], chunk_size: int = 256) -> dict[str, np.ndarray]:
    """Query id → every candidate number (1-based), most similar to the query's text first."""
    text_embeddings = model.encode_texts([batch.text for batch in batches])
    paths = [path for batch in batches for path in batch.motion_paths]
    motion_embeddings = encode_motion_files(model, paths, chunk_size)
    splits = np.cumsum([len(batch.motion_paths) for batch in batches])[:-1]
    rankings = {}
    for batch, text, candidates in zip(batches, text_embeddings,
                                       np.split(motion_embeddings, splits), strict=True):
        rankings[batch.query_id] = np.argsort(-(candidates @ text), kind="stable") + 1
    return rankings


def top_k(rankings: dict[str, np.ndarray], k: int = K_MAX) -> dict[str, list[int]]:
    """The submission rows: the first k candidates of each ranking."""
    return {query_id: ranking[:k].tolist() for query_id, ranking in rankings.items()}
