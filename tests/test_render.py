"""Stick-figure rendering: strips, GIFs and the one-Axes sketch the evaluation reuses; any up
axis drawn upright; the absent person of single-person data left out."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from textmotion.render import draw_motion, motion_positions, project, render_gif, render_strip
from textmotion.skeleton import FEATURES_PER_PERSON, JOINT, N_JOINTS, split_persons
from textmotion.sources.common import absent_person
from textmotion.sources.synthetic.motion import synthesize
from textmotion.upright import rotation_to_y_up

SPEC = {"persons": [{"height": 1.7}, {"height": 1.6}],
        "start": {"distance": 2.0, "arrangement": "facing"},
        "segments": [{"action": "shake_hands", "actor": 0}]}


def motion() -> np.ndarray:
    return synthesize(SPEC, np.random.default_rng(0))


def test_projection_keeps_up_as_up():
    screen, _ = project(np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]))
    assert screen[1, 1] > screen[0, 1] and abs(screen[1, 0] - screen[0, 0]) < 1e-12


def test_render_strip_and_gif(tmp_path):
    strip, gif = tmp_path / "strip.png", tmp_path / "clip.gif"
    render_strip(motion(), strip, n_frames=6, title="shake hands")
    render_gif(motion()[:20], gif, fps=20)
    assert Image.open(strip).format == "PNG" and strip.stat().st_size < 300_000
    with Image.open(gif) as image:
        assert image.format == "GIF" and image.n_frames == 10


def test_draw_motion_into_given_axes():
    ax = Figure().subplots()
    draw_motion(ax, motion(), n_frames=3)
    assert len(ax.collections) >= 4  # the floor grid, then three overlaid frames
    x_lo, x_hi = ax.get_xlim()
    assert x_hi - x_lo > 1.0


def in_z_up_world(motion_y_up: np.ndarray) -> np.ndarray:
    """The same clip stored z-up (as InterHuman is): positions turned, local rotations kept."""
    to_z_up = rotation_to_y_up(np.array([0.0, 0.0, 1.0])).T
    out = motion_y_up.copy()
    for start in (0, FEATURES_PER_PERSON):
        block = out[:, start:start + N_JOINTS * 3].reshape(len(out), N_JOINTS, 3)
        out[:, start:start + N_JOINTS * 3] = (block @ to_z_up.T).reshape(len(out), -1)
    return out


def test_z_up_clip_renders_upright_detected_or_told():
    upright_clip = motion()
    lying = in_z_up_world(upright_clip)
    assert not np.allclose(lying, upright_clip)
    expected = motion_positions(upright_clip)
    for up_axis in (None, "z"):
        np.testing.assert_allclose(motion_positions(lying, up_axis), expected, atol=1e-5)
    head, pelvis = project(expected[:, :, JOINT["head"]])[0], project(expected[:, :, JOINT["pelvis"]])[0]
    assert (head[..., 1] > pelvis[..., 1] + 0.3).all()  # heads well above pelvises on screen
    assert expected[..., 1].min() == 0.0
    drawn = []
    for clip in (upright_clip, lying):
        ax = Figure().subplots()
        draw_motion(ax, clip, n_frames=3)
        drawn.append(np.concatenate([np.asarray(segment) for c in ax.collections[1:] if hasattr(c, "get_segments")
                                     for segment in c.get_segments()]))
    np.testing.assert_allclose(drawn[1], drawn[0], atol=1e-5)


def test_absent_person_is_not_drawn(tmp_path):
    clip = motion()
    single = np.concatenate([split_persons(clip)[0], absent_person(len(clip))], axis=1)
    positions = motion_positions(single)
    assert positions.shape == (len(clip), 1, N_JOINTS, 3)
    np.testing.assert_allclose(positions[:, 0], motion_positions(clip)[:, 0], atol=1e-5)
    render_strip(single, tmp_path / "single.png", n_frames=4)
    assert Image.open(tmp_path / "single.png").format == "PNG"
