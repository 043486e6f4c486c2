"""The BVH source: any motion-capture BVH files as challenge clips, parsed by pybvh.

Per file: read with pybvh, resampled to `fps` (pybvh: root position interpolated, joint
rotations slerped), turned y-up (the world axis along which the mapped head sits above the
mapped pelvis, on average), scaled to metres, then cut down to the project's 22 joints
through a joint map (each project joint name -> the rig's joint name: CMU and Mixamo are
built in, any other rig comes as a JSON file).

Positions are the rig's own joint positions. Rotations are re-expressed on the 22-joint tree:
each kept joint's global rotation is the rig's global rotation of its mapped joint (which
folds in the rotations of the rig joints left out between two kept ones) times a constant
rest alignment that takes the project's template rest pose (skeleton.rest_offsets: arms
down, facing +z) onto the rig's rest pose, so that 6D values mean the same thing as in
generated data (identity = template rest pose). The local rotation of joint j is
G'_parent^T G'_j. Forward kinematics of these local rotations, with the rig's rest offsets
on the 22-joint tree, gives the stored positions exactly wherever the left-out rig joints
between two kept ones do not rotate; the largest deviation of each import is recorded in
dataset.json (`fk_residual_m`). The lowest foot joint of each clip (both persons together)
is put at skeleton.FOOT_CLEARANCE above the floor, as in generated data.

Captions come from a CSV (file,text; up to three rows per file) or else from the file name
("WalkingStraightForward01.bvh" -> "walking straight forward"). Two-person clips come from a
CSV of pairs (file_a,file_b), both files in one world frame; a pair takes the captions of
file_a, else of file_b, else file_a's name, and is cut to the shorter file. Other files are
single-person clips with the person-B policy (sources/common.py).
"""
from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Generator

import numpy as np
import pandas as pd
import pybvh
from pybvh.transforms import reorient_world_up
from scipy.spatial.transform import Rotation
from tqdm import tqdm

from textmotion import skeleton as sk
from textmotion.errors import DataError
from textmotion.io import is_one_line, read_csv_strings, read_json
from textmotion.layout import MAX_CAPTIONS, MIN_FRAMES, check_finite
from textmotion.sources.common import PERSON_B_POLICY, Clip, with_person_b
from textmotion.upright import dominant_axis

DEFAULT_FPS = 20
_LIMBS = {  # the joint names CMU and Mixamo rigs share
    "pelvis": "Hips", "left_hip": "LeftUpLeg", "right_hip": "RightUpLeg", "left_knee": "LeftLeg",
    "right_knee": "RightLeg", "left_ankle": "LeftFoot", "right_ankle": "RightFoot",
    "left_foot": "LeftToeBase", "right_foot": "RightToeBase", "neck": "Neck", "head": "Head",
    "left_collar": "LeftShoulder", "right_collar": "RightShoulder", "left_shoulder": "LeftArm",
    "right_shoulder": "RightArm", "left_elbow": "LeftForeArm", "right_elbow": "RightForeArm",
    "left_wrist": "LeftHand", "right_wrist": "RightHand",
}
RIGS = {  # tried in this order when no joint map is given
    # CMU mocap as BVH (the cgspeed conversion): Hips > LowerBack > Spine > Spine1 > Neck > Neck1 > Head
    "cmu": {**_LIMBS, "spine1": "LowerBack", "spine2": "Spine", "spine3": "Spine1"},
    # Mixamo (names also found with a "mixamorig:" prefix): Hips > Spine > Spine1 > Spine2 > Neck > Head
    "mixamo": {**_LIMBS, "spine1": "Spine", "spine2": "Spine1", "spine3": "Spine2"},
}
# Metres per file unit. CMU's ASF/AMC length unit is 1/0.45 inch, kept by its BVH conversions.
UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254, "cmu": 0.0254 / 0.45}
FOOT_JOINTS = [sk.JOINT[name] for name in ("left_ankle", "right_ankle", "left_foot", "right_foot")]
CHILDREN = {joint: [child for child in range(sk.N_JOINTS) if sk.PARENTS[child] == joint]
            for joint in range(sk.N_JOINTS)}


def _template_rest() -> np.ndarray:
    """Rest-pose joint positions (22, 3) of the project's template skeleton (1.70 m)."""
    offsets = sk.rest_offsets(1.70)
    positions = np.zeros((sk.N_JOINTS, 3))
    for joint in range(1, sk.N_JOINTS):
        positions[joint] = positions[sk.PARENTS[joint]] + offsets[joint]
    return positions


TEMPLATE_REST = _template_rest()


def standing_height(rest: np.ndarray) -> float:
    """Head to the midpoint of the foot joints in a rest pose (22, 3)."""
    feet = rest[[sk.JOINT["left_foot"], sk.JOINT["right_foot"]]].mean(axis=0)
    return float(np.linalg.norm(rest[sk.JOINT["head"]] - feet))


# --- inputs -------------------------------------------------------------------------------

def load_joint_map(path: Path) -> dict[str, str]:
    """A JSON object mapping each of the 22 project joint names to a rig joint name."""
    joint_map = read_json(path)
    if not isinstance(joint_map, dict):
        raise DataError(path, "expected a JSON object {project joint name: rig joint name}")
    missing = [name for name in sk.JOINT_NAMES if name not in joint_map]
    unknown = sorted(set(joint_map) - set(sk.JOINT_NAMES))
    if missing or unknown:
        raise DataError(path, f"expected the 22 joints {', '.join(sk.JOINT_NAMES)}; "
                              + (f"missing {missing[0]!r}" if missing else f"unknown {unknown[0]!r}"))
    for name, rig_name in joint_map.items():
        if not isinstance(rig_name, str) or not rig_name:
            raise DataError(path, f"{name}: expected a rig joint name, got {rig_name!r}")
    return joint_map


def _read_csv(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    frame = read_csv_strings(path)
    if [c.strip() for c in frame.columns] != list(columns):
        raise DataError(path, f"header must be {','.join(columns)}; got {','.join(frame.columns)}")
    return frame


def _file_key(name: str) -> str:
    """A BVH file as the CSVs may name it: its file name with or without .bvh."""
    name = name.strip()
    return name[:-4] if name.lower().endswith(".bvh") else name


def read_captions(path: Path, stems: set[str]) -> dict[str, list[str]]:
    """File stem → its 1 to 3 captions, from a CSV with columns file,text."""
    captions: dict[str, list[str]] = {}
    for line, (name, text) in enumerate(_read_csv(path, ("file", "text")).itertuples(index=False), start=2):
        stem = _file_key(name)
        if stem not in stems:
            raise DataError(path, f"line {line}: {name!r} is not a BVH file of the source folder")
        if not text.strip() or not is_one_line(text):
            raise DataError(path, f"line {line}: the caption must be one non-blank line")
        captions.setdefault(stem, []).append(text.strip())
        if len(captions[stem]) > MAX_CAPTIONS:
            raise DataError(path, f"line {line}: more than {MAX_CAPTIONS} captions for {name!r}")
    return captions


def read_pairs(path: Path, stems: set[str]) -> list[tuple[str, str]]:
    """(stem_a, stem_b) of each two-person clip, from a CSV with columns file_a,file_b."""
    pairs, used = [], {}
    for line, names in enumerate(_read_csv(path, ("file_a", "file_b")).itertuples(index=False), start=2):
        pair = tuple(_file_key(name) for name in names)
        for stem, name in zip(pair, names):
            if stem not in stems:
                raise DataError(path, f"line {line}: {name!r} is not a BVH file of the source folder")
            if stem in used:
                raise DataError(path, f"line {line}: {name!r} is already in the pair of line {used[stem]}")
            used[stem] = line
        pairs.append(pair)
    return pairs


def caption_from_name(stem: str, path: Path) -> str:
    """Words of a file name: "WalkingStraightForward01" -> "walking straight forward"."""
    words = re.sub(r"([a-z])([A-Z])", r"\1 \2", stem)
    words = [word for word in re.split(r"[^A-Za-z]+", words) if word]
    if not words:
        raise DataError(path, "no caption: the file name has no words; give captions with --captions")
    return " ".join(words).lower()


# --- one file -----------------------------------------------------------------------------

def read_rig(path: Path) -> pybvh.Bvh:
    """The file as pybvh reads it, with a positive frame rate and finite channel values."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rig = pybvh.read_bvh_file(path, world_up="+y")
    except (ValueError, OSError, UnicodeDecodeError, IndexError) as err:
        reason = str(err).split(";")[0].splitlines()[0] if str(err).strip() else type(err).__name__
        raise DataError(path, f"not a readable BVH file ({reason})") from None
    if not (math.isfinite(rig.fps) and rig.fps > 0):
        raise DataError(path, f"Frame Time must be a finite number of seconds > 0, got {rig.frame_time}")
    check_finite(np.concatenate([rig.root_pos, rig.joint_angles.reshape(rig.frame_count, -1)], axis=1), path)
    return rig


def mapped_joints(rig: pybvh.Bvh, path: Path, joint_map: dict[str, str] | None) -> tuple[str, list[int]]:
    """(map name, the rig joint index of each project joint), checked against the rig's tree."""
    names = rig.joint_names
    index = {name: i for i, name in enumerate(names)}
    index.update({name.split(":")[-1]: i for i, name in enumerate(names) if name.split(":")[-1] not in index})
    if joint_map is None:
        rig_name = next((name for name, rig_map in RIGS.items() if all(v in index for v in rig_map.values())), None)
        if rig_name is None:
            raise DataError(path, f"its joints match no built-in rig ({', '.join(RIGS)}); "
                                  f"give a --joint-map (project joint -> rig joint)")
        joint_map = RIGS[rig_name]
    else:
        rig_name = "joint map"
    missing = [f"{rig_joint!r} (for {joint})" for joint, rig_joint in joint_map.items() if rig_joint not in index]
    if missing:
        raise DataError(path, f"the joint map names {missing[0]}, which the file does not have")
    joints = [index[joint_map[name]] for name in sk.JOINT_NAMES]
    parents = rig_parents(rig)
    for joint in range(1, sk.N_JOINTS):
        ancestor = parents[joints[joint]]
        while ancestor >= 0 and ancestor != joints[sk.PARENTS[joint]]:
            ancestor = parents[ancestor]
        if ancestor < 0:
            raise DataError(path, f"{names[joints[joint]]} ({sk.JOINT_NAMES[joint]}) is not below "
                                  f"{names[joints[sk.PARENTS[joint]]]} ({sk.JOINT_NAMES[sk.PARENTS[joint]]}) in the rig")
    return rig_name, joints


def rig_parents(rig: pybvh.Bvh) -> list[int]:
    """Parent joint index of each rig joint (-1 for the root), in pybvh's joint order."""
    nodes = [node for node in rig.nodes if not node.is_end_site()]
    position = {id(node): i for i, node in enumerate(nodes)}
    return [position[id(node.parent)] if node.parent is not None else -1 for node in nodes]


def up_axis(vectors: np.ndarray) -> str:
    """The signed world axis ("+y", "-z", ...) closest to the mean of (T, 3) vectors."""
    up = dominant_axis(vectors)
    axis = int(np.argmax(np.abs(up)))
    return ("+" if up[axis] > 0 else "-") + "xyz"[axis]


def rest_alignment(rest: np.ndarray) -> np.ndarray:
    """Per project joint, the rotation (22, 3, 3) taking the template's rest pose onto the rig's
    (`rest`: the mapped joints' rest positions, y-up): fitted on the directions to its children
    (through zero-length bones to the first joint away), a leaf taking its parent's."""
    alignment = np.empty((sk.N_JOINTS, 3, 3))
    for joint in range(sk.N_JOINTS):
        rig_dirs, template_dirs = [], []
        for child in CHILDREN[joint]:
            while np.linalg.norm(rest[child] - rest[joint]) < 1e-9 and CHILDREN[child]:
                child = CHILDREN[child][0]
            bone = rest[child] - rest[joint]
            if np.linalg.norm(bone) >= 1e-9:
                rig_dirs.append(bone / np.linalg.norm(bone))
                template = TEMPLATE_REST[child] - TEMPLATE_REST[joint]
                template_dirs.append(template / np.linalg.norm(template))
        if rig_dirs:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # one direction: scipy gives the shortest arc
                alignment[joint] = Rotation.align_vectors(rig_dirs, template_dirs)[0].as_matrix()
        else:
            alignment[joint] = alignment[sk.PARENTS[joint]] if joint else np.eye(3)
    return alignment


@dataclass
class Person:
    positions: np.ndarray      # (T, 22, 3) metres, y-up (floor not yet placed)
    local: np.ndarray          # (T, 21, 3, 3) local rotations on the 22-joint tree
    units: str
    rig: str
    fk_residual: float         # metres


def read_person(path: Path, joint_map: dict[str, str] | None, fps: float, units: str) -> Person:
    """One BVH file as one person on the 22-joint tree (module docstring)."""
    rig = read_rig(path)
    rig_name, joints = mapped_joints(rig, path, joint_map)
    if abs(rig.fps - fps) > 1e-6:
        rig = rig.resample(fps)
    if rig.frame_count < MIN_FRAMES:
        raise DataError(path, f"{rig.frame_count} frame(s) at {fps:g} fps; at least {MIN_FRAMES} needed")
    pelvis, head = joints[sk.JOINT["pelvis"]], joints[sk.JOINT["head"]]
    raw = rig.joint_positions()
    rig.world_up = up_axis(raw[:, head] - raw[:, pelvis])
    rig = reorient_world_up(rig, "+y")
    rest = rig.rest_pose_positions()[[rig.node_index[rig.joint_names[j]] for j in joints]]
    if units == "auto":
        height = standing_height(rest)
        if height <= 0:
            raise DataError(path, "the mapped head and feet coincide in the rest pose: cannot tell the units")
        units = min(UNITS, key=lambda unit: abs(np.log(height * UNITS[unit] / standing_height(TEMPLATE_REST))))
    rig = rig.scale(UNITS[units])
    rest = rest * UNITS[units]

    local = rig.to_rotmat()[1]
    parents = rig_parents(rig)
    global_rot = np.empty_like(local)
    for joint, parent in enumerate(parents):
        global_rot[:, joint] = local[:, joint] if parent < 0 else global_rot[:, parent] @ local[:, joint]
    alignment = rest_alignment(rest)
    kept = global_rot[:, joints] @ alignment
    parent_rot = kept[:, list(sk.PARENTS[1:])]
    local_kept = np.swapaxes(parent_rot, -1, -2) @ kept[:, 1:]
    positions = rig.joint_positions()[:, joints]

    parent_rest = rest[list(sk.PARENTS[1:])]
    offsets = np.vstack([np.zeros(3), np.einsum("jki,jk->ji", alignment[list(sk.PARENTS[1:])],
                                                 rest[1:] - parent_rest)])
    fk = sk.forward_kinematics(positions[:, 0], kept[:, 0], local_kept, offsets)
    return Person(positions, local_kept, units, rig_name, float(np.abs(fk - positions).max()))


def place_on_floor(persons: list[Person]) -> list[np.ndarray]:
    """Each person's (T, 192), cut to the shortest, lowest foot joint at FOOT_CLEARANCE."""
    n_frames = min(len(person.positions) for person in persons)
    floor = min(person.positions[:n_frames, FOOT_JOINTS, 1].min() for person in persons)
    features = []
    for person in persons:
        positions = person.positions[:n_frames].copy()
        positions[..., 1] += sk.FOOT_CLEARANCE - floor
        features.append(sk.pack_person(positions, person.local[:n_frames]))
    return features


# --- a folder -----------------------------------------------------------------------------

def read_bvh_folder(source: Path, fps: float | None, joint_map_path: Path | None, captions_path: Path | None,
                    pairs_path: Path | None, units: str) -> tuple[Generator[Clip, None, None], dict]:
    """The clips of a folder of BVH files (searched recursively; lazily) and the dataset.json entries."""
    if not source.is_dir():
        raise DataError(source, "folder not found (expected a folder of .bvh files)")
    files: dict[str, Path] = {}
    for path in sorted(p for p in source.rglob("*") if p.suffix.lower() == ".bvh" and p.is_file()):
        if path.stem in files:
            raise DataError(path, f"same file name as {files[path.stem]}; clip ids come from file names")
        files[path.stem] = path
    if not files:
        raise DataError(source, "no .bvh file found")
    joint_map = load_joint_map(joint_map_path) if joint_map_path else None
    captions = read_captions(captions_path, set(files)) if captions_path else {}
    pairs = read_pairs(pairs_path, set(files)) if pairs_path else []
    paired = {stem for pair in pairs for stem in pair}
    items = sorted([(stem,) for stem in files if stem not in paired] + pairs, key="+".join)
    fps = fps or DEFAULT_FPS
    stats: dict = {"units": {}, "rigs": {}, "captions_from_file_names": 0,
                   "fk_residual_m": {"max": 0.0, "mean": 0.0}}
    residuals: list[float] = []

    def clips() -> Generator[Clip, None, None]:
        with tqdm(items, desc="bvh", unit="clip") as bar:
            for item in bar:
                persons = [read_person(files[stem], joint_map, fps, units) for stem in item]
                for person in persons:
                    stats["units"][person.units] = stats["units"].get(person.units, 0) + 1
                    stats["rigs"][person.rig] = stats["rigs"].get(person.rig, 0) + 1
                    residuals.append(person.fk_residual)
                stats["fk_residual_m"] = {"max": max(residuals), "mean": float(np.mean(residuals))}
                captioned = next((stem for stem in item if stem in captions), None)
                if captioned is None:
                    stats["captions_from_file_names"] += 1
                    clip_captions, caption_file = [caption_from_name(item[0], files[item[0]])], files[item[0]]
                else:
                    clip_captions, caption_file = captions[captioned], captions_path
                yield Clip("+".join(item), with_person_b(*place_on_floor(persons)), clip_captions, "train",
                           motion_file=files[item[0]], caption_file=caption_file)

    info = {"source": "bvh", "source_path": str(source), "fps": fps, "up_axis": "y",
            "joint_map": str(joint_map_path) if joint_map_path else "built-in rigs: " + ", ".join(RIGS),
            "two_person_clips": len(pairs), "single_person_clips": len(items) - len(pairs),
            "person_b": PERSON_B_POLICY, "statistics": stats}
    return clips(), info
