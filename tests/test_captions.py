import itertools
import re
from collections import defaultdict

import numpy as np
import pytest

from textmotion.sources.synthetic import vocabulary as vocab
from textmotion.sources.synthetic.captions import make_captions
from textmotion.sources.synthetic.spec import sample_spec, semantic_signature

CAPTIONS_PER_SPEC = 45

# Per wording: words that must appear for each action (and not in the actions it could be
# confused with), words naming two persons, and words stating each attribute value.
ACTION_WORDS = {
    "train": {
        "walk": r"\bwalk|\b(go|goes|going|went)\b|steps|head\w* off", "run": r"\brun|sprint|\bjog", "jump": r"\bjump",
        "sit_down": r"\bsit|seat", "stand_up": r"stand\w* up|get\w* up|\bris", "squat": r"squat|crouch",
        "wave": r"\bwav", "raise_arms": r"rais|lift|\bput", "clap": r"\bclap", "kick": r"\bkick",
        "punch": r"punch|\bbox", "turn_around": r"\bturn", "bow": r"\bbow", "spin": r"spin|twirl",
        "hop": r"\bhop", "stretch": r"stretch", "shake_hands": r"shak\w* hands|handshake",
        "hug": r"\bhug|embrac", "high_five": r"high.fiv", "push": r"push|shov",
        "pull": r"pull|tug", "follow": r"follow|behind",
        "chase": r"chas|run\w* (after|away)",
        "bow_to_each_other": r"bow(s|ing)? to (each|one) |exchang\w* bows|bows back",
        "wave_at_each_other": r"wav(e|es|ing) (at|to) each other|with a wave|exchang\w* waves|waves back",
        "dance_facing": r"danc", "punch_dodge": r"dodg",
        "walk_side_by_side": r"side by side|alongside|beside each other"},
    "novel": {
        "walk": r"stroll|ambl|tread|trod|(mak\w*|made) their way|proceed|strid|strode|back\w* up|retreat|veer",
        "run": r"\bdash|\brac(e|es|ing|ed)\b|\btrot|\bbolt|speed\w* off|sped off",
        "jump": r"\bleap|spring|sprang", "sit_down": r"settl|lower\w* themselves|plop|perch",
        "stand_up": r"to their feet|c(o|a)m(e|es|ing) up|straighten|upright stance",
        "squat": r"knee bend|\bdip|\bsink|\bsank|(bend\w*|bent) their knees", "wave": r"\bwag|\bsa(y|ys|id|ying) hi|signal\w* a greeting|sway",
        "raise_arms": r"\bhold|\bheld|extend|thrust|elevat", "clap": r"applau|palms together",
        "kick": r"lash|strik\w* out|struck out|fl(i|u)ng|launch",
        "punch": r"\bjab|strik\w* the air|struck the air|deliver|hit\w* out",
        "turn_around": r"about-face|swivel|pivot|rotat", "bow": r"\bben(d|ds|ding|t) forward|inclin|\blean",
        "spin": r"pirouett|whirl|full revolution", "hop": r"bounc|balanc",
        "stretch": r"limber|loosen|warm\w* up|stiffness", "shake_hands": r"clasp|grasp|grip",
        "hug": r"wrap|cuddl|squeez", "high_five": r"slap|smack|(meet|met)\w* palms", "push": r"knock|driv|drove|jostl",
        "pull": r"drag|haul|yank", "follow": r"trail|\btail|shadow|track",
        "chase": r"pursu|hunt|fle(e|es|eing|d)\b",
        "bow_to_each_other": r"inclin\w* their torsos|(bend\w*|bent) at the waist toward|greet\w* each other by bending",
        "wave_at_each_other": r"signal\w* hello|greet\w* each other from afar|gestur", "dance_facing": r"groov|bust|boogi",
        "punch_dodge": r"out of the way|lean\w* away|evad", "walk_side_by_side": r"shoulder to shoulder|abreast|pace beside"},
}
CONFUSABLE = {"walk": ["run"], "run": ["walk"], "jump": ["hop"], "hop": ["jump"],
              "sit_down": ["stand_up"], "turn_around": ["spin"], "spin": ["turn_around"],
              "bow": ["bow_to_each_other"], "wave": ["wave_at_each_other"],
              "punch": ["punch_dodge"], "raise_arms": ["stretch"], "stretch": ["raise_arms"]}
TWO_PERSONS = {"train": r"other|\btwo (people|of)|both (people|of)|pair|someone else|they both",
               "novel": r"partner|individuals|figures|\bpair\b|duo|second individual|another individual"}
SAME_PERSON_FORBIDDEN = {"train": r"other|another|second|someone else",
                         "novel": r"partner|another|second"}
OTHER_PERSON_REQUIRED = {"train": r"\bother\b|another|second person",
                         "novel": r"partner|another individual|second individual"}

# attribute -> value -> (required pattern or None, forbidden pattern)
# "one jump" counts; "the taller one jumps" names a person.
ONE = r"(?<!taller )(?<!shorter )(?<!other )\bone (time|jump|squat|hop|punch)\b"
COUNT_WORDS = {
    "train": {1: (rf"\bonce\b|{ONE}|\ba (jump|squat|hop|punch)\b", r"twice|\btwo\b|\bthree\b"),
              2: (r"twice|\btwo (times|jumps|squats|hops|punches)\b", rf"\bonce\b|{ONE}|\bthree\b"),
              3: (r"\bthree (times|jumps|squats|hops|punches)\b", rf"\bonce\b|{ONE}|twice|\btwo\b")},
    "novel": {1: (r"a single", r"\b[23]\b|thrice|times"), 2: (r"\b2\b", r"a single|\b3\b|thrice"),
              3: (r"\b3\b|thrice", r"a single|\b2\b")},
}
ATTRIBUTE_WORDS = {
    "train": {
        "direction": {"forward": (r"forward|ahead", r"backward|\bleft|\bright"),
                      "backward": (r"backward", r"forward|ahead|\bleft|\bright"),
                      "left": (r"\bleft\b", r"forward|ahead|backward|\bright"),
                      "right": (r"\bright\b", r"forward|ahead|backward|\bleft")},
        "speed": {"slow": (r"\bslow|careful", r"quick|fast|brisk|normal|steady|medium"),
                  "normal": (None, r"slow|careful|quick|fast|brisk"),
                  "fast": (r"quick|fast|brisk", r"slow|careful|normal|steady|medium")},
    },
    "novel": {
        "direction": {"forward": (r"straight line|straight on|to the front", r"rear|reverse|\bback|left|right"),
                      "backward": (r"rearward|in reverse|back\w* up|retreat", r"straight|front|left|right"),
                      "left": (r"\bleft", r"\bright|front|straight|rear|reverse"),
                      "right": (r"\bright", r"\bleft|front|straight|rear|reverse")},
        "speed": {"slow": (r"leisurely|unhurriedly|gentle pace|no rush", r"rapid|\bhurried|high speed|speedily|ordinary|regular"),
                  "normal": (None, r"leisurely|unhurriedly|gentle|no rush|rapid|\bhurried|high speed|speedily"),
                  "fast": (r"rapid|\bhurried|high speed|speedily", r"leisurely|unhurriedly|gentle|no rush|ordinary|regular|stroll|ambl")},
    },
}
for wording, table in ATTRIBUTE_WORDS.items():
    table["count"] = COUNT_WORDS[wording]
    table["hand"] = {"left": (r"\bleft\b", r"\bright\b|both"), "right": (r"\bright\b", r"\bleft\b|both"),
                     "both": (r"\bboth\b", r"\bleft\b|\bright\b")}
    table["side"] = {"left": (r"\bleft\b", r"\bright\b"), "right": (r"\bright\b", r"\bleft\b")}
ANY_COUNT = r"\bonce\b|twice|three times|thrice|\b[23] times|a single time"
ORDER_WORDS = {"train": r"\bthen\b|\bafter\b|afterwards|\bbefore\b|\bfinally\b|\band\b",
               "novel": r"\bnext\b|subsequently|later|afterward|prior to|having finished|lastly|\band\b"}
WORDINGS = ("train", "novel")


def captions_of(spec, seed=0, repeats=CAPTIONS_PER_SPEC // 3, wording="train"):
    rng = np.random.default_rng(seed)
    return [caption for _ in range(repeats) for caption in make_captions(spec, rng, 3, wording=wording)]


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
    assert not re.search(r"[{}<>\[\]]", caption), caption


@pytest.mark.parametrize("wording", WORDINGS)
@pytest.mark.parametrize("spec", SINGLE_SEGMENT_SPECS, ids=spec_id)
def test_every_caption_states_the_action_and_each_attribute(spec, wording):
    segment = spec["segments"][0]
    action = segment["action"]
    words = ACTION_WORDS[wording]
    for caption in captions_of(spec, wording=wording):
        assert_well_formed(caption)
        assert re.search(words[action], caption), caption
        for confusable in CONFUSABLE.get(action, []):
            assert not re.search(words[confusable], caption), caption
        if vocab.kind(action) == vocab.INTERACTION:  # someone else, or a second person by height
            assert re.search(TWO_PERSONS[wording] + r"|taller|shorter", caption), caption
        else:
            assert not re.search(TWO_PERSONS[wording], caption), caption
            assert not (re.search(r"taller", caption) and re.search(r"shorter", caption)), caption
        for name in vocab.attributes(action):
            required, forbidden = ATTRIBUTE_WORDS[wording][name][segment[name]]
            assert required is None or re.search(required, caption), (name, caption)
            assert not re.search(forbidden, caption), (name, caption)
        if "count" not in vocab.attributes(action):
            assert not re.search(ANY_COUNT, caption), caption


@pytest.mark.parametrize("wording, pair, singular", [
    ("train", r"two people|both people|the two people|a pair of people", r"\bjumps (up|in|once|twice|two)"),
    ("novel", r"two individuals|a pair of individuals|two figures|a duo",
     r"\bleaps (off|2)|\bsprings\b|\bcarries\b|\bexecutes\b|\bwas\b")])
def test_solo_action_by_both_persons_is_plural(wording, pair, singular):
    spec = {"segments": [{"action": "jump", "actor": "both", "count": 2}]}
    for caption in captions_of(spec, wording=wording):
        assert re.search(pair, caption), caption
        assert re.search(ACTION_WORDS[wording]["jump"], caption) and not re.search(singular, caption), caption


EQUAL_HEIGHTS = [{"height": 1.7}, {"height": 1.7}]


@pytest.mark.parametrize("wording", WORDINGS)
def test_who_does_what_is_stated(wording):
    same = {"persons": EQUAL_HEIGHTS, "segments": [{"action": "wave", "actor": 0, "hand": "left"},
                                                   {"action": "clap", "actor": 0}]}
    other = {"persons": EQUAL_HEIGHTS, "segments": [{"action": "wave", "actor": 0, "hand": "left"},
                                                    {"action": "clap", "actor": 1}]}
    for caption in captions_of(same, wording=wording):
        assert not re.search(SAME_PERSON_FORBIDDEN[wording], caption), caption
    for caption in captions_of(other, wording=wording):
        assert re.search(OTHER_PERSON_REQUIRED[wording], caption), caption


@pytest.mark.parametrize("wording", WORDINGS)
def test_persons_are_told_apart_by_height_only_when_it_shows_and_truly(wording):
    segments = [{"action": "wave", "actor": 1, "hand": "left"}, {"action": "clap", "actor": 0}]
    wave, clap = ACTION_WORDS[wording]["wave"], ACTION_WORDS[wording]["clap"]
    captions = captions_of({"persons": [{"height": 1.62}, {"height": 1.88}], "segments": segments},
                           repeats=40, wording=wording)
    by_height = [caption for caption in captions if re.search(r"taller|shorter", caption)]
    assert len(by_height) > len(captions) / 5
    for caption in by_height:
        # Person 1 (taller) waves, person 0 (shorter) claps.
        assert not re.search(rf"shorter \w+( of the two)? (\w+ )?({wave})", caption), caption
        assert not re.search(rf"taller \w+( of the two)? (\w+ )?({clap})", caption), caption
    close = {"persons": [{"height": 1.70}, {"height": 1.75}], "segments": segments}
    assert not any(re.search(r"taller|shorter", c) for c in captions_of(close, wording=wording))


@pytest.mark.parametrize("wording", WORDINGS)
def test_segment_order_is_kept(wording):
    spec = {"segments": [{"action": "kick", "actor": 0, "side": "left"},
                         {"action": "spin", "actor": 1},
                         {"action": "sit_down", "actor": 0}]}
    words = ACTION_WORDS[wording]
    for caption in captions_of(spec, wording=wording):
        positions = [re.search(words[s["action"]], caption).start() for s in spec["segments"]]
        assert positions == sorted(positions), caption
        assert re.search(ORDER_WORDS[wording], caption), caption


@pytest.mark.parametrize("wording", WORDINGS)
def test_different_signatures_never_share_a_caption(wording):
    rng = np.random.default_rng(5)
    signatures_of_caption = defaultdict(set)
    for _ in range(2000):
        spec = sample_spec(rng)
        for caption in make_captions(spec, rng, 3, wording=wording):
            assert_well_formed(caption)
            signatures_of_caption[caption].add(semantic_signature(spec))
    shared = {caption: sigs for caption, sigs in signatures_of_caption.items() if len(sigs) > 1}
    assert not shared


def structure_of(caption):
    """The caption's skeleton: its function words and punctuation, content words dropped."""
    tokens = re.findall(r"[a-z]+|[,.;]", caption)
    keep = {"first", "then", "and", "after", "that", "afterwards", "before", "finally", "is", "are",
            "was", "were", "there", "can", "seen", "motion", "shows", "clip", "we", "see", "here",
            "next", "subsequently", "later", "afterward", "initially", "lastly", "prior", "having",
            "finished", "begin", "end", "right", "away", ",", ".", ";"}
    return " ".join(token for token in tokens if token in keep or token.endswith("ing"))


@pytest.mark.parametrize("wording", WORDINGS)
@pytest.mark.parametrize("segments, minimum", [
    ([{"action": "walk", "actor": 0, "direction": "forward", "speed": "normal"},
      {"action": "sit_down", "actor": 0}], 10),
    ([{"action": "wave", "actor": 0, "hand": "left"}, {"action": "squat", "actor": 1, "count": 2}], 6),
    ([{"action": "hug"}], 4),
])
def test_sentence_structures_vary(segments, minimum, wording):
    captions = captions_of({"segments": segments}, repeats=100, wording=wording)
    assert len({structure_of(caption) for caption in captions}) >= minimum


@pytest.mark.parametrize("wording", WORDINGS)
def test_captions_are_distinct_one_to_three_and_deterministic(wording):
    rng = np.random.default_rng(3)
    counts = set()
    for _ in range(200):
        spec = sample_spec(rng)
        seed = int(rng.integers(1 << 30))
        captions = make_captions(spec, np.random.default_rng(seed), wording=wording)
        assert captions == make_captions(spec, np.random.default_rng(seed), wording=wording)
        assert 1 <= len(captions) <= 3 and len(set(captions)) == len(captions)
        counts.add(len(captions))
        assert len(make_captions(spec, rng, 3, wording=wording)) == 3
    assert counts == {1, 2, 3}


def test_novel_captions_may_be_in_the_past_tense_and_training_ones_are_not():
    spec = {"segments": [{"action": "sit_down", "actor": 0}]}
    assert any(re.search(r"\b(settled|lowered|plopped|perched)\b", c)
               for c in captions_of(spec, wording="novel"))
    assert not any(re.search(r"\bsat\b", c) for c in captions_of(spec, wording="train"))


def test_bad_caption_count_or_wording_is_rejected():
    spec = {"segments": [{"action": "clap", "actor": 0}]}
    with pytest.raises(ValueError, match="n must be 1 to 3"):
        make_captions(spec, np.random.default_rng(0), 4)
    with pytest.raises(ValueError, match="wording must be one of train, novel"):
        make_captions(spec, np.random.default_rng(0), 1, wording="held-out")


@pytest.mark.parametrize("wording", WORDINGS)
def test_after_a_relative_clause_the_actor_is_named_again_not_as_the_same_one(wording):
    spec = {"persons": EQUAL_HEIGHTS, "segments": [{"action": "punch_dodge", "actor": 0},
                                                   {"action": "clap", "actor": 0}]}
    relative = [caption for caption in captions_of(spec, repeats=30, wording=wording) if " who " in caption]
    assert relative
    for caption in relative:  # the puncher claps: named by order of mention (heights are equal)
        assert not re.search(r"\bsame\b", caption), caption
        assert re.search(r"\bfirst (person|individual)\b", caption.split(" who ")[-1]), caption
