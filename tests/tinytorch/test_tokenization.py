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


def test_empty_tokenizer_then_build_vocab():
    empty = CharTokenizer()
    assert empty.vocab_size == 2 and empty.encode("ab") == [empty.unk_id] * 2
    built = empty.build_vocab(["hello", "world"])
    assert built is empty, "build_vocab fills the tokenizer it is called on"
    assert empty.itos == CharTokenizer("helloworld").itos == CharTokenizer.from_text("helowrd").itos
    assert empty.decode(empty.encode("hello world")) == "hello\ufffdworld", "' ' was not in texts"
    assert CharTokenizer().build_vocab("abc").itos == CharTokenizer("abc").itos, "one string"
    again = empty.build_vocab(["xy"])
    assert again.vocab_size == 4 and again.encode("x", strict=True) == [2], "replaced, not added"
