"""Write each stage's code deps and params in dvc.yaml from the code itself, so they cannot drift.

A stage's code deps are the project files its script needs: the script, and every project
module it imports, directly or not, with their package __init__ files; a package that holds
files other than Python (the search page's assets in textmotion/web) is one dep, its folder.
Its params are the params.yaml sections the script loads (`load_section("<name>")` calls),
each tracked whole: a key added to a section needs no edit here. Everything else in dvc.yaml
(commands, data deps, outputs, comments) is written by hand and kept as it is.

    python tools/write_dvc_deps.py     # rewrite dvc.yaml
tests/test_dvc_deps.py fails when dvc.yaml is not what this writes.
"""
from __future__ import annotations

import ast
import io
import re
from functools import cache
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedSeq

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
DVC_YAML = REPO / "dvc.yaml"
PACKAGE = "textmotion"
LIBRARY_VAR = "${lib}"  # dvc.yaml's name for src/textmotion


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


def holds_data(package: Path) -> bool:
    """The package folder holds files other than Python ones, outside its subpackages."""
    for entry in package.iterdir():
        if entry.is_file() and entry.suffix != ".py":
            return True
        if entry.is_dir() and entry.name != "__pycache__" and not (entry / "__init__.py").exists():
            return True
    return False


def code_deps(script: Path) -> list[str]:
    """dvc.yaml entries for the files `script` needs: the script first, then the library."""
    entries = set()
    for path in import_closure(script) - {script}:
        entry = path.parent if path.name == "__init__.py" and holds_data(path.parent) else path
        entries.add(LIBRARY_VAR + "/" + entry.relative_to(SRC / PACKAGE).as_posix())
    return [script.relative_to(REPO).as_posix(), *sorted(entries)]


def loaded_sections(script: Path) -> list[str]:
    """The params sections a stage script loads, in the order it loads them."""
    tree = ast.parse(script.read_text(encoding="utf-8"))
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
             and getattr(node.func, "id", None) == "load_section" and node.args
             and isinstance(node.args[0], ast.Constant)]
    return list(dict.fromkeys(node.args[0].value for node in sorted(calls, key=lambda n: (n.lineno, n.col_offset))))


def stage_script(stage: dict) -> Path:
    match = re.search(r"python\s+(\S+\.py)", stage["cmd"])
    if not match:
        raise SystemExit(f"error: dvc.yaml: cannot find the script in {stage['cmd']!r}")
    return REPO / match.group(1)


def is_code(entry: str) -> bool:
    return entry.startswith((LIBRARY_VAR, "src/"))


def rendered() -> str:
    """dvc.yaml as it should be: the file with every stage's code deps and params rewritten."""
    yaml = YAML()
    yaml.width = 120
    yaml.indent(mapping=2, sequence=4, offset=2)
    document = yaml.load(DVC_YAML.read_text(encoding="utf-8"))
    for stage in document["stages"].values():
        script = stage_script(stage)
        old = stage.get("deps", CommentedSeq())
        deps = CommentedSeq(code_deps(script))
        for index, entry in enumerate(old):  # data deps stay, with their comments
            if not is_code(entry):
                deps.append(entry)
                if index in old.ca.items:
                    deps.ca.items[len(deps) - 1] = old.ca.items[index]
        stage["deps"] = deps
        params = CommentedSeq(loaded_sections(script))
        if "params" in stage:
            stage["params"] = params
        else:  # a new stage: params after its deps
            stage.insert(list(stage).index("deps") + 1, "params", params)
    out = io.StringIO()
    yaml.dump(document, out)
    return out.getvalue()


if __name__ == "__main__":
    DVC_YAML.write_text(rendered(), encoding="utf-8")
    print(f"wrote {DVC_YAML.relative_to(REPO)}")
