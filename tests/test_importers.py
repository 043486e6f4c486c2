"""Importers: generated clips written out as InterHuman, HumanML3D and BVH files (by the
tests themselves, in each format's own layout) come back equal through import_data.py;
bad input stops with one line naming the file and leaves no output."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import import_data
from textmotion import skeleton as sk
from textmotion.errors import run_cli
from textmotion.layout import read_dataset, read_scored_queries, read_val_ids
from textmotion.sources.bvh import RIGS
from textmotion.sources.common import absent_person, resample
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
    """The one error line of a run that must fail with exit status 1."""
    with pytest.raises(SystemExit) as exit_info:
        run_cli(lambda: import_data.main([str(arg) for arg in argv]))
    assert exit_info.value.code == 1
    lines = capsys.readouterr().err.strip().splitlines()  # progress bars, then the error
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
