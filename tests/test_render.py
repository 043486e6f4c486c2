"""Stick-figure rendering: strips, GIFs and the one-Axes sketch the evaluation reuses."""
from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from textmotion.render import draw_motion, project, render_gif, render_strip
from textmotion.sources.synthetic.motion import synthesize

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
