"""The challenge layout: round trips, and every kind of bad input named as a one-line DataError."""
from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import yaml

from textmotion.errors import DataError
from textmotion.groups import QueryGroup
from textmotion.store import MotionStore
from textmotion.layout import (load_captions, read_dataset, read_gt, read_query_batches, write_clip,
                               write_gt, write_id_list, write_metadata, write_query_batches,
                               write_dataset_info, read_metadata, read_val_ids, read_scored_queries,
                               find_test_set, write_test_set, read_clip_wordings, write_clip_wordings,
                               read_query_wordings, write_query_wordings, read_group_clips, write_group_clips)

REPO = Path(__file__).resolve().parents[1]
MIN_CLIPS = 40  # preprocess.MIN_CLIPS
IDS = ["00000", "00001", "00002", "00003"]


def make_root(root: Path, ids: list[str] = IDS) -> Path:
    rng = np.random.default_rng(0)
    for i, clip_id in enumerate(ids):
        captions = [f"clip {i} caption {k}" for k in range(1 + i % 3)]
        write_clip(root, clip_id, rng.normal(size=(5 + i, 384)).astype(np.float32), captions)
    write_id_list(root, ids)
    return root


def test_round_trip(tmp_path):
    root = make_root(tmp_path / "data")
    dataset = read_dataset(root)
    assert dataset.ids == IDS and dataset.skipped == [] and dataset.fps is None
    assert dataset.captions("00002") == ["clip 2 caption 0", "clip 2 caption 1", "clip 2 caption 2"]
    assert dataset.motion("00003").shape == (8, 384) and dataset.motion("00003").dtype == np.float32
    assert dataset.up_axis == "y" and read_metadata(root, IDS) is None and find_test_set(root) is None
    assert dataset.motion_path("00001") == root / "motions" / "00001.npy"


def test_train_list_order_and_absence(tmp_path):
    root = make_root(tmp_path / "data")
    write_id_list(root, ["00002", "00000"])
    assert read_dataset(root).ids == ["00002", "00000"]  # listed ids only, listed order
    (root / "train.txt").unlink()
    assert read_dataset(root).ids == IDS  # every id with both files, sorted


def test_captions_tolerate_bom_crlf_and_final_blank_lines(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes("\ufeffa person walks.\r\n  someone walks  \r\n\r\n".encode())
    assert load_captions(path) == ["a person walks.", "someone walks"]


def test_captions_end_at_newline_only(tmp_path):
    """U+2028, U+0085 and a form feed are text inside a caption, not line ends; a lone \\r
    inside a line makes a caption that spans several lines (some viewers show it as two)."""
    path = tmp_path / "c.txt"
    path.write_text("a person\u2028walks\nsomeone\x85 waves\r\nthey\x0cbow\n", encoding="utf-8")
    assert load_captions(path) == ["a person\u2028walks", "someone\x85 waves", "they\x0cbow"]
    path.write_text("a person\u2028walks\n", encoding="utf-8")
    assert load_captions(path) == ["a person\u2028walks"]
    path.write_bytes(b"a person\rwalks\n")
    with pytest.raises(DataError, match="c.txt: caption 1 spans several lines"):
        load_captions(path)
    with pytest.raises(DataError, match="several lines"):
        write_clip(tmp_path, "x", np.zeros((4, 384)), ["a\rb"])
    write_clip(tmp_path, "x", np.zeros((4, 384)), ["a person\u2028walks"])
    assert load_captions(tmp_path / "texts" / "x.txt") == ["a person\u2028walks"]


def save_pickled(path: Path) -> None:
    np.save(path, np.array([{"not": "numbers"}], dtype=object), allow_pickle=True)


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:200])


def claim_more_frames(path: Path) -> None:
    """The file's header says 100,000,000 frames; its data stays 6 frames."""
    data = path.read_bytes()[128:]  # np.save's version 1.0 header of a small array is 128 bytes
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False,
                                                  "shape": (100_000_000, 384)})
    path.write_bytes(header.getvalue() + data)


# (file to break, how, words expected in the problem)
BAD_FILES = {
    "wrong width": ("motions/00001.npy", lambda p: np.save(p, np.zeros((9, 383), np.float32)), "384"),
    "wrong ndim": ("motions/00001.npy", lambda p: np.save(p, np.zeros(384, np.float32)), "2-D"),
    "nan": ("motions/00001.npy", lambda p: np.save(p, np.full((9, 384), np.nan, np.float32)), "NaN"),
    "inf": ("motions/00001.npy", lambda p: np.save(p, np.full((9, 384), np.inf)), "Inf"),
    "one frame": ("motions/00001.npy", lambda p: np.save(p, np.zeros((1, 384), np.float32)), "at least 2"),
    "corrupt": ("motions/00001.npy", lambda p: p.write_bytes(b"not an array"), "not a .npy array"),
    "truncated": ("motions/00001.npy", truncate, "readable"),
    "header beyond the file": ("motions/00001.npy", claim_more_frames,
                               "its header says shape (100000000, 384) of float32, 153600000000 bytes; "
                               "the file holds 9216 bytes of data"),
    "pickled": ("motions/00001.npy", save_pickled, "pickled"),
    "strings": ("motions/00001.npy", lambda p: np.save(p, np.array([["a"] * 384] * 3)), "numeric"),
    "not utf-8": ("texts/00001.txt", lambda p: p.write_bytes(b"caf\xe9 walk\n"), "UTF-8"),
    "empty caption": ("texts/00001.txt", lambda p: p.write_text("\n \n"), "empty"),
    "four lines": ("texts/00001.txt", lambda p: p.write_text("a\nb\nc\nd\n"), "at most 3"),
    "blank line": ("texts/00001.txt", lambda p: p.write_text("a\n\nb\n"), "blank line 2"),
    "motion without caption": ("motions/00001.npy", lambda p: (p.parent.parent / "texts/00001.txt").unlink(),
                               "without caption"),
    "caption without motion": ("texts/00001.txt", lambda p: (p.parent.parent / "motions/00001.npy").unlink(),
                               "without motion"),
    "duplicate id": ("train.txt", lambda p: p.write_text("00000\n00001\n00002\n00001\n00003\n"),
                     "duplicate id '00001' (lines 2 and 4)"),
    "listed id without files": ("train.txt", lambda p: p.write_text("\n".join(IDS + ["00009"]) + "\n"),
                                "'00009' (line 5) has no files"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_input_names_file_and_problem(tmp_path, case):
    relative, breaks, expected = BAD_FILES[case]
    root = make_root(tmp_path / "data")
    breaks(root / relative)
    with pytest.raises(DataError) as err:
        read_dataset(root)
    assert err.value.path == str(root / relative)
    assert expected in err.value.problem and "\n" not in str(err.value)

    dataset = read_dataset(root, skip_bad=True)
    assert dataset.skipped == [(str(root / relative), err.value.problem)]
    expected_ids = IDS if case == "duplicate id" or case == "listed id without files" else \
        [i for i in IDS if i != "00001"]
    assert dataset.ids == expected_ids


def test_missing_folder_and_nothing_valid(tmp_path):
    with pytest.raises(DataError, match="folder not found"):
        read_dataset(tmp_path)
    root = make_root(tmp_path / "data")
    for clip_id in IDS:
        np.save(root / "motions" / f"{clip_id}.npy", np.zeros((1, 384)))
    with pytest.raises(DataError, match=r"no valid clips \(4 skipped\)"):
        read_dataset(root, skip_bad=True)


def test_write_clip_refuses_bad_data(tmp_path):
    with pytest.raises(DataError, match="384"):
        write_clip(tmp_path, "x", np.zeros((4, 10)), ["a caption"])
    with pytest.raises(DataError, match="at most 3"):
        write_clip(tmp_path, "x", np.zeros((4, 384)), ["a", "b", "c", "d"])
    with pytest.raises(DataError, match="several lines"):
        write_clip(tmp_path, "x", np.zeros((4, 384)), ["a\nb"])


def groups_of(n_groups: int) -> list[SimpleNamespace]:
    return [SimpleNamespace(query_id=str(q), caption=f"query {q}", candidates=IDS[::-1] if q % 2 else IDS,
                            correct=1 + q % 4) for q in range(1, n_groups + 1)]


def test_query_batches_round_trip_with_hard_links(tmp_path):
    root = make_root(tmp_path / "data")
    groups = groups_of(11)
    sources = {clip_id: root / "motions" / f"{clip_id}.npy" for clip_id in IDS}
    write_query_batches(tmp_path / "queries", groups, sources)
    write_gt(tmp_path / "queries" / "gt.csv", groups)
    batches = read_query_batches(tmp_path / "queries")
    assert [b.query_id for b in batches] == [str(q) for q in range(1, 12)]  # 10 after 9
    assert batches[0].text == "query 1" and len(batches[0].motion_paths) == 4
    assert batches[0].motion_paths[0].name == "motion_1.npy"
    assert os.path.samefile(batches[0].motion_paths[0], sources["00003"])
    assert read_gt(tmp_path / "queries" / "gt.csv") == {g.query_id: g.correct for g in groups}


def test_group_clips_round_trip(tmp_path):
    groups = groups_of(11)
    write_group_clips(tmp_path, groups)
    assert read_group_clips(tmp_path) == {g.query_id: list(g.candidates) for g in groups}


@pytest.mark.parametrize("content, problem", [
    ("query_id,clip_id\n1,00000\n", "header must be query_id,candidate,clip_id"),
    ("query_id,candidate,clip_id\n1,one,00000\n", "line 2: candidate must be a number >= 1, got 'one'"),
    ("query_id,candidate,clip_id\n1,²,00000\n", "line 2: candidate must be a number >= 1, got '²'"),
    ("query_id,candidate,clip_id\n1,1,../00000\n", "line 2: clip_id '../00000' is a path; ids are plain file names"),
    ("query_id,candidate,clip_id\n1,1,00000\n1,3,00001\n", "query '1': candidates are not numbered 1..2"),
])
def test_bad_group_clips_name_the_file_and_the_problem(tmp_path, content, problem):
    (tmp_path / "groups.csv").write_text(content)
    with pytest.raises(DataError, match=problem) as err:
        read_group_clips(tmp_path)
    assert err.value.path == str(tmp_path / "groups.csv")


def test_query_batches_bad_layouts(tmp_path):
    root = make_root(tmp_path / "data")
    write_query_batches(tmp_path / "q", groups_of(2), {i: root / "motions" / f"{i}.npy" for i in IDS})
    (tmp_path / "q" / "2" / "motion_3.npy").unlink()
    with pytest.raises(DataError, match="missing motion_3.npy") as err:
        read_query_batches(tmp_path / "q")
    assert err.value.path == str(tmp_path / "q" / "2")
    (tmp_path / "q" / "1" / "text.txt").write_text("one\ntwo\n")
    with pytest.raises(DataError, match="one query caption"):
        read_query_batches(tmp_path / "q")
    with pytest.raises(DataError, match="not found"):
        read_query_batches(tmp_path / "absent")


def test_candidate_files_are_exactly_motion_1_to_n(tmp_path):
    """A stray or zero-padded candidate name is an error naming it: motion_05.npy beside
    motion_1..4.npy would be counted twice and shift every candidate after it."""
    root = make_root(tmp_path / "data")
    write_query_batches(tmp_path / "q", groups_of(2), {i: root / "motions" / f"{i}.npy" for i in IDS})
    group = tmp_path / "q" / "2"
    (group / ".DS_Store").write_text("")  # hidden files are left alone
    assert [len(batch.motion_paths) for batch in read_query_batches(tmp_path / "q")] == [4, 4]
    expected = ("unexpected file: a query folder holds only text.txt and motion_1.npy .. motion_<N>.npy "
                "(numbers without leading zeros)")
    for stray in ("motion_02.npy", "motion_0.npy", "motion_5.NPY", "notes.txt", "motion_٣.npy"):
        os.link(group / "motion_1.npy", group / stray)
        with pytest.raises(DataError) as err:
            read_query_batches(tmp_path / "q")
        assert (err.value.path, err.value.problem) == (str(group / stray), expected)
        (group / stray).unlink()
    for number in range(1, 5):  # a group named only with zero padding names its first file
        (group / f"motion_{number}.npy").rename(group / f"motion_{number:02d}.npy")
    with pytest.raises(DataError) as err:
        read_query_batches(tmp_path / "q")
    assert (err.value.path, err.value.problem) == (str(group / "motion_01.npy"), expected)


def test_query_folders_in_numeric_order_by_ascii_digits(tmp_path):
    root = make_root(tmp_path / "data")
    groups = groups_of(2) + [SimpleNamespace(query_id="²", caption="query", candidates=IDS, correct=1)]
    write_query_batches(tmp_path / "q", groups, {i: root / "motions" / f"{i}.npy" for i in IDS})
    assert [batch.query_id for batch in read_query_batches(tmp_path / "q")] == ["1", "2", "²"]


def test_ids_are_plain_file_names(tmp_path):
    """An id that is a path is an error in train.txt (even with skip_bad) and val.txt: val.txt
    listing ../motions/00002 would otherwise leave that clip in training."""
    root = make_root(tmp_path / "data")
    (root / "val.txt").write_text("00001\n../motions/00002\n")
    with pytest.raises(DataError) as err:
        read_val_ids(root, IDS)
    assert (err.value.path, err.value.problem) == (
        str(root / "val.txt"), "id '../motions/00002' (line 2) is a path; ids are plain file names")
    (root / "train.txt").write_text("00000\n00001\nmotions/../00002\n")
    for skip_bad in (False, True):
        with pytest.raises(DataError, match=r"train.txt: id 'motions/../00002' \(line 3\) is a path"):
            read_dataset(root, skip_bad=skip_bad)
    for bad in ("..", "a\\b"):
        (root / "train.txt").write_text(f"00000\n{bad}\n")
        with pytest.raises(DataError, match=r"\(line 2\) is a path"):
            read_dataset(root)


def test_val_ids_must_be_in_train_list(tmp_path):
    """A val.txt id whose files exist but that train.txt leaves out is an error, not dropped;
    one that read_dataset skipped as bad is left out."""
    root = make_root(tmp_path / "data")
    write_id_list(root, IDS[:3])
    write_id_list(root, ["00001", "00003"], "val.txt")
    with pytest.raises(DataError) as err:
        read_val_ids(root, read_dataset(root).ids)
    assert (err.value.path, err.value.problem) == (
        str(root / "val.txt"), "id '00003' (line 2) is not in the dataset (not listed in train.txt)")
    write_id_list(root, IDS)
    np.save(root / "motions" / "00003.npy", np.zeros((1, 384)))
    assert read_val_ids(root, read_dataset(root, skip_bad=True).ids) == ["00001"]
    (root / "train.txt").unlink()
    assert read_val_ids(root, read_dataset(root, skip_bad=True).ids) == ["00001"]


def test_preprocess_refuses_a_val_id_that_is_a_path(tmp_path):
    ids = [f"{i:05d}" for i in range(MIN_CLIPS)]
    root = make_root(tmp_path / "raw", ids)
    (root / "val.txt").write_text("00005\n../motions/00002\n")
    failed = run_preprocess(tmp_path, root, skip_bad=True)
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert failed.stderr.splitlines() == [
        f"error: {root / 'val.txt'}: id '../motions/00002' (line 2) is a path; ids are plain file names"]
    assert not (tmp_path / "data").exists() or list((tmp_path / "data").iterdir()) == []


def test_optional_source_files(tmp_path):
    root = make_root(tmp_path / "data")
    write_dataset_info(root, {"source": "test", "fps": 30, "up_axis": "z"})
    write_metadata(root, {clip: {"labels": ["walk"], "signature": clip} for clip in IDS})
    write_id_list(root, ["00003", "00001"], "val.txt")
    dataset = read_dataset(root)
    assert (dataset.fps, dataset.up_axis) == (30, "z")
    assert read_metadata(root, IDS)["00002"] == {"labels": ["walk"], "signature": "00002"}
    assert read_val_ids(root, dataset.ids) == ["00003", "00001"]
    write_id_list(root, ["00003", "nope"], "val.txt")
    with pytest.raises(DataError, match="'nope' \\(line 2\\) is not in the dataset"):
        read_val_ids(root, dataset.ids)
    write_metadata(root, {"00000": {"labels": ["walk"], "signature": "x"}})
    with pytest.raises(DataError, match="no entry for clip '00001'"):
        read_metadata(root, IDS)
    write_dataset_info(root, {"fps": 30, "up_axis": "x"})
    with pytest.raises(DataError, match="up_axis must be one of y, z"):
        read_dataset(root)
    for written, read in (("NaN", "nan"), ("Infinity", "inf")):  # Python's JSON reader takes these
        (root / "dataset.json").write_text(f'{{"fps": {written}}}')
        with pytest.raises(DataError, match=f"dataset.json: fps must be a positive number, got {read}$"):
            read_dataset(root)


def test_test_set_round_trip_and_answer_range(tmp_path):
    root = make_root(tmp_path / "data")
    dataset = read_dataset(root)
    groups = [QueryGroup("1", "00000", "a caption", ["00001", "00000", "00002"], 2),
              QueryGroup("2", "00003", "b caption", ["00003", "00001"], 1)]
    write_test_set(root, groups, {clip: dataset.motion_path(clip) for clip in IDS})
    queries, gt_path = find_test_set(root)
    batches, gt = read_scored_queries(queries, gt_path)
    assert gt == {"1": 2, "2": 1} and [len(b.motion_paths) for b in batches] == [3, 2]
    gt_path.write_text("query_id,answer\n1,2\n2,3\n")
    with pytest.raises(DataError, match="line 3: answer 3 for query '2', which has 2 candidates"):
        read_scored_queries(queries, gt_path)
    gt_path.write_text("query_id,correct_candidate\n1,2\n")
    with pytest.raises(DataError, match="query ids differ"):
        read_scored_queries(queries, gt_path)
    (gt_path).unlink()
    with pytest.raises(DataError, match="a test set needs both"):
        find_test_set(root)


@pytest.mark.parametrize("header", ["correct", "correct_candidate", "answer", "gt"])
def test_gt_answer_column_names(tmp_path, header):
    path = tmp_path / "gt.csv"
    path.write_text(f"query_id,{header}\n1,2\n")
    assert read_gt(path) == {"1": 2}


@pytest.mark.parametrize("content, expected", [
    ("query,correct\n1,2\n", "header"),
    ("query_id,rank\n1,2\n", "header"),
    ("query_id,correct\n1,2\n1,3\n", "duplicate query_id '1'"),
    ("query_id,correct\n1,0\n", "candidate number"),
    ("query_id,correct\n1,two\n", "candidate number"),
    ("query_id,correct\n1,²\n", "line 2: correct must be a candidate number >= 1, got '²'"),
    ("query_id,correct\n1,٣\n", "line 2: correct must be a candidate number >= 1, got '٣'"),
    ("query_id,correct\n1,３\n", "line 2: correct must be a candidate number >= 1, got '３'"),
    ("query_id,correct\n../1,1\n", "line 2: query_id '../1' is a path; ids are plain file names"),
    ("query_id,correct\n", "no rows"),
])
def test_bad_gt(tmp_path, content, expected):
    path = tmp_path / "gt.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=expected) as err:
        read_gt(path)
    assert err.value.path == str(path)


def test_preprocess_needs_a_minimum_of_clips(tmp_path):
    root = make_root(tmp_path / "raw", [f"{i:05d}" for i in range(MIN_CLIPS - 1)])
    failed = run_preprocess(tmp_path, root, skip_bad=False)
    assert failed.returncode == 1
    assert failed.stderr.splitlines() == [
        f"error: {root}: {MIN_CLIPS - 1} valid clips; the pipeline needs at least {MIN_CLIPS}"]


def test_preprocess_keeps_the_source_val_split(tmp_path):
    ids = [f"{i:05d}" for i in range(MIN_CLIPS)]
    root = make_root(tmp_path / "raw", ids)
    write_id_list(root, ids[5:8], "val.txt")
    assert run_preprocess(tmp_path, root, skip_bad=False).returncode == 0
    prepared = tmp_path / "data" / "prepared"
    assert MotionStore.open(prepared / "val").ids == ids[5:8]
    assert MotionStore.open(prepared / "train").ids == ids[:5] + ids[8:]
    assert yaml.safe_load((prepared / "report.json").read_text())["val_split"] == "val.txt"


def run_preprocess(workdir: Path, raw_root: Path, skip_bad: bool) -> subprocess.CompletedProcess:
    params = {"preprocess": {"raw_root": str(raw_root), "out": "data/prepared", "val_fraction": 0.25,
                             "seed": 0, "downsample": 1, "skip_bad": skip_bad}}
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    return subprocess.run([sys.executable, str(REPO / "src" / "preprocess.py")], cwd=workdir,
                          capture_output=True, text=True, timeout=120)


def test_preprocess_cli_fails_cleanly_or_skips(tmp_path):
    root = make_root(tmp_path / "raw", [f"{i:05d}" for i in range(MIN_CLIPS + 1)])
    np.save(root / "motions" / "00002.npy", np.zeros((9, 100), np.float32))
    failed = run_preprocess(tmp_path, root, skip_bad=False)
    assert failed.returncode == 1
    assert failed.stderr.splitlines() == [
        f"error: {root / 'motions' / '00002.npy'}: expected 384 features per frame, got shape (9, 100)"]
    assert not (tmp_path / "data").exists() or list((tmp_path / "data").iterdir()) == []

    skipped = run_preprocess(tmp_path, root, skip_bad=True)
    assert skipped.returncode == 0, skipped.stderr
    report = yaml.safe_load((tmp_path / "data" / "prepared" / "report.json").read_text())
    assert report["skipped"] == [{"path": str(root / "motions" / "00002.npy"),
                                  "reason": "expected 384 features per frame, got shape (9, 100)"}]
    assert sum(report["clips"].values()) == MIN_CLIPS


def test_wordings_round_trip_and_errors(tmp_path):
    root = make_root(tmp_path / "data")
    assert read_clip_wordings(root, IDS) == {}
    write_clip_wordings(root, {"novel": {clip: [f"other words {clip}"] for clip in IDS}})
    assert read_clip_wordings(root, IDS)["novel"]["00002"] == ["other words 00002"]
    write_clip_wordings(root, {"novel": {"00000": ["x"]}})
    with pytest.raises(DataError, match="wording 'novel': no captions for clip '00001'"):
        read_clip_wordings(root, IDS)
    write_query_wordings(tmp_path, {"novel": {"1": "a", "2": "b"}})
    assert read_query_wordings(tmp_path, ["1", "2"]) == {"novel": {"1": "a", "2": "b"}}
    with pytest.raises(DataError, match="does not cover the queries exactly"):
        read_query_wordings(tmp_path, ["1", "2", "3"])
