"""Print a params profile (a partial params.yaml, e.g. params_gpu.yaml) as `dvc exp run` flags.

DVC has no option for a second params file: an experiment changes params.yaml through
`--set-param` (`-S`) overrides. This turns every key of the profile into one, so the profile
stays the one place its values are written:

    dvc exp run -n reference-gpu $(python tools/set_params.py params_gpu.yaml)
    dvc exp run --queue -n reference-gpu-s1 $(python tools/set_params.py params_gpu.yaml) -S train.seed=1

The profile is first checked: params.yaml with the profile's values must pass the schema
(textmotion.params), so a misspelt key or a bad value is one line, before DVC runs anything.
Strings are single-quoted for DVC's (Hydra's) override grammar and may not hold whitespace
or quotes, since the shell splits the flags on whitespace.
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import yaml

from textmotion.errors import DataError, run_cli
from textmotion.params import Params, validate

REPO = Path(__file__).resolve().parents[1]


def read_profile(path: str | Path, params_path: str | Path) -> dict:
    """The profile's sections; DataError unless params.yaml with its values passes the schema."""
    profile = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    params = yaml.safe_load(Path(params_path).read_text(encoding="utf-8"))
    if not isinstance(profile, dict) or not all(isinstance(v, dict) for v in profile.values()):
        raise DataError(path, "must be a mapping of params.yaml sections to keys and values")
    validate(Params, {**params, **{name: {**params.get(name, {}), **values} for name, values in profile.items()}},
             path)
    for section, values in profile.items():
        for key, value in values.items():
            if isinstance(value, str) and re.search(r"[\s'\"]", value):
                raise DataError(path, f"{section}.{key}: {value!r} holds whitespace or a quote, which "
                                      f"cannot pass through the shell as one flag")
    return profile


def override_value(value: object) -> str:
    """`value` in Hydra's override grammar."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return f"'{value}'" if isinstance(value, str) else repr(value)


def set_param_flags(profile: dict) -> list[str]:
    """`-S section.key=value` for every key of every section of `profile`."""
    return [flag for section, values in profile.items() for key, value in values.items()
            for flag in ("-S", f"{section}.{key}={override_value(value)}")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("profile", help="a YAML file with some sections and keys of params.yaml")
    parser.add_argument("--params", default="params.yaml", help="the params file the flags will change")
    args = parser.parse_args()
    print(" ".join(set_param_flags(read_profile(args.profile, args.params))))


if __name__ == "__main__":
    run_cli(main)
