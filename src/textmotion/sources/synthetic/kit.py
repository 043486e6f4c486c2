"""Real wording: KIT-ML captions of single solo actions, mapped to specs by explicit rules.

`map_caption` reads one caption as: an optional subject ("a person", "someone", "the human",
...), an optional "is", modifiers, one action verb phrase, modifiers, and nothing else. Every
modifier must be a known phrase of that action (a direction, a speed, a count, a hand or side,
or a harmless filler such as "a few steps" or "and stops"); anything left over means the
caption says something our clips do not show, and it is not mapped. Two different values of
one attribute (e.g. "forward and backward") reject the caption too. The result names the
action, the attribute values the caption states, and the ones it leaves unspecified.

`derive_queries` applies the rules to the test split of KIT-ML (TMR's splits) and
`build_kit_groups` turns the derived queries into retrieval groups: each caption's clip is
generated from its spec, among candidates that include hard negatives (the same action with
another stated value, confusable actions, clips that contain the action among others) and
leave out every clip the caption cannot tell apart from the answer (the same single action,
by either person or both, with the same stated values). The rules were written from the train
split only; test captions are only matched. The derived file is committed and names each
caption by its KIT ids only (the sentences are the annotators', not ours to ship); the
captions are read from KIT's annotations.json when the groups are built:
    python -m textmotion.sources.synthetic.kit --kit ../shared/data/kitml --out resources/kit_test_queries.json
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textmotion.errors import DataError, run_cli
from textmotion.groups import QueryGroup
from textmotion.io import read_json, write_json
from textmotion.sources.common import read_lines
from textmotion.sources.synthetic import vocabulary as vocab
from textmotion.sources.synthetic.motion import synthesize
from textmotion.sources.synthetic.spec import BOTH, sample_spec, validate_spec

# The value a generated answer clip takes for an attribute the caption does not state.
DEFAULT_VALUES = {"direction": "forward", "speed": "normal", "count": 1, "hand": "right", "side": "right"}

SUBJECT = re.compile(r"^(?:(?:a|an|the|one|some)\s+)?(?:person|human(?: being)?|man|woman|subject|figure|"
                     r"individual|guy|character|actor|someone|somebody|some one|he|she)\s+(?:is\s+)?")
THEIR = r"(?:his|her|their|its|the|one's)"
COUNTS = {1: r"once|one time|a single time", 2: r"twice|two times|2 times", 3: r"three times|3 times|thrice"}
CARDINALS = {"a": 1, "one": 1, "a single": 1, "single": 1, "1": 1, "two": 2, "2": 2, "three": 3, "3": 3}
CARDINAL = "|".join(sorted(map(re.escape, CARDINALS), key=len, reverse=True))


@dataclass(frozen=True)
class Modifier:
    """A phrase that may follow or precede the verb: it states attribute=value, or nothing."""
    pattern: str
    attribute: str | None = None
    value: object = None


def _values(attribute: str, phrases: dict[object, str]) -> list[Modifier]:
    return [Modifier(pattern, attribute, value) for value, pattern in phrases.items()]


STEPS = r"(?:for\s+)?(?:a few|a couple of|some|several|two|three|four|five|\d+|a short)\s+" \
        r"(?:steps?|meters?|metres|strides|distance|way)"
FILLERS = {  # harmless phrases, by the actions they may follow
    "locomotion": [Modifier(STEPS), Modifier(r"in a straight line|on a straight line|straight"),
                   Modifier(r"(?:and|then|and then)\s+(?:stops|comes to a (?:full )?stop|stands still)")],
    "in_place": [Modifier(r"in place|on the spot|on the same spot")],
}
WALK_DIRECTIONS = {"forward": r"forwards?|ahead|straight ahead|to the front|frontwards",
                   "backward": r"backwards?|in reverse",
                   "left": rf"to (?:the|{THEIR}) left(?: side)?|left",
                   "right": rf"to (?:the|{THEIR}) right(?: side)?|right"}
SPEEDS = {"slow": r"slowly|slow|very slowly|at a slow pace|with a slow pace|leisurely",
          "normal": r"normally|at (?:a )?(?:normal|medium|moderate|regular) (?:speed|pace)|"
                    r"with (?:a )?(?:normal|medium|moderate) (?:speed|pace)",
          "fast": r"fast|quickly|briskly|rapidly|at a fast pace|with a fast pace|hastily"}
HANDS = {"left": rf"(?:with\s+)?{THEIR} left (?:hand|arm)",
         "right": rf"(?:with\s+)?{THEIR} right (?:hand|arm)",
         "both": rf"(?:with\s+)?(?:both (?:of\s+)?{THEIR}?\s*(?:hands|arms)|{THEIR} (?:two|both) (?:hands|arms)|"
                 rf"both (?:hands|arms))"}
LIMBS = {side: rf"(?:with|using)\s+{THEIR} {side} (?:leg|foot)" for side in ("left", "right")}
FISTS = {side: rf"(?:with|using)\s+{THEIR} {side} (?:hand|fist|arm)" for side in ("left", "right")}
HOP_SIDES = {side: rf"on\s+{THEIR} {side} (?:leg|foot)" for side in ("left", "right")}

# action -> (verb pattern, the modifiers allowed around it); tried in this order.
RULES: dict[str, tuple[str, list[Modifier]]] = {
    "walk": (r"walk(?:s|ing|ed)?|goes|going|went",
             _values("direction", WALK_DIRECTIONS) + _values("speed", SPEEDS) + FILLERS["locomotion"]),
    "run": (r"run(?:s|ning)?|ran|jog(?:s|gs|ging|ged)?|sprint(?:s|ing|ed)?",
            _values("direction", {k: WALK_DIRECTIONS[k] for k in ("forward", "left", "right")})
            + [Modifier(r"fast|quickly")] + FILLERS["locomotion"]),
    "jump": (rf"jump(?:s|ing|ed)?(?: up)?(?: and down)?|(?:does|performs|doing|performing) (?:{CARDINAL}) jumps?",
             _values("count", COUNTS)
             + [Modifier(rf"with both (?:of\s+)?{THEIR}?\s*(?:legs|feet)|vertically|straight up|up")]
             + FILLERS["in_place"]),
    "squat": (rf"squat(?:s|ting|ted)?(?: down)?|(?:does|performs|doing|performing) (?:{CARDINAL}) squats?",
              _values("count", COUNTS)
              + FILLERS["in_place"]),
    "sit_down": (r"sit(?:s|ting)? down|sat down|takes a seat|sits",
                 [Modifier(r"(?:on|onto) (?:a|the) (?:chair|stool|seat|bench|box)")]),
    "stand_up": (r"stand(?:s|ing)? up|stood up|gets? up|getting up|rises",
                 [Modifier(r"from (?:a|the|his|her) (?:chair|stool|seat|bench|sitting position|seated position)")]),
    "wave": (r"wav(?:es|ing|ed|e)",
             _values("hand", HANDS) + [Modifier(r"hello|goodbye|good bye|hi")]),
    "raise_arms": (r"rais(?:es|ing|ed|e)|lift(?:s|ing|ed)?",
                   _values("hand", {"left": rf"{THEIR} left (?:arm|hand)", "right": rf"{THEIR} right (?:arm|hand)",
                                    "both": rf"both (?:of\s+)?{THEIR}?\s*(?:arms|hands)|{THEIR} (?:arms|hands)|arms|hands"})
                   + [Modifier(rf"up|upwards|high|above {THEIR} head|over {THEIR} head|in the air")]),
    "clap": (r"clap(?:s|ping|ped)?|applauds",
             [Modifier(rf"{THEIR} hands|hands")]),
    "kick": (r"kick(?:s|ing|ed)?|(?:does|performs|doing|performing) a kick",
             _values("side", LIMBS) + [Modifier(r"something|forwards?|in the air|once")]),
    "punch": (rf"punch(?:es|ing|ed)?|box(?:es|ing)|(?:throws|does|performs|throwing) (?:{CARDINAL}) punch(?:es)?",
              _values("side", FISTS)
              + _values("count", COUNTS)
              + [Modifier(r"something|forwards?|in the air|into the air")]),
    "turn_around": (r"turn(?:s|ing|ed)?",
                    [Modifier(r"around|round|180 degrees?|by 180 degrees?|about"),
                     Modifier(r"to face (?:the )?(?:opposite|other) (?:direction|way)")] + FILLERS["in_place"]),
    "bow": (r"bow(?:s|ing|ed)?|takes a bow|(?:does|performs) a bow",
            [Modifier(r"down|forwards?|deeply|politely")]),
    "spin": (r"spin(?:s|ning)?|spun|twirl(?:s|ing)?|pirouettes?|(?:does|performs) a pirouette|"
             r"turn(?:s|ing)? (?:around )?(?:by )?360 degrees?",
             [Modifier(rf"around|round|360 degrees|once|around {THEIR} (?:own )?axis")] + FILLERS["in_place"]),
    "hop": (r"hop(?:s|ping|ped)?|jump(?:s|ing|ed)?",
            _values("side", HOP_SIDES)
            + _values("count", COUNTS)
            + [Modifier(r"on one (?:leg|foot)|up and down")] + FILLERS["in_place"]),
    "stretch": (r"stretch(?:es|ing|ed)?|(?:does|performs) (?:some )?stretch(?:es|ing)(?: exercises)?",
                [Modifier(rf"{THEIR} (?:arms|body|whole body)|out")]),
}
# Rules that must state something to be this action rather than a bare verb of another one.
REQUIRED = {"turn_around": re.compile(r"around|round|180|opposite|other (?:direction|way)|about"),
            "sit_down": re.compile(r"down|seat|chair|stool|bench|box"),
            "raise_arms": re.compile(r"arm|hand"),
            "hop": re.compile(r"\bhop|\bleg\b|\bfoot\b")}


@dataclass(frozen=True)
class KitMatch:
    action: str
    stated: dict
    rule: str

    @property
    def unspecified(self) -> list[str]:
        return [name for name in vocab.attributes(self.action) if name not in self.stated]

    def segment(self, actor=0) -> dict:
        values = {name: self.stated.get(name, DEFAULT_VALUES[name]) for name in vocab.attributes(self.action)}
        return {"action": self.action, "actor": actor, **values}


def normalise(caption: str) -> str:
    text = caption.lower().strip().rstrip(".!").strip()
    text = re.sub(r"[\s]+", " ", text)
    return SUBJECT.sub("", text, count=1)


def _consume(text: str, modifiers: list[Modifier]) -> tuple[str, dict] | None:
    """Strip modifiers from the front of `text` until none applies; return what is left and
    the attributes they stated, or None when one attribute gets two different values."""
    stated: dict = {}
    while True:
        for modifier in modifiers:
            match = re.match(rf"(?:{modifier.pattern})(?=\s|$)\s*", text)
            if match and match.end() > 0:
                if modifier.attribute is not None:
                    if stated.get(modifier.attribute, modifier.value) != modifier.value:
                        return None
                    stated[modifier.attribute] = modifier.value
                text = text[match.end():]
                break
        else:
            return text, stated


def _cardinal_count(verb_text: str) -> int | None:
    match = re.search(rf"\b({CARDINAL}) (?:jump|squat|punch)", verb_text)
    return CARDINALS[match.group(1)] if match else None


def map_caption(caption: str) -> KitMatch | None:
    """The action and stated attributes of a caption that clearly describes one solo action."""
    text = normalise(caption)
    if re.search(r"[,;:()]", text):
        return None
    for action, (verb, modifiers) in RULES.items():
        before = _consume(text, [m for m in modifiers if m.attribute == "speed"])
        if before is None:
            continue
        rest, stated = before
        match = re.match(rf"(?:{verb})(?=\s|$)\s*", rest)
        if not match:
            continue
        after = _consume(rest[match.end():], modifiers)
        if after is None or after[0]:
            continue
        if action in REQUIRED and not REQUIRED[action].search(text):
            continue
        for name, value in after[1].items():
            if stated.get(name, value) != value:
                return None
            stated[name] = value
        count = _cardinal_count(match.group(0))
        if count is not None:
            if stated.get("count", count) != count:
                return None
            stated["count"] = count
        return KitMatch(action, stated, action)
    return None


# ---- the derived query set -------------------------------------------------------------------
def derive_queries(kit_root: str | Path) -> tuple[list[dict], dict]:
    """Queries from every test-split caption the rules map, and counts of what matched.

    Mirrored clips (ids starting with M) are left out: their captions are the originals with
    left and right swapped by a program, not wording people wrote."""
    annotations = read_json(Path(kit_root) / "annotations.json")
    test_ids = [clip_id for _, clip_id in read_lines(Path(kit_root) / "splits" / "test.txt", ids=True)]
    queries, n_captions = [], 0
    originals = [clip_id for clip_id in test_ids if not clip_id.startswith("M")]
    for clip_id in originals:
        if clip_id not in annotations:
            raise DataError(Path(kit_root) / "annotations.json", f"test clip {clip_id} has no entry")
        for annotation in annotations[clip_id]["annotations"]:
            n_captions += 1
            match = map_caption(annotation["text"])
            if match is not None:
                queries.append({"id": annotation["seg_id"], "clip": clip_id, "action": match.action, "stated": match.stated,
                                "unspecified": match.unspecified,
                                "spec": {"segments": [match.segment()]}})
    counts = {"test_clips": len(originals), "mirrored_clips_left_out": len(test_ids) - len(originals),
              "test_captions": n_captions, "mapped": len(queries),
              "by_action": {action: sum(q["action"] == action for q in queries)
                            for action in sorted({q["action"] for q in queries})}}
    return queries, counts


def write_queries(path: str | Path, queries: list[dict], counts: dict) -> None:
    write_json(path, {"source": "KIT Motion-Language Dataset (Plappert et al., 2016), test split of TMR "
                                "(Petrovich et al., 2023); captions mapped by textmotion.sources.synthetic.kit and "
                                "named by their KIT ids (clip, seg_id); the sentences are read from KIT's "
                                "annotations.json",
                      "counts": counts, "queries": queries})


def load_queries(path: str | Path, annotations: str | Path | None = None) -> list[dict]:
    """Read and check a derived query set: each query's spec is valid and one solo action.

    The set names each caption by its KIT ids only (the sentences are KIT's, not ours to
    ship); with `annotations` (KIT's annotations.json) each query gets its `caption`."""
    content = read_json(path)
    queries = content.get("queries") if isinstance(content, dict) else None
    if not isinstance(queries, list) or not queries:
        raise DataError(path, 'expected {"queries": [...]} with at least one query')
    for index, query in enumerate(queries):
        try:
            segments = validate_spec(query["spec"])["segments"]
            action = segments[0]["action"]
            if len(segments) != 1 or vocab.kind(action) != vocab.SOLO or action != query["action"]:
                raise ValueError("spec must be the query's one solo action")
            if not (isinstance(query["id"], str) and isinstance(query["clip"], str)):
                raise ValueError("id and clip must be KIT's annotation and clip ids")
            attributes = set(vocab.attributes(action))
            if set(query["stated"]) | set(query["unspecified"]) != attributes \
                    or set(query["stated"]) & set(query["unspecified"]):
                raise ValueError(f"stated and unspecified must split the attributes {sorted(attributes)}")
        except (KeyError, TypeError, ValueError) as err:
            raise DataError(path, f"query {index}: {err}") from err
    return queries if annotations is None else _with_captions(queries, Path(annotations))


def _with_captions(queries: list[dict], annotations_path: Path) -> list[dict]:
    """The queries with their KIT caption, looked up by clip and annotation id."""
    annotations = read_json(annotations_path)
    out = []
    for query in queries:
        entry = annotations.get(query["clip"]) if isinstance(annotations, dict) else None
        texts = {a.get("seg_id"): a.get("text") for a in (entry or {}).get("annotations", []) if isinstance(a, dict)}
        text = texts.get(query["id"])
        if not isinstance(text, str) or not text.strip():
            raise DataError(annotations_path, f"no caption {query['id']!r} for KIT clip {query['clip']!r}")
        out.append({**query, "caption": text.strip()})
    return out


# ---- retrieval groups ------------------------------------------------------------------------
# Actions a caption of the key is most easily confused with: hard negatives beside the
# same action with another stated value.
CONFUSABLE = {"walk": ("run", "walk_side_by_side", "follow"), "run": ("walk", "chase"),
              "jump": ("hop", "squat"), "hop": ("jump",), "squat": ("sit_down", "jump"),
              "sit_down": ("stand_up", "squat"), "stand_up": ("sit_down",),
              "wave": ("raise_arms", "wave_at_each_other"), "raise_arms": ("wave", "stretch"),
              "clap": ("wave", "high_five"), "kick": ("punch", "hop"), "punch": ("kick", "punch_dodge"),
              "turn_around": ("spin", "walk"), "spin": ("turn_around",),
              "bow": ("bow_to_each_other", "squat"), "stretch": ("raise_arms",)}


@dataclass
class KitGroups:
    groups: list[QueryGroup]     # query_id, query clip, KIT caption, candidate clip ids, 1-based answer
    specs: dict[str, dict]       # clip id -> validated spec
    motions: dict[str, np.ndarray]
    report: dict


def indistinguishable(query: dict, spec: dict) -> bool:
    """The caption cannot tell this clip from its answer: the same one action, by either
    person or both, with the values the caption states."""
    segments = spec["segments"]
    return len(segments) == 1 and segments[0]["action"] == query["action"] and \
        all(segments[0][name] == value for name, value in query["stated"].items())


def _random_segment(action: str, rng: np.random.Generator, fixed: dict | None = None) -> dict:
    actor = int(rng.integers(2)) if vocab.kind(action) == vocab.INTERACTION else (0, 1, BOTH)[int(rng.integers(3))]
    values = {name: options[int(rng.integers(len(options)))] for name, options in vocab.attributes(action).items()}
    return {"action": action, "actor": actor, **values, **(fixed or {})}


def _with_people(segments: list[dict], rng: np.random.Generator) -> dict:
    """A full spec around the segments: people and start placement as sample_spec draws them."""
    drawn = sample_spec(rng)
    return validate_spec({"persons": drawn["persons"], "start": drawn["start"], "segments": segments})


def _pool_specs(queries: list[dict], n_random: int, rng: np.random.Generator) -> list[dict]:
    """Answers (one per query, by a random person), sampled clips, and for every queried action
    each of its attribute combinations and its confusable actions as single-segment clips."""
    specs = [_with_people([dict(q["spec"]["segments"][0], actor=int(rng.integers(2)))], rng) for q in queries]
    specs += [validate_spec(sample_spec(rng)) for _ in range(n_random)]
    for action in sorted({q["action"] for q in queries}):
        attributes = vocab.attributes(action)
        for values in itertools.product(*attributes.values()):
            specs.append(_with_people([_random_segment(action, rng, dict(zip(attributes, values)))], rng))
        for other in CONFUSABLE.get(action, ()):
            specs.append(_with_people([_random_segment(other, rng)], rng))
    return specs


def build_kit_groups(queries: list[dict], n_candidates: int = 32, hard_fraction: float = 0.5,
                     seed: int = 0, fps: int = 20, n_random: int = 300) -> KitGroups:
    """One group per query: the KIT caption, its generated clip and n_candidates - 1 others
    from a shared pool, at least ceil(hard_fraction x others) of them sharing an action with
    the answer or confusable with it (when the pool has them), none indistinguishable from it."""
    rng = np.random.default_rng(seed)
    pool = _pool_specs(queries, n_random, rng)
    ids = [f"kit{index:04d}" for index in range(len(pool))]
    specs = dict(zip(ids, pool))
    motions = {clip: synthesize(spec, np.random.default_rng([seed, index]), fps)
               for index, (clip, spec) in enumerate(specs.items())}
    actions = {clip: {segment["action"] for segment in spec["segments"]} for clip, spec in specs.items()}
    groups, hard_counts, excluded = [], [], []
    for index, query in enumerate(queries):
        answer = ids[index]
        allowed = [clip for clip in ids if clip != answer and not indistinguishable(query, specs[clip])]
        excluded.append(len(ids) - 1 - len(allowed))
        related = {query["action"], *CONFUSABLE.get(query["action"], ())}
        hard = [clip for clip in allowed if actions[clip] & related]
        n_others = min(n_candidates - 1, len(allowed))
        take = min(math.ceil(hard_fraction * n_others), len(hard))
        others = [hard[i] for i in rng.choice(len(hard), take, replace=False)]
        rest = [clip for clip in allowed if clip not in set(others)]
        others += [rest[i] for i in rng.choice(len(rest), n_others - take, replace=False)]
        others = [others[i] for i in rng.permutation(len(others))]
        position = int(rng.integers(n_others + 1))
        groups.append(QueryGroup(str(index + 1), answer, query["caption"],
                                 others[:position] + [answer] + others[position:], position + 1))
        hard_counts.append(take)
    report = {"n_groups": len(groups), "n_candidates": n_candidates, "pool_clips": len(ids),
              "hard_negatives_min": int(min(hard_counts)),
              "hard_negatives_mean": round(float(np.mean(hard_counts)), 3),
              "indistinguishable_excluded_mean": round(float(np.mean(excluded)), 3)}
    return KitGroups(groups, specs, motions, report)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kit", required=True, help="folder with annotations.json and splits/test.txt")
    parser.add_argument("--out", required=True, help="the derived query set (JSON) to write")
    args = parser.parse_args()
    queries, counts = derive_queries(args.kit)
    write_queries(args.out, queries, counts)
    print(json.dumps(counts))


if __name__ == "__main__":
    run_cli(main)
