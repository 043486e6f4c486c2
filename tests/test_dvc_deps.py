"""dvc.yaml cannot drift from the code: each stage's code deps and params are what
tools/write_dvc_deps.py derives from its script (the import chain, the sections it loads)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml

from textmotion.params import SECTIONS

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("write_dvc_deps", REPO / "tools" / "write_dvc_deps.py")
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)


def test_dvc_yaml_is_what_the_tool_writes():
    assert (REPO / "dvc.yaml").read_text(encoding="utf-8") == tool.rendered(), \
        "dvc.yaml's code deps or params are stale: run python tools/write_dvc_deps.py"


def test_the_import_walk_finds_what_it_should():
    """The walk itself: `from package import name`, parent packages, nothing unimported."""
    closure = {tool.module_name(p) for p in tool.import_closure(tool.SRC / "textmotion" / "model_io.py")}
    assert {"textmotion", "textmotion.io", "textmotion.errors", "textmotion.params",
            "textmotion.store", "textmotion.skeleton", "textmotion.text_encoders"} <= closure
    assert not any(name.startswith("textmotion.sources") for name in closure)


def test_a_package_with_assets_is_one_folder_dep():
    deps = tool.code_deps(tool.SRC / "evaluate.py")
    assert "${lib}/web" in deps and not any(dep.startswith("${lib}/web/") for dep in deps)
    assert "${lib}/__init__.py" in deps  # the top package holds only Python: its file alone


def test_every_stage_loads_sections_of_the_schema():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    loaded = {name: tool.loaded_sections(tool.stage_script(stage)) for name, stage in stages.items()}
    assert loaded["train"] == ["model", "text", "train"] and loaded["evaluate"] == ["evaluate", "scoring"]
    assert all(sections and set(sections) <= set(SECTIONS) for sections in loaded.values())
