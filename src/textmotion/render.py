"""Stick-figure drawings of two-person motions (T, 384): PNG strips, GIFs, and one-Axes sketches.

A fixed oblique projection (camera turned `AZIMUTH` about the vertical, looking down by
`ELEVATION`) maps 3D joints to 2D, so plain 2D Axes suffice and drawing stays fast. Person A
is blue, person B orange; each person's left limbs are drawn darker than the right ones.
Any up axis is drawn upright (motion_positions), and an absent person is not drawn.
"""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.animation import FuncAnimation, PillowWriter  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

from textmotion import skeleton as sk  # noqa: E402
from textmotion import upright  # noqa: E402

AZIMUTH = np.deg2rad(30.0)
ELEVATION = np.deg2rad(20.0)
PERSON_COLOURS = (("#1f4e9c", "#5b9bd5"), ("#b34700", "#f4a259"))  # (left limbs, rest)
GROUND_COLOUR = "#c8c8c8"
GRID_STEP = 0.5  # metres between floor grid lines
BONES = [(joint, parent) for joint, parent in enumerate(sk.PARENTS) if parent >= 0]
LEFT_BONE = np.array([sk.JOINT_NAMES[joint].startswith("left") for joint, _ in BONES])


def project(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(..., 3) world points -> screen (..., 2) and depth (...,) (larger = nearer the camera)."""
    x, y, z = points[..., 0], points[..., 1], points[..., 2]
    across = x * np.cos(AZIMUTH) - z * np.sin(AZIMUTH)
    depth = x * np.sin(AZIMUTH) + z * np.cos(AZIMUTH)
    screen = np.stack([across, y * np.cos(ELEVATION) - depth * np.sin(ELEVATION)], axis=-1)
    return screen, depth


def motion_positions(motion: np.ndarray, up_axis: str | None = None) -> np.ndarray:
    """(T, 384) -> (T, P, 22, 3) joint positions of the persons present, y-up, the lowest joint
    on the floor (y = 0).

    `up_axis` is the data's up axis ("y" or "z", as its dataset.json says); None reads it from
    the bodies (upright.up_vector: where the head sits above the pelvis), so z-up data such
    as InterHuman stands up either way. A person whose joints all sit at one point (the
    absent person B of single-person data, sources/common.py) is left out.
    """
    up = upright.up_vector(motion) if up_axis is None else np.eye(3)[upright.AXES.index(up_axis)]
    persons = [person[:, :sk.N_JOINTS * 3].reshape(len(motion), sk.N_JOINTS, 3)
               for person in sk.split_persons(np.asarray(motion, dtype=np.float64))]
    present = [person for person in persons if np.ptp(person, axis=1).any()] or persons
    positions = np.stack(present, axis=1) @ upright.rotation_to_y_up(up).T
    positions[..., 1] -= positions[..., 1].min()
    return positions


def _footprint(positions: np.ndarray, margin: float = 0.6,
               step: float = GRID_STEP) -> tuple[np.ndarray, np.ndarray]:
    """Floor rectangle (x, z) covering the motion, rounded out to the grid."""
    floor = positions[..., [0, 2]].reshape(-1, 2)
    return (np.floor((floor.min(0) - margin) / step) * step,
            np.ceil((floor.max(0) + margin) / step) * step)


def _ground_segments(positions: np.ndarray) -> np.ndarray:
    """Grid lines on the floor under the motion, as projected segments."""
    lo, hi = _footprint(positions)
    lines = [[(x, 0.0, lo[1]), (x, 0.0, hi[1])] for x in np.arange(lo[0], hi[0] + 1e-9, GRID_STEP)]
    lines += [[(lo[0], 0.0, z), (hi[0], 0.0, z)]
              for z in np.arange(lo[1], hi[1] + 1e-9, GRID_STEP)]
    return project(np.array(lines))[0]


def _limits(positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Screen bounds holding every joint of the clip and the floor grid."""
    lo, hi = _footprint(positions)
    grid_corners = np.array([[lo[0], 0, lo[1]], [lo[0], 0, hi[1]],
                             [hi[0], 0, lo[1]], [hi[0], 0, hi[1]]])
    screen = project(np.vstack([positions.reshape(-1, 3), grid_corners]))[0]
    return screen.min(0) - 0.1, screen.max(0) + 0.1


def _skeleton_segments(frame_positions: np.ndarray) -> tuple[list, list]:
    """Bones of both persons at one frame, far ones first, with their colours."""
    segments, colours, depths = [], [], []
    for person, joints in enumerate(frame_positions):
        screen, depth = project(joints)
        for (joint, parent), left in zip(BONES, LEFT_BONE):
            segments.append(screen[[parent, joint]])
            colours.append(PERSON_COLOURS[person][0 if left else 1])
            depths.append(depth[[parent, joint]].mean())
    order = np.argsort(depths)
    return [segments[i] for i in order], [colours[i] for i in order]


def _prepare_axes(ax: Axes, positions: np.ndarray) -> None:
    lo, hi = _limits(positions)
    ax.add_collection(LineCollection(_ground_segments(positions), colors=GROUND_COLOUR,
                                     linewidths=0.6, zorder=0))
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    ax.set_aspect("equal")
    ax.set_xticks([])
    ax.set_yticks([])


def _draw_frame(ax: Axes, frame_positions: np.ndarray, alpha: float = 1.0,
                linewidth: float = 2.2) -> LineCollection:
    segments, colours = _skeleton_segments(frame_positions)
    bones = LineCollection(segments, colors=colours, linewidths=linewidth, alpha=alpha,
                           capstyle="round", zorder=2)
    ax.add_collection(bones)
    heads = project(frame_positions[:, sk.JOINT["head"]])[0]
    ax.scatter(heads[:, 0], heads[:, 1], s=28 * linewidth / 2.2,
               c=[colours[-1] for colours in PERSON_COLOURS[:len(frame_positions)]], alpha=alpha, zorder=3)
    return bones


def draw_motion(ax: Axes, motion: np.ndarray, n_frames: int = 5, up_axis: str | None = None) -> None:
    """Overlay `n_frames` evenly spaced frames of a clip in one Axes, later ones more opaque,
    with the pelvis trajectories drawn on the floor (`up_axis`: see motion_positions)."""
    positions = motion_positions(motion, up_axis)
    _prepare_axes(ax, positions)
    for person in range(positions.shape[1]):
        path = positions[:, person, sk.JOINT["pelvis"]].copy()
        path[:, 1] = 0.0
        screen = project(path)[0]
        ax.plot(screen[:, 0], screen[:, 1], color=PERSON_COLOURS[person][1], lw=1.0,
                ls="--", zorder=1)
    frames = np.linspace(0, len(positions) - 1, n_frames).round().astype(int)
    for rank, frame in enumerate(frames, start=1):
        _draw_frame(ax, positions[frame], alpha=0.15 + 0.85 * rank / n_frames,
                    linewidth=1.4 if rank < n_frames else 2.0)


def render_strip(motion: np.ndarray, path: str | Path, n_frames: int = 8, title: str | None = None,
                 fps: int = 20, columns: int = 4, up_axis: str | None = None) -> None:
    """A PNG of `n_frames` evenly spaced frames, `columns` per row, with shared axis limits."""
    positions = motion_positions(motion, up_axis)
    frames = np.linspace(0, len(positions) - 1, n_frames).round().astype(int)
    lo, hi = _limits(positions)
    columns = min(columns, n_frames)
    rows = -(-n_frames // columns)
    panel_width = 4.0
    panel_height = np.clip(panel_width * (hi[1] - lo[1]) / (hi[0] - lo[0]), 1.8, 4.0)
    fig, axes = plt.subplots(rows, columns, figsize=(panel_width * columns,
                                                     panel_height * rows + 0.5), squeeze=False)
    for ax in axes.flat[n_frames:]:
        ax.axis("off")
    for ax, frame in zip(axes.flat, frames):
        _prepare_axes(ax, positions)
        _draw_frame(ax, positions[frame])
        ax.set_title(f"{frame / fps:.1f} s", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=11)
    fig.tight_layout(pad=0.3, rect=(0, 0, 1, 1 - 0.4 / fig.get_figheight() if title else 1))
    fig.savefig(path, dpi=72)
    plt.close(fig)


def render_gif(motion: np.ndarray, path: str | Path, fps: int = 20, step: int = 2,
               up_axis: str | None = None) -> None:
    """An animated GIF of the clip (every `step`-th frame, played at the clip's speed)."""
    positions = motion_positions(motion, up_axis)[::step]
    fig, ax = plt.subplots(figsize=(4, 3.2))
    _prepare_axes(ax, positions)

    def update(frame: int):
        for artist in ax.collections[1:]:  # keep the ground grid
            artist.remove()
        _draw_frame(ax, positions[frame])
        return ax.collections

    animation = FuncAnimation(fig, update, frames=len(positions), blit=False)
    animation.save(str(path), writer=PillowWriter(fps=max(1, round(fps / step))))
    plt.close(fig)
