import pytest

from formed.data import Tokenizer


def test_splits_white_space_and_punctuation():
    assert Tokenizer()("Hello, World!  It's 5$ 😀ok") == ["Hello", ",", "World", "!", "It", "'", "s", "5", "$", "😀", "ok"]


def test_lowercase_and_max_length():
    assert Tokenizer(lowercase=True, max_length=3)("The CAT sat down") == ["the", "cat", "sat"]
    assert Tokenizer(max_length=0)("a b") == []


def test_unicode_spaces_and_combining_marks():
    # U+3000 ideographic space separates; a combining acute accent stays with its letter.
    assert Tokenizer()("cafe\u0301\u3000na\u00efve") == ["cafe\u0301", "na\u00efve"]


def test_lone_surrogates_are_word_characters():
    assert Tokenizer()("a\ud800b c") == ["a\ud800b", "c"]


def test_counts_ignore_max_length():
    counts = Tokenizer(lowercase=True, max_length=1).count(["A a b", ["A", "c"]])
    assert counts == {"a": 3, "b": 1, "c": 1}
    assert Tokenizer().count_characters(["ab a"]) == {"a": 2, "b": 1}


def test_rejects_negative_max_length_and_bad_items():
    with pytest.raises(ValueError, match="max_length"):
        Tokenizer(max_length=-1)
    with pytest.raises(TypeError, match="single str"):
        Tokenizer().count("abc")
    with pytest.raises(TypeError, match="item 1"):
        Tokenizer().count(["ok", 3])  # type: ignore[list-item]  # the int is the point
