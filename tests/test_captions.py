import itertools
import re
from collections import defaultdict

import numpy as np
import pytest

from textmotion.sources.synthetic import vocabulary as vocab
from textmotion.sources.synthetic.captions import make_captions
from textmotion.sources.synthetic.spec import sample_spec, semantic_signature

CAPTIONS_PER_SPEC = 45

# Words that must appear for each action, and the ones of the actions it could be confused with.
ACTION_WORDS = {
    "walk": r"\bwalk", "run": r"\brun|sprint", "jump": r"\bjump", "sit_down": r"\bsit|seat",
    "stand_up": r"stand\w* up|get\w* up|\bris", "squat": r"squat|crouch", "wave": r"\bwav",
    "raise_arms": r"rais|lift", "clap": r"\bclap", "kick": r"\bkick", "punch": r"punch",
    "turn_around": r"\bturn", "bow": r"\bbow", "spin": r"spin|twirl", "hop": r"\bhop",
    "stretch": r"stretch", "shake_hands": r"shak\w* hands|handshake", "hug": r"\bhug|embrac",
    "high_five": r"high.fiv", "push": r"push|shov", "pull": r"pull|tug", "follow": r"follow|behind",
    "chase": r"chas|run\w* (after|away)", "bow_to_each_other": r"bow(s|ing)? to (each|one) |exchang\w* bows",
    "wave_at_each_other": r"wav(e|es|ing) (at|to) each other|with a wave|exchang\w* waves",
    "dance_facing": r"danc", "punch_dodge": r"dodg", "walk_side_by_side": r"side by side|alongside|next to each other",
}
CONFUSABLE = {"walk": ["run"], "run": ["walk"], "jump": ["hop"], "hop": ["jump"],
              "sit_down": ["stand_up"], "turn_around": ["spin"], "spin": ["turn_around"],
              "bow": ["bow_to_each_other"], "wave": ["wave_at_each_other"],
              "punch": ["punch_dodge"], "raise_arms": ["stretch"], "stretch": ["raise_arms"]}
TWO_PERSONS = r"other|\btwo\b|\bboth (people|of)|pair|someone else"

# attribute -> value -> (required pattern or None, forbidden pattern)
ATTRIBUTE_WORDS = {
    "direction": {"forward": (r"forward|ahead", r"backward|\bleft|\bright"),
                  "backward": (r"backward", r"forward|ahead|\bleft|\bright"),
                  "left": (r"\bleft\b", r"forward|ahead|backward|\bright"),
                  "right": (r"\bright\b", r"forward|ahead|backward|\bleft")},
    "speed": {"slow": (r"\bslow", r"quick|fast|brisk|normal|steady"),
              "normal": (None, r"slow|quick|fast|brisk"),
              "fast": (r"quick|fast|brisk", r"slow|normal|steady")},
    "hand": {"left": (r"\bleft\b", r"\bright\b|both"), "right": (r"\bright\b", r"\bleft\b|both"),
             "both": (r"\bboth\b", r"\bleft\b|\bright\b")},
    "side": {"left": (r"\bleft\b", r"\bright\b"), "right": (r"\bright\b", r"\bleft\b")},
    "count": {1: (r"\bonce\b", r"twice|three times"), 2: (r"\btwice\b", r"\bonce\b|three times"),
              3: (r"three times", r"\bonce\b|twice")},
}
ORDER_WORDS = r"\bthen\b|\bafter\b|afterwards|\bbefore\b|\bfinally\b|\band\b"


def captions_of(spec, seed=0, repeats=CAPTIONS_PER_SPEC // 3):
    rng = np.random.default_rng(seed)
    return [caption for _ in range(repeats) for caption in make_captions(spec, rng, 3)]


def single_segment_specs():
    for action, (_, attributes, _) in vocab.ACTIONS.items():
        names = list(attributes)
        for values in itertools.product(*attributes.values()):
            yield {"segments": [{"action": action, "actor": 0, **dict(zip(names, values))}]}


SINGLE_SEGMENT_SPECS = list(single_segment_specs())


def spec_id(spec):
    return "-".join(str(v) for segment in spec["segments"] for k, v in segment.items() if k != "actor")


def assert_well_formed(caption):
    assert caption == caption.lower() and caption.endswith(".") and "\n" not in caption
    assert "  " not in caption and " ," not in caption and ".." not in caption
    assert "{" not in caption


@pytest.mark.parametrize("spec", SINGLE_SEGMENT_SPECS, ids=spec_id)
def test_every_caption_states_the_action_and_each_attribute(spec):
    segment = spec["segments"][0]
    action = segment["action"]
    for caption in captions_of(spec):
        assert_well_formed(caption)
        assert re.search(ACTION_WORDS[action], caption), caption
        for confusable in CONFUSABLE.get(action, []):
            assert not re.search(ACTION_WORDS[confusable], caption), caption
        mentions_two_persons = bool(re.search(TWO_PERSONS, caption))
        assert mentions_two_persons == (vocab.kind(action) == vocab.INTERACTION), caption
        for name in vocab.attributes(action):
            required, forbidden = ATTRIBUTE_WORDS[name][segment[name]]
            assert required is None or re.search(required, caption), (name, caption)
            assert not re.search(forbidden, caption), (name, caption)
        if vocab.attributes(action).keys().isdisjoint({"count"}):
            assert not re.search(r"\bonce\b|twice|three times", caption), caption


def test_solo_action_by_both_persons_is_plural():
    spec = {"segments": [{"action": "jump", "actor": "both", "count": 2}]}
    for caption in captions_of(spec):
        assert re.search(r"two people|both people|the two people|a pair of people", caption), caption
        assert re.search(r"\bjump\b|\bjumping\b", caption) and "jumps" not in caption, caption


def test_who_does_what_is_stated():
    same = {"segments": [{"action": "wave", "actor": 0, "hand": "left"}, {"action": "clap", "actor": 0}]}
    other = {"segments": [{"action": "wave", "actor": 0, "hand": "left"}, {"action": "clap", "actor": 1}]}
    for caption in captions_of(same):
        assert not re.search(r"other|another|second|someone else", caption), caption
    for caption in captions_of(other):
        assert re.search(r"\bother\b|another|second person", caption), caption


def test_segment_order_is_kept():
    spec = {"segments": [{"action": "kick", "actor": 0, "side": "left"},
                         {"action": "spin", "actor": 1},
                         {"action": "sit_down", "actor": 0}]}
    for caption in captions_of(spec):
        positions = [re.search(ACTION_WORDS[s["action"]], caption).start() for s in spec["segments"]]
        assert positions == sorted(positions), caption
        assert re.search(ORDER_WORDS, caption), caption


def test_different_signatures_never_share_a_caption():
    rng = np.random.default_rng(5)
    signatures_of_caption = defaultdict(set)
    for _ in range(2000):
        spec = sample_spec(rng)
        for caption in make_captions(spec, rng, 3):
            assert_well_formed(caption)
            signatures_of_caption[caption].add(semantic_signature(spec))
    shared = {caption: sigs for caption, sigs in signatures_of_caption.items() if len(sigs) > 1}
    assert not shared


def structure_of(caption):
    """The caption's skeleton: its function words and punctuation, content words dropped."""
    tokens = re.findall(r"[a-z]+|[,.]", caption)
    keep = {"first", "then", "and", "after", "that", "afterwards", "before", "finally", "is",
            "are", "there", "can", "seen", ",", "."}
    return " ".join(token for token in tokens if token in keep or token.endswith("ing"))


@pytest.mark.parametrize("segments, minimum", [
    ([{"action": "walk", "actor": 0, "direction": "forward", "speed": "normal"},
      {"action": "sit_down", "actor": 0}], 10),
    ([{"action": "wave", "actor": 0, "hand": "left"}, {"action": "squat", "actor": 1, "count": 2}], 6),
    ([{"action": "hug"}], 4),
])
def test_sentence_structures_vary(segments, minimum):
    captions = captions_of({"segments": segments}, repeats=100)
    assert len({structure_of(caption) for caption in captions}) >= minimum


def test_captions_are_distinct_one_to_three_and_deterministic():
    rng = np.random.default_rng(3)
    counts = set()
    for _ in range(200):
        spec = sample_spec(rng)
        seed = int(rng.integers(1 << 30))
        captions = make_captions(spec, np.random.default_rng(seed))
        assert captions == make_captions(spec, np.random.default_rng(seed))
        assert 1 <= len(captions) <= 3 and len(set(captions)) == len(captions)
        counts.add(len(captions))
        assert len(make_captions(spec, rng, 3)) == 3
    assert counts == {1, 2, 3}


def test_bad_caption_count_is_rejected():
    with pytest.raises(ValueError, match="n must be 1 to 3"):
        make_captions({"segments": [{"action": "clap", "actor": 0}]}, np.random.default_rng(0), 4)
