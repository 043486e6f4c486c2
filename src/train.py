"""Stage `train`: text and motion encoders into one space (params sections `model`, `text`, `train`).

Writes the model folder (`train.model_dir`) and per-epoch metrics to `train.live_dir`;
resumes from `train.checkpoint_dir` when a run with the same config was interrupted. With a
frozen text backbone (`model.freeze_text`) the captions' features come from encode_text's
cache (`train.text_features`), not from running the backbone.

Data parallel on N processes (GPUs, or CPU processes with gloo), same result as one process:

    torchrun --nproc_per_node N src/train.py

`train.batch_size` is then the global batch (divisible by N); rank 0 writes every output.
"""
from __future__ import annotations

from textmotion.cli import run_stage
from textmotion.params import load_section
from textmotion.training import train


def main() -> None:
    train(load_section("model"), load_section("text"), load_section("train"))


if __name__ == "__main__":
    run_stage(main, __doc__)
