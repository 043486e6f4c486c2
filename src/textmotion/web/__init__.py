"""The motion player in the browser: the search page's assets, clips as JSON, standalone pages.

`static/` holds the page (index.html, app.js, player.js, style.css); `vendor/three/` holds
three.js, committed (see tools/vendor/README.md). `ASSETS` is the complete list of files the
server may send: a request names an entry of it, never a path.
"""
from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from textmotion import skeleton as sk
from textmotion.io import atomic_path
from textmotion.render import BONES, LEFT_BONE, PERSON_COLOURS, motion_positions

HERE = Path(__file__).parent
STATIC, THREE = HERE / "static", HERE / "vendor" / "three"
JAVASCRIPT, CSS = "text/javascript", "text/css"
# name in the URL /assets/<name> → (file, media type)
ASSETS = {
    "app.js": (STATIC / "app.js", JAVASCRIPT),
    "player.js": (STATIC / "player.js", JAVASCRIPT),
    "style.css": (STATIC / "style.css", CSS),
    "three.module.min.js": (THREE / "three.module.min.js", JAVASCRIPT),
    "OrbitControls.js": (THREE / "OrbitControls.js", JAVASCRIPT),
}
INDEX = STATIC / "index.html"
POSITION_DECIMALS = 3  # millimetres
# frames of one clip sent to the player: a minute at the challenge's 20 fps, about 1 MB of JSON
MAX_PLAYER_FRAMES = 1200


def clip_payload(clip_id: str, motion: np.ndarray, fps: float) -> dict:
    """What the player needs of a (T, 384) motion: the joint positions of the persons present,
    upright as `render` draws them (frame, person, joint, xyz flattened), the bones, and the
    stick-figure colours of `render`.

    A clip over MAX_PLAYER_FRAMES frames is sent every n-th frame (the smallest n that fits)
    at fps / n: it plays for its whole duration, and the payload stays bounded however long
    the clip is."""
    step = max(1, math.ceil(len(motion) / MAX_PLAYER_FRAMES))
    positions = motion_positions(motion[::step])
    return {"id": clip_id, "fps": float(fps) / step, "frames": len(positions), "persons": positions.shape[1],
            "joints": sk.N_JOINTS,
            "bones": [list(bone) for bone in BONES], "left": LEFT_BONE.tolist(), "head": sk.JOINT["head"],
            "colours": [list(pair) for pair in PERSON_COLOURS],
            "positions": np.round(positions, POSITION_DECIMALS).ravel().tolist()}


@dataclass
class ShownClip:
    """One clip of a results page: a title line, its caption and detail, and a frame colour
    ("correct" green, "wrong" red, None plain)."""
    title: str
    motion: np.ndarray
    caption: str = ""
    detail: str = ""
    mark: str | None = None


@dataclass
class ResultSection:
    """A query of a results page: its text, then the clips shown for it."""
    query: str
    clips: Sequence[ShownClip]


def _module_url(path: Path) -> str:
    return "data:text/javascript;base64," + base64.b64encode(path.read_bytes()).decode()


def _script_json(value) -> str:
    """JSON that is safe inside a <script> element."""
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/")


def results_page_html(title: str, sections: Sequence[ResultSection], fps: float = 20.0) -> str:
    """A self-contained page (no server, no internet: the player and three.js are inlined)
    with one row of playing clips per query."""
    imports = {"three": _module_url(ASSETS["three.module.min.js"][0]),
               "three/addons/OrbitControls.js": _module_url(ASSETS["OrbitControls.js"][0]),
               "player": _module_url(ASSETS["player.js"][0])}
    data = [{"query": section.query,
             "clips": [{"title": clip.title, "caption": clip.caption, "detail": clip.detail, "mark": clip.mark,
                        "clip": clip_payload(clip.title, clip.motion, fps)} for clip in section.clips]}
            for section in sections]
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>{ASSETS["style.css"][0].read_text(encoding="utf-8")}</style>
<script type="importmap">{_script_json({"imports": imports})}</script>
</head>
<body>
<header><h1>{html.escape(title)}</h1><p id="status">Drag a view to turn it, scroll to zoom.</p></header>
<main id="sections"></main>
<canvas id="stage"></canvas>
<script type="application/json" id="data">{_script_json(data)}</script>
<script type="module">
import {{ Stage, showCard }} from "player";
const stage = new Stage(document.getElementById("stage"));
const main = document.getElementById("sections");
for (const section of JSON.parse(document.getElementById("data").textContent)) {{
    const block = document.createElement("section");
    const heading = document.createElement("h2");
    heading.textContent = section.query;
    const grid = document.createElement("div");
    grid.className = "results";
    block.append(heading, grid);
    main.append(block);
    for (const clip of section.clips) showCard(grid, stage, clip);
}}
main.dataset.state = "done";
</script>
</body>
</html>
"""


def write_results_page(path: str | Path, title: str, sections: Sequence[ResultSection], fps: float = 20.0) -> None:
    """Write `results_page_html` to `path`, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(results_page_html(title, sections, fps), encoding="utf-8")
