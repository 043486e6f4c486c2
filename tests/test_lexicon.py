"""The lexicon split: training captions never use a held-out phrasing, and novel captions
use only held-out ones (verbs and idioms per action, attribute words, frames, persons)."""
import itertools
import re

import numpy as np
import pytest

from textmotion.sources.synthetic import lexicon as lex
from textmotion.sources.synthetic import vocabulary as vocab
from textmotion.sources.synthetic.captions import make_captions, marked_phrases, phrase_forms
from textmotion.sources.synthetic.spec import sample_spec


def tokens(text: str) -> str:
    """Words with a space on either side, so that `in` matches whole token sequences."""
    return " " + " ".join(re.findall(r"[a-z0-9'-]+", text.lower())) + " "


def single_segment_specs():
    for action, (_, attributes, _) in vocab.ACTIONS.items():
        for values in itertools.product(*attributes.values()):
            for actor in (0, "both") if vocab.kind(action) == vocab.SOLO else (0, 1):
                yield {"persons": [{"height": 1.6}, {"height": 1.9}],
                       "segments": [{"action": action, "actor": actor, **dict(zip(attributes, values))}]}


def generated_captions(wording: str) -> list[str]:
    """Captions of every single-segment spec and of 1500 sampled clips."""
    rng = np.random.default_rng(11)
    specs = list(single_segment_specs()) * 4 + [sample_spec(rng) for _ in range(1500)]
    return [caption for spec in specs for caption in make_captions(spec, rng, 3, wording=wording)]


@pytest.fixture(scope="module")
def captions():
    return {wording: [tokens(c) for c in generated_captions(wording)] for wording in lex.WORDINGS}


@pytest.mark.parametrize("wording, held_out", [("train", "novel"), ("novel", "train")])
def test_no_caption_uses_a_phrase_of_the_other_wording(captions, wording, held_out):
    phrases = {phrase: tokens(phrase) for phrase in marked_phrases(held_out)}
    leaks = {phrase: caption for caption in captions[wording]
             for phrase, sequence in phrases.items() if sequence in caption}
    assert not leaks


def test_the_check_sees_a_leak():
    novel = marked_phrases("novel")
    assert "strolls" in novel and "pursued" in novel and "an individual" in novel
    assert tokens("strolls") in tokens("a person strolls forward.")


def test_every_verb_phrase_is_marked_and_the_marked_phrases_differ():
    for wording in lex.WORDINGS:
        for template in lex.verb_templates(wording):
            assert re.search(r"\[[^\]]+\]", template), template
    assert not marked_phrases("train") & marked_phrases("novel")


@pytest.mark.parametrize("wording", lex.WORDINGS)
def test_every_verb_phrase_is_used(captions, wording):
    """Each verb template shows up in some caption, in one of its forms."""
    text = "\n".join(captions[wording])
    unused = []
    for template in lex.verb_templates(wording):
        first = re.search(r"\[([^\]]+)\]", template).group(1)
        forms = phrase_forms(first, verb_first=True)
        if not any(tokens(form) in text for form in forms):
            unused.append(template)
    assert not unused


def test_each_action_has_several_phrasings_on_both_sides():
    for action in vocab.ACTIONS:
        tables = ((lex.SOLO,) if vocab.kind(action) == vocab.SOLO
                  else (lex.SYMMETRIC_PLURAL, lex.SYMMETRIC_SINGULAR) if vocab.is_symmetric(action)
                  else (lex.ASYMMETRIC_ACTIVE, lex.ASYMMETRIC_PASSIVE))
        for wording in lex.WORDINGS:
            assert sum(len(table[action][wording]) for table in tables) >= 3, (action, wording)
