"""Stage `train`: text and motion encoders into one space (params sections `model`, `train`).

Writes the model folder (`train.model_dir`) and per-epoch metrics to `train.live_dir`;
resumes from `train.checkpoint_dir` when a run with the same config was interrupted.

Data parallel on N processes (GPUs, or CPU processes with gloo), same result as one process:

    torchrun --nproc_per_node N src/train.py

`train.batch_size` is then the global batch (divisible by N); rank 0 writes every output.
"""
from __future__ import annotations

from textmotion.errors import run_cli
from textmotion.io import load_params
from textmotion.training import train


def main() -> None:
    train(load_params("model"), load_params("train"))


if __name__ == "__main__":
    run_cli(main)
