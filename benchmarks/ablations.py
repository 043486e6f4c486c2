"""Ablations: each departure from the seed (and each training variant) switched on and off at
the default CPU size, everything else fixed, over several training seeds.

Each run trains through the train stage's own entry point (`training.train`) with the
`model`/`train` sections of params.yaml plus the row's overrides, into a scratch folder, then
scores the model on every held-out query set the pipeline has made, with the ranking the
stages use (`retrieval.rank_candidates`):
  - val: make_val's groups (`evaluate.val_dir`), and their novel wording where present;
  - test: the source's test set, its novel wording, and its extra test sets (KIT real wording).
The data stages must have run first (`dvc repro make_val`, or `dvc repro`).

Results go to `benchmarks/results/ablations*.json` (`--results`: one file per concurrent
process), one record per (row, seed), written after each run, so an interrupted sweep resumes
where it stopped; `--table` writes, from all of them, the table (`docs/ablations.md`, and the
README between its `ablations` markers): mean ± std over seeds, train seconds, and each row's
difference from the default, called "no difference" when smaller than twice the larger of the
two rows' seed-to-seed std; each row is compared with the first, `baseline`, and a row with fewer
than 3 seeds is shown but not judged.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/ablations.py --seeds 0 1 2 --threads 1

Two trainings on two cores with two torch threads each run many times slower than one (the
threads fight for the cores): run one process, or two with `--threads 1` and their own
`--results` files and rows. Train times are comparable only between runs made alike.
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/ablations.py --table
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from textmotion.io import load_params, write_json  # noqa: E402
from textmotion.layout import (find_extra_test_sets, find_test_set, read_query_wordings,  # noqa: E402
                               read_scored_queries, reworded)
from textmotion.metrics import challenge_score, ranks_from_rankings  # noqa: E402
from textmotion.model_io import load_model  # noqa: E402
from textmotion.prepared import read_report  # noqa: E402
from textmotion.retrieval import rank_candidates  # noqa: E402
from textmotion.training import train  # noqa: E402

RESULTS_DIR = REPO / "benchmarks" / "results"
TABLE = REPO / "docs" / "ablations.md"
README = REPO / "README.md"
README_MARKERS = ("<!-- ablations:start -->", "<!-- ablations:end -->")
# (name, {section.key: value}, what the row changes). "default" is the params.yaml as it is.
# NO_LENGTH: the defaults before the table; LENGTH_PARAPHRASES: the first defaults it chose.
# Every row sets what it changes from one of them, so rows stay comparable whatever
# params.yaml says now.
NO_LENGTH = {"model.length_feature": False, "train.paraphrases": False, "train.text_noise": 0.0}
LENGTH_PARAPHRASES = {"model.length_feature": True, "train.paraphrases": True, "train.text_noise": 0.0}
ROWS = [
    ("baseline", NO_LENGTH, "padding mask on, no length feature (the defaults before this table)"),
    ("seed: pads attended and pooled", {**NO_LENGTH, "model.padding_mask": False},
     "the seed's zero pads to max_frames, attended and averaged"),
    ("seed: per-clip z-score", {**NO_LENGTH, "model.normalisation": "per_clip"},
     "each clip normalised by its own mean/std (the seed) instead of the train split's"),
    ("seed: no temporal patching", {**NO_LENGTH, "model.patch_size": 1}, "one token per frame"),
    ("seed: fixed temperature", {**NO_LENGTH, "train.learnable_temperature": False}, "temperature fixed at 0.07"),
    ("seed: no person swap", {**NO_LENGTH, "train.swap_probability": 0.0}, "persons A/B never exchanged"),
    ("seed: no random crop", {**NO_LENGTH, "train.random_crop": False}, "always the first max_frames frames"),
    ("length feature", {**NO_LENGTH, "model.length_feature": True},
     "the clip's duration given to the encoder explicitly, padding mask on"),
    ("false-negative filter", {**NO_LENGTH, "train.false_negative_threshold": 0.9},
     "batch pairs whose captions are near-duplicates (sentence cosine > 0.9) are not pushed apart"),
    ("one caption per clip", {**NO_LENGTH, "train.captions_per_clip": 1}, "training sees only each clip's first caption"),
    ("text fine-tuned, same train time", {**NO_LENGTH, "model.freeze_text": False, "train.epochs": 4},
     "MiniLM fine-tuned at lr x text_lr_scale for 4 epochs, about the frozen run's train time on 2 cores "
     "(40 epochs take ~15x longer)"),
    ("paraphrases", {**NO_LENGTH, "train.paraphrases": True},
     "captions also drawn from 8 more training-wording paraphrases per clip (caption augmentation)"),
    ("length feature, paraphrases", LENGTH_PARAPHRASES, "both: duration explicit and caption augmentation"),
    ("length feature, paraphrases, text fine-tuned", {**LENGTH_PARAPHRASES, "model.freeze_text": False},
     "both, with MiniLM fine-tuned at lr x text_lr_scale for the full 40 epochs (a GPU option)"),
    ("length feature, paraphrases, text noise (default)", {**LENGTH_PARAPHRASES, "train.text_noise": 0.6},
     "both, and each caption's sentence features shifted in a random direction by 0.6 x their norm in training"),
]
MIN_SEEDS = 3  # fewer: shown, not judged
METRICS = ("val", "val_novel", "test", "test_novel", "test_real")


def with_overrides(model: dict, train_params: dict, overrides: dict) -> tuple[dict, dict]:
    sections = {"model": dict(model), "train": dict(train_params)}
    for key, value in overrides.items():
        section, name = key.split(".")
        if name not in sections[section]:
            raise SystemExit(f"error: ablation override {key}: params.yaml has no such key")
        sections[section][name] = value
    return sections["model"], sections["train"]


def query_sets() -> dict[str, tuple]:
    """name → (batches, gt) of every held-out query set, wordings included."""
    sets = {}
    val_dir = Path(load_params("evaluate")["val_dir"])
    batches, gt = read_scored_queries(val_dir, val_dir / "gt.csv")
    sets["val"] = (batches, gt)
    for name, texts in read_query_wordings(val_dir, list(gt)).items():
        sets[f"val_{name}"] = (reworded(batches, texts), gt)
    raw_root = read_report(load_params("predict")["prepared"], "raw_root")["raw_root"]
    found = find_test_set(raw_root)
    if found:
        batches, gt = read_scored_queries(*found)
        sets["test"] = (batches, gt)
        for name, texts in read_query_wordings(found[0], list(gt)).items():
            sets[f"test_{name}"] = (reworded(batches, texts), gt)
    for name, (queries, gt_path) in find_extra_test_sets(raw_root).items():
        sets[f"test_{name}"] = read_scored_queries(queries, gt_path)
    return sets


def score(model_dir: Path, sets: dict[str, tuple]) -> dict[str, float]:
    model = load_model(model_dir, "cpu")
    scores = {}
    for name, (batches, gt) in sets.items():
        rankings = rank_candidates(model, batches)
        scores[name] = challenge_score(ranks_from_rankings([rankings[q] for q in gt], list(gt.values())))
    return scores


def all_results() -> list[dict]:
    return [record for path in sorted(RESULTS_DIR.glob("ablations*.json"))
            for record in json.loads(path.read_text())]


def run(rows: list[tuple], seeds: list[int], threads: int, results_file: Path) -> None:
    results = json.loads(results_file.read_text()) if results_file.exists() else []
    done = {(r["row"], r["seed"]) for r in all_results()}
    model_base, train_base = load_params("model"), load_params("train")
    sets = query_sets()
    for name, overrides, _ in rows:
        for seed in seeds:
            if (name, seed) in done:
                continue
            model, train_params = with_overrides(model_base, train_base, {**overrides, "train.seed": seed,
                                                                         "train.threads": threads})
            with tempfile.TemporaryDirectory(prefix="ablation.") as scratch:
                train_params.update(model_dir=f"{scratch}/model", live_dir=f"{scratch}/live",
                                    checkpoint_dir=f"{scratch}/checkpoints")
                started = time.perf_counter()
                history = train(model, train_params)
                seconds = time.perf_counter() - started
                scores = score(Path(scratch) / "model", sets)
            results.append({"row": name, "seed": seed, "overrides": overrides, "train_s": round(seconds, 1),
                            "epochs": len(history), **{k: round(v, 5) for k, v in scores.items()}})
            write_json(results_file, results)
            print(f"{name} / seed {seed}: " + ", ".join(f"{k} {v:.4f}" for k, v in scores.items())
                  + f", train {seconds:.0f} s", flush=True)


def mean_std(values: list[float]) -> tuple[float, float]:
    return statistics.fmean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def write_table() -> None:
    """docs/ablations.md from the results: mean ± std over seeds, and the verdict per metric."""
    results = all_results()
    by_row = {name: [r for r in results if r["row"] == name] for name, _, _ in ROWS}
    by_row = {name: runs for name, runs in by_row.items() if runs}
    metrics = [m for m in METRICS if all(m in r for runs in by_row.values() for r in runs)]
    base_name = ROWS[0][0]
    base = {m: mean_std([r[m] for r in by_row[base_name]]) for m in metrics}
    lines = ["| row | change | seeds | " + " | ".join(metrics) + " | train s |",
             "|---|---|---|" + "---|" * (len(metrics) + 1)]
    for name, overrides, what in ROWS:
        runs = by_row.get(name)
        if not runs:
            continue
        cells = []
        for metric in metrics:
            mean, std = mean_std([r[metric] for r in runs])
            cell = f"{mean:.3f} ± {std:.3f}"
            if name != base_name:
                delta = mean - base[metric][0]
                verdict = ("not judged: < 3 seeds" if len(runs) < MIN_SEEDS
                           else "no difference" if abs(delta) < 2 * max(std, base[metric][1])
                           else ("better" if delta > 0 else "worse"))
                cell += f" ({delta:+.3f}, {verdict})"
            cells.append(cell)
        train_s = statistics.median(r["train_s"] for r in runs)
        lines.append(f"| {name} | {what} | {len(runs)} | " + " | ".join(cells) + f" | {train_s:.0f} |")
    table = ("<!-- generated by benchmarks/ablations.py --table from benchmarks/results/ablations*.json -->\n"
             + "\n".join(lines) + "\n")
    TABLE.parent.mkdir(exist_ok=True)
    TABLE.write_text(table)
    readme = README.read_text()
    start, end = README_MARKERS
    if start in readme and end in readme:
        head, rest = readme.split(start, 1)
        README.write_text(head + start + "\n" + table + rest[rest.index(end):])
    print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rows", nargs="+", help="row names, run in this order (default: all)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads per run")
    parser.add_argument("--results", type=Path, default=RESULTS_DIR / "ablations.json",
                        help="this process's results file (benchmarks/results/ablations*.json)")
    parser.add_argument("--table", action="store_true", help="only write docs/ablations.md from the results")
    args = parser.parse_args()
    if not args.table:
        by_name = {row[0]: row for row in ROWS}
        unknown = [name for name in args.rows or [] if name not in by_name]
        if unknown:
            raise SystemExit(f"error: unknown ablation rows {unknown}; rows: {list(by_name)}")
        run([by_name[name] for name in args.rows] if args.rows else ROWS, args.seeds, args.threads, args.results)
    write_table()


if __name__ == "__main__":
    main()
