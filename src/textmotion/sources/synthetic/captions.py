"""Captions for a clip spec, from a small grammar that varies sentence structure.

Every caption states every semantic attribute of the spec (direction, slow/fast speed,
hand or side, count, who does what, segment order), so two clips with different
`semantic_signature`s never share a caption. Persons are named by role in order of
mention ("a person ... the other person", "the first person"), never by storage order.

A caption is planned as one clause per segment (a subject and a verb phrase in base form,
where "{obj}" stands for the other person), then rendered with one of several sentence
structures: plain sequences with varied connectors, "first ... then ... finally",
"X before Y-ing", "after X-ing, Y", progressive and "there is"/"can be seen" openings.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from textmotion.sources.synthetic import vocabulary as vocab
from textmotion.sources.synthetic.spec import BOTH, validate_spec

MAX_CAPTIONS = 3
ATTEMPTS_PER_CAPTION = 50

COUNT_WORDS = {1: "once", 2: "twice", 3: "three times"}
HAND_PHRASES = {"left": ("with the left hand", "with their left hand"),
                "right": ("with the right hand", "with their right hand"),
                "both": ("with both hands",)}
ARM_PHRASES = {"left": ("the left arm", "their left arm", "the left hand"),
               "right": ("the right arm", "their right arm", "the right hand"),
               "both": ("both arms", "both hands")}
WALK_DIRECTIONS = {"forward": ("forward", "forwards", "ahead", "straight ahead"),
                   "backward": ("backward", "backwards"),
                   "left": ("to the left", "left", "sideways to the left", "toward the left"),
                   "right": ("to the right", "right", "sideways to the right", "toward the right")}
RUN_DIRECTIONS = {"forward": ("forward", "ahead", "straight ahead"),
                  "left": ("to the left", "off to the left", "toward the left"),
                  "right": ("to the right", "off to the right", "toward the right")}
SPEED_ADVERBS = {"slow": ("slowly", "at a slow pace"),
                 "normal": ("", "at a normal pace", "at a steady pace"),
                 "fast": ("quickly", "fast", "at a fast pace", "briskly")}

# Verb phrases in base form, the verb first (or after an -ly adverb).
SOLO_PHRASES = {
    "sit_down": ("sit down", "take a seat", "sit down as if on a chair"),
    "stand_up": ("stand up", "get up", "rise to their feet", "stand up from a seated position"),
    "clap": ("clap", "clap their hands", "clap hands"),
    "turn_around": ("turn around", "turn all the way around", "turn to face the opposite direction"),
    "bow": ("bow", "take a bow", "bow politely"),
    "spin": ("spin", "spin around", "twirl around", "spin in place"),
    "stretch": ("stretch", "stretch their body", "do some stretching"),
}
# Symmetric interactions: both persons as a plural subject, or one subject acting with "{obj}".
SYMMETRIC_PLURAL = {
    "shake_hands": ("shake hands", "greet each other with a handshake", "exchange a handshake",
                    "meet to shake hands"),
    "hug": ("hug", "hug each other", "embrace", "give each other a hug", "meet for a hug"),
    "high_five": ("high-five each other", "give each other a high five", "exchange a high five"),
    "bow_to_each_other": ("bow to each other", "exchange bows", "bow to one another"),
    "wave_at_each_other": ("wave at each other", "wave to each other",
                           "greet each other with a wave"),
    "dance_facing": ("dance facing each other", "dance together face to face",
                     "dance face to face"),
    "walk_side_by_side": ("walk side by side", "walk next to each other",
                          "walk together side by side"),
}
SYMMETRIC_SINGULAR = {
    "shake_hands": ("shake hands with {obj}", "greet {obj} with a handshake"),
    "hug": ("hug {obj}", "embrace {obj}", "give {obj} a hug"),
    "high_five": ("high-five {obj}", "give {obj} a high five"),
    "bow_to_each_other": ("exchange bows with {obj}",),
    "wave_at_each_other": ("exchange waves with {obj}",),
    "dance_facing": ("dance facing {obj}", "dance face to face with {obj}"),
    "walk_side_by_side": ("walk side by side with {obj}", "walk alongside {obj}"),
}
# Asymmetric interactions: the initiator as subject (active) or the other one (passive).
ASYMMETRIC_ACTIVE = {
    "push": ("push {obj}", "shove {obj}", "push {obj} away"),
    "pull": ("pull {obj}", "pull {obj} toward them", "tug {obj} closer"),
    "follow": ("follow {obj}", "walk behind {obj}", "follow {obj} around"),
    "chase": ("chase {obj}", "run after {obj}", "chase after {obj}"),
    "punch_dodge": ("punch at {obj}, who dodges", "throw a punch at {obj}, who dodges it",
                    "swing a punch at {obj} who dodges it"),
}
ASYMMETRIC_PASSIVE = {
    "push": ("be pushed by {obj}", "get pushed by {obj}"),
    "pull": ("be pulled by {obj}", "get pulled by {obj}"),
    "follow": ("be followed by {obj}",),
    "chase": ("be chased by {obj}", "run away from {obj}"),
    "punch_dodge": ("dodge a punch from {obj}", "dodge a punch thrown by {obj}"),
}
PASSIVE_PROB = 0.3
PLURAL_SYMMETRIC_PROB = 0.6
ELLIPSIS_PROB = 0.6
TAIL_PROB = 0.15
STANDING_TAILS = ("stand still", "stop", "stay still")
SEATED_TAILS = ("stay seated", "remain seated")

# Connector between two clauses: (text, whether the second clause may drop a repeated subject).
CONNECTORS = ((", then ", True), (" and then ", True), (", and then ", True), (" and ", True),
              (", and afterwards ", True), (". then ", False), (". after that, ", False),
              (", after that ", False), (". afterwards, ", False))

DOUBLED_FINAL_CONSONANT = {"sit", "run", "squat", "hop", "spin", "clap", "stop", "get", "tug",
                           "hug", "step"}
IRREGULAR_FORMS = {"be": ("is", "are", "being"), "do": ("does", "do", "doing")}
SINGULAR, PLURAL, GERUND = 0, 1, 2


def _pick(options, rng: np.random.Generator):
    return options[int(rng.integers(len(options)))]


def _inflect(verb: str, form: int) -> str:
    if form == PLURAL:
        return verb
    if verb in IRREGULAR_FORMS:
        return IRREGULAR_FORMS[verb][form]
    if form == SINGULAR:
        if verb.endswith(("s", "sh", "ch", "x", "z", "o")):
            return verb + "es"
        return verb + "s"
    last_part = verb.rsplit("-", 1)[-1]
    if last_part in DOUBLED_FINAL_CONSONANT:
        return verb + verb[-1] + "ing"
    if verb.endswith("e") and not verb.endswith("ee"):
        return verb[:-1] + "ing"
    return verb + "ing"


def _conjugate(phrase: str, form: int) -> str:
    """Inflect the phrase's verb: its first word that is not an -ly adverb."""
    words = phrase.split(" ")
    index = next(i for i, word in enumerate(words) if not word.endswith("ly"))
    words[index] = _inflect(words[index], form)
    return " ".join(words)


def _solo_phrases(segment: dict) -> list[str]:
    action = segment["action"]
    if action in SOLO_PHRASES:
        return list(SOLO_PHRASES[action])
    if action == "walk":
        phrases = []
        for direction in WALK_DIRECTIONS[segment["direction"]]:
            for adverb in SPEED_ADVERBS[segment["speed"]]:
                phrases.append(f"walk {direction} {adverb}".strip())
                if adverb.endswith("ly"):
                    phrases.append(f"{adverb} walk {direction}")
        return phrases
    if action == "run":
        return [f"{verb} {direction}" for verb in ("run", "sprint")
                for direction in RUN_DIRECTIONS[segment["direction"]]]
    if action in ("jump", "squat"):
        verbs = {"jump": ("jump", "jump up", "jump up and down"),
                 "squat": ("squat", "squat down", "crouch down")}[action]
        return [f"{verb} {COUNT_WORDS[segment['count']]}" for verb in verbs]
    if action == "wave":
        return [f"wave {hand}" for hand in HAND_PHRASES[segment["hand"]]]
    if action == "raise_arms":
        return [f"{verb} {arm}" for verb in ("raise", "lift") for arm in ARM_PHRASES[segment["hand"]]]
    side = segment["side"]
    if action == "kick":
        return [f"kick with the {side} leg", f"kick with the {side} foot",
                f"kick with their {side} leg", f"do a kick with the {side} foot"]
    count = COUNT_WORDS[segment["count"]]
    if action == "punch":
        return [f"punch {count} with the {side} fist", f"punch with the {side} hand {count}",
                f"throw a punch with the {side} arm {count}",
                f"punch the air with the {side} fist {count}"]
    if action == "hop":
        return [f"hop on the {side} foot {count}", f"hop {count} on the {side} leg",
                f"hop on their {side} foot {count}"]
    raise AssertionError(f"no phrases for solo action {action!r}")


@dataclass(frozen=True)
class _Clause:
    subject: int | str  # person 0 or 1, or BOTH
    phrase: str         # base form; "{obj}" is the other person

    @property
    def has_object(self) -> bool:
        return "{obj}" in self.phrase


def _plan_clauses(segments: list[dict], rng: np.random.Generator) -> list[_Clause]:
    clauses: list[_Clause] = []
    for segment in segments:
        action, actor = segment["action"], segment["actor"]
        previous = clauses[-1].subject if clauses else None
        if vocab.kind(action) == vocab.SOLO:
            clauses.append(_Clause(actor, _pick(_solo_phrases(segment), rng)))
        elif vocab.is_symmetric(action):
            if rng.random() < PLURAL_SYMMETRIC_PROB:
                clauses.append(_Clause(BOTH, _pick(SYMMETRIC_PLURAL[action], rng)))
            else:
                subject = previous if previous in (0, 1) else int(rng.integers(2))
                clauses.append(_Clause(subject, _pick(SYMMETRIC_SINGULAR[action], rng)))
        elif rng.random() < PASSIVE_PROB:
            clauses.append(_Clause(1 - actor, _pick(ASYMMETRIC_PASSIVE[action], rng)))
        else:
            clauses.append(_Clause(actor, _pick(ASYMMETRIC_ACTIVE[action], rng)))
    return clauses


class _Discourse:
    """Who has been mentioned so far, to name persons by role without ambiguity."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.mentioned: list[int] = []   # persons named individually, in order of mention
        self.pair_mentioned = False      # "two people" / "both people" said
        self.last_subject: int | str | None = None

    def _ordinal(self, person: int) -> str:
        return ("the first person", "the second person")[self.mentioned.index(person)]

    def subject(self, who: int | str) -> str:
        options = self._pair_options() if who == BOTH else self._person_options(who)
        if who == BOTH:
            self.pair_mentioned = True
        elif who not in self.mentioned:
            self.mentioned.append(who)
        self.last_subject = who
        return _pick(options, self.rng)

    def _pair_options(self) -> tuple[str, ...]:
        if self.pair_mentioned or len(self.mentioned) == 2:
            return ("both of them", "the two of them", "they both", "both people")
        if self.mentioned:
            return ("both people", "the two people")
        return ("two people", "both people", "the two people", "a pair of people")

    def _person_options(self, person: int) -> tuple[str, ...]:
        other = 1 - person
        if person not in self.mentioned:
            if other in self.mentioned:
                if self.pair_mentioned:
                    return ("the other person", "the other one", "the second person")
                return ("the other person", "the other one", "the second person", "another person")
            if self.pair_mentioned:
                return ("one of them", "one person", "one of the two")
            return ("a person", "one person", "someone")
        if self.last_subject == person:
            return ("the same person",) if other in self.mentioned or self.pair_mentioned \
                else ("the person", "the same person")
        options = (self._ordinal(person),)
        if self.last_subject == other:
            options += ("the other person", "the other one")
        return options

    def other_of(self, subject: int) -> str:
        """The object of an interaction: the person who is not `subject`."""
        person = 1 - subject
        if person in self.mentioned:
            options = ("the other person", "the other one", "the other", self._ordinal(person))
        elif self.pair_mentioned:
            options = ("the other", "the other one", "the other person")
        else:
            options = ("the other person", "another person", "the other one", "someone else")
        if person not in self.mentioned:
            self.mentioned.append(person)
        return _pick(options, self.rng)


def _verb_phrase(clause: _Clause, form: int, discourse: _Discourse) -> str:
    text = _conjugate(clause.phrase, form)
    if clause.has_object:
        text = text.replace("{obj}", discourse.other_of(clause.subject))
    return text


def _form(clause: _Clause) -> int:
    return PLURAL if clause.subject == BOTH else SINGULAR


def _full_clause(clause: _Clause, discourse: _Discourse) -> str:
    subject = discourse.subject(clause.subject)
    return f"{subject} {_verb_phrase(clause, _form(clause), discourse)}"


def _opening(clause: _Clause, discourse: _Discourse, rng: np.random.Generator) -> str:
    """A lone clause, plain or with a progressive, "there is" or "can be seen" structure."""
    style = int(rng.integers(4))
    if style == 0:
        return _full_clause(clause, discourse)
    subject = discourse.subject(clause.subject)
    gerund = _verb_phrase(clause, GERUND, discourse)
    be = _inflect("be", _form(clause))
    return (f"{subject} {be} {gerund}", f"there {be} {subject} {gerund}",
            f"{subject} can be seen {gerund}")[style - 1]


def _sequence(clauses: list[_Clause], discourse: _Discourse, rng: np.random.Generator,
              enumerate_steps: bool) -> str:
    """Clauses joined by connectors, or by "first ..., then ..., and finally ..." ."""
    text = ("first " if enumerate_steps else "") + _full_clause(clauses[0], discourse)
    for index in range(1, len(clauses)):
        clause = clauses[index]
        if enumerate_steps:
            last = index == len(clauses) - 1 and len(clauses) == 3
            connector, elidable = (", and finally " if last else ", then "), True
        else:
            connector, elidable = _pick(CONNECTORS, rng)
        same_subject = clause.subject == clauses[index - 1].subject
        if elidable and same_subject and rng.random() < ELLIPSIS_PROB:
            text += connector + _verb_phrase(clause, _form(clause), discourse)
        else:
            text += connector + _full_clause(clause, discourse)
    return text


def _before(clauses: list[_Clause], discourse: _Discourse) -> str:
    """"X before Y-ing" for two clauses with the same subject."""
    first, second = clauses
    return f"{_full_clause(first, discourse)} before {_verb_phrase(second, GERUND, discourse)}"


def _after(clauses: list[_Clause], discourse: _Discourse) -> str:
    """"after X-ing, S Y" for two clauses with the same subject; X names nobody else."""
    first, second = clauses
    gerund = _conjugate(first.phrase, GERUND)
    return f"after {gerund}, {_full_clause(second, discourse)}"


def _tail(clauses: list[_Clause], segments: list[dict], rng: np.random.Generator) -> str:
    """An optional non-semantic ending; it describes the posture the clip ends in."""
    last = clauses[-1]
    tails = SEATED_TAILS if segments[-1]["action"] in vocab.ENDS_SEATED else STANDING_TAILS
    return " and then " + _conjugate(_pick(tails, rng), _form(last))


def _compose_caption(segments: list[dict], rng: np.random.Generator) -> str:
    clauses = _plan_clauses(segments, rng)
    discourse = _Discourse(rng)
    structures = ["sequence"]
    if len(clauses) == 1:
        structures.append("opening")
    else:
        structures.append("steps")
        pair = clauses[:2]
        if pair[0].subject == pair[1].subject:
            structures.append("before")
            if not pair[0].has_object:
                structures.append("after")
    structure = _pick(structures, rng)
    if structure == "opening":
        text = _opening(clauses[0], discourse, rng)
    elif structure in ("sequence", "steps"):
        text = _sequence(clauses, discourse, rng, enumerate_steps=structure == "steps")
    else:
        text = (_before if structure == "before" else _after)(clauses[:2], discourse)
        if len(clauses) == 3:
            connector, _ = _pick(CONNECTORS, rng)
            text += connector + _full_clause(clauses[2], discourse)
    if rng.random() < TAIL_PROB and structure != "opening":
        text += _tail(clauses, segments, rng)
    return text + "."


def make_captions(spec: dict, rng: np.random.Generator, n: int | None = None) -> list[str]:
    """1 to 3 distinct captions of the spec (n of them, or a random 1-3 when None)."""
    segments = validate_spec(spec)["segments"]
    if n is None:
        n = int(rng.integers(1, MAX_CAPTIONS + 1))
    if not 1 <= n <= MAX_CAPTIONS:
        raise ValueError(f"n must be 1 to {MAX_CAPTIONS}, got {n}")
    captions: list[str] = []
    for _ in range(ATTEMPTS_PER_CAPTION * n):
        caption = _compose_caption(segments, rng)
        if caption not in captions:
            captions.append(caption)
            if len(captions) == n:
                break
    return captions
