"""Training speed and reachable val score: default CPU configuration vs the seed's; and the
default step as it ran before the packed motion encoder vs now.

For each configuration: the median training step time and clips/s, then a training run
sized to the same wall-clock budget (its cosine schedule spans the steps that fit) and the
val R@1 / challenge score it reaches on the full val split. Setup (model building, caption
caching) is timed apart from the budget. Reads the data of the `train` params section.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/train_speed.py --budget 240 --threads 2

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
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402
import yaml  # noqa: E402

from textmotion.errors import DataError  # noqa: E402
from textmotion.training import TrainingSession  # noqa: E402

PROBE_STEPS = 4
WARMUP_STEPS = 3


def compare_paths(model_params: dict, train_params: dict, n_steps: int) -> dict[str, dict[str, list[float]]]:
    """Wall and CPU (process) seconds of the step before and now, on the same batches,
    interleaved. CPU seconds count every thread, and barely move when other processes
    share the cores, which wall seconds do."""
    sessions = {"before": TrainingSession(model_params, train_params),
                "now": TrainingSession(model_params, train_params)}
    encoder = sessions["before"].model.motion_encoder
    encoder.forward = encoder.reference_forward
    fill = {"before": True, "now": torch.utils.deterministic.fill_uninitialized_memory}
    times = {name: {"wall": [], "cpu": []} for name in sessions}
    batches = (batch for epoch in itertools.count() for batch in sessions["now"].loader(epoch))
    for index, batch in zip(range(WARMUP_STEPS + n_steps), batches):
        for name in (sessions if index % 2 else reversed(sessions)):  # neither always goes first
            torch.utils.deterministic.fill_uninitialized_memory = fill[name]
            wall, cpu = time.perf_counter(), time.process_time()
            sessions[name].step(batch)
            if index >= WARMUP_STEPS:
                times[name]["wall"].append(time.perf_counter() - wall)
                times[name]["cpu"].append(time.process_time() - cpu)
    return times


def run_within_budget(model_params: dict, train_params: dict, budget_s: float,
                      text_pretrained: bool) -> dict:
    started = time.perf_counter()
    probe = TrainingSession(model_params, {**train_params, "epochs": 1}, text_pretrained)
    setup_s = time.perf_counter() - started
    probe_times = []
    for batch in probe.loader(0):  # the first step is warm-up; a slow configuration probes less
        tick = time.perf_counter()
        probe.step(batch)
        probe_times.append(time.perf_counter() - tick)
        if len(probe_times) > PROBE_STEPS or (len(probe_times) >= 2 and sum(probe_times) > budget_s / 4):
            break
    fitting_steps = budget_s / statistics.median(probe_times[1:] or probe_times)
    epochs = max(1, int(fitting_steps // probe.steps_per_epoch))
    del probe

    session = TrainingSession(model_params, {**train_params, "epochs": epochs}, text_pretrained)
    step_times, deadline = [], time.perf_counter() + budget_s
    for epoch in range(epochs):
        for batch in session.loader(epoch):
            if time.perf_counter() > deadline:
                break
            tick = time.perf_counter()
            session.step(batch)
            step_times.append(time.perf_counter() - tick)
    step_s = statistics.median(step_times)
    return {"setup_s": setup_s, "step_s": step_s, "clips_per_s": train_params["batch_size"] / step_s,
            "steps": len(step_times), "planned_epochs": epochs, **session.validate()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=float, default=240, help="training seconds per configuration")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--seed-params", default="params_gpu.yaml")
    parser.add_argument("--compare-paths", action="store_true",
                        help="time the default step before and now (see above) instead")
    parser.add_argument("--steps", type=int, default=60, help="timed steps per path with --compare-paths")
    args = parser.parse_args()

    params = yaml.safe_load(Path(args.params).read_text(encoding="utf-8"))
    if args.compare_paths:
        with tempfile.TemporaryDirectory() as scratch:
            train_params = {**params["train"], "threads": args.threads, "device": args.device,
                            "checkpoint_dir": scratch, "model_dir": scratch, "live_dir": scratch}
            times = compare_paths(params["model"], train_params, args.steps)
        print(f"default train step, batch {params['train']['batch_size']}, {args.threads} threads, {args.device}, "
              f"{args.steps} steps each, interleaved; medians (quartiles) in ms")
        for clock in ("wall", "cpu"):
            medians = {name: statistics.median(t[clock]) for name, t in times.items()}
            for name, t in times.items():
                quartiles = statistics.quantiles(t[clock], n=4)
                print(f"{clock:<4} {name:<7} {medians[name] * 1e3:7.1f}  ({quartiles[0] * 1e3:.1f}–{quartiles[2] * 1e3:.1f})")
            print(f"{clock:<4} now / before: {medians['now'] / medians['before']:.3f}  "
                  f"({medians['before'] / medians['now']:.2f}× faster)")
        return
    seed = yaml.safe_load(Path(args.seed_params).read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as scratch:  # nothing is saved; keep outputs off the repo
        common = {**params["train"], "threads": args.threads, "device": args.device,
                  "checkpoint_dir": scratch, "model_dir": scratch, "live_dir": scratch}
        configurations = {
            "default (CPU)": (params["model"], common),
            "seed": ({**params["model"], **seed["model"]}, {**common, **seed["train"]}),
        }
        results = {}
        for name, (model_params, train_params) in configurations.items():
            print(f"--- {name}", flush=True)
            try:
                results[name] = run_within_budget(model_params, train_params, args.budget, True)
            except DataError as err:  # no CLIP weights here: time it with random ones
                print(f"{name}: {err}\n{name}: timing with random text weights; its score means nothing")
                results[name] = run_within_budget(model_params, train_params, args.budget, False)
                results[name]["note"] = "random text weights"

    print(f"\nwall-clock budget {args.budget:.0f} s per configuration, {args.threads} threads, {args.device}")
    header = f"{'configuration':<15}{'step s':>8}{'clips/s':>9}{'steps':>7}{'epochs':>7}{'val R@1':>9}{'val score':>10}{'setup s':>9}"
    print(header)
    for name, r in results.items():
        print(f"{name:<15}{r['step_s']:>8.3f}{r['clips_per_s']:>9.1f}{r['steps']:>7}{r['planned_epochs']:>7}"
              f"{r['val_R@1']:>9.3f}{r['val_score']:>10.3f}{r['setup_s']:>9.1f}  {r.get('note', '')}")


if __name__ == "__main__":
    main()
