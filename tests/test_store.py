"""Packed motion stores, the temporal preprocessing and the normalisation statistics."""
from __future__ import annotations

import numpy as np
import pytest

from textmotion.errors import DataError
from textmotion.store import STD_FLOOR_RELATIVE, MotionStore, NormStats, prepare_motion


def clips(n: int = 5, seed: int = 0) -> tuple[list[str], list[np.ndarray], list[list[str]]]:
    rng = np.random.default_rng(seed)
    motions = [(rng.normal(size=(int(rng.integers(2, 30)), 384)) * np.arange(1, 385)).astype(np.float32)
               for _ in range(n)]
    return [f"c{i}" for i in range(n)], motions, [[f"caption {i}"] * (1 + i % 3) for i in range(n)]


def test_round_trip_is_memory_mapped(tmp_path):
    ids, motions, captions = clips()
    MotionStore.write(tmp_path / "s", ids, motions, captions)
    store = MotionStore.open(tmp_path / "s")
    assert len(store) == 5 and store.ids == ids and store.captions == captions
    assert store.lengths.tolist() == [len(m) for m in motions]
    for i, motion in enumerate(motions):
        np.testing.assert_array_equal(store.motion(i), motion)
    assert isinstance(store.frames, np.memmap) and not store.motion(0).flags.writeable


def test_empty_store(tmp_path):
    MotionStore.write(tmp_path / "s", [], [], [])
    store = MotionStore.open(tmp_path / "s")
    assert len(store) == 0 and store.frames.shape == (0, 384)
    with pytest.raises(DataError, match="empty store"):
        NormStats.fit(store)


def test_missing_or_inconsistent_store(tmp_path):
    with pytest.raises(DataError, match="not a motion store"):
        MotionStore.open(tmp_path / "absent")
    ids, motions, captions = clips()
    MotionStore.write(tmp_path / "s", ids, motions, captions)
    (tmp_path / "s" / "ids.txt").write_text("c0\n")
    with pytest.raises(DataError, match="inconsistent"):
        MotionStore.open(tmp_path / "s")


def test_prepare_motion():
    motion = np.arange(10 * 384, dtype=np.float64).reshape(10, 384)
    np.testing.assert_array_equal(prepare_motion(motion, 1), motion)
    assert prepare_motion(motion, 1).dtype == np.float32
    np.testing.assert_array_equal(prepare_motion(motion, 3), motion[[0, 3, 6, 9]])
    for bad in (0, 1.5, -2):
        with pytest.raises(ValueError):
            prepare_motion(motion, bad)


def test_norm_stats_over_all_frames_with_floor(tmp_path):
    ids, motions, captions = clips()
    motions[0][:, 7] = 0.0
    for motion in motions:
        motion[:, 5] = 3.0  # a constant feature
    MotionStore.write(tmp_path / "s", ids, motions, captions)
    stats = NormStats.fit(MotionStore.open(tmp_path / "s"))
    frames = np.concatenate(motions).astype(np.float64)
    np.testing.assert_allclose(stats.mean, frames.mean(axis=0), rtol=1e-5, atol=1e-5)
    expected_std = frames.std(axis=0)
    floor = STD_FLOOR_RELATIVE * expected_std.mean()
    np.testing.assert_allclose(stats.std, np.maximum(expected_std, floor), rtol=1e-5)
    normalised = stats.apply(motions[1])
    assert normalised.dtype == np.float32 and np.all(normalised[:, 5] == 0)
    np.testing.assert_allclose(stats.apply(np.concatenate(motions)).std(axis=0)[100:], 1, rtol=1e-3)

    stats.save(tmp_path / "stats.npz")
    loaded = NormStats.load(tmp_path / "stats.npz")
    np.testing.assert_array_equal(loaded.mean, stats.mean)
    np.testing.assert_array_equal(loaded.std, stats.std)


def test_norm_stats_use_prepared_frames(tmp_path):
    ids, motions, captions = clips()
    MotionStore.write(tmp_path / "s", ids, motions, captions)
    stats = NormStats.fit(MotionStore.open(tmp_path / "s"), downsample=2)
    frames = np.concatenate([m[::2] for m in motions]).astype(np.float64)
    np.testing.assert_allclose(stats.mean, frames.mean(axis=0), rtol=1e-5, atol=1e-5)


def test_norm_stats_load_refuses_bad_files(tmp_path):
    with pytest.raises(DataError, match="not found"):
        NormStats.load(tmp_path / "absent.npz")
    np.savez(tmp_path / "bad.npz", mean=np.zeros(384), std=np.zeros(384))
    with pytest.raises(DataError, match="positive std"):
        NormStats.load(tmp_path / "bad.npz")
    np.savez(tmp_path / "other.npz", something=np.zeros(3))
    with pytest.raises(DataError, match="not normalisation statistics"):
        NormStats.load(tmp_path / "other.npz")


def test_frames_file_is_a_plain_npy_of_all_frames(tmp_path):
    """Written clip by clip, byte-identical to np.save of the concatenated frames."""
    ids, motions, captions = clips()
    motions[1] = motions[1].astype(np.float64)  # converted on the way
    MotionStore.write(tmp_path / "s", ids, motions, captions)
    np.save(tmp_path / "all.npy", np.concatenate(motions).astype(np.float32))
    assert (tmp_path / "s" / "frames.npy").read_bytes() == (tmp_path / "all.npy").read_bytes()
    with pytest.raises(ValueError, match="clip c2: shape"):
        MotionStore.write(tmp_path / "t", ids, motions[:2] + [motions[2][:, :10]] + motions[3:], captions)


@pytest.mark.parametrize("name, content, message", [
    ("frames.npy", b"\x93NUMPY garbage" * 10, "not a readable .npy array"),
    ("frames.npy", bytes(range(256)) * 4, r"frames.npy: not a .npy array \(no NumPy header\)"),
    ("offsets.npy", bytes(range(256)), r"offsets.npy: not a .npy array \(no NumPy header\)"),
    ("captions.json", b"{", "unreadable motion store"),
    ("captions.json", b"{}", "captions.json: expected a JSON list"),
], ids=["bad header", "random frames", "random offsets", "invalid json", "json not a list"])
def test_damaged_store_is_one_clear_error(tmp_path, name, content, message):
    ids, motions, captions = clips()
    MotionStore.write(tmp_path / "s", ids, motions, captions)
    (tmp_path / "s" / name).write_bytes(content)
    with pytest.raises(DataError, match=message) as raised:
        MotionStore.open(tmp_path / "s")
    assert "pickle" not in str(raised.value)  # never NumPy's advice to load pickled data
    (tmp_path / "s" / name).unlink()
    with pytest.raises(DataError, match=f"{name}: missing: not a motion store"):
        MotionStore.open(tmp_path / "s")


@pytest.mark.parametrize("content", [bytes(range(256)) * 4, b"PK\x03\x04" + bytes(100)], ids=["random", "truncated zip"])
def test_damaged_norm_stats_are_one_clear_error(tmp_path, content):
    (tmp_path / "stats.npz").write_bytes(content)
    with pytest.raises(DataError, match="not a readable .npz archive") as raised:
        NormStats.load(tmp_path / "stats.npz")
    assert "pickle" not in str(raised.value)
