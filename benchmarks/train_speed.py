"""Training speed and reachable val score: default CPU configuration vs the reference configuration's (the challenge README's); and the
default step as it ran before the packed motion encoder vs now.

For each configuration: the median training step time and clips/s, then a training run
sized to the same wall-clock budget (its cosine schedule spans the steps that fit) and the
val R@1 / challenge score it reaches on the full val split. Setup (model building, caption
caching) is timed apart from the budget. Reads the data of the `train` params section.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/train_speed.py --budget 240 --threads 2

On a GPU (`--device cuda`) each step is timed to the end of its kernels, and the table adds
the step's FLOP (counted once by `torch.utils.flop_counter` on a real step, forward and
backward) per clip and the model FLOP utilisation against `--peak-tflops` (dense bf16).

    HF_HUB_OFFLINE=1 python benchmarks/train_speed.py --device cuda --budget 60 --peak-tflops 989

`--compare-paths` instead times the default step two ways in one process, interleaved on
the same batches (medians, and their ratio): "before" runs PyTorch's own TransformerEncoder
on the padded batch (`MotionEncoder.reference_forward`, torch's Bernoulli dropout) with
deterministic mode's NaN fill of every new tensor, as the step ran before; "now" is the step
as `TrainingSession` runs it.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/train_speed.py --compare-paths --steps 60
"""
from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, TypeVar

import torch
from torch.utils.flop_counter import FlopCounterMode
import yaml

from textmotion import text_encoders
from textmotion.errors import DataError
from textmotion.params import Model, Text, Train, read_params
from textmotion.training import TrainingSession

PROBE_STEPS = 4
T = TypeVar("T")
WARMUP_STEPS = 3


def timed_step(session: TrainingSession, batch: dict) -> float:
    """Seconds of one training step, to the end of its GPU kernels on a GPU."""
    tick = time.perf_counter()
    session.step(batch)
    if session.device.type == "cuda":
        torch.cuda.synchronize(session.device)
    return time.perf_counter() - tick


def endless_batches(session: TrainingSession):
    """The session's batches, epoch after epoch."""
    return (batch for epoch in itertools.count() for batch in session.loader(epoch))


def step_flop(session: TrainingSession, batch: dict) -> int:
    """FLOP of one training step (forward and backward), counted by PyTorch's FLOP counter."""
    with FlopCounterMode(display=False) as counter:
        session.step(batch)
    return counter.get_total_flops()


def compare_paths(model_cfg: Model, text_cfg: Text, train_cfg: Train, n_steps: int) -> dict[str, dict[str, list[float]]]:
    """Wall and CPU (process) seconds of the step before and now, on the same batches,
    interleaved. CPU seconds count every thread, and barely move when other processes
    share the cores, which wall seconds do."""
    sessions = {"before": TrainingSession(model_cfg, text_cfg, train_cfg),
                "now": TrainingSession(model_cfg, text_cfg, train_cfg)}
    encoder = sessions["before"].model.motion_encoder
    encoder.forward = encoder.reference_forward
    fill = {"before": True, "now": torch.utils.deterministic.fill_uninitialized_memory}
    times = {name: {"wall": [], "cpu": []} for name in sessions}
    batches = endless_batches(sessions["now"])
    for index, batch in zip(range(WARMUP_STEPS + n_steps), batches):
        for name in (sessions if index % 2 else reversed(sessions)):  # neither always goes first
            torch.utils.deterministic.fill_uninitialized_memory = fill[name]
            wall, cpu = time.perf_counter(), time.process_time()
            sessions[name].step(batch)
            if index >= WARMUP_STEPS:
                times[name]["wall"].append(time.perf_counter() - wall)
                times[name]["cpu"].append(time.process_time() - cpu)
    return times


def profile_steps(model_cfg: Model, text_cfg: Text, train_cfg: Train, n_steps: int) -> str:
    """The operators that take the most device time over `n_steps` steps (after warm-up)."""
    session = TrainingSession(model_cfg, text_cfg, train_cfg.updated(epochs=1))
    batches = itertools.islice(endless_batches(session), WARMUP_STEPS + n_steps)
    for batch in itertools.islice(batches, WARMUP_STEPS):
        timed_step(session, batch)
    activities = [torch.profiler.ProfilerActivity.CPU]
    if session.device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as profiler:
        for batch in batches:
            timed_step(session, batch)
    sort_by = "self_cuda_time_total" if session.device.type == "cuda" else "self_cpu_time_total"
    return profiler.key_averages().table(sort_by=sort_by, row_limit=15, max_name_column_width=60)


def run_within_budget(model_cfg: Model, text_cfg: Text, train_cfg: Train, budget_s: float) -> dict:
    started = time.perf_counter()
    probe = TrainingSession(model_cfg, text_cfg, train_cfg.updated(epochs=1))
    setup_s = time.perf_counter() - started
    probe_times, flop_per_clip = [], None
    for batch in probe.loader(0):  # the first step is warm-up; a slow configuration probes less
        if flop_per_clip is None:
            flop_per_clip = step_flop(probe, batch) / train_cfg.batch_size
        probe_times.append(timed_step(probe, batch))
        if len(probe_times) > PROBE_STEPS or (len(probe_times) >= 2 and sum(probe_times) > budget_s / 4):
            break
    fitting_steps = budget_s / statistics.median(probe_times[1:] or probe_times)
    epochs = max(1, int(fitting_steps // probe.steps_per_epoch))
    del probe

    session = TrainingSession(model_cfg, text_cfg, train_cfg.updated(epochs=epochs))
    step_times, deadline = [], time.perf_counter() + budget_s
    for epoch in range(epochs):
        for batch in session.loader(epoch):
            if time.perf_counter() > deadline:
                break
            step_times.append(timed_step(session, batch))
    step_s = statistics.median(step_times)
    return {"setup_s": setup_s, "step_s": step_s, "clips_per_s": train_cfg.batch_size / step_s,
            "gflop_per_clip": flop_per_clip / 1e9,
            "steps": len(step_times), "planned_epochs": epochs, **session.validate()}


@contextmanager
def random_text_weights() -> Iterator[None]:
    """Inside the block text backbones are built with random weights."""
    pretrained = text_encoders.pretrained_backbone
    text_encoders.pretrained_backbone = text_encoders.random_backbone
    try:
        yield
    finally:
        text_encoders.pretrained_backbone = pretrained


def with_text_weights(name: str, run: Callable[[], T]) -> tuple[T, str]:
    """`run()` with the pretrained text weights, or with random ones where they cannot be had
    (no CLIP weights here): then its timing holds and its score means nothing (the note says so)."""
    try:
        return run(), ""
    except DataError as err:
        print(f"{name}: {err}\n{name}: with random text weights; its score means nothing")
        with random_text_weights():
            return run(), "random text weights"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=240, help="training seconds per configuration")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--compile", action="store_true", help="add the reference configuration under torch.compile")
    parser.add_argument("--reference-batch", type=int, nargs="*", default=[],
                        help="add the reference configuration at these batch sizes too")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="instead of timing, profile N steps of each configuration (top operators)")
    parser.add_argument("--only", nargs="*", default=None, help="run only these configurations (by name)")
    parser.add_argument("--peak-tflops", type=float, default=None,
                        help="the device's dense bf16 peak (H100/H200 SXM: 989), for the FLOP utilisation")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--reference-params", default="params_gpu.yaml")
    parser.add_argument("--compare-paths", action="store_true",
                        help="time the default step before and now (see above) instead")
    parser.add_argument("--steps", type=int, default=60, help="timed steps per path with --compare-paths")
    args = parser.parse_args()

    params = read_params(args.params)
    if args.compare_paths:
        with tempfile.TemporaryDirectory() as scratch:
            train_cfg = params.train.updated(threads=args.threads, device=args.device, checkpoint_dir=scratch,
                                             model_dir=scratch, live_dir=scratch)
            times = compare_paths(params.model, params.text, train_cfg, args.steps)
        print(f"default train step, batch {params.train.batch_size}, {args.threads} threads, {args.device}, "
              f"{args.steps} steps each, interleaved; medians (quartiles) in ms")
        for clock in ("wall", "cpu"):
            medians = {name: statistics.median(t[clock]) for name, t in times.items()}
            for name, t in times.items():
                quartiles = statistics.quantiles(t[clock], n=4)
                print(f"{clock:<4} {name:<7} {medians[name] * 1e3:7.1f}  ({quartiles[0] * 1e3:.1f}–{quartiles[2] * 1e3:.1f})")
            print(f"{clock:<4} now / before: {medians['now'] / medians['before']:.3f}  "
                  f"({medians['before'] / medians['now']:.2f}× faster)")
        return
    reference = yaml.safe_load(Path(args.reference_params).read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as scratch:  # nothing is saved; keep outputs off the repo
        common = params.train.updated(threads=args.threads, device=args.device, checkpoint_dir=scratch,
                                      model_dir=scratch, live_dir=scratch)
        ref_model, ref_text = params.model.updated(**reference["model"]), params.text.updated(**reference["text"])
        ref_train = common.updated(**reference["train"])
        configurations = {"default": (params.model, params.text, common), "reference": (ref_model, ref_text, ref_train)}
        if args.compile:
            configurations["reference compiled"] = (ref_model, ref_text, ref_train.updated(compile=True))
        for batch_size in args.reference_batch:
            configurations[f"reference b{batch_size}"] = (ref_model, ref_text, ref_train.updated(batch_size=batch_size))
        if args.only is not None:
            configurations = {name: configurations[name] for name in args.only}
        results = {}
        for name, (model_cfg, text_cfg, train_cfg) in configurations.items():
            print(f"--- {name}", flush=True)
            if args.profile:
                print(with_text_weights(name, lambda: profile_steps(model_cfg, text_cfg, train_cfg, args.profile))[0])
                continue
            result, note = with_text_weights(name, lambda: run_within_budget(model_cfg, text_cfg, train_cfg,
                                                                             args.budget))
            results[name] = {**result, "note": note}

    if args.profile:
        return
    print(f"\nwall-clock budget {args.budget:.0f} s per configuration, {args.threads} threads, {args.device}")
    print(f"{'configuration':<15}{'step s':>8}{'clips/s':>9}{'GFLOP/clip':>11}{'MFU':>7}{'steps':>7}{'epochs':>7}"
          f"{'val R@1':>9}{'val score':>10}{'setup s':>9}")
    for name, r in results.items():
        utilisation = (f"{r['clips_per_s'] * r['gflop_per_clip'] / (args.peak_tflops * 1e3):>7.1%}"
                       if args.peak_tflops else f"{'-':>7}")
        print(f"{name:<15}{r['step_s']:>8.4f}{r['clips_per_s']:>9.1f}{r['gflop_per_clip']:>11.2f}{utilisation}"
              f"{r['steps']:>7}{r['planned_epochs']:>7}{r['val_R@1']:>9.3f}{r['val_score']:>10.3f}{r['setup_s']:>9.1f}"
              f"  {r.get('note', '')}")


if __name__ == "__main__":
    main()
