"""Galleries: the motion collections a text is searched against, their cached embeddings, and
the search itself.

A gallery is a folder in the challenge layout (read by `layout.read_dataset`: motions/,
texts/, optional train.txt and dataset.json) or a packed store written by the preprocess
stage. (search.py and serve.py default to the pipeline's val store and model: `textmotion.cli`.)

Embedding cache: encoding every clip is the slow part of a search, so a gallery's embeddings,
ids, captions and fps are kept in `<cache dir>/<sha of the gallery and model paths>.npz` and
reused while its key still matches. The key is a sha256 of
- every file of the model folder, names and bytes (`retrieval.model_fingerprint`);
- the name, size and modification time (ns) of every file the gallery is read from: each
  file in motions/ and texts/ plus train.txt and dataset.json, or the store's four files and
  the preprocess report beside it (its frame rate);
- `CACHE_VERSION`, raised whenever the encoding code changes what an embedding is.
The clips' bytes are not read (that costs as much as encoding them): a file rewritten with the
same size and modification time would go unnoticed, as would a change of the encoding code
without a new CACHE_VERSION. A mismatch re-encodes the whole gallery and replaces the file.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from textmotion.errors import DataError
from textmotion.io import atomic_path
from textmotion.layout import DATASET_INFO, TRAIN_LIST, load_motion, motion_path, read_dataset
from textmotion.model_io import RetrievalModel
from textmotion.prepared import REPORT, read_report
from textmotion.retrieval import encode_clips, encode_texts, model_fingerprint, one_torch_thread, rank_by_cosine
from textmotion.store import CAPTIONS, FRAMES, IDS, OFFSETS, MotionStore

CACHE_VERSION = 1
DEFAULT_FPS = 20.0  # when the gallery does not say (the challenge's rate)
LAYOUT_FOLDERS = ("motions", "texts")
STORE_FILES = (FRAMES, OFFSETS, IDS, CAPTIONS)


def default_cache_dir() -> Path:
    """$XDG_CACHE_HOME/textmotion/embeddings (~/.cache/textmotion/embeddings by default)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "textmotion" / "embeddings"


def is_store(path: Path) -> bool:
    return (path / OFFSETS).is_file()


@dataclass
class Gallery:
    """A validated gallery: clip ids, their captions, and their motions on demand."""
    root: Path
    ids: list[str]
    captions: list[list[str]]
    fps: float
    _store: MotionStore | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return len(self.ids)

    def motion(self, index: int) -> np.ndarray:
        """The raw (T, 384) motion of clip `index`."""
        if self._store is not None:
            return np.asarray(self._store.motion(index), dtype=np.float32)
        return load_motion(motion_path(self.root, self.ids[index]))


def store_fps(store_dir: Path) -> float:
    """The raw data's frame rate from preprocess's report beside a store, when there is one."""
    if not (store_dir.parent / REPORT).is_file():
        return DEFAULT_FPS
    return float(read_report(store_dir.parent).get("fps") or DEFAULT_FPS)


def read_gallery(path: str | Path) -> Gallery:
    """Read and validate a gallery (challenge layout or store): every clip is checked."""
    root = Path(path)
    if is_store(root):
        store = MotionStore.open(root)
        if len(store) == 0:
            raise DataError(root, "empty motion store: nothing to search")
        return Gallery(root, store.ids, store.captions, store_fps(root), store)
    dataset = read_dataset(root)
    return Gallery(root, dataset.ids, [dataset.captions(i) for i in dataset.ids],
                   float(dataset.fps or DEFAULT_FPS))


def check_gallery(path: str | Path) -> Path:
    """The folder, if it is a gallery at all (a store, or motions/ and texts/ folders)."""
    root = Path(path)
    if not is_store(root) and not all((root / folder).is_dir() for folder in LAYOUT_FOLDERS):
        raise DataError(root, "not a gallery: expected the challenge layout (motions/<id>.npy, "
                              "texts/<id>.txt) or a motion store made by the preprocess stage")
    return root


def gallery_signature(path: str | Path) -> str:
    """sha256 of the name, size and modification time of every file the gallery is read from."""
    root = check_gallery(path)
    if is_store(root):
        names = list(STORE_FILES)
        try:
            stats = [os.stat(root / name) for name in names]
        except FileNotFoundError as err:
            raise DataError(err.filename, "file not found (a store needs frames.npy, offsets.npy, "
                                          "ids.txt and captions.json)") from None
        if (root.parent / REPORT).is_file():
            names.append(f"../{REPORT}")
            stats.append(os.stat(root.parent / REPORT))
    else:
        names = [name for name in (TRAIN_LIST, DATASET_INFO) if (root / name).exists()]
        stats = [os.stat(root / name) for name in names]
        for folder in LAYOUT_FOLDERS:  # os.scandir and plain strings: 10,000 clips in ~0.1 s
            with os.scandir(root / folder) as entries:
                listed = sorted((f"{folder}/{entry.name}", entry.stat()) for entry in entries)
            names += [name for name, _ in listed]
            stats += [stat for _, stat in listed]
    lines = "".join(f"{name}\0{stat.st_size}\0{stat.st_mtime_ns}\n" for name, stat in zip(names, stats))
    return hashlib.sha256(lines.encode()).hexdigest()


@dataclass(frozen=True)
class Hit:
    rank: int       # 1 = most similar
    index: int      # position in the gallery
    clip_id: str
    score: float    # cosine similarity


@dataclass
class IndexedGallery:
    """A gallery with the embeddings of its clips (row i is clip i) under one model."""
    gallery: Gallery
    embeddings: np.ndarray
    from_cache: bool

    def search(self, model: RetrievalModel, query: str, k: int) -> list[Hit]:
        """The k clips most similar to `query` (`model` is the one the gallery was indexed under)."""
        with one_torch_thread():
            text = encode_texts(model, [query])[0]
        order, scores = rank_by_cosine(text, self.embeddings)
        return [Hit(rank, int(index), self.gallery.ids[index], float(scores[index]))
                for rank, index in enumerate(order[:k], start=1)]


class EmbeddingCache:
    """Gallery embeddings on disk, one file per (gallery folder, model folder) pair."""

    def __init__(self, directory: str | Path | None = None):
        self.directory = Path(directory) if directory is not None else default_cache_dir()

    def file_for(self, gallery_path: Path, model_dir: Path) -> Path:
        name = hashlib.sha256(f"{gallery_path.resolve()}\0{model_dir.resolve()}".encode()).hexdigest()[:32]
        return self.directory / f"{name}.npz"

    def index(self, gallery_path: str | Path, model: RetrievalModel, model_dir: str | Path,
              chunk_size: int = 256) -> IndexedGallery:
        """The gallery and its embeddings under `model`, loaded from `model_dir`: from the cache
        when its key matches, else read, validated, encoded and cached."""
        gallery_path, model_dir = Path(gallery_path), Path(model_dir)
        key = hashlib.sha256(f"{CACHE_VERSION}\0{model_fingerprint(model_dir)}\0"
                             f"{gallery_signature(gallery_path)}".encode()).hexdigest()
        file = self.file_for(gallery_path, model_dir)
        cached = self._load(file, key, gallery_path)
        if cached is not None:
            return cached
        gallery = read_gallery(gallery_path)
        embeddings = encode_clips(model, len(gallery), gallery.motion,
                                  lambda i: f"{gallery_path}: clip {gallery.ids[i]}", chunk_size)
        self._save(file, key, gallery, embeddings)
        return IndexedGallery(gallery, embeddings, from_cache=False)

    @staticmethod
    def _load(file: Path, key: str, gallery_path: Path) -> IndexedGallery | None:
        try:
            with np.load(file, allow_pickle=False) as data:
                if str(data["key"]) != key:
                    return None
                ids, fps = data["ids"].tolist(), float(data["fps"])
                captions, embeddings = json.loads(str(data["captions"])), data["embeddings"]
        except (OSError, ValueError, KeyError, json.JSONDecodeError):  # absent or unreadable: rebuild
            return None
        store = MotionStore.open(gallery_path) if is_store(gallery_path) else None
        return IndexedGallery(Gallery(gallery_path, ids, captions, fps, store), embeddings, from_cache=True)

    @staticmethod
    def _save(file: Path, key: str, gallery: Gallery, embeddings: np.ndarray) -> None:
        with atomic_path(file) as tmp, open(tmp, "wb") as f:
            np.savez(f, key=np.array(key), ids=np.array(gallery.ids, dtype=str), fps=np.array(gallery.fps),
                     captions=np.array(json.dumps(gallery.captions, ensure_ascii=False)),
                     embeddings=embeddings.astype(np.float32))

