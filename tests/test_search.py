"""The Retriever API, the gallery embedding cache, the up-axis helper and the search CLI."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import search  # src/search.py
from search_fixtures import CLIPS_PER_KIND, KINDS, clip_id, trained_gallery, write_gallery
from textmotion.gallery import EmbeddingCache, gallery_signature, read_gallery
from textmotion.layout import QueryBatch, motion_path
from textmotion.retrieval import MAX_QUERY_CHARS, Retriever, rank_candidates
from textmotion.upright import up_vector
from textmotion.web import clip_payload

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    return trained_gallery(tmp_path_factory)


@pytest.fixture(scope="module")
def retriever(trained) -> Retriever:
    return Retriever.load(trained[1], device="cpu")


def run_search(capsys, *args) -> tuple[list[list[str]], str]:
    search.main([str(a) for a in args])
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert lines[0].split() == ["rank", "id", "cosine", "caption"]
    return [line.split(maxsplit=3) for line in lines[1:]], err


def test_each_caption_finds_its_own_clips_first(trained, capsys, tmp_path):
    gallery, model = trained
    for kind, caption in enumerate(KINDS):
        rows, _ = run_search(capsys, caption, "--gallery", gallery, "--model", model,
                             "-k", CLIPS_PER_KIND, "--cache", tmp_path)
        assert [int(row[0]) for row in rows] == [1, 2, 3]
        assert {row[1] for row in rows} == {clip_id(kind, c) for c in range(CLIPS_PER_KIND)}
        assert all(row[3] == caption for row in rows)  # each clip's own first caption
        scores = [float(row[2]) for row in rows]
        assert scores == sorted(scores, reverse=True)


def test_second_search_reads_the_cache_and_a_changed_clip_invalidates_it(trained, capsys, tmp_path):
    source, model = trained
    gallery = tmp_path / "gallery"
    for folder in ("motions", "texts"):
        (gallery / folder).mkdir(parents=True)
        for file in (source / folder).iterdir():
            (gallery / folder / file.name).write_bytes(file.read_bytes())
    cache = tmp_path / "cache"
    query = ("two people shake hands", "--gallery", gallery, "--model", model, "-k", 3, "--cache", cache)
    first, err = run_search(capsys, *query)
    assert "encoded and cached" in err and len(list(cache.glob("*.npz"))) == 1
    second, err = run_search(capsys, *query)
    assert "cached embeddings" in err and second == first

    # a hug clip rewritten as a handshake: its file changes, so it is re-encoded and found
    handshake = np.load(motion_path(gallery, clip_id(0, 0)))
    np.save(motion_path(gallery, clip_id(2, 0)), handshake[:-1])
    third, err = run_search(capsys, *query[:5], "-k", 4, "--cache", cache)
    assert "encoded and cached" in err
    assert clip_id(2, 0) in {row[1] for row in third}
    assert len(list(cache.glob("*.npz"))) == 1  # replaced, not added


def test_cache_key_covers_model_and_gallery_files(trained, retriever, tmp_path):
    gallery, _ = trained
    signature = gallery_signature(gallery)
    assert gallery_signature(gallery) == signature
    copy = tmp_path / "g"
    write_gallery(copy)
    (copy / "texts" / f"{clip_id(0, 0)}.txt").write_text("two people shake hands firmly\n")
    assert gallery_signature(copy) != gallery_signature(gallery)

    cached = EmbeddingCache(tmp_path / "cache").index(copy, retriever)
    assert not cached.from_cache
    again = EmbeddingCache(tmp_path / "cache").index(copy, retriever)
    assert again.from_cache and again.gallery.ids == cached.gallery.ids
    assert again.gallery.captions[0] == ["two people shake hands firmly"]
    np.testing.assert_array_equal(again.embeddings, cached.embeddings)
    other_model = Retriever(retriever.model, retriever.model_dir)
    other_model.fingerprint = "another model"
    assert not EmbeddingCache(tmp_path / "cache").index(copy, other_model).from_cache


def test_gallery_embeddings_match_one_by_one_encoding(trained, retriever, tmp_path):
    gallery, _ = trained
    indexed = EmbeddingCache(tmp_path).index(gallery, retriever, chunk_size=5)
    single = np.concatenate([retriever.model.encode_motions([indexed.gallery.motion(i)])
                             for i in range(len(indexed.gallery))])
    np.testing.assert_allclose(indexed.embeddings, single, atol=1e-5)


def test_module_functions_rank_as_the_retriever(trained, retriever):
    gallery, _ = trained
    paths = [motion_path(gallery, clip_id(kind, 0)) for kind in range(len(KINDS))]
    batches = [QueryBatch(str(q), caption, paths) for q, caption in enumerate(KINDS)]
    rankings = rank_candidates(retriever.model, batches, chunk_size=3)
    assert {q: r.tolist() for q, r in rankings.items()} == \
        {q: r.tolist() for q, r in retriever.rank_candidates(batches).items()}
    assert [rankings[str(q)][0] for q in range(len(KINDS))] == [1, 2, 3, 4]  # each finds its clip


def test_store_gallery_gives_the_same_hits(trained, retriever, tmp_path):
    gallery, model = trained
    store = model.parent / "prepared" / "val"  # the same clips, packed by the fixture
    from_store = EmbeddingCache(tmp_path).index(store, retriever)
    from_folder = EmbeddingCache(tmp_path).index(gallery, retriever)
    assert sorted(from_store.gallery.ids) == sorted(from_folder.gallery.ids)
    caption = "two people hug"
    hits = [[hit.clip_id for hit in retriever.search(caption, g, 3)]
            for g in (from_store, from_folder)]
    assert sorted(hits[0]) == sorted(hits[1]) == [clip_id(2, c) for c in range(CLIPS_PER_KIND)]
    assert from_store.gallery.fps == 20


def test_render_writes_one_animated_gif_per_result(trained, capsys, tmp_path):
    gallery, model = trained
    out = tmp_path / "gifs"
    rows, _ = run_search(capsys, "one person sits down", "--gallery", gallery, "--model", model,
                         "-k", 2, "--render", out, "--cache", tmp_path / "cache")
    gifs = sorted(out.iterdir())
    assert [g.name for g in gifs] == [f"{int(r[0]):02d}_{r[1]}.gif" for r in rows]
    for gif in gifs:
        with Image.open(gif) as image:
            assert image.format == "GIF" and image.n_frames > 5


def test_z_up_clip_is_detected_and_sent_to_the_player_upright(trained):
    motion = read_gallery(trained[0]).motion(0)
    np.testing.assert_array_equal(up_vector(motion), [0, 1, 0])
    z_up = motion.copy()
    for start in (0, 192):  # (x, y, z) → (x, -z, y): the generated y-up clip stored z-up
        xyz = z_up[:, start:start + 66].reshape(len(motion), 22, 3).copy()
        z_up[:, start:start + 66] = np.stack([xyz[..., 0], -xyz[..., 2], xyz[..., 1]], -1).reshape(len(motion), 66)
    np.testing.assert_array_equal(up_vector(z_up), [0, 0, 1])
    sent, original = clip_payload("c", z_up, 20), clip_payload("c", motion, 20)
    np.testing.assert_allclose(sent["positions"], original["positions"], atol=2e-3)
    positions = np.reshape(sent["positions"], (len(motion), 2, 22, 3))
    assert positions[..., 1].min() == 0 and sent["persons"] == 2
    assert (positions[:, :, 15, 1] > positions[:, :, 0, 1]).all()  # head above pelvis


def run_cli(*args, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "src" / "search.py"), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"})


def test_bad_gallery_is_one_line_error(trained, tmp_path):
    (tmp_path / "empty").mkdir()
    run = run_cli("a person walks", "--gallery", tmp_path / "empty", "--model", trained[1],
                  "--cache", tmp_path / "cache")
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.startswith("error: ") and run.stderr.count("\n") == 1 and "not a gallery" in run.stderr
    assert not (tmp_path / "cache").exists()


def test_defaults_need_the_pipelines_params(tmp_path):
    run = run_cli("two people hug", cwd=tmp_path)  # no params.yaml here
    assert run.returncode == 1 and run.stderr.count("\n") == 1
    assert run.stderr.startswith("error: params.yaml") and "--gallery and --model" in run.stderr


@pytest.mark.parametrize("args", [("",), ("x" * (MAX_QUERY_CHARS + 1),), ("walk", "-k", "0")])
def test_bad_query_or_k_is_a_usage_error(args):
    run = run_cli(*args, "--gallery", "g", "--model", "m")
    assert run.returncode == 2 and "error:" in run.stderr.splitlines()[-1]


def test_a_file_linked_into_many_groups_is_encoded_once(tmp_path):
    """Query folders hard-link a clip into many groups: the rankings are those of encoding
    every path, with each file read and encoded once."""
    import os

    calls = []

    class CountingModel:
        def encode_motions(self, motions):
            calls.append(len(motions))
            return np.stack([np.full(4, float(m[0, 0])) for m in motions]) if motions else np.zeros((0, 4))

    source = tmp_path / "clip.npy"
    np.save(source, np.full((5, 384), 3.0, dtype=np.float32))
    np.save(tmp_path / "other.npy", np.full((5, 384), 7.0, dtype=np.float32))
    for i in range(3):
        os.link(source, tmp_path / f"link{i}.npy")
    paths = [tmp_path / "link0.npy", tmp_path / "other.npy", tmp_path / "link1.npy", tmp_path / "link2.npy"]
    embeddings = Retriever(CountingModel()).encode_motion_files(paths)
    assert sum(calls) == 2 and embeddings[:, 0].tolist() == [3.0, 7.0, 3.0, 3.0]
