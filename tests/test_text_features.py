"""encode_text's caption features: written once, read back exactly (to float16), gathered per
batch as the backbone gives them, and refused when made by another backbone or other data."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from textmotion.errors import DataError
from textmotion.text_encoders import SentenceBackbone, batched_features
from textmotion.text_features import FeatureCache, write_features

CAPTIONS = ["a person walks forward and sits down", "jumps", "two people shake hands, then one of them waves twice",
            "someone jumps twice", "a person waves"]


@pytest.fixture(scope="module")
def backbone() -> SentenceBackbone:
    return SentenceBackbone.pretrained("minilm").eval()


@pytest.fixture(scope="module")
def cache_dir(backbone, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("features") / "text_features"
    info = write_features(out, backbone, CAPTIONS + CAPTIONS[:2], {"encoder": "minilm",
                                                                  "weights_sha256": backbone.weights_id})
    assert info["captions"] == len(CAPTIONS) and info["dim"] == 384
    return out


def test_gathered_features_are_the_backbones_to_float16(backbone, cache_dir):
    cache = FeatureCache.load(cache_dir, backbone.weights_id, set(CAPTIONS), torch.device("cpu"))
    assert cache.pooled.dtype == cache.tokens.dtype == torch.float16
    rows = torch.tensor([cache.row_of[c] for c in CAPTIONS])
    gathered = cache.gather(rows)
    direct = next(batched_features(backbone, CAPTIONS, len(CAPTIONS)))
    assert torch.equal(gathered.mask, direct.mask)  # padded to the batch's longest caption
    torch.testing.assert_close(gathered.pooled, direct.pooled.half().float(), atol=0, rtol=0)
    torch.testing.assert_close(gathered.states, (direct.states * direct.mask.unsqueeze(-1)).half().float(),
                               atol=0, rtol=0)
    # float16 keeps the sentence vectors: every caption's cosine to its own exact vector
    cosine = torch.nn.functional.cosine_similarity(gathered.pooled, direct.pooled)
    assert cosine.min() > 0.99999


def test_captions_are_stored_shortest_first_and_once(cache_dir):
    captions = json.loads((cache_dir / "captions.json").read_text())
    assert sorted(captions) == sorted(CAPTIONS)
    assert [len(c) for c in captions] == sorted(len(c) for c in captions)
    offsets = np.load(cache_dir / "offsets.npy")
    assert offsets[0] == 0 and offsets[-1] == len(np.load(cache_dir / "tokens.npy")) and np.all(np.diff(offsets) > 0)


def test_a_cache_of_other_weights_is_refused(cache_dir):
    with pytest.raises(DataError, match=r"info.json: made with the text backbone 'minilm' \(other weights than the "
                                        r"one training builds\): re-run encode_text"):
        FeatureCache.load(cache_dir, "another sha", set(CAPTIONS), torch.device("cpu"))


def test_a_caption_missing_from_the_cache_is_refused(backbone, cache_dir):
    with pytest.raises(DataError, match=r"1 training captions are not in the cache \(e.g. 'a new caption'\): "
                                        r"the data changed since; re-run encode_text"):
        FeatureCache.load(cache_dir, backbone.weights_id, {*CAPTIONS, "a new caption"}, torch.device("cpu"))
