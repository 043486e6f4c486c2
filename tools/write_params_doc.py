"""Write docs/params.md, the params.yaml reference, from the schema in src/textmotion/params.py.

    python tools/write_params_doc.py
"""
from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from textmotion.params import reference  # noqa: E402

DOC = REPO / "docs" / "params.md"

if __name__ == "__main__":
    DOC.write_text(reference(), encoding="utf-8")
    print(f"wrote {DOC.relative_to(REPO)}")
