"""Stage `encode_text`: every caption through the frozen text backbone, once per dataset and backbone.

Params sections `text` (which backbone) and `encode_text`. Reads the captions of preprocess's
train and val stores and the train clips' paraphrases; writes their pooled vectors and token
states (textmotion.text_features), which training reads instead of running the backbone. So an
experiment that changes only training (`dvc exp run -S train.temperature=0.05`) encodes nothing;
a change of the data or of `text` encodes again.
"""
from __future__ import annotations

import time

from textmotion.cli import run_stage
from textmotion.io import check_writable
from textmotion.params import load_section
from textmotion.text_features import encode_captions


def main() -> None:
    text, cfg = load_section("text"), load_section("encode_text")
    check_writable(folders=[cfg.out])
    started = time.perf_counter()
    info = encode_captions(cfg.prepared, text, cfg.out)
    print(f"{info['captions']} captions ({info['tokens']} tokens, {info['dim']} features each) encoded by "
          f"{text.encoder} in {time.perf_counter() - started:.0f} s → {cfg.out}")


if __name__ == "__main__":
    run_stage(main, __doc__)
