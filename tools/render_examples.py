"""Draw the README's example clips (docs/img/example_*.png) from their specs, with the project's
own synthesiser, captioner and renderer: each image shows one clip as 8 frames and, as its
title, the first of the clip's captions.

    python tools/render_examples.py [--out docs/img]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from textmotion.errors import run_cli
from textmotion.render import render_strip
from textmotion.sources.synthetic.captions import make_captions
from textmotion.sources.synthetic.motion import synthesize
from textmotion.sources.synthetic.spec import validate_spec

REPO = Path(__file__).resolve().parents[1]

FPS = 20
EXAMPLES = {  # file name → spec (textmotion/sources/synthetic/spec.py)
    "example_shake_hands": {"start": {"distance": 3.0, "arrangement": "facing"}, "segments": [
        {"action": "walk", "actor": "both", "direction": "forward", "speed": "normal", "duration": 1.5},
        {"action": "shake_hands", "duration": 2.5}]},
    "example_push": {"start": {"distance": 2.5, "arrangement": "facing"}, "segments": [
        {"action": "walk", "actor": 0, "direction": "forward", "speed": "normal", "duration": 2.0},
        {"action": "push", "actor": 0, "duration": 2.0}]},
    "example_sit_down_jump": {"segments": [
        {"action": "sit_down", "actor": 0, "duration": 2.5},
        {"action": "jump", "actor": 1, "count": 2, "duration": 2.0}]},
    "example_chase": {"start": {"distance": 2.0, "arrangement": "one_behind"}, "segments": [
        {"action": "chase", "actor": 0, "duration": 4.0}]},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for index, (name, spec) in enumerate(EXAMPLES.items()):
        rng = np.random.default_rng([0, index])
        spec = validate_spec(spec)
        motion, caption = synthesize(spec, rng, FPS), make_captions(spec, rng, 1)[0]
        render_strip(motion, args.out / f"{name}.png", title=caption, fps=FPS)
        print(f"{args.out / name}.png: {caption}")


if __name__ == "__main__":
    run_cli(main)
