"""Tokenizers: round trips, unknown characters, BPE properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinytorch.text.tokenization import BPETokenizer, CharTokenizer

TRAINED = BPETokenizer().train("the cat sat on the mat with the hat " * 30, vocab_size=320)


@given(st.text(max_size=60))
@settings(max_examples=60, deadline=None)
def test_bpe_round_trip_for_any_text(text):
    assert TRAINED.decode(TRAINED.encode(text)) == text


@given(st.text(alphabet="abc xyz", max_size=40))
@settings(max_examples=60, deadline=None)
def test_char_round_trip_on_known_characters(text):
    tokenizer = CharTokenizer.from_text("abc xyz")
    assert tokenizer.decode(tokenizer.encode(text, strict=True)) == text


def test_unknown_character_policy():
    tokenizer = CharTokenizer.from_text("ab")
    assert tokenizer.encode("abz") == [2, 3, tokenizer.unk_id]
    with pytest.raises(ValueError, match=r"'z' at position 2"):
        tokenizer.encode("abz", strict=True)


def test_bpe_refuses_tiny_vocab_and_stops_when_nothing_repeats():
    with pytest.raises(ValueError, match="at least 256"):
        BPETokenizer().train("abc", 10)
    assert BPETokenizer().train("abcdef", 400).vocab_size == 256
