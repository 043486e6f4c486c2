"""Captions for a clip spec, worded the way motion-capture annotators write them.

Every caption states every semantic attribute of the spec (direction, slow/fast speed, hand or
side, count, who does what, segment order), so two clips with different `semantic_signature`s
never share a caption. Persons are named by role in order of mention ("a person ... the other
person", "the first person") or by a visible property that is true of the clip ("the taller
person", when the heights differ visibly), never by storage order.

A caption is planned as one clause per segment (a subject and a verb phrase in base form,
where "{obj}" stands for the other person), then rendered with one sentence frame: terse
labels, plain or progressive clauses, "first ... then ... finally", "A before B-ing",
"after A-ing, B", sequences with varied connectors, optional openers and endings, in the
present or (novel wording) the past tense. All phrasings come from `lexicon`; `wording`
picks its training part or its held-out part.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from textmotion.layout import MAX_CAPTIONS
from textmotion.sources.synthetic import lexicon as lex
from textmotion.sources.synthetic import vocabulary as vocab
from textmotion.sources.synthetic.spec import BOTH, validate_spec

ATTEMPTS_PER_CAPTION = 50
PASSIVE_PROB = 0.3
PLURAL_SYMMETRIC_PROB = 0.6
ELLIPSIS_PROB = 0.6
TAIL_PROB = 0.15
PREFIX_PROB = 0.12

# Verb forms.
BASE, SINGULAR, GERUND, PAST = "base", "singular", "gerund", "past"
DOUBLED_FINAL_CONSONANT = {"sit", "run", "squat", "hop", "spin", "clap", "stop", "get", "tug", "hug",
                           "step", "jog", "trot", "dip", "drag", "slap", "grip", "plop", "wag", "jab",
                           "put", "hit", "nod", "wrap"}
IRREGULAR = {  # base -> (singular, gerund, past)
    "be": ("is", "being", "was"), "boogie": ("boogies", "boogieing", "boogied"),
    "flee": ("flees", "fleeing", "fled")}
IRREGULAR_PAST = {
    "take": "took", "go": "went", "make": "made", "run": "ran", "speed": "sped", "do": "did",
    "spring": "sprang", "bend": "bent", "sink": "sank", "sit": "sat", "stand": "stood",
    "get": "got", "rise": "rose", "come": "came", "say": "said", "hold": "held", "put": "put",
    "give": "gave", "bring": "brought", "strike": "struck", "throw": "threw", "spin": "spun",
    "shake": "shook", "meet": "met", "drive": "drove", "keep": "kept", "freeze": "froze",
    "stride": "strode", "hit": "hit", "fling": "flung", "beat": "beat", "thrust": "thrust",
    "tread": "trod", "leap": "leapt"}
MARKED = re.compile(r"\[([^\]]+)\]")
CONDITION = re.compile(r"^when ([a-z_]+)=([a-z0-9|]+): ")
CO_VERB = re.compile(r"(who )?<([a-z-]+)>")


# ---- inflection ---------------------------------------------------------------------------
def inflect(verb: str, form: str) -> str:
    """One verb (possibly hyphenated, e.g. high-five) in a form; BASE also serves plural."""
    if form == BASE:
        return verb
    if verb in IRREGULAR:
        return IRREGULAR[verb][(SINGULAR, GERUND, PAST).index(form)]
    last = verb.rsplit("-", 1)[-1]
    if form == SINGULAR:
        if verb.endswith(("s", "sh", "ch", "x", "z", "o")):
            return verb + "es"
        if verb.endswith("y") and verb[-2] not in "aeiou":
            return verb[:-1] + "ies"
        return verb + "s"
    if form == PAST and last in IRREGULAR_PAST:
        return verb[:len(verb) - len(last)] + IRREGULAR_PAST[last]
    ending = "ing" if form == GERUND else "ed"
    if last in DOUBLED_FINAL_CONSONANT:
        return verb + verb[-1] + ending
    if verb.endswith("e") and not verb.endswith("ee"):
        return verb[:-1] + ending
    if form == PAST and verb.endswith("y") and verb[-2] not in "aeiou":
        return verb[:-1] + "ied"
    return verb + ending


def _agree(verb: str, form: str, plural: bool) -> str:
    if plural and form == SINGULAR:
        return "are" if verb == "be" else verb
    if plural and form == PAST and verb == "be":
        return "were"
    return inflect(verb, form)


def conjugate(phrase: str, form: str, plural: bool = False, finite: str = SINGULAR) -> str:
    """Inflect the phrase's verb (its first word) and its <co-verbs> for the subject's number;
    a <verb> after "who" takes the caption's finite form (SINGULAR or PAST) instead."""
    verb, _, rest = phrase.partition(" ")

    def co_verb(match: re.Match) -> str:
        if match.group(1):
            return match.group(1) + inflect(match.group(2), finite)
        return _agree(match.group(2), form, plural)

    return f"{_agree(verb, form, plural)} {CO_VERB.sub(co_verb, rest)}".strip()


def _forms(verb: str) -> set[str]:
    return {verb} | {_agree(verb, form, plural) for form in (SINGULAR, GERUND, PAST)
                     for plural in (False, True)}


def phrase_forms(phrase: str, verb_first: bool) -> set[str]:
    """The phrase with its first word (when a verb) and its <co-verbs> in every form."""
    words = phrase.split(" ")
    choices = [_forms(word.strip("<>")) if word.startswith("<") or (index == 0 and verb_first)
               else {word} for index, word in enumerate(words)]
    phrases = {""}
    for options in choices:
        phrases = {f"{head} {option}".strip() for head in phrases for option in options}
    return phrases


def marked_phrases(wording: str) -> set[str]:
    """Every phrase the lexicon marks for one wording; a marked verb in every form it takes."""
    phrases = set()
    for template, is_verb_phrase in [(t, True) for t in lex.verb_templates(wording)] + \
                                    [(t, False) for t in lex.other_templates(wording)]:
        body = CONDITION.sub("", template)
        for match in MARKED.finditer(body):
            phrases |= phrase_forms(match.group(1), is_verb_phrase and match.start() == 0)
    return phrases


# ---- filling templates --------------------------------------------------------------------
def _pick(options, rng: np.random.Generator):
    return options[int(rng.integers(len(options)))]


def _applies(template: str, segment: dict) -> bool:
    condition = CONDITION.match(template)
    return condition is None or str(segment[condition.group(1)]) in condition.group(2).split("|")


def _plain(text: str) -> str:
    """Brackets dropped, spaces tidied."""
    text = MARKED.sub(r"\1", text)
    return re.sub(r" +", " ", text).replace(" ,", ",").strip()


def _counted(noun: str, count: int, wording: str, rng: np.random.Generator) -> str:
    words = noun.split(" ")
    if count > 1:
        words[-1] += "es" if words[-1].endswith(("ch", "sh", "s", "x")) else "s"
    return f"{_pick(lex.CARDINAL[count][wording], rng)} {' '.join(words)}"


def _fill(template: str, segment: dict, wording: str, rng: np.random.Generator) -> str:
    """The template's verb phrase for the segment's attribute values; {obj} stays."""
    slots = {
        "direction": lambda: _pick(lex.DIRECTION[segment["direction"]][wording], rng),
        "speed": lambda: _pick(lex.SPEED[segment["speed"]][wording], rng),
        "count": lambda: _pick(lex.COUNT[segment["count"]][wording], rng),
        "hand": lambda: _pick(lex.HAND[segment["hand"]][wording], rng),
        "arm": lambda: _pick(lex.ARM[segment["hand"]], rng),
        "side": lambda: segment["side"],
    }

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name == "obj":
            return "{obj}"
        if name.startswith("n:"):
            return _counted(name[2:], segment["count"], wording, rng)
        return slots[name]()

    return _plain(re.sub(r"\{([^}]+)\}", replace, CONDITION.sub("", template)))


def _phrase(templates: tuple[str, ...], segment: dict, wording: str, rng: np.random.Generator) -> str:
    return _fill(_pick([t for t in templates if _applies(t, segment)], rng), segment, wording, rng)


# ---- planning -----------------------------------------------------------------------------
@dataclass(frozen=True)
class _Clause:
    subject: int | str  # person 0 or 1, or BOTH
    phrase: str         # base form; "{obj}" is the other person

    @property
    def has_object(self) -> bool:
        return "{obj}" in self.phrase

    @property
    def plural(self) -> bool:
        return self.subject == BOTH

    @property
    def ends_with_relative(self) -> bool:
        """Ends with "..., who <verb>" about the other person: the next words must name
        their subject again, or they would read as the other person's."""
        return "who <" in self.phrase


def _plan_clauses(segments: list[dict], wording: str, rng: np.random.Generator) -> list[_Clause]:
    clauses: list[_Clause] = []
    for segment in segments:
        action, actor = segment["action"], segment["actor"]
        previous = clauses[-1].subject if clauses else None
        if vocab.kind(action) == vocab.SOLO:
            clauses.append(_Clause(actor, _phrase(lex.SOLO[action][wording], segment, wording, rng)))
        elif vocab.is_symmetric(action):
            if rng.random() < PLURAL_SYMMETRIC_PROB:
                clauses.append(_Clause(BOTH, _phrase(lex.SYMMETRIC_PLURAL[action][wording], segment,
                                                     wording, rng)))
            else:
                subject = previous if previous in (0, 1) else int(rng.integers(2))
                clauses.append(_Clause(subject, _phrase(lex.SYMMETRIC_SINGULAR[action][wording],
                                                        segment, wording, rng)))
        elif rng.random() < PASSIVE_PROB:
            clauses.append(_Clause(1 - actor, _phrase(lex.ASYMMETRIC_PASSIVE[action][wording],
                                                      segment, wording, rng)))
        else:
            clauses.append(_Clause(actor, _phrase(lex.ASYMMETRIC_ACTIVE[action][wording], segment,
                                                  wording, rng)))
    return clauses


class _Discourse:
    """Who has been mentioned so far, to name persons without ambiguity."""

    def __init__(self, heights: list[float], wording: str, rng: np.random.Generator):
        self.rng, self.wording = rng, wording
        self.taller = (None if abs(heights[0] - heights[1]) + 1e-9 < lex.VISIBLE_HEIGHT_GAP
                       else int(heights[1] > heights[0]))
        self.mentioned: list[int] = []   # persons named individually, in order of mention
        self.pair_mentioned = False      # "two people" / "both people" said
        self.last_subject: int | str | None = None

    def _refs(self, situation: str) -> tuple[str, ...]:
        return lex.PERSON[situation][self.wording]

    def _by_height(self, person: int) -> tuple[str, ...]:
        if self.taller is None:
            return ()
        return self._refs("taller" if person == self.taller else "shorter")

    def _ordinal(self, person: int) -> str:
        return self._refs("ordinal")[self.mentioned.index(person)]

    def subject(self, who: int | str) -> str:
        options = self._pair_options() if who == BOTH else self._person_options(who)
        if who == BOTH:
            self.pair_mentioned = True
        elif who not in self.mentioned:
            self.mentioned.append(who)
        self.last_subject = who
        return _plain(_pick(options, self.rng))

    def label(self, who: int | str) -> str:
        """A bare noun for a terse label ("person waving ..."); pairs as usual."""
        if who == BOTH:
            return self.subject(who)
        self.mentioned.append(who)
        self.last_subject = who
        return _plain(_pick(self._refs("label"), self.rng))

    def _pair_options(self) -> tuple[str, ...]:
        if self.pair_mentioned or len(self.mentioned) == 2:
            return self._refs("pair_again")
        return self._refs("pair_after_one" if self.mentioned else "pair")

    def _person_options(self, person: int) -> tuple[str, ...]:
        other = 1 - person
        if person not in self.mentioned:
            if other in self.mentioned:
                situation = "second_of_pair" if self.pair_mentioned else "second"
            else:
                situation = "one_of_pair" if self.pair_mentioned else "first"
            return self._refs(situation) + self._by_height(person)
        if self.last_subject == person:
            alone = other not in self.mentioned and not self.pair_mentioned
            return self._refs("same_alone" if alone else "same")
        options = (self._ordinal(person),) + self._by_height(person)
        if self.last_subject == other:
            options += self._refs("other_again")
        return options

    def other_of(self, subject: int) -> str:
        """The object of an interaction: the person who is not `subject`."""
        person = 1 - subject
        if person in self.mentioned:
            options = self._refs("object_known") + (self._ordinal(person),)
        else:
            options = self._refs("object_of_pair" if self.pair_mentioned else "object_new")
            self.mentioned.append(person)
        return _plain(_pick(options + self._by_height(person), self.rng))


# ---- rendering ----------------------------------------------------------------------------
class _Renderer:
    """One caption: the clauses, who has been named, the wording and the tense."""

    def __init__(self, clauses: list[_Clause], discourse: _Discourse, wording: str, past: bool,
                 rng: np.random.Generator):
        self.clauses, self.discourse, self.wording, self.rng = clauses, discourse, wording, rng
        self.finite = PAST if past else SINGULAR

    def verb_phrase(self, clause: _Clause, form: str | None = None) -> str:
        text = conjugate(clause.phrase, form or self.finite, clause.plural, self.finite)
        if clause.has_object:
            text = text.replace("{obj}", self.discourse.other_of(clause.subject))
        if clause.ends_with_relative:  # "the same person" would now read as the other one
            self.discourse.last_subject = None
        return text

    def full_clause(self, clause: _Clause) -> str:
        subject = self.discourse.subject(clause.subject)
        return f"{subject} {self.verb_phrase(clause)}"

    def opening(self, clause: _Clause) -> str:
        """A lone clause in one of the opening frames, or a terse label."""
        frame = _plain(_pick(lex.OPENINGS[self.wording], self.rng))
        name = self.discourse.label if "{label}" in frame else self.discourse.subject
        subject = name(clause.subject)
        verb_slot = "{ing}" if "{ing}" in frame else "{v}"
        verb = self.verb_phrase(clause, GERUND if verb_slot == "{ing}" else None)
        be = conjugate("be", self.finite, clause.plural)
        return (frame.replace("{label}", subject).replace("{s}", subject).replace("{be}", be)
                .replace(verb_slot, verb))

    def sequence(self, clauses: list[_Clause], steps: tuple[str, str, str] | None) -> str:
        """Clauses joined by connectors, or by the steps frame ("first ..., then ..., finally")."""
        text = (_plain(steps[0]) + " " if steps else "") + self.full_clause(clauses[0])
        for index in range(1, len(clauses)):
            clause = clauses[index]
            if steps:
                last = index == len(clauses) - 1 and len(clauses) == 3
                connector, elidable = steps[2] if last else steps[1], True
            else:
                connector, elidable = _pick(lex.CONNECTORS[self.wording], self.rng)
            connector = MARKED.sub(r"\1", connector)
            previous = clauses[index - 1]
            elidable = elidable and clause.subject == previous.subject and not previous.ends_with_relative
            if elidable and self.rng.random() < ELLIPSIS_PROB:
                text += connector + self.verb_phrase(clause)
            else:
                text += connector + self.full_clause(clause)
        return re.sub(r" +", " ", text)

    def before(self, first: _Clause, second: _Clause) -> str:
        """"A before B-ing" for two clauses with the same subject."""
        word = _plain(_pick(lex.BEFORE[self.wording], self.rng))
        return f"{self.full_clause(first)} {word} {self.verb_phrase(second, GERUND)}"

    def after(self, first: _Clause, second: _Clause) -> str:
        """"after A-ing, S B" for two clauses with the same subject; A names nobody else."""
        word = _plain(_pick(lex.AFTER[self.wording], self.rng))
        return f"{word} {conjugate(first.phrase, GERUND, first.plural, self.finite)}, {self.full_clause(second)}"

    def tail(self, segments: list[dict]) -> str:
        """A non-semantic ending describing the posture the clip ends in."""
        tails = lex.SEATED_TAILS if segments[-1]["action"] in vocab.ENDS_SEATED else lex.STANDING_TAILS
        phrase = _plain(_pick(tails[self.wording], self.rng))
        return " and " + conjugate(phrase, self.finite, self.clauses[-1].plural)


def _compose_caption(spec: dict, wording: str, rng: np.random.Generator) -> str:
    segments = spec["segments"]
    clauses = _plan_clauses(segments, wording, rng)
    past = rng.random() < lex.PAST_TENSE_PROB[wording]
    renderer = _Renderer(clauses, _Discourse([p["height"] for p in spec["persons"]], wording, rng),
                         wording, past, rng)
    structures = ["sequence"]
    if len(clauses) == 1:
        structures.append("opening")
    else:
        structures.append("steps")
        first, second = clauses[:2]
        if first.subject == second.subject and not first.ends_with_relative:
            structures.append("before")
            if not first.has_object:
                structures.append("after")
    structure = _pick(structures, rng)
    if structure == "opening":
        return renderer.opening(clauses[0]) + "."
    if structure in ("sequence", "steps"):
        steps = _pick(lex.STEPS[wording], rng) if structure == "steps" else None
        text = renderer.sequence(clauses, steps)
    else:
        text = (renderer.before if structure == "before" else renderer.after)(*clauses[:2])
        if len(clauses) == 3:
            connector, _ = _pick(lex.CONNECTORS[wording], rng)
            text += MARKED.sub(r"\1", connector) + renderer.full_clause(clauses[2])
    if rng.random() < TAIL_PROB and not clauses[-1].ends_with_relative:
        text += renderer.tail(segments)
    if rng.random() < PREFIX_PROB:
        text = _plain(_pick(lex.PREFIXES[wording], rng)) + " " + text
    return text + "."


def make_captions(spec: dict, rng: np.random.Generator, n: int | None = None,
                  wording: str = lex.TRAIN) -> list[str]:
    """1 to 3 distinct captions of the spec (n of them, or a random 1-3 when None).

    `wording` "train" uses the training part of the lexicon, "novel" only its held-out part.
    """
    if wording not in lex.WORDINGS:
        raise ValueError(f"wording must be one of {', '.join(lex.WORDINGS)}, got {wording!r}")
    spec = validate_spec(spec)
    if n is None:
        n = int(rng.integers(1, MAX_CAPTIONS + 1))
    if not 1 <= n <= MAX_CAPTIONS:
        raise ValueError(f"n must be 1 to {MAX_CAPTIONS}, got {n}")
    captions: list[str] = []
    for _ in range(ATTEMPTS_PER_CAPTION * n):
        caption = _compose_caption(spec, wording, rng)
        if caption not in captions:
            captions.append(caption)
            if len(captions) == n:
                break
    return captions
