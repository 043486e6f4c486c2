"""Importers: generated clips written out as InterHuman, HumanML3D and BVH files (by the
tests themselves, in each format's own layout) come back equal through import_data.py;
bad input stops with one line naming the file and leaves no output."""
from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import import_data
from textmotion import skeleton as sk
from textmotion.errors import run_cli
from textmotion.layout import (read_clip_wordings, read_dataset, read_metadata, read_paraphrases, read_query_wordings,
                               read_scored_queries, read_val_ids)
from textmotion.sources.bvh import RIGS
from textmotion.sources.common import Clip, QueryGrouping, absent_person, resample, same_caption_clips, write_source
from textmotion.sources.synthetic.motion import synthesize
from textmotion.sources.synthetic.spec import sample_spec

POSITIONS = slice(0, sk.N_JOINTS * 3)
Y_TO_Z_UP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # (x, y, z) -> (x, -z, y)


def generated(index: int, fps: int = 20) -> np.ndarray:
    rng = np.random.default_rng([7, index])
    return synthesize(sample_spec(rng), rng, fps)


def z_up(motion: np.ndarray) -> np.ndarray:
    """The motion in a z-up world: positions turned, local rotations unchanged."""
    out = motion.copy()
    for start in (0, sk.FEATURES_PER_PERSON):
        block = out[:, start:start + sk.N_JOINTS * 3].reshape(len(out), sk.N_JOINTS, 3)
        out[:, start:start + sk.N_JOINTS * 3] = (block @ Y_TO_Z_UP.T).reshape(len(out), -1)
    return out


def assert_same_motion(imported: np.ndarray, original: np.ndarray) -> None:
    """Equal within 1e-4 m on positions and 1e-4 on 6D values, for both persons."""
    assert imported.shape == original.shape
    for start in (0, sk.FEATURES_PER_PERSON):
        positions = slice(start, start + sk.N_JOINTS * 3)
        rot6d = slice(start + sk.N_JOINTS * 3, start + sk.FEATURES_PER_PERSON)
        np.testing.assert_allclose(imported[:, positions], original[:, positions], atol=1e-4, rtol=0)
        np.testing.assert_allclose(imported[:, rot6d], original[:, rot6d], atol=1e-4, rtol=0)


def run(argv: list[str]) -> None:
    import_data.main([str(arg) for arg in argv])


def fails(argv: list[str], capsys) -> str:
    """The one error line of a run that must fail with exit status 1: on a line of its own
    (a progress bar before it ends its line first), the last thing on stderr."""
    with pytest.raises(SystemExit) as exit_info:
        run_cli(lambda: import_data.main([str(arg) for arg in argv]))
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert err.endswith("\n") and "Traceback" not in err
    lines = err.split("\n")[:-1]  # progress bars (\r-refreshed lines), then the error
    errors = [line for line in lines if "error" in line]
    assert len(errors) == 1 and lines[-1].startswith("error: ")
    return lines[-1]


# --- BVH, written from the skeleton -------------------------------------------------------

def write_bvh(path: Path, person: np.ndarray, fps: float, names: dict[str, str], metres_per_unit: float = 1.0,
              world: np.ndarray = np.eye(3), rest_turn: dict[str, np.ndarray] | None = None) -> None:
    """One person (T, 192) as a BVH file: joints named by `names` (project joint -> rig name),
    an unrotated zero-length joint before each thigh and an unrotated mid-neck joint (as CMU
    rigs have), lengths in file units, the world turned by `world` (y-up -> the file's axes),
    and the rest pose of joint j turned by rest_turn[j] (arms out, as in a T-pose)."""
    positions, local = sk.unpack_person(person.astype(np.float64))
    turn = np.stack([(rest_turn or {}).get(name, np.eye(3)) for name in sk.JOINT_NAMES])
    hips_and_spine = [1, 2, 3]
    root = np.stack([Rotation.align_vectors(frame[hips_and_spine] - frame[:1],
                                            sk.rest_offsets(1.70)[hips_and_spine])[0].as_matrix()
                     for frame in positions])
    global_rot = [root]
    for j in range(1, sk.N_JOINTS):
        global_rot.append(global_rot[sk.PARENTS[j]] @ local[:, j - 1])
    # the rig: rest offsets r_j = C_parent o_j, local rotations C_parent L_j C_j^T, root G_0 C_0^T
    offsets = [np.zeros(3)] + [world @ turn[sk.PARENTS[j]] @ global_rot[sk.PARENTS[j]][0].T
                               @ (positions[0, j] - positions[0, sk.PARENTS[j]]) for j in range(1, sk.N_JOINTS)]
    rig_local = [world @ root @ turn[0].T @ world.T] + [
        world @ turn[sk.PARENTS[j]] @ local[:, j - 1] @ turn[j].T @ world.T for j in range(1, sk.N_JOINTS)]
    lines, columns = ["HIERARCHY"], []

    def joint(name, offset, rotation, depth, body) -> None:
        pad, off = "  " * depth, offset / metres_per_unit
        lines.extend([f"{pad}{'JOINT' if columns else 'ROOT'} {name}", pad + "{",
                      f"{pad}  OFFSET {off[0]:.8f} {off[1]:.8f} {off[2]:.8f}",
                      f"{pad}  CHANNELS " + ("3 " if columns else "6 Xposition Yposition Zposition ")
                      + "Zrotation Yrotation Xrotation"])
        columns.append(Rotation.from_matrix(rotation).as_euler("ZYX", degrees=True))
        body(depth + 1)
        lines.append(pad + "}")

    def add(j: int, depth: int) -> None:
        kids = [child for child in range(sk.N_JOINTS) if sk.PARENTS[child] == j]
        name, identity = names[sk.JOINT_NAMES[j]], np.broadcast_to(np.eye(3), rig_local[j].shape)

        def body(d: int) -> None:
            if not kids:
                lines.extend(["  " * d + "End Site", "  " * d + "{", "  " * d + "  OFFSET 0 0.05 0", "  " * d + "}"])
            for kid in kids:
                add(kid, d)

        if sk.JOINT_NAMES[j] in ("left_hip", "right_hip"):
            joint(name + "Joint", np.zeros(3), identity, depth,
                  lambda d: joint(name, offsets[j], rig_local[j], d, body))
        elif sk.JOINT_NAMES[j] == "head":
            joint("Neck1", offsets[j] / 2, identity, depth,
                  lambda d: joint(name, offsets[j] / 2, rig_local[j], d, body))
        else:
            joint(name, offsets[j], rig_local[j], depth, body)

    add(0, 0)
    frames = np.concatenate([positions[:, 0] @ world.T / metres_per_unit] + columns, axis=1)
    lines += ["MOTION", f"Frames: {len(frames)}", f"Frame Time: {1.0 / fps:.10f}"]
    lines += [" ".join(f"{value:.8f}" for value in frame) for frame in frames]
    path.write_text("\n".join(lines) + "\n")


def test_bvh_pair_on_a_cmu_rig_comes_back_equal(tmp_path):
    motion = generated(0)
    source = tmp_path / "bvh"
    source.mkdir()
    person_a, person_b = sk.split_persons(motion)
    cmu_units = 0.0254 / 0.45
    write_bvh(source / "take_a.bvh", person_a, 20, RIGS["cmu"], metres_per_unit=cmu_units)
    write_bvh(source / "take_b.bvh", person_b, 20, RIGS["cmu"], metres_per_unit=cmu_units)
    (tmp_path / "pairs.csv").write_text("file_a,file_b\ntake_a.bvh,take_b\n")
    (tmp_path / "captions.csv").write_text("file,text\ntake_a,two people meet\ntake_a.bvh,they greet\n")
    out = tmp_path / "out"
    run(["bvh", source, "--out", out, "--pairs", tmp_path / "pairs.csv", "--captions", tmp_path / "captions.csv"])
    dataset = read_dataset(out)
    assert dataset.ids == ["take_a+take_b"]
    assert dataset.captions("take_a+take_b") == ["two people meet", "they greet"]
    assert dataset.fps == 20 and dataset.up_axis == "y"
    assert dataset.info["statistics"]["units"] == {"cmu": 2}
    assert dataset.info["statistics"]["fk_residual_m"]["max"] < 1e-5
    assert_same_motion(dataset.motion("take_a+take_b"), motion)


def turn_z(degrees: float) -> np.ndarray:
    return Rotation.from_euler("z", degrees, degrees=True).as_matrix()


def test_bvh_t_pose_rig_z_up_in_cm_with_a_joint_map_and_resampling(tmp_path):
    """A rig whose rest pose is a T-pose gives the same 6D values as the template's rest pose
    (arms down); a z-up file in centimetres comes out y-up in metres; --fps 10 keeps every
    other frame of a 20 fps file; a lone person gets the absent person B."""
    motion = generated(1)
    source = tmp_path / "bvh"
    source.mkdir()
    arms_out = {**{name: turn_z(90) for name in ("left_shoulder", "left_elbow", "left_wrist")},
                **{name: turn_z(-90) for name in ("right_shoulder", "right_elbow", "right_wrist")}}
    own_names = {name: name.title().replace("_", "") for name in sk.JOINT_NAMES}
    write_bvh(source / "WalkAndWave_02.bvh", sk.split_persons(motion)[0], 20, own_names, metres_per_unit=0.01,
              world=Y_TO_Z_UP, rest_turn=arms_out)
    joint_map = tmp_path / "map.json"
    joint_map.write_text(json.dumps(own_names))
    out = tmp_path / "out"
    run(["bvh", source, "--out", out, "--joint-map", joint_map, "--fps", 10])
    dataset = read_dataset(out)
    assert dataset.captions("WalkAndWave_02") == ["walk and wave"]
    assert dataset.fps == 10 and dataset.info["statistics"]["units"] == {"cm": 1}
    assert dataset.info["statistics"]["fk_residual_m"]["max"] < 1e-5
    expected = np.concatenate([sk.split_persons(motion)[0][::2], absent_person(len(motion[::2]))], axis=1)
    assert_same_motion(dataset.motion("WalkAndWave_02"), expected)


def test_bvh_bad_inputs_stop_with_one_line_naming_the_file(tmp_path, capsys):
    source = tmp_path / "bvh"
    source.mkdir()
    write_bvh(source / "good.bvh", sk.split_persons(generated(2))[0], 20, RIGS["cmu"])
    out = tmp_path / "out"
    text = (source / "good.bvh").read_text()
    (source / "cut.bvh").write_text(text[:len(text) // 2])
    assert "cut.bvh: not a readable BVH file" in fails(["bvh", source, "--out", out], capsys)
    (source / "cut.bvh").unlink()

    joint_map = tmp_path / "map.json"
    joint_map.write_text(json.dumps({**RIGS["cmu"], "head": "Skull"}))
    assert "good.bvh: the joint map names 'Skull' (for head)" in fails(
        ["bvh", source, "--out", out, "--joint-map", joint_map], capsys)
    joint_map.write_text(json.dumps({name: rig for name, rig in RIGS["cmu"].items() if name != "neck"}))
    assert "map.json: expected the 22 joints" in fails(["bvh", source, "--out", out, "--joint-map", joint_map], capsys)
    swapped = {**RIGS["cmu"], "left_knee": "LeftFoot", "left_ankle": "LeftLeg"}
    joint_map.write_text(json.dumps(swapped))
    assert "LeftLeg (left_ankle) is not below LeftFoot (left_knee)" in fails(
        ["bvh", source, "--out", out, "--joint-map", joint_map], capsys)

    captions = tmp_path / "captions.csv"
    captions.write_text("file,text\nother.bvh,a person walks\n")
    assert "captions.csv: line 2: 'other.bvh' is not a BVH file" in fails(
        ["bvh", source, "--out", out, "--captions", captions], capsys)
    captions.write_text("file,text\n" + "".join(f"good,caption {i}\n" for i in range(4)))
    assert "line 5: more than 3 captions" in fails(["bvh", source, "--out", out, "--captions", captions], capsys)

    text = (source / "good.bvh").read_text()
    for rig_name, own in RIGS["cmu"].items():
        text = text.replace(f" {own}\n", f" {own}X\n")
    (source / "good.bvh").write_text(text)
    assert "good.bvh: its joints match no built-in rig" in fails(["bvh", source, "--out", out], capsys)
    (source / "01_02.bvh").write_text(text)
    joint_map.write_text(json.dumps({name: rig + "X" for name, rig in RIGS["cmu"].items()}))
    assert "01_02.bvh: no caption" in fails(["bvh", source, "--out", out, "--joint-map", joint_map], capsys)
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def set_channel(path: Path, frame: int, column: int, value: str) -> None:
    """Overwrite one value of a BVH file's MOTION section (frames counted from 0)."""
    lines = path.read_text().split("\n")
    row = lines.index("MOTION") + 3 + frame
    values = lines[row].split()
    values[column] = value
    lines[row] = " ".join(values)
    path.write_text("\n".join(lines))


def test_bvh_bad_values_name_the_bvh_file_never_a_temporary_output(tmp_path, capsys):
    """The error names take_1.bvh and the file's own frame, on a line after the progress bar."""
    source = tmp_path / "bvh"
    source.mkdir()
    write_bvh(source / "take_1.bvh", sk.split_persons(generated(2))[0], 20, RIGS["cmu"])
    text = (source / "take_1.bvh").read_text()
    out = tmp_path / "out"
    set_channel(source / "take_1.bvh", 2, 4, "nan")
    assert fails(["bvh", source, "--out", out], capsys) == (
        f"error: {source / 'take_1.bvh'}: contains NaN or Inf values (first at frame 2)")
    (source / "take_1.bvh").write_text(text.replace("Frame Time: 0.0500000000", "Frame Time: inf"))
    assert fails(["bvh", source, "--out", out], capsys) == (
        f"error: {source / 'take_1.bvh'}: Frame Time must be a finite number of seconds > 0, got inf")
    assert not out.exists() and not list(tmp_path.glob(".out*"))


@pytest.mark.parametrize("option, value, problem", [
    ("--seed", "-1", "must be a whole number from 0 to 4294967295"),
    ("--seed", "²", "must be a whole number from 0 to 4294967295"),
    ("--fps", "nan", "must be a number in (0, 1000]"),
    ("--fps", "inf", "must be a number in (0, 1000]"),
    ("--fps", "0", "must be a number in (0, 1000]"),
    ("--fps", "1e9", "must be a number in (0, 1000]"),
    ("--fps", "٣٠", "must be a number in (0, 1000]"),
    ("--n-candidates", "1", "must be a whole number >= 2"),
    ("--n-candidates", "x", "must be a whole number >= 2"),
])
def test_bad_numbers_on_the_command_line_are_one_line_naming_the_option(tmp_path, capsys, option, value, problem):
    source = tmp_path / "bvh"
    source.mkdir()
    write_bvh(source / "good.bvh", sk.split_persons(generated(2))[0], 20, RIGS["cmu"])
    out = tmp_path / "out"
    out.mkdir()
    (out / "previous.txt").write_text("an earlier import")
    assert fails(["bvh", source, "--out", out, "--force", option, value], capsys) == (
        f"error: import_data.py bvh: argument {option}: {problem}, got {value!r}")
    assert [path.name for path in out.iterdir()] == ["previous.txt"]
    assert (out / "previous.txt").read_text() == "an earlier import"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["bvh", "out"]


# --- InterHuman, written in its release layout ---------------------------------------------

def write_interhuman(root: Path, motions: dict[str, np.ndarray], splits: dict[str, list[str]],
                     ignored: list[str] = ()) -> None:
    """Per person (T, 492): positions at 0:66, 6D rotations at 186:312, noise elsewhere (z-up);
    three captions per clip; the split lists at the root."""
    rng = np.random.default_rng(0)
    for clip_id, motion in motions.items():
        for person, features in zip(("person1", "person2"), sk.split_persons(z_up(motion))):
            array = rng.normal(size=(len(features), 492)).astype(np.float32)
            array[:, :66], array[:, 186:312] = features[:, :66], features[:, 66:]
            (root / "motions_processed" / person).mkdir(parents=True, exist_ok=True)
            np.save(root / "motions_processed" / person / f"{clip_id}.npy", array)
        (root / "annots").mkdir(exist_ok=True)
        (root / "annots" / f"{clip_id}.txt").write_text("".join(f"clip {clip_id} caption {k}\n" for k in range(3)))
    for split, ids in {**splits, "ignore_list": list(ignored)}.items():
        (root / f"{split}.txt").write_text("".join(f"{clip_id}\n" for clip_id in ids))


def test_interhuman_comes_back_as_stored_with_its_splits(tmp_path):
    motions = {str(i): generated(10 + i, fps=30) for i in range(8)}
    splits = {"train": ["0", "1", "2", "7"], "val": ["3"], "test": ["4", "5", "6"]}
    write_interhuman(tmp_path / "ih", motions, splits, ignored=["7"])
    out = tmp_path / "out"
    run(["interhuman", tmp_path / "ih", "--out", out])
    dataset = read_dataset(out)
    assert dataset.ids == ["0", "1", "2", "3"] and read_val_ids(out, dataset.ids) == ["3"]
    assert dataset.fps == 30 and dataset.up_axis == "z"
    assert dataset.captions("1") == [f"clip 1 caption {k}" for k in range(3)]
    for clip_id in dataset.ids:
        assert_same_motion(dataset.motion(clip_id), z_up(motions[clip_id]))
    batches, gt = read_scored_queries(out / "test_queries", out / "test_gt.csv")
    assert len(batches) == 9 and all(len(batch.motion_paths) == 3 for batch in batches)  # 3 captions x 3 clips
    for batch in batches:
        clip_id = batch.text.split()[1]
        answer = np.load(batch.motion_paths[gt[batch.query_id] - 1])
        assert_same_motion(answer, z_up(motions[clip_id]))

    run(["interhuman", tmp_path / "ih", "--out", out, "--fps", 15, "--force"])
    assert_same_motion(read_dataset(out).motion("0"), z_up(motions["0"])[::2])


def test_interhuman_bad_inputs(tmp_path, capsys):
    write_interhuman(tmp_path / "ih", {"0": generated(20, 30), "1": generated(21, 30)},
                     {"train": ["0", "1"], "val": [], "test": []})
    out = tmp_path / "out"
    person2 = tmp_path / "ih" / "motions_processed" / "person2" / "1.npy"
    array = np.load(person2)
    np.save(person2, array[:, :300])
    assert "person2/1.npy: expected InterHuman's processed (T, 492) array" in fails(
        ["interhuman", tmp_path / "ih", "--out", out], capsys)
    person2.unlink()
    assert "person2/1.npy: file not found" in fails(["interhuman", tmp_path / "ih", "--out", out], capsys)
    (tmp_path / "ih" / "train.txt").write_text("0\n1\n9\n")
    assert "train.txt: id '9' has no motions_processed/person1/9.npy" in fails(
        ["interhuman", tmp_path / "ih", "--out", out], capsys)
    assert not out.exists()


def test_interhuman_errors_name_the_source_file(tmp_path, capsys):
    write_interhuman(tmp_path / "ih", {"0": generated(22, 30), "1": generated(23, 30)},
                     {"train": ["0", "1"], "val": [], "test": []})
    out = tmp_path / "out"
    person2 = tmp_path / "ih" / "motions_processed" / "person2" / "1.npy"
    np.save(person2, np.load(person2)[:1])
    assert fails(["interhuman", tmp_path / "ih", "--out", out, "--fps", 15], capsys) == (
        f"error: {person2}: 1 frame(s); at least 2 needed")
    annots = tmp_path / "ih" / "annots" / "0.txt"
    annots.write_text("two people meet\rand greet\n")  # a lone \r: not a line end, nor part of a caption
    assert fails(["interhuman", tmp_path / "ih", "--out", out], capsys) == (
        f"error: {annots}: caption 1 spans several lines")
    (tmp_path / "ih" / "val.txt").write_text("../motions_processed/person1/0\n")
    assert fails(["interhuman", tmp_path / "ih", "--out", out], capsys) == (
        f"error: {tmp_path / 'ih' / 'val.txt'}: id '../motions_processed/person1/0' (line 1) is a path; "
        f"ids are plain file names")
    assert not out.exists() and not list(tmp_path.glob(".out*"))


# --- HumanML3D, written in its release layout ----------------------------------------------

def write_humanml3d(root: Path, persons: dict[str, np.ndarray], texts: dict[str, list[str]],
                    splits: dict[str, list[str]]) -> None:
    """new_joints (T, 22, 3), new_joint_vecs (T, 263) with the 6D rotations at 67:193 and
    noise elsewhere, texts as caption#tokens#start#end, split lists."""
    rng = np.random.default_rng(0)
    for folder in ("new_joints", "new_joint_vecs", "texts"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for clip_id, person in persons.items():
        np.save(root / "new_joints" / f"{clip_id}.npy", person[:, :66].reshape(len(person), 22, 3))
        vecs = rng.normal(size=(len(person), 263)).astype(np.float32)
        vecs[:, 67:193] = person[:, 66:]
        np.save(root / "new_joint_vecs" / f"{clip_id}.npy", vecs)
        (root / "texts" / f"{clip_id}.txt").write_text("".join(line + "\n" for line in texts[clip_id]))
    for split, ids in splits.items():
        (root / f"{split}.txt").write_text("".join(f"{clip_id}\n" for clip_id in ids))


def test_humanml3d_spans_mirrors_and_person_b(tmp_path):
    persons = {clip_id: sk.split_persons(generated(30 + i))[0]
               for i, clip_id in enumerate(["000001", "M000001", "000002", "000003", "M000003", "000004"])}
    texts = {clip_id: [f"a person moves {clip_id}#a/DET person/NOUN#0.0#0.0",
                       f"someone moves {clip_id}#someone/PRON#nan#nan"] for clip_id in persons}
    texts["000001"] += ["then waves#then/ADV wave/VERB#0.5#1.5", "waves a hand#wave/VERB#0.5#1.5"]
    texts["000002"] = ["only this part#part/NOUN#1.0#1.6"]
    splits = {"train": ["000001", "000002", "M000003"], "val": ["M000001"], "test": ["000003", "000004"]}
    write_humanml3d(tmp_path / "h3d", persons, texts, splits)
    out = tmp_path / "out"
    run(["humanml3d", tmp_path / "h3d", "--out", out])
    dataset = read_dataset(out)
    # M000001 follows 000001 into train, M000003 follows 000003 into test; 000002 is only its span
    assert dataset.ids == ["000001", "000001_10-30", "000002_20-32", "M000001"]
    assert read_val_ids(out, dataset.ids) is None
    assert dataset.fps == 20 and dataset.up_axis == "y"
    assert dataset.captions("000001_10-30") == ["then waves", "waves a hand"]
    assert dataset.captions("000001") == ["a person moves 000001", "someone moves 000001"]
    whole = np.concatenate([persons["000001"], absent_person(len(persons["000001"]))], axis=1)
    assert_same_motion(dataset.motion("000001"), whole)
    assert_same_motion(dataset.motion("000001_10-30"), whole[10:30])
    assert_same_motion(dataset.motion("000002_20-32"),
                       np.concatenate([persons["000002"][20:32], absent_person(12)], axis=1))
    batches, gt = read_scored_queries(out / "test_queries", out / "test_gt.csv")
    assert len(batches) == 6 and {len(batch.motion_paths) for batch in batches} == {3}
    run(["humanml3d", tmp_path / "h3d", "--out", tmp_path / "again"])  # deterministic: same bytes
    files = sorted(path.relative_to(out) for path in out.rglob("*") if path.is_file())
    assert files == sorted(path.relative_to(tmp_path / "again") for path in (tmp_path / "again").rglob("*")
                           if path.is_file())
    assert all((out / name).read_bytes() == (tmp_path / "again" / name).read_bytes() for name in files)


def test_humanml3d_bad_inputs(tmp_path, capsys):
    persons = {"000001": sk.split_persons(generated(40))[0], "000002": sk.split_persons(generated(41))[0]}
    texts = {clip_id: ["a person walks#a/DET#0.0#0.0"] for clip_id in persons}
    write_humanml3d(tmp_path / "h3d", persons, texts, {"train": list(persons), "val": [], "test": []})
    out = tmp_path / "out"
    (tmp_path / "h3d" / "texts" / "000002.txt").write_text("a person walks\n")
    assert "texts/000002.txt: line 1: expected caption#tokens#start#end" in fails(
        ["humanml3d", tmp_path / "h3d", "--out", out], capsys)
    (tmp_path / "h3d" / "texts" / "000002.txt").write_text("a person walks#a/DET#2.0#1.0\n")
    assert "line 1: span 2.0..1.0 s is not a time range" in fails(["humanml3d", tmp_path / "h3d", "--out", out], capsys)
    vecs = tmp_path / "h3d" / "new_joint_vecs" / "000001.npy"
    np.save(vecs, np.zeros((len(persons["000001"]), 251)))  # KIT-ML's width
    assert "new_joint_vecs/000001.npy: expected HumanML3D's (T, 263) features" in fails(
        ["humanml3d", tmp_path / "h3d", "--out", out], capsys)
    np.save(vecs, np.zeros((5, 263)))
    assert f"5 frames but new_joints/000001.npy has {len(persons['000001'])}" in fails(
        ["humanml3d", tmp_path / "h3d", "--out", out], capsys)
    assert not out.exists()


def test_humanml3d_spans_left_out_are_said_on_the_console(tmp_path, capsys):
    """A span under two frames at the output rate (past the end of its motion, or too short
    once resampled) is left out, counted in dataset.json and said on the console."""
    persons = {"000001": sk.split_persons(generated(42))[0], "000002": sk.split_persons(generated(43))[0]}
    texts = {"000001": ["a person walks#a/DET#0.0#0.0", "then stops#then/ADV#0.5#0.6"],  # frames 10-12
             "000002": ["a person jumps#a/DET#50.0#60.0"]}  # past the end of its 76 frames: its only span
    h3d = tmp_path / "h3d"
    write_humanml3d(h3d, persons, texts, {"train": list(persons), "val": [], "test": []})
    run(["humanml3d", h3d, "--out", tmp_path / "out"])
    dataset = read_dataset(tmp_path / "out")
    assert dataset.ids == ["000001", "000001_10-12"] and dataset.info["adjustments"]["spans_too_short"] == 1
    assert capsys.readouterr().out.splitlines()[0] == (
        f"left out 1 caption span(s) with fewer than 2 frames at 20 fps (too short, or past the end of "
        f"the motion); the first in {h3d / 'texts' / '000002.txt'}")
    run(["humanml3d", h3d, "--out", tmp_path / "slow", "--fps", 10])
    dataset = read_dataset(tmp_path / "slow")
    assert dataset.ids == ["000001"] and dataset.info["adjustments"]["spans_too_short"] == 2
    assert capsys.readouterr().out.splitlines()[0] == (
        f"left out 2 caption span(s) with fewer than 2 frames at 10 fps (too short, or past the end of "
        f"the motion); the first in {h3d / 'texts' / '000001.txt'}")


def test_humanml3d_errors_name_the_source_file(tmp_path, capsys):
    persons = {clip_id: sk.split_persons(generated(44 + i))[0] for i, clip_id in enumerate(["1", "2", "3"])}
    texts = {"1": ["a person walks#a/DET#0.0#0.0"], "2": ["a person runs#a/DET#0.0#0.0"],
             "3": ["a person runs#a/DET#0.0#0.0"]}
    h3d, out = tmp_path / "h3d", tmp_path / "out"
    write_humanml3d(h3d, persons, texts, {"train": ["1"], "val": [], "test": ["2", "3"]})
    assert fails(["humanml3d", h3d, "--out", out], capsys) == (
        f"error: {h3d}: test split: 2 clips: no query has another clip that differs from it in meaning")
    (h3d / "texts" / "3.txt").write_text("a person\rjumps#a/DET#0.0#0.0\n")
    assert fails(["humanml3d", h3d, "--out", out], capsys) == (
        f"error: {h3d / 'texts' / '3.txt'}: caption 1 spans several lines")
    huge = h3d / "new_joints" / "1.npy"
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (100_000_000, 22, 3)})
    huge.write_bytes(header.getvalue() + bytes(8 * 66))
    assert fails(["humanml3d", h3d, "--out", out], capsys) == (
        f"error: {huge}: not a readable .npy array (its header says shape (100000000, 22, 3) of float64, "
        f"52800000000 bytes; the file holds 528 bytes of data)")
    (h3d / "train.txt").write_text("../new_joints/1\n")
    assert fails(["humanml3d", h3d, "--out", out], capsys) == (
        f"error: {h3d / 'train.txt'}: id '../new_joints/1' (line 1) is a path; ids are plain file names")
    assert not out.exists() and not list(tmp_path.glob(".out*"))


def test_clips_with_the_same_caption_are_never_candidates_of_each_other():
    captions = {"a": ["A person  walks."], "b": ["a person walks."], "c": ["a person runs."]}
    assert same_caption_clips(["a", "b", "c"], captions) == {
        "A person  walks.": {"a", "b"}, "a person walks.": {"a", "b"}, "a person runs.": {"c"}}


def test_write_source_writes_what_clips_carry_and_makes_hard_groups_by_metadata(tmp_path):
    """Metadata, other wordings and paraphrases go to metadata.json, wordings.json and
    paraphrases.json (the test clips' wordings to test_queries/wordings.csv); test clips with
    metadata make hard groups: every other candidate shares the query clip's label (asked
    for all), none has its signature; the source's own files are written before the folder
    appears."""
    labels = {**{f"t{i}": "wave" for i in range(5)}, **{f"t{i}": "jump" for i in range(5, 10)},
              "a": "wave", "b": "jump", "v": "wave"}
    signatures = {clip: "same" if clip in ("t0", "t1") else clip for clip in labels}  # t0, t1 mean the same
    splits = {clip: "test" if clip.startswith("t") else "val" if clip == "v" else "train" for clip in labels}

    def clips():
        for index, clip_id in enumerate(labels):
            yield Clip(clip_id, np.random.default_rng(index).normal(size=(5 + index, 384)), [f"clip {clip_id} moves"],
                       splits[clip_id], Path(f"{clip_id}.npy"), Path(f"{clip_id}.txt"),
                       metadata={"labels": [labels[clip_id]], "signature": signatures[clip_id]},
                       wordings={"shout": [f"CLIP {clip_id.upper()} MOVES"]},
                       paraphrases=[f"clip {clip_id} goes"] if splits[clip_id] == "train" else [])

    out = tmp_path / "out"

    def write_own_files(root: Path) -> None:
        assert not out.exists()
        (root / "own.txt").write_text("the source's own\n")

    info = write_source(out, tmp_path, clips(), {"source": "test", "fps": 20, "up_axis": "y"},
                        QueryGrouping(n_candidates=4, seed=(0, 2), n_queries=8, hard_fraction=1.0), write_own_files)
    dataset = read_dataset(out)
    assert dataset.ids == ["a", "b", "v"] and read_val_ids(out, dataset.ids) == ["v"]
    assert read_metadata(out, dataset.ids) == {clip: {"labels": [labels[clip]], "signature": clip}
                                               for clip in dataset.ids}
    assert read_clip_wordings(out, dataset.ids) == {"shout": {clip: [f"CLIP {clip.upper()} MOVES"]
                                                              for clip in dataset.ids}}
    assert read_paraphrases(out, dataset.ids) == {"a": ["clip a goes"], "b": ["clip b goes"]}
    assert (out / "own.txt").read_text() == "the source's own\n"
    assert info == dataset.info and info["clips"] == {"train": 2, "val": 1, "test": 10}
    assert info["frames"] == {"total": sum(range(5, 18)), "min": 5, "max": 17}
    assert info["test_queries"]["metadata_known"] and info["test_queries"]["hard_negatives_min"] == 3

    batches, gt = read_scored_queries(out / "test_queries", out / "test_gt.csv")
    assert len(batches) == 8 and all(len(batch.motion_paths) == 4 for batch in batches)
    shouted = read_query_wordings(out / "test_queries", list(gt))
    assert shouted == {"shout": {batch.query_id: batch.text.upper() for batch in batches}}
    staged = {f"t{i}": np.random.default_rng(i).normal(size=(5 + i, 384)).astype(np.float32) for i in range(10)}
    for batch in batches:
        candidates = [next(clip for clip, motion in staged.items() if np.array_equal(np.load(path), motion))
                      for path in batch.motion_paths]
        query = candidates[gt[batch.query_id] - 1]
        assert batch.text == f"clip {query} moves"
        others = [clip for clip in candidates if clip != query]
        assert all(labels[clip] == labels[query] and signatures[clip] != signatures[query] for clip in others)
    files = [path for batch in batches for path in batch.motion_paths]  # each clip stored once, hard-linked
    assert len({os.stat(path).st_ino for path in files}) == len({path.read_bytes() for path in files})


def test_resample_keeps_the_rate_and_the_frames_on_the_new_grid():
    motion = generated(50)
    assert resample(motion, 20, 20) is motion
    halved = resample(motion, 20, 10)
    assert_same_motion(halved, motion[::2])
    doubled = resample(motion, 20, 40)
    assert len(doubled) == 2 * len(motion) - 1
    assert_same_motion(doubled[::2], motion)
    middle = sk.unpack_person(doubled[1:2, :sk.FEATURES_PER_PERSON])[1]
    np.testing.assert_allclose(np.linalg.det(middle), 1.0, atol=1e-5)  # slerped: still rotations
