"""In headless Chromium with the network cut: the search page, evaluate's standalone results
page, and the page `dvc plots show` writes with this repo's template and vendored vega.

Skips, saying why, where Chromium or chromedriver is missing (Debian: apt-get install chromium
chromium-driver; .ci/run installs them when it can).
"""
from __future__ import annotations

import io
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import serve  # src/serve.py
from search_fixtures import CLIPS_PER_KIND, KINDS, clip_id, gallery_clips, served_gallery
from textmotion.web import ResultSection, ShownClip, write_results_page

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tools"))
import search_page_screenshot as browser  # noqa: E402  (tools/search_page_screenshot.py)

CHROMIUM = browser.find_chromium()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="browser tests skipped: Chromium or chromedriver not found "
                             "(Debian: apt-get install chromium chromium-driver)")
DVC = str(Path(sys.executable).parent / "dvc")
PERSON_A_RGB = np.array([0x1f, 0x4e, 0x9c])  # render.PERSON_COLOURS[0][0], lit by the scene


@pytest.fixture(scope="module")
def session():
    with browser.headless_chromium(*CHROMIUM) as driver:
        yield driver


@pytest.fixture(scope="module")
def base_url(tmp_path_factory):
    with served_gallery(tmp_path_factory) as url:
        yield url


def screenshot(session) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(session.get_screenshot_as_png())).convert("RGB")).astype(int)


def view_pixels(session, image: np.ndarray, index: int) -> np.ndarray:
    rect = session.execute_script(
        "return document.querySelectorAll('.view')[arguments[0]].getBoundingClientRect().toJSON()", index)
    return image[int(rect["top"]):int(rect["bottom"]), int(rect["left"]):int(rect["right"])]


def figure_pixels(pixels: np.ndarray) -> int:
    """Pixels close to person A's bone colour (lighting varies the shade)."""
    return int((np.abs(pixels - PERSON_A_RGB).sum(axis=-1) < 120).sum())


def console_errors(session) -> list[str]:
    """Errors logged since the last call (reading the log empties it)."""
    return [entry["message"] for entry in session.get_log("browser") if entry["level"] == "SEVERE"]


def test_typed_query_shows_its_known_clips_playing(session, base_url, tmp_path):
    console_errors(session)
    caption = "two people shake hands"
    ids = browser.search_page(session, base_url, caption, CLIPS_PER_KIND + 1)
    assert len(ids) == CLIPS_PER_KIND + 1
    known = {clip_id(list(KINDS).index(caption), copy) for copy in range(CLIPS_PER_KIND)}
    assert known <= set(ids), ids
    assert console_errors(session) == []

    first = screenshot(session)
    Image.fromarray(first.astype(np.uint8)).save(tmp_path / "search_page.png")
    for card in range(len(ids)):
        assert figure_pixels(view_pixels(session, first, card)) > 50, f"card {card} draws no figure"
    time.sleep(0.7)
    later = view_pixels(session, screenshot(session), 0)
    assert np.abs(later - view_pixels(session, first, 0)).sum() > 0, "the clip does not move"


def test_bad_query_shows_the_servers_reason(session, base_url):
    browser.open_page(session, base_url)
    box = session.find_element(browser.By.ID, "query")
    session.execute_script("arguments[0].removeAttribute('maxlength')", box)
    session.execute_script("arguments[0].value = 'a'.repeat(arguments[1])", box, serve.MAX_QUERY_CHARS + 1)
    box.send_keys(browser.Keys.ENTER)
    assert browser.wait_for_state(session, "#results") == "error"
    status = session.find_element(browser.By.ID, "status").text
    assert status.startswith("error: ") and str(serve.MAX_QUERY_CHARS) in status


def test_results_page_plays_from_a_file_offline(session, tmp_path):
    clips = gallery_clips()
    sections = [ResultSection(caption, [ShownClip(f"top-{rank}: {clip}", motion, caption=caption,
                                                  detail=f"cosine {0.9 - rank / 10:.3f}",
                                                  mark="correct" if rank == 1 else "wrong")
                                        for rank, (clip, motion, _) in enumerate(clips[i:i + 2], start=1)])
                for i, caption in ((0, "two people shake hands"), (6, "two people hug"))]
    page = tmp_path / "examples.html"
    console_errors(session)
    write_results_page(page, "retrieval examples", sections)
    session.get(page.as_uri())
    assert browser.wait_for_state(session, "#sections") == "done"
    time.sleep(0.5)
    image = screenshot(session)
    assert session.execute_script("return document.querySelectorAll('.card.correct').length") == 2
    for card in range(2):  # the first row (the page may scroll below)
        assert figure_pixels(view_pixels(session, image, card)) > 50
    assert console_errors(session) == []


@pytest.fixture(scope="module")
def plots_repo(tmp_path_factory) -> Path:
    """A fresh DVC project with this repo's plots template, vendored scripts and DVC config
    (as a clone has them: no node_modules), and two vega plots."""
    root = tmp_path_factory.mktemp("plots")
    shutil.copytree(REPO / "tools" / "vendor", root / "tools" / "vendor")
    shutil.copy(REPO / "tools" / "dvc_plots_offline.html", root / "tools")
    subprocess.run([DVC, "init", "--no-scm", "-q"], cwd=root, check=True)
    shutil.copy(REPO / ".dvc" / "config", root / ".dvc" / "config")
    (root / "loss.csv").write_text("step,loss\n0,2.0\n1,1.2\n2,0.7\n")
    (root / "recall.csv").write_text("k,recall\n1,0.8\n2,0.9\n3,0.95\n")
    (root / "dvc.yaml").write_text("plots:\n  - loss.csv:\n      x: step\n      y: loss\n"
                                   "  - recall.csv:\n      x: k\n      y: recall\n")
    return root


def drawn_charts(session, page: Path) -> tuple[int, str | None]:
    """(vega charts drawn, the missing-scripts hint if shown) of a dvc plots page."""
    session.get(page.as_uri())
    time.sleep(2)
    return session.execute_script(
        "return [[...document.querySelectorAll('div[id]')].filter(d => d.querySelector('canvas, svg')).length,"
        " (document.getElementById('vega-missing') || {}).textContent || null]")


def test_dvc_plots_show_draws_every_chart_offline_without_npm(session, plots_repo):
    subprocess.run([DVC, "plots", "show"], cwd=plots_repo, check=True, capture_output=True)
    assert drawn_charts(session, plots_repo / "dvc_plots" / "index.html") == [2, None]


def test_dvc_plots_page_away_from_the_repo_says_why_charts_are_missing(session, plots_repo, tmp_path):
    subprocess.run([DVC, "plots", "show", "-o", tmp_path / "away"], cwd=plots_repo, check=True, capture_output=True)
    drawn, hint = drawn_charts(session, tmp_path / "away" / "index.html")
    assert drawn == 0 and hint.startswith("Charts not drawn") and "\n" not in hint
