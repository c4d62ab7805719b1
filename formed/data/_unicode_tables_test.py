"""The committed C++ header and the compiled extension agree with `unicodedata` of this Python."""

import os
import re
import unicodedata

from formed.data import _unicode_tables

HEADER = os.path.join(os.path.dirname(__file__), "_unicode_tables.h")


def test_header_is_up_to_date_with_unicodedata():
    with open(HEADER, encoding="utf-8") as file:
        committed = file.read()
    assert f'kUnicodeVersion[] = "{unicodedata.unidata_version}"' in committed
    # Compare the data lines, not the comment naming the Python version that generated them.
    def data(text):
        return [line for line in text.splitlines() if not line.startswith("//")]

    assert data(committed) == data(_unicode_tables.generate_header()), (
        "formed/data/_unicode_tables.h is stale: run `python -m formed.data._unicode_tables > "
        "formed/data/_unicode_tables.h`"
    )


def test_classes_follow_isspace_and_categories():
    assert _unicode_tables.char_class(ord(" ")) == _unicode_tables.SPACE
    assert _unicode_tables.char_class(0x1C) == _unicode_tables.SPACE  # str.isspace counts it
    assert _unicode_tables.char_class(ord("$")) == _unicode_tables.PUNCT  # a symbol (Sc)
    assert _unicode_tables.char_class(ord("😀")) == _unicode_tables.PUNCT  # So
    assert _unicode_tables.char_class(0x0301) == _unicode_tables.WORD  # combining mark
    assert _unicode_tables.char_class(0xD800) == _unicode_tables.WORD  # lone surrogate


def test_lowercasing_never_changes_a_class():
    for code_point, lowered in _unicode_tables.lower_map().items():
        classes = {_unicode_tables.char_class(ord(c)) for c in lowered}
        assert classes == {_unicode_tables.char_class(code_point)}, hex(code_point)


def test_ranges_are_sorted_and_disjoint():
    ranges = _unicode_tables.class_ranges()
    for (first, last, _), (next_first, _, _) in zip(ranges, ranges[1:]):
        assert first <= last < next_first


def test_extension_tables_match_unicodedata():
    import formed.data._text_native as native

    assert native.UNICODE_VERSION == unicodedata.unidata_version
    expected = bytearray(_unicode_tables.MAX_CODE_POINT + 1)
    for first, last, klass in _unicode_tables.class_ranges():
        expected[first : last + 1] = bytes([klass]) * (last - first + 1)
    mismatches = [cp for cp in range(len(expected)) if native.char_class(cp) != expected[cp]]
    assert not mismatches, [hex(cp) for cp in mismatches[:10]]
    lower = _unicode_tables.lower_map()
    for code_point in list(range(0x3000)) + list(lower) + [0x10400, 0x1E900, 0xD800]:
        assert native.lower_code_point(code_point) == lower.get(code_point, chr(code_point)), hex(code_point)


def test_token_pattern_matches_the_classes():
    pattern = re.compile(_unicode_tables.token_pattern())
    assert pattern.findall("a\u00a0b\u3000c!d$") == ["a", "b", "c", "!", "d", "$"]
