# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Module 10: Tokenization
#
# A language model reads integers, not text. A **tokenizer** maps text to a list of ids in
# `[0, vocab_size)` and back. Two designs bracket the trade-off:
#
# - **characters**: a tiny vocabulary (a few dozen ids), but long sequences: every letter is a
#   step of the model, and attention costs grow with the square of the length;
# - **byte-pair encoding (BPE)**: start from the 256 byte values and repeatedly merge the most
#   frequent adjacent pair into a new token. Frequent words become one token, so sequences
#   shrink, at the price of a larger vocabulary (bigger embedding and output layers).
#
# `CharTokenizer(chars)` and `CharTokenizer.from_text(text)` build the vocabulary at once;
# `CharTokenizer()` starts empty and `build_vocab(texts)` fills it from a list of texts.
#
# **Special tokens.** `<pad>` (id 0) fills batches of unequal length; `<unk>` (id 1) stands
# for a character the tokenizer never saw. We *decide*: `encode` maps unknown characters to
# `<unk>` (a model must never crash on a typo), and `encode(text, strict=True)` refuses them
# with a message naming the character and its position, for when silent loss is a bug.
# Byte-level BPE has no unknowns at all: every string is made of bytes.

# %%
#| default_exp text.tokenization
#| export
from collections import Counter


# %% nbgrader={"grade": false, "grade_id": "char-tokenizer", "locked": false, "schema_version": 3, "solution": true}
#| export
class CharTokenizer:
    """Characters <-> ids, with <pad> = 0 and <unk> = 1 before the characters.

    CharTokenizer(chars) knows `chars`; CharTokenizer() knows none until build_vocab(texts).
    """

    PAD, UNK = "<pad>", "<unk>"

    def __init__(self, chars=()):
        ### BEGIN SOLUTION
        unique = sorted(set(chars))
        self.itos = [self.PAD, self.UNK, *unique]
        self.stoi = {token: i for i, token in enumerate(self.itos)}
        ### END SOLUTION

    @classmethod
    def from_text(cls, text: str) -> "CharTokenizer":
        """A tokenizer whose vocabulary is every character that occurs in `text`."""
        return cls(set(text))

    def build_vocab(self, texts) -> "CharTokenizer":
        """Replace the vocabulary by every character of `texts` (a string or a list of them)."""
        texts = [texts] if isinstance(texts, str) else texts
        fresh = type(self)(set().union(*map(set, texts)))  # the vocabulary __init__ builds
        self.itos, self.stoi = fresh.itos, fresh.stoi
        return self

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def unk_id(self) -> int:
        return 1

    def encode(self, text: str, strict: bool = False) -> list[int]:
        ### BEGIN SOLUTION
        ids = []
        for position, char in enumerate(text):
            token = self.stoi.get(char)
            if token is None:
                if strict:
                    raise ValueError(
                        f"Character {char!r} at position {position} is not in the vocabulary."
                    )
                token = self.unk_id
            ids.append(token)
        return ids
        ### END SOLUTION

    def decode(self, ids) -> str:
        """Ids back to text; <pad> is dropped and <unk> shows as the replacement char '�'."""
        ### BEGIN SOLUTION
        out = []
        for i in ids:
            i = int(i)
            if i == self.pad_id:
                continue
            out.append("\ufffd" if i == self.unk_id else self.itos[i])
        return "".join(out)
        ### END SOLUTION


# %% [markdown]
# ## Byte-pair encoding
#
# Training on a text:
#
# 1. turn the text into its UTF-8 bytes: ids 0..255;
# 2. count every adjacent pair `(a, b)`; take the most frequent (ties: the smallest pair, so
#    training is deterministic);
# 3. give it a new id (256, 257, ...), replace every occurrence, and record the merge;
# 4. repeat until the vocabulary has the requested size (or no pair occurs twice).
#
# Encoding applies the merges in the order they were learned; decoding expands each id back
# into its bytes and decodes UTF-8. Because everything is bytes, `decode(encode(s)) == s` for
# every string.


# %% nbgrader={"grade": false, "grade_id": "bpe", "locked": false, "schema_version": 3, "solution": true}
#| export
def _merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """Replace every non-overlapping occurrence of `pair` in `ids` (left to right)."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


class BPETokenizer:
    """Byte-level byte-pair encoding: 256 byte tokens plus learned merges."""

    def __init__(self):
        self.merges: dict[tuple[int, int], int] = {}
        self.vocab: dict[int, bytes] = {i: bytes([i]) for i in range(256)}

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def train(self, text: str, vocab_size: int) -> "BPETokenizer":
        if vocab_size < 256:
            raise ValueError(f"vocab_size must be at least 256 (the bytes), not {vocab_size}.")
        ids = list(text.encode("utf-8"))
        ### BEGIN SOLUTION
        while len(self.vocab) < vocab_size:
            counts = Counter(zip(ids, ids[1:]))
            if not counts:
                break
            pair, count = min(counts.items(), key=lambda item: (-item[1], item[0]))
            if count < 2:
                break
            new_id = len(self.vocab)
            self.merges[pair] = new_id
            self.vocab[new_id] = self.vocab[pair[0]] + self.vocab[pair[1]]
            ids = _merge(ids, pair, new_id)
        ### END SOLUTION
        return self

    def encode(self, text: str) -> list[int]:
        ids = list(text.encode("utf-8"))
        ### BEGIN SOLUTION
        for pair, new_id in self.merges.items():  # dicts keep the order merges were learned
            ids = _merge(ids, pair, new_id)
        return ids
        ### END SOLUTION

    def decode(self, ids) -> str:
        return b"".join(self.vocab[int(i)] for i in ids).decode("utf-8", errors="replace")


# %% [markdown]
# ## Unit tests


# %% nbgrader={"grade": true, "grade_id": "test-char", "locked": true, "points": 40, "schema_version": 3}
def test_char_tokenizer():
    tokenizer = CharTokenizer.from_text("hello world")
    assert tokenizer.vocab_size == 2 + len(set("hello world"))
    ids = tokenizer.encode("hello")
    assert all(i >= 2 for i in ids) and tokenizer.decode(ids) == "hello"
    assert tokenizer.encode("hex")[-1] == tokenizer.unk_id, "unknown characters map to <unk>"
    try:
        tokenizer.encode("hex", strict=True)
    except ValueError as error:
        assert "'x'" in str(error) and "position 2" in str(error)
    else:
        raise AssertionError("strict encoding must refuse unknown characters")
    assert tokenizer.decode([0, *ids, 0]) == "hello", "padding is dropped"
    built = CharTokenizer().build_vocab(["hello", " world"])
    assert built.itos == tokenizer.itos, "CharTokenizer() then build_vocab(texts) = from_text"


# %% nbgrader={"grade": true, "grade_id": "test-bpe", "locked": true, "points": 60, "schema_version": 3}
def test_bpe_round_trip_and_compression():
    text = "the cat sat on the mat. the cat ate the rat. " * 20
    bpe = BPETokenizer().train(text, vocab_size=300)
    assert 256 < bpe.vocab_size <= 300
    ids = bpe.encode(text)
    assert bpe.decode(ids) == text
    assert len(ids) < len(text.encode("utf-8")) / 2, "merges should shorten the sequence"
    for sample in ("unseen words, ünïcödé & emoji 🙂", "", "the"):
        assert bpe.decode(bpe.encode(sample)) == sample
    again = BPETokenizer().train(text, vocab_size=300)
    assert again.merges == bpe.merges, "training is deterministic"


# %% [markdown]
# ## Systems analysis: vocabulary size versus sequence length


# %%
def analyze_tokenization(text: str | None = None) -> list:
    """Tokens per character for characters and BPE of growing vocabulary."""
    if text is None:
        import random

        words = "the a cat dog sat ran on under mat tree big small red fox jumps over lazy".split()
        chooser = random.Random(0)
        text = " ".join(chooser.choice(words) for _ in range(600))
    rows = [("chars", len(set(text)) + 2, len(text))]
    for size in (300, 400, 512):
        bpe = BPETokenizer().train(text, size)
        rows.append((f"bpe-{size}", bpe.vocab_size, len(bpe.encode(text))))
    for name, vocab, length in rows:
        print(f"{name:8s} vocab {vocab:4d}  tokens {length:5d}  ({length / len(text):.2f}/char)")
    return rows


# %%
if __name__ == "__main__":
    test_char_tokenizer()
    test_bpe_round_trip_and_compression()
    analyze_tokenization()
    print("All tests passed for module 10_tokenization.")
