"""dvc.yaml cannot drift from the code: each stage's deps cover every project module its script
imports (transitively, package __init__ files included), and its params are exactly the keys of
the params.yaml sections the script loads (keys the schema checks: all it requires, none unknown)."""
from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
PACKAGE = "textmotion"
DVC = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))


def resolve(entry: str) -> str:
    """A deps entry with dvc.yaml's vars and params.yaml's values substituted."""
    variables = {k: v for mapping in DVC.get("vars", []) for k, v in mapping.items()}

    def value(match: re.Match) -> str:
        name = match.group(1)
        if name in variables:
            return str(variables[name])
        section, key = name.split(".")
        return str(PARAMS[section][key])
    return re.sub(r"\$\{([^}]+)\}", value, entry)


def module_file(module: str) -> Path | None:
    """The file of a project module (`textmotion.x.y`), or None if it is not one."""
    base = SRC.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Project modules a file imports (anywhere in it), with their parent packages."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the file's package, up level - 1
                anchor = package.split(".")[:len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]  # a name may be a submodule
        else:
            continue
        for name in names:
            if name.split(".")[0] == PACKAGE and module_file(name):
                parts = name.split(".")
                found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return found


@cache
def import_closure(script: Path) -> frozenset[Path]:
    """Every project file `script` needs, itself included."""
    files, todo = set(), [script]
    while todo:
        path = todo.pop()
        if path in files:
            continue
        files.add(path)
        todo += [module_file(name) for name in imported_modules(path)]
    return frozenset(files)


def stage_script(stage: dict) -> Path:
    match = re.search(r"python\s+(\S+\.py)", stage["cmd"])
    assert match, f"cannot find the script in {stage['cmd']!r}"
    return REPO / match.group(1)


def loaded_sections(script: Path) -> set[str]:
    """The params sections a stage script loads: load_params("<section>") calls."""
    tree = ast.parse(script.read_text(encoding="utf-8"))
    return {node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "load_params"
            and node.args and isinstance(node.args[0], ast.Constant)}


STAGES = sorted(DVC["stages"])


def test_the_import_walk_finds_what_it_should():
    """The walk itself: relative imports, `from package import module`, parent packages."""
    closure = {module_name(p) for p in import_closure(SRC / "textmotion" / "model_io.py")}
    assert {"textmotion", "textmotion.io", "textmotion.errors", "textmotion.params",
            "textmotion.store", "textmotion.skeleton"} <= closure
    assert not any(name.startswith("textmotion.sources") for name in closure)


def deps(stage: dict) -> dict[str, Path]:
    """Each deps entry and the path it resolves to."""
    return {entry: (REPO / resolve(entry)).resolve() for entry in stage.get("deps", [])}


def covers(dep: Path, path: Path) -> bool:
    return path == dep or dep in path.parents


@pytest.mark.parametrize("name", STAGES)
def test_deps_cover_every_imported_module(name):
    stage = DVC["stages"][name]
    listed = deps(stage).values()
    missing = [str(path.relative_to(REPO)) for path in sorted(import_closure(stage_script(stage)))
               if not any(covers(dep, path) for dep in listed)]
    assert not missing, f"dvc.yaml stage {name}: add to deps {missing}"


@pytest.mark.parametrize("name", STAGES)
def test_deps_list_no_code_the_stage_does_not_import(name):
    """A stale code dep only costs re-runs, but it makes the list lie."""
    stage = DVC["stages"][name]
    needed = import_closure(stage_script(stage))
    stale = [entry for entry, dep in deps(stage).items()
             if dep.is_relative_to(SRC) and not any(covers(dep, path) for path in needed)]
    assert not stale, f"dvc.yaml stage {name}: deps not imported by {stage_script(stage).name}: {stale}"


@pytest.mark.parametrize("name", STAGES)
def test_params_are_the_keys_of_the_sections_the_stage_loads(name):
    stage = DVC["stages"][name]
    listed = set(stage.get("params", []))
    expected = {f"{section}.{key}" for section in loaded_sections(stage_script(stage))
                for key in PARAMS[section]}  # the schema has checked that these are all the keys
    assert listed == expected, (f"dvc.yaml stage {name}: params missing {sorted(expected - listed)}, "
                                f"not read {sorted(listed - expected)}")

