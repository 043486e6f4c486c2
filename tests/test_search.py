"""Retrieval (encoding and ranking), the gallery embedding cache and search, the up-axis helper and
the search CLI."""
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
from textmotion.model_io import RetrievalModel, load_model
from textmotion import errors, retrieval
from textmotion.retrieval import (MAX_QUERY_CHARS, candidate_embeddings, encode_motion_files, encode_motions,
                                  encode_texts, rank_queries)
from textmotion.upright import up_vector
from textmotion.web import clip_payload

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    return trained_gallery(tmp_path_factory)


@pytest.fixture(scope="module")
def model(trained) -> RetrievalModel:
    return load_model(trained[1], device="cpu")


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


def test_cache_key_covers_model_and_gallery_files(trained, model, tmp_path):
    gallery, model_dir = trained
    signature = gallery_signature(gallery)
    assert gallery_signature(gallery) == signature
    copy = tmp_path / "g"
    write_gallery(copy)
    (copy / "texts" / f"{clip_id(0, 0)}.txt").write_text("two people shake hands firmly\n")
    assert gallery_signature(copy) != gallery_signature(gallery)

    cached = EmbeddingCache(tmp_path / "cache").index(copy, model, model_dir)
    assert not cached.from_cache
    again = EmbeddingCache(tmp_path / "cache").index(copy, model, model_dir)
    assert again.from_cache and again.gallery.ids == cached.gallery.ids
    assert again.gallery.captions[0] == ["two people shake hands firmly"]
    np.testing.assert_array_equal(again.embeddings, cached.embeddings)
    other_model = tmp_path / "other_model"  # the same weights, one file changed: another model
    other_model.mkdir()
    for file in model_dir.iterdir():
        (other_model / file.name).write_bytes(file.read_bytes())
    (other_model / "config.json").write_text((model_dir / "config.json").read_text() + "\n")
    other_cache = EmbeddingCache(tmp_path / "cache")
    other_cache.file_for = lambda gallery, _: EmbeddingCache(tmp_path / "cache").file_for(gallery, model_dir)
    assert not other_cache.index(copy, model, other_model).from_cache  # same cache file, other key


def test_gallery_embeddings_match_one_by_one_encoding(trained, model, tmp_path):
    gallery, model_dir = trained
    indexed = EmbeddingCache(tmp_path).index(gallery, model, model_dir, chunk_size=5)
    single = np.concatenate([encode_motions(model, [indexed.gallery.motion(i)]) for i in range(len(indexed.gallery))])
    np.testing.assert_allclose(indexed.embeddings, single, atol=1e-5)


def test_query_ranking_in_chunks_is_the_cosine_order(trained, model):
    """Candidates encoded in chunks of 3 get the embeddings of one whole encoding; each query's
    order is its cosines, most similar first; each caption finds its own clip first."""
    gallery, _ = trained
    paths = [motion_path(gallery, clip_id(kind, 0)) for kind in range(len(KINDS))]
    batches = [QueryBatch(str(q), caption, paths) for q, caption in enumerate(KINDS)]
    chunked = candidate_embeddings(model, batches, chunk_size=3)
    np.testing.assert_allclose(np.concatenate(chunked), encode_motion_files(model, paths * len(batches)), atol=1e-5)
    rankings = rank_queries(model, batches, chunked)
    texts = encode_texts(model, list(KINDS))
    for q, batch in enumerate(batches):
        order, scores = rankings[batch.query_id]
        np.testing.assert_allclose(scores, chunked[q] @ texts[q], atol=1e-6)
        assert order.tolist() == np.argsort(-scores, kind="stable").tolist() and order[0] == q


def test_store_gallery_gives_the_same_hits(trained, model, tmp_path):
    gallery, model_dir = trained
    store = model_dir.parent / "prepared" / "val"  # the same clips, packed by the fixture
    from_store = EmbeddingCache(tmp_path).index(store, model, model_dir)
    from_folder = EmbeddingCache(tmp_path).index(gallery, model, model_dir)
    assert sorted(from_store.gallery.ids) == sorted(from_folder.gallery.ids)
    caption = "two people hug"
    hits = [[hit.clip_id for hit in g.search(model, caption, 3)] for g in (from_store, from_folder)]
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


@pytest.mark.parametrize("args,problem", [
    (("",), "argument query: is empty (or blank): give the sentence to search for"),
    (("  ",), "argument query: is empty (or blank): give the sentence to search for"),
    (("x" * 10_000,), f"argument query: has 10000 characters; at most {MAX_QUERY_CHARS}"),
    (("walk", "-k", "0"), "argument -k: must be a whole number >= 1, got '0'"),
    (("walk", "-k", "-1"), "argument -k: must be a whole number >= 1, got '-1'"),
    (("walk", "--galery", "g"), "unrecognized arguments: --galery g"),
])
def test_bad_query_or_k_is_one_error_line_and_nothing_written(trained, tmp_path, capsys, monkeypatch, args, problem):
    """As src/search.py runs main (through errors.run_cli), in this process."""
    gallery, model = trained
    monkeypatch.setattr(sys, "argv", ["search.py"])
    with pytest.raises(SystemExit) as exited:
        errors.run_cli(lambda: search.main([*args, "--gallery", str(gallery), "--model", str(model),
                                            "--cache", str(tmp_path / "cache"), "--render", str(tmp_path / "gifs")]))
    out, err = capsys.readouterr()
    assert exited.value.code == 1 and out == "" and err == f"error: search.py: {problem}\n"
    assert not (tmp_path / "cache").exists() and not (tmp_path / "gifs").exists()


def test_a_10000_character_query_is_one_error_line_from_the_command_line(trained, tmp_path):
    run = run_cli("x" * 10_000, "--gallery", trained[0], "--model", trained[1], "--cache", tmp_path / "cache")
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr == f"error: search.py: argument query: has 10000 characters; at most {MAX_QUERY_CHARS}\n"
    assert not (tmp_path / "cache").exists()


def test_a_file_linked_into_many_groups_is_encoded_once(tmp_path, monkeypatch):
    """Query folders hard-link a clip into many groups: the rankings are those of encoding
    every path, with each file read and encoded once."""
    import os

    calls = []

    def counting_encoder(_, motions):
        calls.append(len(motions))
        return np.stack([np.full(4, float(m[0, 0])) for m in motions]) if motions else np.zeros((0, 4))

    source = tmp_path / "clip.npy"
    np.save(source, np.full((5, 384), 3.0, dtype=np.float32))
    np.save(tmp_path / "other.npy", np.full((5, 384), 7.0, dtype=np.float32))
    for i in range(3):
        os.link(source, tmp_path / f"link{i}.npy")
    paths = [tmp_path / "link0.npy", tmp_path / "other.npy", tmp_path / "link1.npy", tmp_path / "link2.npy"]
    monkeypatch.setattr(retrieval, "encode_motions", counting_encoder)
    embeddings = retrieval.encode_motion_files(None, paths)
    assert sum(calls) == 2 and embeddings[:, 0].tolist() == [3.0, 7.0, 3.0, 3.0]
