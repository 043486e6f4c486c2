"""Search speed over a large gallery: the first (cold) search, which encodes every clip, and
repeated (warm) searches, which read the embedding cache.

Writes a synthetic gallery of random (T, 384) clips (T uniform in 40..200 frames) with
`layout.write_clip` into a temporary folder, then times, in one process:
- cold: `EmbeddingCache.index` with an empty cache (read and validate every clip, encode them
  all, write the cache) plus one `IndexedGallery.search`;
- warm: `EmbeddingCache.index` again (gallery file listing and stats, key, cache file read)
  plus `IndexedGallery.search` (encode the sentence, rank every clip): what `src/search.py` and each
  request of `src/serve.py` do once the model is loaded;
- the warm `src/search.py` command end to end, Python start-up and model loading included.
The model is `--model DIR`, or an untrained model of params.yaml's `model` section (the same
computation as a trained one).

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/search_speed.py --clips 10000 --threads 2
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from textmotion.gallery import EmbeddingCache
from textmotion.layout import write_clip
from textmotion.model_io import RetrievalModel, TrainedConfig, load_model, save_model
from textmotion.params import read_params
from textmotion.store import NormStats

REPO = Path(__file__).resolve().parents[1]

QUERIES = ["two people shake hands", "a person walks forward and sits down", "one person pushes the other",
           "someone jumps twice", "two people hug", "a person waves with the left hand",
           "one person chases the other", "two people dance facing each other"]


def write_gallery(root: Path, n_clips: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for i in range(n_clips):
        motion = rng.normal(size=(int(rng.integers(40, 201)), 384)).astype(np.float32)
        write_clip(root, f"clip{i:05d}", motion, [f"synthetic clip number {i}"])


def untrained_model(folder: Path) -> Path:
    torch.manual_seed(0)
    params = read_params(REPO / "params.yaml")
    stats = NormStats(np.zeros(384, np.float32), np.ones(384, np.float32))
    model = RetrievalModel.from_config(params.model, params.text, stats, downsample=1)
    save_model(folder, model, TrainedConfig.resolve(params.text, params.model, params.train, 1, model.text_weights))
    return folder


def timed(function) -> tuple[float, object]:
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=10_000)
    parser.add_argument("--model", type=Path, help="model folder (default: an untrained default-size model)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--warm-runs", type=int, default=15)
    parser.add_argument("--cold-runs", type=int, default=1, help="each re-encodes the whole gallery")
    parser.add_argument("--cli-runs", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory(prefix="search_speed.") as tmp:
        tmp = Path(tmp)
        seconds, _ = timed(lambda: write_gallery(tmp / "gallery", args.clips))
        print(f"wrote {args.clips} random clips in {seconds:.1f} s; {os.cpu_count()} CPUs, "
              f"{args.threads} torch threads", flush=True)
        model_dir = args.model or untrained_model(tmp / "model")
        load_s, model = timed(lambda: load_model(model_dir, device="cpu"))
        print(f"model {model_dir} loaded in {load_s:.2f} s", flush=True)

        def search_once(cache: Path, query: str) -> None:
            EmbeddingCache(cache).index(tmp / "gallery", model, model_dir).search(model, query, 5)

        cold = []
        for run in range(args.cold_runs):
            seconds, _ = timed(lambda: search_once(tmp / f"cold{run}", QUERIES[0]))
            cold.append(seconds)
            print(f"  cold run {run + 1}: {seconds:.1f} s", flush=True)
        warm = [timed(lambda: search_once(tmp / "cold0", QUERIES[i % len(QUERIES)]))[0]
                for i in range(args.warm_runs)]
        cli = []
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(args.threads)}
        for i in range(args.cli_runs):
            command = [sys.executable, str(REPO / "src" / "search.py"), QUERIES[i % len(QUERIES)],
                       "--gallery", str(tmp / "gallery"), "--model", str(model_dir), "--cache", str(tmp / "cold0")]
            seconds, run = timed(lambda: subprocess.run(command, capture_output=True, text=True, env=env))
            if run.returncode != 0:
                raise SystemExit(run.stderr)
            cli.append(seconds)

    print(f"cold search ({args.clips} clips encoded, median of {len(cold)}): {statistics.median(cold):.1f} s")
    print(f"warm search (cache read + query, median of {len(warm)}): {statistics.median(warm):.3f} s "
          f"(min {min(warm):.3f}, max {max(warm):.3f})")
    if cli:
        print(f"warm `src/search.py` command end to end (start-up and model load included, median of "
              f"{len(cli)}): {statistics.median(cli):.1f} s")


if __name__ == "__main__":
    main()
