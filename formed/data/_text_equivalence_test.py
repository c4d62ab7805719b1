"""The compiled extension and its Python twin give identical results on random Unicode."""

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from formed.data import _backend, _text_reference as reference

# Imported directly: this test is about the extension, so it fails when it is missing.
import formed.data._text_native as native

SETTINGS = settings(max_examples=120, deadline=None)

# Characters that stress the rules: every kind of space, ASCII and Unicode punctuation and
# symbols, combining marks, emoji with joiners and modifiers, letters whose lower case is
# special, CJK, and lone surrogates.
SPECIAL = (
    " \t\n\r\x0b\x0c\x1c\x1f\x85\xa0\u1680\u2003\u2028\u2029\u3000"
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~¡¿«»—…‘’“”€£¥©®°±×÷"
    "\u0301\u0308\u0327\u20dd\u200d\ufe0f"
    "😀👍🏽👨👩👧🇯🇵"
    "ΣΟΔσςİIıKÅẞǅⒶⓐ"
    "漢字かなカナ한국어"
    "\ud800\udbff\udc00\udfff"
)
characters = st.one_of(
    st.characters(codec=None, categories=None),
    st.sampled_from(SPECIAL),
    st.sampled_from("abcXYZ019"),
)
texts = st.one_of(
    st.text(characters, max_size=40),
    # Very long tokens, possibly with a tail.
    st.builds(lambda c, n, tail: c * n + tail, st.sampled_from(["a", "É", "😀", "\u0301", "z\u0301"]),
              st.integers(100, 3000), st.text(characters, max_size=5)),
)
token_lists = st.lists(st.text(characters, max_size=6), max_size=6)
items = st.lists(st.one_of(texts, texts, token_lists), max_size=6)
limits = st.one_of(st.none(), st.integers(0, 8))


def _same_arrays(left, right):
    assert len(left) == len(right) == 2
    for a, b in zip(left, right):
        assert a.dtype == b.dtype
        assert a.shape == b.shape
        np.testing.assert_array_equal(a, b)


def test_the_package_uses_the_extension_when_required():
    if os.environ.get(_backend.REQUIRE_NATIVE_ENV) == "1":
        assert _backend.IMPLEMENTATION == "native", _backend.load_error
    assert native.IMPLEMENTATION == "native"
    assert reference.IMPLEMENTATION == "python"


@SETTINGS
@given(texts, st.booleans(), limits)
def test_tokenize(text, lowercase, max_length):
    assert native.tokenize(text, lowercase, max_length) == reference.tokenize(text, lowercase, max_length)


@SETTINGS
@given(items, st.booleans())
def test_counts(batch, lowercase):
    assert native.count_tokens(batch, lowercase) == reference.count_tokens(batch, lowercase)
    assert native.count_characters(batch, lowercase) == reference.count_characters(batch, lowercase)


@st.composite
def vocabularies(draw, batch):
    """Tokens drawn partly from the batch itself, so that lookups both hit and miss."""
    seen = sorted(reference.count_tokens(batch, draw(st.booleans())))
    chosen = draw(st.lists(st.sampled_from(seen), max_size=20)) if seen else []
    return ["<pad>", "<unk>", *chosen, *draw(st.lists(st.text(characters, max_size=4), max_size=5))]


@SETTINGS
@given(st.data(), items, st.booleans(), limits, st.sampled_from([-1, 2]), st.sampled_from([-1, 3]))
def test_index_batch(data, batch, lowercase, max_length, bos_id, eos_id):
    tokens = data.draw(vocabularies(batch))
    left = native.TokenIndex(tokens, 1).index_batch(batch, lowercase, max_length, bos_id, eos_id)
    right = reference.TokenIndex(tokens, 1).index_batch(batch, lowercase, max_length, bos_id, eos_id)
    _same_arrays(left, right)


@SETTINGS
@given(st.data(), items, st.booleans(), limits, limits, st.sampled_from([-1, 2]), st.sampled_from([-1, 3]))
def test_index_characters(data, batch, lowercase, max_length, max_characters, bos_id, eos_id):
    counted = sorted(reference.count_characters(batch, lowercase))
    chosen = data.draw(st.lists(st.sampled_from(counted), max_size=30)) if counted else []
    tokens = ["<pad>", "<unk>", *chosen]
    args = (batch, lowercase, max_length, max_characters, bos_id, eos_id)
    _same_arrays(native.TokenIndex(tokens, 1).index_characters(*args),
                 reference.TokenIndex(tokens, 1).index_characters(*args))


@SETTINGS
@given(st.lists(st.text(characters, max_size=5), max_size=10), st.lists(st.text(characters, max_size=5), max_size=5))
def test_lookup_with_repeated_tokens(tokens, queries):
    left, right = native.TokenIndex(tokens, 7), reference.TokenIndex(tokens, 7)
    assert len(left) == len(right)
    for query in tokens + queries:
        assert left.lookup(query) == right.lookup(query)


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.tokenize(3),
        lambda m: m.tokenize("a", False, -1),
        lambda m: m.count_tokens("not a list"),
        lambda m: m.count_tokens([1]),
        lambda m: m.count_tokens([["a", 2]]),
        lambda m: m.TokenIndex(["a", None], 1),
        lambda m: m.TokenIndex(["a"], 1).index_batch([], False, -2),
        lambda m: m.TokenIndex(["a"], 1).index_batch([b"bytes"]),
        lambda m: m.TokenIndex(["a"], 1).index_characters(["a"], False, None, -1),
        lambda m: m.TokenIndex(["a"], 1).lookup(5),
    ],
)
def test_errors_are_the_same(call):
    with pytest.raises((TypeError, ValueError)) as native_error:
        call(native)
    with pytest.raises((TypeError, ValueError)) as reference_error:
        call(reference)
    assert type(native_error.value) is type(reference_error.value)
    assert str(native_error.value) == str(reference_error.value)


def test_shapes_of_empty_input():
    index = native.TokenIndex(["<pad>", "<unk>"], 1)
    ids, mask = index.index_batch([])
    assert ids.shape == (0, 1) and mask.shape == (0, 1)
    ids, mask = index.index_batch(["", "   "])
    assert ids.shape == (2, 1) and not mask.any()
    ids, mask = index.index_characters(["", "ab"], max_characters=0)
    assert ids.shape == (2, 1, 1) and not mask.any()
