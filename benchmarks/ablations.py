"""Ablations: each departure from the reference configuration (the challenge README's) and each
training variant, switched on and off at the default CPU size, everything else fixed, over
several training seeds.

Each run trains through the train stage's own entry point (`training.train`) with the
`model`/`train` sections of params.yaml plus the row's overrides, into a scratch folder, then
scores the model on every held-out query set the pipeline has made, as evaluate and predict
score them (`scoring.score_query_set`, the `scoring` section of params.yaml):
  - val: make_val's groups (`evaluate.val_dir`), and their novel wording where present;
  - test: the source's test set, its novel wording, and its extra test sets (KIT real wording).
The data stages must have run first (`dvc repro make_val`, or `dvc repro`).

Results go to `benchmarks/results/ablations*.json` (`--results`: one file per concurrent
process), one record per (row, seed), written after each run, so an interrupted sweep resumes
where it stopped; `--table` writes, from all of them, the table (between the `ablations`
markers of `docs/ablations.md`): mean ± std over seeds, train seconds, the first-run seconds of
encoding every caption with the row's text backbone, and how many captions that was (the
encode_text stage; rows measured before that stage existed encoded inside their train seconds),
and each row's difference from the default, called "no difference" when smaller than twice the
larger of the two rows' seed-to-seed std; each row is compared with the first, `baseline`, and
a row with fewer than 3 seeds is shown but not judged.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/ablations.py --seeds 0 1 2 --threads 1

Two trainings on two cores with two torch threads each run many times slower than one (the
threads fight for the cores): run one process, or two with `--threads 1` and their own
`--results` files and rows. Train times are comparable only between runs made alike.
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/ablations.py --table
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from pathlib import Path

from textmotion.io import write_json
from textmotion.model_io import load_model
from textmotion.params import Model, Text, Train, load_section
from textmotion.prepared import read_report
from textmotion.scoring import QuerySet, read_test_sets, score_query_set
from textmotion.text_features import encode_captions
from textmotion.training import train

REPO = Path(__file__).resolve().parents[1]

RESULTS_DIR = REPO / "benchmarks" / "results"
ENCODE_TIMES = RESULTS_DIR / "text_features.json"  # text.encoder → seconds encode_text took, and for how many captions
FEATURES_DIR = REPO / "data" / "ablation_text_features"  # git-ignored: each backbone's caption features
TABLE = REPO / "docs" / "ablations.md"  # the table goes between its markers, the prose around them stays
TABLE_MARKERS = ("<!-- ablations:start -->", "<!-- ablations:end -->")
# (name, {section.key: value}, what the row changes). "default" is the params.yaml as it is.
# NO_LENGTH: the defaults before the table; LENGTH_PARAPHRASES: the first defaults it chose.
# Every row sets what it changes from one of them, so rows stay comparable whatever
# params.yaml says now.
MINILM_POOLED = {"text.encoder": "minilm", "model.text_head": "pooled"}
NO_LENGTH = {**MINILM_POOLED, "model.length_feature": False, "train.paraphrases": False, "train.text_noise": 0.0}
LENGTH_PARAPHRASES = {**MINILM_POOLED, "model.length_feature": True, "train.paraphrases": True, "train.text_noise": 0.0}
TEXT_NOISE = {**LENGTH_PARAPHRASES, "train.text_noise": 0.6}  # the defaults before the text-side rows
MPNET = {"text.encoder": "mpnet", "model.text_head": "pooled"}
TOKENS = {"model.text_head": "tokens", "model.text_layers": 2, "model.text_width": 256, "model.text_heads": 4,
          "model.text_pooling": "mean"}
ROWS = [
    ("baseline", NO_LENGTH, "padding mask on, no length feature (the defaults before this table)"),
    ("reference: pads attended and pooled", {**NO_LENGTH, "model.padding_mask": False},
     "the reference's zero pads to max_frames, attended and averaged"),
    ("reference: per-clip z-score", {**NO_LENGTH, "model.normalisation": "per_clip"},
     "each clip normalised by its own mean/std (the reference) instead of the train split's"),
    ("reference: no temporal patching", {**NO_LENGTH, "model.patch_size": 1}, "one token per frame"),
    ("reference: fixed temperature", {**NO_LENGTH, "train.learnable_temperature": False}, "temperature fixed at 0.07"),
    ("reference: no person swap", {**NO_LENGTH, "train.swap_probability": 0.0}, "persons A/B never exchanged"),
    ("reference: no random crop", {**NO_LENGTH, "train.random_crop": False}, "always the first max_frames frames"),
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
    # the text side: backbones and heads, on the row above; features from encode_text's float16 cache
    ("text: MiniLM pooled, float16 features", {**TEXT_NOISE, **MINILM_POOLED},
     "the row above with its caption features read from encode_text's float16 cache (it computed them in float32)"),
    ("text: mpnet pooled", {**TEXT_NOISE, **MPNET}, "all-mpnet-base-v2's pooled sentence vector, text noise 0.6"),
    ("text: mpnet pooled, no paraphrases", {**TEXT_NOISE, **MPNET, "train.paraphrases": False},
     "the row above without the 8 paraphrases per clip: 2,937 captions to encode instead of 12,552"),
    ("text: mpnet pooled, no paraphrases, no text noise",
     {**TEXT_NOISE, **MPNET, "train.paraphrases": False, "train.text_noise": 0.0},
     "the row above without text-feature noise"),
    ("text: MiniLM tokens", {**TEXT_NOISE, **MINILM_POOLED, **TOKENS},
     "a 2-layer, 256-wide Transformer over MiniLM's token states, mean-pooled (noise on each token's state)"),
    ("text: mpnet tokens, no paraphrases", {**TEXT_NOISE, **MPNET, **TOKENS, "train.paraphrases": False},
     "the token-level head over all-mpnet-base-v2, mean-pooled, without paraphrases"),
    ("text: mpnet tokens, no paraphrases, first token",
     {**TEXT_NOISE, **MPNET, **TOKENS, "train.paraphrases": False, "model.text_pooling": "first"},
     "the head's first token (<s>) as the caption's vector"),
    ("text: mpnet tokens, no paraphrases, end token",
     {**TEXT_NOISE, **MPNET, **TOKENS, "train.paraphrases": False, "model.text_pooling": "end"},
     "the head's end token (</s>) as the caption's vector, as InterGen's evaluator pools"),
    ("text: mpnet tokens, no paraphrases, attention pooling",
     {**TEXT_NOISE, **MPNET, **TOKENS, "train.paraphrases": False, "model.text_pooling": "attention"},
     "the head's tokens weighted by attention to a learned query"),
]
MIN_SEEDS = 3  # fewer: shown, not judged
METRICS = ("val", "val_novel", "test", "test_novel", "test_real")


def with_overrides(sections: dict[str, Model | Text | Train], overrides: dict) -> dict[str, Model | Text | Train]:
    """The sections with the row's `section.key: value` overrides, validated as params.yaml is."""
    changes = {name: {} for name in sections}
    for key, value in overrides.items():
        section, name = key.split(".")
        changes[section][name] = value
    return {name: section.updated(**changes[name]) for name, section in sections.items()}


def query_sets() -> dict[str, QuerySet]:
    """Every held-out query set the pipeline has made: val, test and the test set's extras."""
    val_dir = Path(load_section("evaluate").val_dir)
    sets = {"val": QuerySet.read(val_dir, val_dir / "gt.csv")}
    test, extra = read_test_sets(read_report(load_section("predict").prepared, "raw_root")["raw_root"])
    if test is not None:
        sets["test"] = test
    return {**sets, **{f"test_{name}": query_set for name, query_set in extra.items()}}


def score(model_dir: Path, sets: dict[str, QuerySet]) -> dict[str, float]:
    """Each set's score, and its score in each other wording (`<set>_<wording>`)."""
    model, scoring = load_model(model_dir, "cpu"), load_section("scoring")
    scores = {}
    for name, query_set in sets.items():
        metrics = score_query_set(model, query_set, scoring)[1]
        scores[name] = metrics["score"]
        scores.update({f"{name}_{wording}": metrics[f"score_{wording}"] for wording in query_set.wordings})
    return scores


def all_results() -> list[dict]:
    return [record for path in sorted(RESULTS_DIR.glob("ablations*.json"))
            for record in json.loads(path.read_text())]


def text_features(text: Text) -> str:
    """The caption features of `text`'s backbone: encoded once (as the encode_text stage does, and
    timed into ENCODE_TIMES) into FEATURES_DIR/<encoder>."""
    out = FEATURES_DIR / re.sub(r"[^\w.-]", "_", text.encoder)
    if not (out / "info.json").exists():
        started = time.perf_counter()
        info = encode_captions(load_section("encode_text").prepared, text, out)
        times = json.loads(ENCODE_TIMES.read_text()) if ENCODE_TIMES.exists() else {}
        times[text.encoder] = {"seconds": round(time.perf_counter() - started, 1), "captions": info["captions"]}
        write_json(ENCODE_TIMES, times)
    return str(out)


def run(rows: list[tuple], seeds: list[int], threads: int, results_file: Path) -> None:
    results = json.loads(results_file.read_text()) if results_file.exists() else []
    done = {(r["row"], r["seed"]) for r in all_results()}
    base = {name: load_section(name) for name in ("model", "text", "train")}
    sets = query_sets()
    for name, overrides, _ in rows:
        for seed in seeds:
            if (name, seed) in done:
                continue
            with tempfile.TemporaryDirectory(prefix="ablation.") as scratch:
                cfg = with_overrides(base, {
                    **overrides, "train.seed": seed, "train.threads": threads, "train.model_dir": f"{scratch}/model",
                    "train.live_dir": f"{scratch}/live", "train.checkpoint_dir": f"{scratch}/checkpoints"})
                cfg["train"] = cfg["train"].updated(text_features=text_features(cfg["text"]))
                started = time.perf_counter()
                history = train(cfg["model"], cfg["text"], cfg["train"])
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
    encoded = json.loads(ENCODE_TIMES.read_text()) if ENCODE_TIMES.exists() else {}
    lines = ["| row | change | seeds | " + " | ".join(metrics) + " | train s | encode s (captions) |",
             "|---|---|---|" + "---|" * (len(metrics) + 2)]
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
        times = encoded.get(overrides["text.encoder"])
        lines.append(f"| {name} | {what} | {len(runs)} | " + " | ".join(cells) + f" | {train_s:.0f} | "
                     + (f"{times['seconds']:.0f} ({times['captions']:,}) |" if times else "– |"))
    table = ("<!-- generated by benchmarks/ablations.py --table from benchmarks/results/ablations*.json -->\n"
             + "\n".join(lines) + "\n")
    start, end = TABLE_MARKERS
    doc = TABLE.read_text() if TABLE.exists() else f"{start}\n{end}\n"
    if start not in doc or end not in doc:
        raise SystemExit(f"error: {TABLE}: no {start} ... {end} markers to write the table between")
    head, rest = doc.split(start, 1)
    TABLE.write_text(head + start + "\n" + table + rest[rest.index(end):])
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
