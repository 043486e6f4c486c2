"""Write docs/params.md, the params.yaml reference, from the schema in src/textmotion/params.py.

    python tools/write_params_doc.py
"""
from __future__ import annotations

from pathlib import Path

from textmotion.params import reference

REPO = Path(__file__).resolve().parents[1]

DOC = REPO / "docs" / "params.md"

if __name__ == "__main__":
    DOC.write_text(reference(), encoding="utf-8")
    print(f"wrote {DOC.relative_to(REPO)}")
