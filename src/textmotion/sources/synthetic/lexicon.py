"""The caption lexicon: how annotators word each action, attribute and person, split in two.

Every entry is a `Split`: phrasings for training captions (`train`) and phrasings held out for
the "novel wording" query sets (`novel`). The two never share a marked phrase, so a model
scored on novel captions meets verbs, idioms, numbers, frames and person references it has
never been trained on (tests/test_lexicon.py proves it on generated captions).

Template syntax (verb phrases are in base form; the caption grammar inflects their first word):
  [words]      a marked phrase: the words that belong to this side of the split. A bracket at
               the start of a template holds its verb and is checked in every inflection.
  {direction} {speed} {count} {hand} {arm} {side} {obj}
               slots: a phrase of the attribute's value from the same side of the split
               ({side} is the bare word left/right, {arm} a shared noun phrase such as
               "the left arm", {obj} the other person);
  <verb>       a second verb in base form: inflected like the first one, or, after "who",
               as the finite verb of a relative clause about the other person;
  {n:noun}     a counted noun, e.g. "three jumps" / "3 jumps" / "a single jump";
  when a=v|w: ...
               a template used only when attribute a has value v or w.
Text outside brackets and slots (articles, "each other", "with the", "and") is shared glue.
The phrasings were written after reading how annotators describe these actions in
HumanML3D, KIT-ML and InterHuman (the KIT-ML train split only); no sentence is copied.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

TRAIN, NOVEL = "train", "novel"
WORDINGS = (TRAIN, NOVEL)


@dataclass(frozen=True)
class Split:
    train: tuple[str, ...]
    novel: tuple[str, ...]

    def __getitem__(self, wording: str) -> tuple[str, ...]:
        return {TRAIN: self.train, NOVEL: self.novel}[wording]


# ---- solo actions: verb phrases -------------------------------------------------------------
SOLO = {
    "walk": Split(
        train=("[walk] {direction}{speed}",
               "[take some steps] {direction}{speed}", "[go] {direction}{speed}",
               "[take a few steps] {direction}{speed}", "[walk] {direction}{speed} for a few steps",
               "make [a few steps] {direction}{speed}", "[walk] {direction}{speed} across the room",
               "when direction=left|right: [head off] {direction}{speed}"),
        novel=("when speed=slow|normal: [stroll] {direction}{speed}",
               "when speed=slow: [amble] {direction}{speed}",
               "[tread] {direction}{speed}",
               "[make their way] {direction}{speed}", "[proceed on foot] {direction}{speed}",
               "when speed=normal|fast: [stride] {direction}{speed}",
               "when direction=backward: [back up]{speed}",
               "when direction=backward: [retreat step by step]{speed}",
               "when direction=left|right: [veer off] {direction}{speed}")),
    "run": Split(
        train=("[run] {direction}", "[jog] {direction}", "[sprint] {direction}",
               "[run] {direction} at a jog", "[jog] {direction} for a few meters",
               "[sprint] {direction} for a short distance"),
        novel=("[dash] {direction}", "[race] {direction}", "[trot] {direction}",
               "[bolt] {direction}", "[speed off] {direction}")),
    "jump": Split(
        train=("[jump] {count}", "[jump up] {count}", "[jump up and down] {count}",
               "[jump] in place {count}", "[do] {n:jump}", "[perform] {n:jump}",
               "[jump] {count} with both feet"),
        novel=("[leap] {count}", "[leap] off both feet {count}", "[spring up] {count}",
               "[carry out] {n:leap}", "[execute] {n:vertical leap}",
               "[spring] into the air {count}")),
    "sit_down": Split(
        train=("[sit down]", "[take a seat]", "[sit down] as if on a chair", "[sit down] on a chair"),
        novel=("[settle] into a seat", "[lower themselves] onto a chair",
               "[plop down] onto a seat", "[perch] on a stool")),
    "stand_up": Split(
        train=("[stand up]", "[get up]", "[rise to their feet]",
               "[stand up] from a seated position", "[get up] from the chair", "[stand up] from sitting"),
        novel=("[get to their feet]", "[come up] out of the seat", "[straighten up] off the stool",
               "[return to an upright stance]")),
    "squat": Split(
        train=("[squat] {count}", "[squat down] {count}", "[crouch down] {count}",
               "[squat down] and <get> up again {count}",
               "[do] {n:squat}", "[perform] {n:squat}"),
        novel=("[carry out] {n:deep knee bend}", "[dip down] and <come> back up {count}",
               "[sink down] and <rise> again {count}", "[bend their knees] deeply {count}",
               "[execute] {n:knee bend}")),
    "wave": Split(
        train=("[wave] {hand}", "[wave] hello {hand}", "[wave] goodbye {hand}", "[wave] {arm}",
               "[wave] {arm} above the head"),
        novel=("[wag] {arm} overhead in greeting", "[say hi] {hand}",
               "[signal] a greeting {hand}",
               "[sway] {arm} from side to side above the head")),
    "raise_arms": Split(
        train=("[raise] {arm}", "[lift] {arm}", "[raise] {arm} up", "[lift] {arm} up high",
               "[put] {arm} up", "[raise] {arm} above the head", "[raise] {arm} into the air"),
        novel=("[hold] {arm} up in the air", "[extend] {arm} overhead",
               "[thrust] {arm} skyward", "[elevate] {arm} above the head")),
    "clap": Split(
        train=("[clap]", "[clap] their hands", "[clap hands]", "[clap] a few times",
               "[clap] their hands together"),
        novel=("[applaud]", "[give a round of applause]",
               "[bring their palms together] repeatedly", "[beat their palms together] again and again")),
    "kick": Split(
        train=("[kick] with the {side} leg", "[kick] with the {side} foot",
               "[kick] with their {side} leg", "[do] a kick with the {side} foot",
               "[kick] forward with the {side} leg", "[kick] the air with the {side} foot"),
        novel=("[lash out] with the {side} foot", "[strike out] with the {side} leg",
               "[fling] the {side} leg out in a strike", "[launch] the {side} foot forward")),
    "punch": Split(
        train=("[punch] {count} with the {side} fist", "[punch] with the {side} hand {count}",
               "[throw] {n:punch} with the {side} arm", "[punch] the air with the {side} fist {count}",
               "[box] with the {side} hand {count}", "[punch] forward with the {side} fist {count}"),
        novel=("[jab] {count} with the {side} fist", "[strike] the air with the {side} fist {count}",
               "[deliver] {n:jab} with the {side} hand", "[hit] out with the {side} fist {count}")),
    "turn_around": Split(
        train=("[turn around]", "[turn] 180 degrees", "[turn] to face the opposite direction",
               "[turn] around on the spot", "[turn around] in place"),
        novel=("[make an about-face]", "[swivel] round to face backwards",
               "[pivot] on the spot to face the opposite way", "[rotate] by half a circle")),
    "bow": Split(
        train=("[bow]", "[take a bow]", "[bow] politely", "[bow] deeply", "[bow] forward"),
        novel=("[bend] forward at the waist respectfully", "[incline] their torso respectfully",
               "[lean] forward from the hips in a polite gesture")),
    "spin": Split(
        train=("[spin]", "[spin around]", "[twirl around]", "[spin] in place", "[spin] 360 degrees"),
        novel=("[pirouette]", "[whirl] around", "[make a full revolution] on the spot",
               "[whirl] round in a full circle")),
    "hop": Split(
        train=("[hop] on the {side} foot {count}", "[hop] {count} on the {side} leg",
               "[hop] on their {side} foot {count}", "[do] {n:hop} on the {side} leg",
               "[hop] up and down on the {side} leg {count}"),
        novel=("[bounce] on the {side} foot {count}", "[bounce] {count} on their {side} leg",
               "[balance] on the {side} leg and <bounce> {count}",
               "[carry out] {n:one-legged bounce} on the {side} foot")),
    "stretch": Split(
        train=("[stretch]", "[stretch] their body", "[do some stretching]",
               "[stretch] their arms up and out", "[stretch] out their arms"),
        novel=("[limber up]", "[loosen up] their body", "[warm up] their muscles",
               "[work out the stiffness] with some reaching")),
}

# ---- interactions -------------------------------------------------------------------------
# Symmetric interactions: both persons as a plural subject, or one subject acting with {obj}.
SYMMETRIC_PLURAL = {
    "shake_hands": Split(
        train=("[shake hands]", "greet each other with [a handshake]", "[exchange a handshake]",
               "[meet to shake hands]"),
        novel=("[clasp hands] in greeting", "[grasp each other's hand]",
               "[grip hands] in a formal greeting")),
    "hug": Split(
        train=("[hug]", "[hug] each other", "[embrace]", "[give each other a hug]",
               "[meet for a hug]"),
        novel=("[wrap their arms around] each other", "[cuddle]", "[squeeze] each other tightly")),
    "high_five": Split(
        train=("[high-five] each other", "[give each other a high five]",
               "[exchange a high five]"),
        novel=("[slap hands] up high", "[smack palms] above their heads",
               "[meet palms] high in the air")),
    "bow_to_each_other": Split(
        train=("[bow to each other]", "[exchange bows]", "[bow to one another]"),
        novel=("[incline their torsos toward] each other", "[bend at the waist toward] each other",
               "[greet each other by bending] at the waist")),
    "wave_at_each_other": Split(
        train=("[wave at each other]", "[wave to each other]", "greet each other [with a wave]"),
        novel=("[signal hello to] each other", "[greet each other from afar] with one hand up",
               "[gesture hello to] one another")),
    "dance_facing": Split(
        train=("[dance] facing each other", "[dance] together face to face", "[dance] face to face"),
        novel=("[groove] opposite each other", "[bust some moves] facing one another",
               "[boogie] together face to face")),
    "walk_side_by_side": Split(
        train=("[walk side by side]", "[walk beside each other]", "[walk together side by side]"),
        novel=("[stride along shoulder to shoulder]", "[move along shoulder to shoulder]",
               "[march abreast]")),
}
SYMMETRIC_SINGULAR = {
    "shake_hands": Split(train=("[shake hands] with {obj}", "greet {obj} with [a handshake]"),
                         novel=("[clasp] {obj}'s hand", "[grasp] {obj}'s hand in greeting")),
    "hug": Split(train=("[hug] {obj}", "[embrace] {obj}", "give {obj} [a hug]"),
                 novel=("[wrap their arms around] {obj}", "[squeeze] {obj} tightly")),
    "high_five": Split(train=("[high-five] {obj}", "give {obj} [a high five]"),
                       novel=("[slap hands] with {obj} up high", "[smack palms] with {obj}")),
    "bow_to_each_other": Split(train=("[exchange bows] with {obj}", "[bow to] {obj}, who [<bow> back]"),
                               novel=("[bend at the waist toward] {obj}, who [<return> the gesture]",)),
    "wave_at_each_other": Split(train=("[exchange waves] with {obj}", "[wave at] {obj}, who [<wave> back]"),
                                novel=("[signal hello to] {obj}, who [<return> the greeting]",)),
    "dance_facing": Split(train=("[dance] facing {obj}", "[dance] face to face with {obj}"),
                          novel=("[groove] opposite {obj}", "[boogie] face to face with {obj}")),
    "walk_side_by_side": Split(train=("[walk side by side] with {obj}", "[walk alongside] {obj}"),
                               novel=("[stride along shoulder to shoulder] with {obj}",
                                      "[keep pace beside] {obj}")),
}
# Asymmetric interactions: the initiator as subject (active) or the other one (passive).
ASYMMETRIC_ACTIVE = {
    "push": Split(train=("[push] {obj}", "[shove] {obj}", "[push] {obj} away"),
                  novel=("[knock] {obj} back", "[drive] {obj} backwards with both hands",
                         "[jostle] {obj}")),
    "pull": Split(train=("[pull] {obj}", "[pull] {obj} toward them", "[tug] {obj} closer"),
                  novel=("[drag] {obj} along", "[haul] {obj} along by the wrist", "[yank] {obj} closer")),
    "follow": Split(train=("[follow] {obj}", "[walk behind] {obj}", "[follow] {obj} around"),
                    novel=("[trail] {obj}", "[tail] {obj}", "[shadow] {obj}", "[track] {obj} on foot")),
    "chase": Split(train=("[chase] {obj}", "[run after] {obj}", "[chase after] {obj}"),
                   novel=("[pursue] {obj}", "[tear off in pursuit of] {obj}", "[hunt down] {obj} at full speed")),
    "punch_dodge": Split(train=("[punch at] {obj}, who [<dodge>]", "[throw a punch at] {obj}, who [<dodge>] it",
                                "[swing a punch at] {obj}, who [<dodge>] it"),
                         novel=("[take a swing at] {obj}, who [<lean> out of the way]",
                                "[jab at] {obj}, who [<evade>] the blow")),
}
ASYMMETRIC_PASSIVE = {
    "push": Split(train=("[be pushed] by {obj}", "[get pushed] by {obj}", "[be shoved] by {obj}"),
                  novel=("[be knocked back] by {obj}", "[be jostled] by {obj}")),
    "pull": Split(train=("[be pulled] by {obj}", "[get pulled] along by {obj}"),
                  novel=("[be dragged] along by {obj}", "[be hauled] along by {obj}")),
    "follow": Split(train=("[be followed] by {obj}",),
                    novel=("[be trailed] by {obj}", "[be shadowed] by {obj}")),
    "chase": Split(train=("[be chased] by {obj}", "[run away from] {obj}"),
                   novel=("[be pursued] by {obj}", "[flee from] {obj}")),
    "punch_dodge": Split(train=("[dodge] a punch from {obj}", "[dodge] a punch thrown by {obj}"),
                         novel=("[evade] a blow from {obj}", "[lean away from] a swing by {obj}")),
}

# ---- attribute values -----------------------------------------------------------------------
DIRECTION = {
    "forward": Split(train=("forward", "forwards", "ahead", "straight ahead"),
                     novel=("[in a straight line]", "[straight on]", "[to the front]")),
    "backward": Split(train=("backward", "backwards"),
                      novel=("[in reverse]", "[rearward]")),
    "left": Split(train=("to the left", "left", "off to the left", "toward the left"),
                  novel=("[leftward]", "[to their left]", "[toward their left side]")),
    "right": Split(train=("to the right", "right", "off to the right", "toward the right"),
                   novel=("[rightward]", "[to their right]", "[toward their right side]")),
}
SPEED = {
    "slow": Split(train=(" [slowly]", " [at a slow pace]", " [carefully]"),
                  novel=(" [leisurely]", " [unhurriedly]", " [at a gentle pace]", " [in no rush]")),
    "normal": Split(train=("", "", " [at a normal pace]", " [at a steady pace]", " [at medium speed]"),
                    novel=("", "", " [at an ordinary pace]", " [at a regular pace]")),
    "fast": Split(train=(" [quickly]", " [fast]", " [at a fast pace]", " [briskly]"),
                  novel=(" [rapidly]", " [hurriedly]", " [at high speed]", " [speedily]")),
}
COUNT = {1: Split(train=("[once]", "[one time]"), novel=("[a single time]",)),
         2: Split(train=("[twice]", "[two times]"), novel=("[2 times]",)),
         3: Split(train=("[three times]",), novel=("[3 times]", "[thrice]"))}
# Cardinals before a counted noun ({n:noun}); the noun is plural above one.
CARDINAL = {1: Split(train=("one", "a"), novel=("[a single]",)),
            2: Split(train=("two",), novel=("[2]",)),
            3: Split(train=("three",), novel=("[3]",))}
HAND = {"left": Split(train=("with the left hand", "with their left hand", "with the left arm"),
                      novel=("[using] the left hand", "[using] their left arm")),
        "right": Split(train=("with the right hand", "with their right hand", "with the right arm"),
                       novel=("[using] the right hand", "[using] their right arm")),
        "both": Split(train=("with both hands", "with both arms"),
                      novel=("[using] both hands", "[using] both arms"))}
ARM = {"left": ("the left arm", "their left arm", "the left hand"),
       "right": ("the right arm", "their right arm", "the right hand"),
       "both": ("both arms", "both hands")}

# ---- persons -----------------------------------------------------------------------------------
# Keyed by the discourse situation (see captions._Discourse).
PERSON = {
    "first": Split(train=("[a person]", "[someone]", "[a human]", "[somebody]", "[one person]"),
                   novel=("[an individual]", "[a figure]", "[a character]", "[a performer]")),
    "one_of_pair": Split(train=("[one of them]", "[one person]", "[one of the two]"),
                         novel=("[one individual]", "[one member of the pair]")),
    "second": Split(train=("[the other person]", "[the other one]", "[the second person]",
                           "[another person]"),
                    novel=("[another individual]", "[a second individual]")),
    "second_of_pair": Split(train=("[the other person]", "[the other one]", "[the second person]"),
                            novel=("[the second individual]", "[their partner]")),
    "same_alone": Split(train=("[the person]", "[the same person]"),
                        novel=("[the individual]", "[the same individual]")),
    "same": Split(train=("[the same person]",), novel=("[the same individual]",)),
    "ordinal": Split(train=("[the first person]", "[the second person]"),
                     novel=("[the first individual]", "[the second individual]")),
    "other_again": Split(train=("[the other person]", "[the other one]"),
                         novel=("[their partner]",)),
    "object_known": Split(train=("[the other person]", "[the other one]", "[the other]"),
                          novel=("[their partner]",)),
    "object_of_pair": Split(train=("[the other]", "[the other one]", "[the other person]"),
                            novel=("[their partner]",)),
    "object_new": Split(train=("[the other person]", "[another person]", "[the other one]",
                               "[someone else]"),
                        novel=("[another individual]", "[a second individual]", "[a partner]")),
    "pair": Split(train=("[two people]", "[both people]", "[the two people]", "[a pair of people]"),
                  novel=("[two individuals]", "[a pair of individuals]", "[two figures]", "[a duo]")),
    "pair_after_one": Split(train=("[both people]", "[the two people]"),
                            novel=("[both individuals]", "[the two individuals]")),
    "pair_again": Split(train=("[both of them]", "[the two of them]", "[they both]", "[both people]"),
                        novel=("[both individuals]", "[the pair]", "[the duo]")),
    "taller": Split(train=("[the taller person]", "[the taller one]"),
                    novel=("[the taller individual]", "[the taller of the two]")),
    "shorter": Split(train=("[the shorter person]", "[the shorter one]"),
                     novel=("[the shorter individual]", "[the shorter of the two]")),
    "label": Split(train=("[person]", "[human]"), novel=("[individual]", "[figure]")),
}
# Persons are told apart by height only when the heights differ at least this much (metres).
VISIBLE_HEIGHT_GAP = 0.1

# ---- sentence frames ----------------------------------------------------------------------------
# Connector between two clauses: (text, whether the second clause may drop a repeated subject).
CONNECTORS = Split(
    train=((", [then] ", True), (" [and then] ", True), (", [and then] ", True), (" and ", True),
           (", and [afterwards] ", True), (". [then] ", False), (". [after that], ", False),
           (", [after that] ", False), (". [afterwards], ", False)),
    novel=((", and [next] ", True), (". [next], ", False), (", and [subsequently] ", True),
           (". [subsequently], ", False), (", and [later] ", True), (". [later], ", False),
           ("; [afterward], ", False), (" and [right away] ", True)))
# "first A, then B, and finally C"
STEPS = Split(train=(("first ", ", [then] ", ", and [finally] "),),
              novel=(("[initially], ", ", [next] ", ", and [lastly] "),
                     ("[to begin with], ", ", [next] ", ", and [in the end] ")))
BEFORE = Split(train=(" [before] ",), novel=(" [prior to] ",))       # "A before B-ing"
AFTER = Split(train=("[after] ",), novel=("[having finished] ",))      # "after A-ing, S B"
# A lone clause: {s} subject, {v} verb phrase, {be} is/are/was/were, {ing} gerund phrase.
# {label} is a bare noun ("person waving ...").
OPENINGS = Split(train=("{s} {v}", "{s} {v}", "{s} {be} {ing}", "[there] {be} {s} {ing}",
                        "{s} [can be seen] {ing}", "[the motion shows] {s} {ing}", "{label} {ing}"),
                 novel=("{s} {v}", "{s} {v}", "{s} {be} {ing}", "[we see] {s} {ing}",
                        "[the clip shows] {s} {ing}", "[here], {s} {v}", "{label} {ing}"))
# Optional openers of longer captions.
PREFIXES = Split(train=("[in this clip], ", "[in the video], "),
                 novel=("[in this recording], ", "[in the animation], "))
# Optional non-semantic endings, by the posture the clip ends in.
STANDING_TAILS = Split(train=("[stand still]", "[stop]", "[stay still]"),
                       novel=("[come to a halt]", "[remain motionless]", "[freeze in place]"))
SEATED_TAILS = Split(train=("[stay seated]", "[remain seated]"),
                     novel=("[stay in the seat]", "[keep sitting]"))
# Novel captions may also be told in the past tense.
PAST_TENSE_PROB = {TRAIN: 0.0, NOVEL: 0.3}


def verb_templates(wording: str) -> Iterator[str]:
    """Every verb-phrase template of one side of the split (their first word is a verb)."""
    for table in (SOLO, SYMMETRIC_PLURAL, SYMMETRIC_SINGULAR, ASYMMETRIC_ACTIVE, ASYMMETRIC_PASSIVE):
        for split in table.values():
            yield from split[wording]
    yield from STANDING_TAILS[wording]
    yield from SEATED_TAILS[wording]


def other_templates(wording: str) -> Iterator[str]:
    """Every other template of one side of the split: attribute values, persons, frames."""
    for table in (DIRECTION, SPEED, COUNT, CARDINAL, HAND, PERSON):
        for split in table.values():
            yield from split[wording]
    for split in (CONNECTORS, STEPS, BEFORE, AFTER, OPENINGS, PREFIXES):
        for item in split[wording]:
            yield from (part for part in (item if isinstance(item, tuple) else (item,))
                        if isinstance(part, str))
