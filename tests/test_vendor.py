"""The committed browser libraries are the versions package-lock.json pins, with their licences,
and the dvc plots template falls back to the CDN at those same versions."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VENDORED = {  # package → (vendored build, how the build states its version)
    "vega": (REPO / "tools/vendor/vega/vega.min.js", lambda v: f'"{v}"'),
    "vega-lite": (REPO / "tools/vendor/vega-lite/vega-lite.min.js", lambda v: f'"{v}"'),
    "vega-embed": (REPO / "tools/vendor/vega-embed/vega-embed.min.js", lambda v: f'"{v}"'),
    "three": (REPO / "src/textmotion/web/vendor/three/three.module.min.js",
              lambda v: f'const t="{v.split(".")[1]}"'),  # REVISION "170" of 0.170.0
}


def locked_version(package: str) -> str:
    lock = json.loads((REPO / "package-lock.json").read_text(encoding="utf-8"))
    return lock["packages"][f"node_modules/{package}"]["version"]


@pytest.mark.parametrize("package", VENDORED)
def test_vendored_build_is_the_locked_version_with_its_licence(package):
    build, stated = VENDORED[package]
    version = locked_version(package)
    assert stated(version) in build.read_text(encoding="utf-8"), f"{build} is not {package} {version}"
    assert (build.parent / "LICENSE").read_text(encoding="utf-8").strip()


def test_plots_template_cdn_fallback_uses_the_locked_versions():
    template = (REPO / "tools/dvc_plots_offline.html").read_text(encoding="utf-8")
    cdn = dict(re.findall(r"cdn\.jsdelivr\.net/npm/([a-z-]+)@([0-9.]+)", template))
    assert cdn == {package: locked_version(package) for package in ("vega", "vega-lite", "vega-embed")}
    for package in ("vega", "vega-lite", "vega-embed"):
        assert f'src="../tools/vendor/{package}/{package}.min.js"' in template
