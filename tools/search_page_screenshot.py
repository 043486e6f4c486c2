"""Search the web page in headless Chromium and save a screenshot (the README's docs/img/search_page.png).

    python tools/search_page_screenshot.py "two people shake hands" --out docs/img/search_page.png
                                           [--gallery DIR] [--model DIR] [-k 6]

Serves the gallery as src/serve.py does (same defaults), types the query into the page with
the network cut (only 127.0.0.1 resolves), waits for the results to play, and prints their
ids. Needs Debian's chromium and chromium-driver. tests/test_browser.py drives the page with
the same functions.
"""
from __future__ import annotations

import argparse
import shutil
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

import serve  # src/serve.py: importable once the package is installed (pip install -e .)
from textmotion.errors import DataError, run_cli
from textmotion.gallery import EmbeddingCache, check_gallery
from textmotion.gallery_cli import add_gallery_arguments, gallery_and_model
from textmotion.model_io import load_model

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
WINDOW = (1280, 860)
PLAY_SECONDS = 1.5  # let the clips move before the screenshot


def find_chromium() -> tuple[str, str] | None:
    """(browser, chromedriver) executables, or None when either is missing."""
    browser = next(filter(None, map(shutil.which, BROWSERS)), None)
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@contextmanager
def headless_chromium(browser: str, driver: str) -> Iterator:
    """A Selenium session of headless Chromium, software WebGL, no network but 127.0.0.1."""
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--use-angle=swiftshader",
                 "--enable-unsafe-swiftshader", f"--window-size={WINDOW[0]},{WINDOW[1]}",
                 "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1", "--proxy-server=direct://"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    session = webdriver.Chrome(options=options, service=Service(driver))
    try:
        yield session
    finally:
        session.quit()


def wait_for_state(session, selector: str, timeout: float = 60.0) -> str:
    """The element's data-state once it is "done" or "error"."""
    element = session.find_element(By.CSS_SELECTOR, selector)
    WebDriverWait(session, timeout).until(lambda _: element.get_attribute("data-state") in ("done", "error"))
    return element.get_attribute("data-state")


def open_page(session, base_url: str) -> None:
    """Load the search page and wait until it knows its gallery."""
    session.get(base_url)
    status = session.find_element(By.ID, "status")
    WebDriverWait(session, 60).until(lambda _: "clips in" in status.text or "error" in status.text)


def search_page(session, base_url: str, query: str, k: int) -> list[str]:
    """Type `query` into the page, submit, wait for the results; their clip ids, best first."""
    open_page(session, base_url)
    status = session.find_element(By.ID, "status")
    count = session.find_element(By.ID, "k")
    count.clear()
    count.send_keys(str(k))
    box = session.find_element(By.ID, "query")
    box.send_keys(query)
    box.send_keys(Keys.ENTER)
    if wait_for_state(session, "#results") != "done":
        raise RuntimeError(f"the page reports {status.text!r}")
    time.sleep(PLAY_SECONDS)
    return [title.text.split(" · ")[1] for title in session.find_elements(By.CSS_SELECTOR, ".card .title")]


def main() -> None:

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("query")
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    add_gallery_arguments(parser)
    parser.add_argument("-k", type=int, default=6)
    args = parser.parse_args()

    def run() -> None:
        args.gallery, args.model = gallery_and_model(args)
        chromium = find_chromium()
        if chromium is None:
            raise DataError("chromium", "Chromium or chromedriver not found "
                                        "(Debian: apt-get install chromium chromium-driver)")
        check_gallery(args.gallery)
        model = load_model(args.model)
        app = serve.create_app(model, args.model.name, EmbeddingCache(args.cache).index(args.gallery, model, args.model))
        with serve.running(app) as served, headless_chromium(*chromium) as session:
            ids = search_page(session, served.url, args.query, args.k)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            session.save_screenshot(str(args.out))
        print(f"results: {' '.join(ids)}; wrote {args.out}")

    run_cli(run)


if __name__ == "__main__":
    main()
