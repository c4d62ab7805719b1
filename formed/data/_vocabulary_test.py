import json

import numpy as np
import pytest

from formed.data import Tokenizer, Vocabulary


def test_ids_are_specials_then_count_then_token_order():
    vocab = Vocabulary.build(["b a c", "a b", "a d"], bos_token="<bos>")
    assert vocab.tokens == ["<pad>", "<unk>", "<bos>", "a", "b", "c", "d"]
    assert (vocab.pad_id, vocab.unk_id, vocab.bos_id, vocab.eos_id) == (0, 1, 2, None)


def test_min_count_and_max_size():
    counts = {"x": 5, "y": 3, "z": 1, "<unk>": 9}
    assert Vocabulary.from_counts(counts, min_count=2).tokens == ["<pad>", "<unk>", "x", "y"]
    assert Vocabulary.from_counts(counts, max_size=1).tokens == ["<pad>", "<unk>", "x"]
    with pytest.raises(ValueError, match="min_count"):
        Vocabulary.from_counts(counts, min_count=0)


def test_lookups_both_ways():
    vocab = Vocabulary(["hello", "world"])
    assert vocab.token_to_id("world") == 3
    assert vocab.token_to_id("unseen") == vocab.unk_id
    assert vocab.id_to_token(2) == "hello"
    assert "hello" in vocab and len(vocab) == 4
    with pytest.raises(IndexError, match="outside"):
        vocab.id_to_token(4)


def test_index_batch_pads_to_the_longest_and_masks():
    vocab = Vocabulary(["the", "cat", "sat"], bos_token="<s>", eos_token="</s>")
    ids, mask = vocab.index_batch(["The cat", "the dog sat", ""], Tokenizer(lowercase=True))
    assert ids.dtype == np.int32 and mask.dtype == np.bool_
    np.testing.assert_array_equal(ids, [[2, 4, 5, 3, 0], [2, 4, 1, 6, 3], [2, 3, 0, 0, 0]])
    np.testing.assert_array_equal(mask, ids != 0)


def test_index_token_lists_and_characters():
    vocab = Vocabulary(["ab"])
    ids, mask = vocab.index_batch([["ab", "zz"], ["ab"]])
    np.testing.assert_array_equal(ids, [[2, 1], [2, 0]])
    chars = Vocabulary.build_characters(["ab c"], bos_token="<b>")
    char_ids, char_mask = chars.index_characters(["abc", "c ab"], max_characters=2, bos=True)
    assert char_ids.shape == (2, 3, 2)
    a, b, c = (chars.token_to_id(x) for x in "abc")
    np.testing.assert_array_equal(char_ids[1], [[chars.bos_id, 0], [c, 0], [a, b]])
    np.testing.assert_array_equal(char_mask[0], [[True, False], [True, True], [False, False]])
    with pytest.raises(ValueError, match="begin/end"):
        chars.index_characters(["a"], eos=True)


def test_json_round_trip(tmp_path):
    vocab = Vocabulary.build(["zürich \ud800 😀 a a"], Tokenizer(lowercase=True), eos_token="<e>")
    path = tmp_path / "vocab.json"
    vocab.save(path)
    loaded = Vocabulary.load(path)
    assert loaded == vocab and loaded.tokens == vocab.tokens and loaded.eos_id == vocab.eos_id
    np.testing.assert_array_equal(loaded.index_batch(["a 😀 b"])[0], vocab.index_batch(["a 😀 b"])[0])
    assert json.loads(path.read_text())["tokens"][0] == "a"


def test_load_reports_bad_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"tokens": [}')
    with pytest.raises(ValueError, match=r"bad.json:1:\d+"):
        Vocabulary.load(path)
