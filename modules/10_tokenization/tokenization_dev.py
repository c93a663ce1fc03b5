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
# `[0, vocab_size)` and back, and module 11 turns each id into a vector. Before any of the
# model can run, we must decide what one id stands for. Two designs bracket the trade-off:
#
# | design | vocabulary | tokens for "the cat sat" | cost |
# |---|---|---|---|
# | characters | a few dozen ids | 11 | long sequences: attention (module 12) costs T² |
# | byte-pair encoding (BPE) | 256 bytes + learned merges | 3 to 11, depending on the merges | a bigger embedding table and output layer |
#
# Every character is a step the model has to take, and attention compares every step with
# every other one, so halving the number of tokens quarters the attention matrix. Yet every
# id also costs a row in the embedding table and a column in the output layer. This module
# builds both tokenizers and then measures the trade-off on your own code.
#
# What you will write:
#
# 1. `CharTokenizer`: the vocabulary, `encode` (with a policy for unknown characters) and
#    `decode`;
# 2. the two BPE helpers `_pair_counts` and `_merge`;
# 3. `BPETokenizer`: the training loop, `encode` and `decode`;
# 4. `analyze_tokenization`: tokens, vocabulary and training time side by side.

# %%
#| default_exp text.tokenization
#| export
from collections import Counter

# %% [markdown]
# ## 1. A character tokenizer
#
# The vocabulary is a list `itos` ("id to string") and its inverse, the dict `stoi`. Two
# **special tokens** come first, always at the same ids:
#
# - `<pad>` (id 0) fills the short rows of a batch, so that sequences of unequal length stack
#   into one `(B, T)` array; `decode` drops it;
# - `<unk>` (id 1) stands for a character the tokenizer never saw.
#
# The characters follow, **sorted**, so the same characters always give the same ids (a set
# has no order of its own, and a tokenizer whose ids change between runs would silently break
# a saved model).
#
# Worked example, `CharTokenizer.from_text("hello world")`: the distinct characters sorted are
# `' ' d e h l o r w`, so
#
# ```
# itos = ['<pad>', '<unk>', ' ', 'd', 'e', 'h', 'l', 'o', 'r', 'w']      vocab_size = 10
# ids  =     0        1      2    3    4    5    6    7    8    9
#
# encode("hello")          -> [5, 4, 6, 6, 7]
# encode("hex")            -> [5, 4, 1]            'x' is unknown: <unk>
# encode("hex", strict=True)
#     raises ValueError: Character 'x' at position 2 is not in the vocabulary.
# decode([0, 5, 4, 6, 6, 7, 0]) -> "hello"         <pad> dropped
# decode([5, 1])           -> "h\ufffd"            <unk> shows as the replacement character '�'
# ```
#
# **Unknown characters are a decision.** By default `encode` maps them to `<unk>`: a model
# must never crash on a typo. With `strict=True` it refuses them instead, naming the character
# and its position, for when silent loss would be a bug (a tokenizer built from the wrong text).
#
# ### Specification
#
# `class CharTokenizer`, with the class attributes `PAD = "<pad>"` and `UNK = "<unk>"`:
#
# | member | contract |
# |---|---|
# | `__init__(chars=())` | `self.itos = [PAD, UNK, *sorted(set(chars))]` (a list) and `self.stoi` = `{token: id}` (a dict, its inverse) |
# | `from_text(text)` (given) | `cls(set(text))` |
# | `build_vocab(texts)` | `texts` is a list of strings, or one string; **replace** `itos` and `stoi` by the vocabulary of every character in the texts (what `__init__` would build) and return `self` |
# | `vocab_size`, `pad_id`, `unk_id` (given) | `len(itos)`, 0, 1 |
# | `encode(text, strict=False)` | a `list[int]`, one id per character; unknown characters give `unk_id`, or with `strict=True` raise `ValueError(f"Character {char!r} at position {position} is not in the vocabulary.")` |
# | `decode(ids)` | a `str`: ids may be any integers (NumPy ints too: use `int(i)`); `pad_id` is skipped, `unk_id` becomes `"\ufffd"`, every other id its character |


# %% nbgrader={"grade": false, "grade_id": "char-tokenizer", "locked": false, "schema_version": 3, "solution": true}
#| export
class CharTokenizer:
    """Characters <-> ids, with <pad> = 0 and <unk> = 1 before the characters.

    CharTokenizer(chars) knows `chars`; CharTokenizer() knows none until build_vocab(texts).
    """

    PAD, UNK = "<pad>", "<unk>"

    def __init__(self, chars=()):
        """Build itos = [PAD, UNK, *sorted(set(chars))] and its inverse dict stoi."""
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
        """Replace the vocabulary by every character of `texts` (a string or a list of them).

        Afterwards itos and stoi are what CharTokenizer(all those characters) would have;
        returns self, so CharTokenizer().build_vocab(["hi", "ho"]) is a ready tokenizer.
        """
        ### BEGIN SOLUTION
        if isinstance(texts, str):
            texts = [texts]
        chars = set()
        for text in texts:
            chars.update(text)
        fresh = type(self)(chars)  # the vocabulary __init__ builds, in one place
        self.itos, self.stoi = fresh.itos, fresh.stoi
        return self
        ### END SOLUTION

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
        """One id per character of `text`; unknown characters give unk_id.

        With strict=True an unknown character raises ValueError("Character 'x' at position 2
        is not in the vocabulary.") instead.
        """
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
# **What this checks and why.** The worked example above, id for id: sorted characters after
# the two special tokens, `<unk>` for an unknown character and a `ValueError` naming it in
# strict mode, `<pad>` dropped by `decode`. Then `build_vocab`, which must *replace* the
# vocabulary (a tokenizer that kept old characters would give different ids than the model was
# trained with).


# %% nbgrader={"grade": true, "grade_id": "test-char", "locked": true, "points": 30, "schema_version": 3}
def test_char_tokenizer():
    tokenizer = CharTokenizer.from_text("hello world")
    expected = ["<pad>", "<unk>", " ", "d", "e", "h", "l", "o", "r", "w"]
    assert tokenizer.itos == expected, f"itos should be {expected}, got {tokenizer.itos}"
    assert tokenizer.stoi["h"] == 5, f"stoi must invert itos: 'h' -> 5, got {tokenizer.stoi}"
    assert tokenizer.vocab_size == 10, f"2 special + 8 characters, got {tokenizer.vocab_size}"
    ids = tokenizer.encode("hello")
    assert ids == [5, 4, 6, 6, 7], f"encode('hello') should be [5, 4, 6, 6, 7], got {ids}"
    assert tokenizer.decode(ids) == "hello", f"decode(encode(s)) should give s, not {ids}"
    unknown = tokenizer.encode("hex")
    assert unknown == [5, 4, 1], f"'x' is unknown, so encode('hex') = [5, 4, 1], got {unknown}"
    try:
        tokenizer.encode("hex", strict=True)
    except ValueError as error:
        message = str(error)
        assert "'x'" in message and "position 2" in message, (
            f"the strict error should name 'x' and position 2, got: {message}"
        )
    else:
        raise AssertionError("encode('hex', strict=True) must raise ValueError for 'x'")
    padded = tokenizer.decode([0, *ids, 0])
    assert padded == "hello", f"decode drops <pad> (id 0): expected 'hello', got {padded!r}"
    assert tokenizer.decode([5, 1]) == "h\ufffd", "<unk> (id 1) decodes to '\\ufffd'"
    built = CharTokenizer().build_vocab(["hello", " world"])
    assert built.itos == expected, f"build_vocab(texts) should equal from_text, got {built.itos}"
    again = built.build_vocab("xy")
    assert again is built, "build_vocab returns the tokenizer it was called on"
    assert again.itos == ["<pad>", "<unk>", "x", "y"], (
        f"build_vocab replaces the vocabulary, it does not add to it: got {again.itos}"
    )
    ### BEGIN HIDDEN TESTS
    other = CharTokenizer("cab")
    assert other.encode("abcd") == [2, 3, 4, 1], f"sorted a, b, c: got {other.encode('abcd')}"
    assert other.decode([4, 0, 3]) == "cb", "decode skips <pad> anywhere in the ids"
    assert CharTokenizer().vocab_size == 2, "an empty tokenizer knows only <pad> and <unk>"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_char_tokenizer()


# %% [markdown]
# ## 2. Byte-pair encoding: the idea
#
# BPE (Sennrich et al., 2016; byte-level as in GPT-2) starts from the smallest possible
# vocabulary and *learns* bigger tokens from the text:
#
# 1. Turn the text into its UTF-8 **bytes**, ids 0..255. Every string is bytes, so nothing is
#    ever unknown: `'a'` is `[97]`, `'é'` is `[195, 169]`, `'🙂'` is `[240, 159, 153, 130]`.
# 2. Count every adjacent pair `(a, b)` of ids.
# 3. Take the most frequent pair. **Ties** go to the smallest pair, comparing `(a, b)` as
#    tuples, so training is deterministic. If even the best pair occurs only once, stop:
#    merging it would not shorten anything.
# 4. Give it the next free id (256, then 257, ...), replace every occurrence in the sequence
#    (left to right, without overlaps), and record the merge `(a, b) -> new_id`.
# 5. Repeat until the vocabulary has the requested size.
#
# ### Worked example: `"aaabdaaabac"`, by hand
#
# The bytes are `a=97 b=98 c=99 d=100`:
#
# ```
# ids = [97, 97, 97, 98, 100, 97, 97, 97, 98, 97, 99]            11 tokens
#        a   a   a   b   d    a   a   a   b   a   c
#
# round 1  pair counts: (97,97): 4   (97,98): 2   (97,99), (98,97), (98,100), (100,97): 1
#          "aaa" holds the pair (97,97) twice (positions 0-1 and 1-2): overlapping pairs count.
#          best (97,97) -> 256 ("aa"). Merge left to right: "aaa" becomes [256, 97].
# ids = [256, 97, 98, 100, 256, 97, 98, 97, 99]                     9 tokens
#
# round 2  pair counts: (256,97): 2   (97,98): 2   (97,99), (98,97), (98,100), (100,256): 1
#          a tie at 2: the smaller pair is (97,98) -> 257 ("ab").
# ids = [256, 257, 100, 256, 257, 97, 99]                           7 tokens
#
# round 3  pair counts: (256,257): 2, every other pair 1
#          best (256,257) -> 258 ("aa" + "ab" = "aaab").
# ids = [258, 100, 258, 97, 99]                                     5 tokens
#
# round 4  every pair occurs once: stop (even with vocab_size=300 asked for).
# merges = {(97, 97): 256, (97, 98): 257, (256, 257): 258}      vocab_size = 259
# vocab[258] = vocab[256] + vocab[257] = b"aa" + b"ab" = b"aaab"
# ```
#
# **Encoding** a new text replays the merges in the order they were learned: first every
# `(97, 97)` becomes 256, then every `(97, 98)` becomes 257, and so on, so the text is cut the
# way the training text was. `encode("aaabdaaabac")` gives `[258, 100, 258, 97, 99]` again.
# **Decoding** looks up each id's bytes, joins them and decodes UTF-8, so
# `decode(encode(s)) == s` for every string.

# %% [markdown]
# ### The two helpers
#
# Training and encoding need two operations on a list of ids. Write them as functions (their
# names start with `_`: they are part of the package file but not of its public API).
#
# - `_pair_counts(ids)` returns a `collections.Counter` mapping each adjacent pair
#   `(ids[i], ids[i + 1])` to how often it occurs, overlapping pairs included.
#   `_pair_counts([97, 97, 97, 98]) == {(97, 97): 2, (97, 98): 1}`; fewer than two ids give an
#   empty Counter.
# - `_merge(ids, pair, new_id)` returns a **new** list where every occurrence of `pair` is
#   replaced by `new_id`, scanning left to right: when `ids[i], ids[i + 1]` is the pair, emit
#   `new_id` and jump two places; otherwise emit `ids[i]` and move one place.
#   `_merge([97, 97, 97, 98], (97, 97), 256) == [256, 97, 98]` (not `[97, 256, 98]`);
#   `ids` itself is not changed.


# %% nbgrader={"grade": false, "grade_id": "bpe-helpers", "locked": false, "schema_version": 3, "solution": true}
#| export
def _pair_counts(ids: list[int]) -> Counter:
    """Counter {(a, b): how often b follows a in ids}, overlapping pairs included."""
    ### BEGIN SOLUTION
    counts = Counter()
    for pair in zip(ids, ids[1:]):
        counts[pair] += 1
    return counts
    ### END SOLUTION


def _merge(ids: list[int], pair: tuple[int, int], new_id: int) -> list[int]:
    """A new list: every non-overlapping occurrence of `pair` (left to right) -> new_id."""
    ### BEGIN SOLUTION
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out
    ### END SOLUTION


# %% [markdown]
# **What this checks and why.** The counts and merges of round 1 of the worked example. The
# overlapping case `"aaa"` is where a careless merge goes wrong: the pair occurs twice in the
# counts, but can be merged only once, from the left.


# %% nbgrader={"grade": true, "grade_id": "test-bpe-helpers", "locked": true, "points": 15, "schema_version": 3}
def test_bpe_helpers():
    ids = [97, 97, 97, 98, 100, 97, 97, 97, 98, 97, 99]
    counts = _pair_counts(ids)
    assert counts[(97, 97)] == 4, f"'aaab' twice holds (97, 97) 4 times, got {counts[(97, 97)]}"
    assert counts[(97, 98)] == 2 and counts[(100, 97)] == 1, f"pair counts wrong: {counts}"
    assert sum(counts.values()) == len(ids) - 1, "a list of n ids has n - 1 adjacent pairs"
    assert _pair_counts([5]) == {}, "a single id has no pairs"
    merged = _merge(ids, (97, 97), 256)
    expected = [256, 97, 98, 100, 256, 97, 98, 97, 99]
    assert merged == expected, f"merge (97, 97) -> 256 should give {expected}, got {merged}"
    assert ids[0] == 97 and len(ids) == 11, "_merge must return a new list, not change ids"
    assert _merge([1, 1, 1, 1], (1, 1), 7) == [7, 7], "'1 1 1 1' holds the pair twice, no overlap"
    assert _merge([1, 2], (2, 1), 7) == [1, 2], "a pair that does not occur changes nothing"
    assert _merge([], (1, 2), 7) == [], "an empty list stays empty"


if __name__ == "__main__":
    test_bpe_helpers()


# %% [markdown]
# ## 3. The BPE tokenizer
#
# ### Specification
#
# `class BPETokenizer` holds two dicts:
#
# - `merges`: `{(a, b): new_id}` in the order the merges were learned (Python dicts keep
#   insertion order, so iterating over `merges` replays them);
# - `vocab`: `{id: bytes}`, starting with `{i: bytes([i]) for i in range(256)}`; a merge
#   adds `vocab[new_id] = vocab[a] + vocab[b]`.
#
# | member | contract |
# |---|---|
# | `__init__()` | `merges` empty, `vocab` the 256 single bytes |
# | `vocab_size` (given) | `len(vocab)` |
# | `train(text, vocab_size)` | raise `ValueError` (message containing "at least 256") when `vocab_size < 256` (given); then merge as in section 2 until `len(vocab) == vocab_size`, or stop early when no pair occurs at least twice (an empty or one-byte text included). The new id is always `len(vocab)`. Ties: the most frequent pair, then the smallest `(a, b)`. Returns `self`. |
# | `encode(text)` | UTF-8 bytes of `text`, then every merge in learned order (use `_merge`); a `list[int]` |
# | `decode(ids)` | join `vocab[int(i)]` for every id and decode with `.decode("utf-8", errors="replace")`; an unknown id raises `KeyError` |
#
# Training on the worked example: `BPETokenizer().train("aaabdaaabac", 300)` has
# `merges == {(97, 97): 256, (97, 98): 257, (256, 257): 258}` and `vocab_size == 259`.
#
# Hint for the tie rule: `min(counts.items(), key=lambda item: (-item[1], item[0]))` picks the
# largest count, then the smallest pair.


# %% nbgrader={"grade": false, "grade_id": "bpe", "locked": false, "schema_version": 3, "solution": true}
#| export
class BPETokenizer:
    """Byte-level byte-pair encoding: 256 byte tokens plus learned merges."""

    def __init__(self):
        """merges = {} (pair -> id, in learned order); vocab = {i: bytes([i]) for 256 bytes}."""
        ### BEGIN SOLUTION
        self.merges: dict[tuple[int, int], int] = {}
        self.vocab: dict[int, bytes] = {i: bytes([i]) for i in range(256)}
        ### END SOLUTION

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def train(self, text: str, vocab_size: int) -> "BPETokenizer":
        """Learn merges on `text` until len(vocab) == vocab_size or no pair repeats; self.

        Each round: count pairs, take the most frequent (ties: smallest pair), stop if its
        count < 2, else record merges[pair] = new_id = len(vocab), extend vocab, merge ids.
        """
        if vocab_size < 256:
            raise ValueError(f"vocab_size must be at least 256 (the bytes), not {vocab_size}.")
        ids = list(text.encode("utf-8"))
        ### BEGIN SOLUTION
        while len(self.vocab) < vocab_size:
            counts = _pair_counts(ids)
            if not counts:
                break
            pair, count = min(counts.items(), key=lambda item: (-item[1], item[0]))
            if count < 2:
                break  # merging a pair that occurs once would not shorten anything
            new_id = len(self.vocab)
            self.merges[pair] = new_id
            self.vocab[new_id] = self.vocab[pair[0]] + self.vocab[pair[1]]
            ids = _merge(ids, pair, new_id)
        ### END SOLUTION
        return self

    def encode(self, text: str) -> list[int]:
        """UTF-8 bytes of `text`, then every learned merge in order: a list of ids."""
        ### BEGIN SOLUTION
        ids = list(text.encode("utf-8"))
        for pair, new_id in self.merges.items():  # dicts keep the order merges were learned
            ids = _merge(ids, pair, new_id)
        return ids
        ### END SOLUTION

    def decode(self, ids) -> str:
        """Join the bytes vocab[int(i)] of every id; decode UTF-8 with errors='replace'."""
        ### BEGIN SOLUTION
        return b"".join(self.vocab[int(i)] for i in ids).decode("utf-8", errors="replace")
        ### END SOLUTION


# %% [markdown]
# **What this checks and why.** First the worked example, merge for merge: this pins down the
# tie rule and the new ids, which a tokenizer must get exactly right (a model trained with one
# set of ids is useless with another). Then the promises BPE makes on a realistic text:
# `decode(encode(s)) == s` for any string, including characters never seen in training and
# multi-byte UTF-8; the sequence gets much shorter; training is deterministic.


# %% nbgrader={"grade": true, "grade_id": "test-bpe", "locked": true, "points": 45, "schema_version": 3}
def test_bpe_round_trip_and_compression():
    fresh = BPETokenizer()
    assert fresh.vocab_size == 256 and fresh.merges == {}, "a new BPETokenizer has only bytes"
    assert fresh.encode("hé") == [104, 195, 169], "untrained, encode gives the UTF-8 bytes"
    small = BPETokenizer().train("aaabdaaabac", vocab_size=300)
    expected = {(97, 97): 256, (97, 98): 257, (256, 257): 258}
    assert small.merges == expected, (
        f"merges of 'aaabdaaabac' should be {expected}, got {small.merges}"
    )
    assert small.vocab[258] == b"aaab", f"id 258 is b'aa' + b'ab', got {small.vocab.get(258)}"
    ids = small.encode("aaabdaaabac")
    assert ids == [258, 100, 258, 97, 99], f"encode should give [258, 100, 258, 97, 99], got {ids}"
    capped = BPETokenizer().train("aaabdaaabac", vocab_size=257)
    assert capped.merges == {(97, 97): 256}, f"vocab_size 257 allows one merge: {capped.merges}"
    try:
        BPETokenizer().train("abc", 100)
    except ValueError as error:
        assert "at least 256" in str(error), f"say the vocabulary needs 256 bytes: {error}"
    else:
        raise AssertionError("train(text, 100) must refuse: the bytes alone are 256 tokens")

    text = "the cat sat on the mat. the cat ate the rat. " * 20
    bpe = BPETokenizer().train(text, vocab_size=300)
    assert 256 < bpe.vocab_size <= 300, f"the vocabulary should grow up to 300: {bpe.vocab_size}"
    ids = bpe.encode(text)
    assert bpe.decode(ids) == text, "decode(encode(text)) must give the text back"
    assert len(ids) < len(text.encode("utf-8")) / 2, (
        f"merges should at least halve the sequence: {len(ids)} tokens for {len(text)} bytes"
    )
    for sample in ("unseen words, ünïcödé & emoji 🙂", "", "the"):
        back = bpe.decode(bpe.encode(sample))
        assert back == sample, f"round trip failed for {sample!r}: got {back!r}"
    again = BPETokenizer().train(text, vocab_size=300)
    assert again.merges == bpe.merges, "training twice on the same text must give the same merges"
    ### BEGIN HIDDEN TESTS
    other = BPETokenizer().train("abababcab", vocab_size=300)
    assert other.merges == {(97, 98): 256, (256, 256): 257}, f"got {other.merges}"
    assert other.encode("abababcab") == [257, 256, 99, 256], f"got {other.encode('abababcab')}"
    words = BPETokenizer().train("low lower lowest", vocab_size=300)
    assert list(words.merges.values()) == [256, 257, 258, 259], f"got {words.merges}"
    assert words.vocab[259] == b" lowe", f"got {words.vocab[259]}"
    assert BPETokenizer().train("abcdef", 400).vocab_size == 256, "no pair repeats: no merge"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_bpe_round_trip_and_compression()


# %%
import random
import time

# The sample text of this section: 200 words drawn (with a fixed seed) from a small vocabulary.
WORDS = "the a cat dog sat ran on under mat tree big small red fox jumps over lazy".split()
_chooser = random.Random(0)
SAMPLE_TEXT = " ".join(_chooser.choice(WORDS) for _ in range(200))


# %% [markdown]
# ## 4. Systems: vocabulary size versus sequence length
#
# A bigger vocabulary makes sequences shorter, and both ends of that trade cost something:
#
# - the **embedding table** (module 11) and the **output layer** (module 13) each hold
#   `vocab_size x embed_dim` parameters;
# - **attention** (module 12) builds a `T x T` matrix per head, so its memory and time grow
#   with the *square* of the number of tokens.
#
# Measure it on your own tokenizers. `analyze_tokenization(text, vocab_sizes, embed_dim)`
# returns one row per tokenizer, first the characters, then a BPE tokenizer trained on `text`
# for each size in `vocab_sizes`:
#
# ```
# (name,    vocab_size,      tokens,            embedding_params,   attention_cells, train_ms)
# ("chars",   chars.vocab_size, len(chars.encode(text)), vocab * embed_dim, tokens ** 2, 0.0)
# ("bpe-300", bpe.vocab_size,   len(bpe.encode(text)),   vocab * embed_dim, tokens ** 2, ms)
# ```
#
# `attention_cells` is the size of one head's attention matrix if the whole text were one
# context. Time the training with `time.perf_counter()` (one run: it is a single, slow call),
# print one line per row, and return the list of rows. The default text is `SAMPLE_TEXT`
# (the cell above).


# %% nbgrader={"grade": false, "grade_id": "analyze-tokenization", "locked": false, "schema_version": 3, "solution": true}
def analyze_tokenization(text: str = SAMPLE_TEXT, vocab_sizes=(280, 320), embed_dim=64) -> list:
    """Print and return rows (name, vocab, tokens, embedding params, tokens², train ms).

    The first row is the character tokenizer ("chars", train_ms 0.0), then one "bpe-<size>"
    row per size in vocab_sizes, each a BPETokenizer trained on `text` to that size.
    """
    ### BEGIN SOLUTION
    chars = CharTokenizer.from_text(text)
    tokens = len(chars.encode(text))
    rows = [("chars", chars.vocab_size, tokens, chars.vocab_size * embed_dim, tokens**2, 0.0)]
    for size in vocab_sizes:
        start = time.perf_counter()
        bpe = BPETokenizer().train(text, size)
        train_ms = (time.perf_counter() - start) * 1000
        tokens = len(bpe.encode(text))
        rows.append(
            (f"bpe-{size}", bpe.vocab_size, tokens, bpe.vocab_size * embed_dim, tokens**2, train_ms)
        )
    for name, vocab, tokens, params, cells, train_ms in rows:
        print(
            f"{name:8s} vocab {vocab:4d}  tokens {tokens:5d}  embedding {params:7,d} params  "
            f"attention {cells:10,d} cells  train {train_ms:6.1f} ms"
        )
    return rows
    ### END SOLUTION


# %% [markdown]
# **What this checks and why.** The rows must describe the tokenizers you built (the same
# counts as calling them directly), and the trade-off must show: a bigger vocabulary gives
# fewer tokens, more embedding parameters and a smaller attention matrix.


# %% nbgrader={"grade": true, "grade_id": "test-analyze-tokenization", "locked": true, "points": 10, "schema_version": 3}
def test_analyze_tokenization():
    rows = analyze_tokenization(SAMPLE_TEXT, vocab_sizes=(280, 320), embed_dim=64)
    assert [row[0] for row in rows] == ["chars", "bpe-280", "bpe-320"], (
        f"one row for the characters, then one per BPE size; got {[row[0] for row in rows]}"
    )
    chars = rows[0]
    assert chars[2] == len(SAMPLE_TEXT), f"characters: one token per character, got {chars[2]}"
    reference = BPETokenizer().train(SAMPLE_TEXT, 320)
    tokens = len(reference.encode(SAMPLE_TEXT))
    assert rows[2][1:5] == (reference.vocab_size, tokens, reference.vocab_size * 64, tokens**2), (
        f"the bpe-320 row should be (vocab, tokens, vocab * 64, tokens²), got {rows[2][1:5]}"
    )
    assert rows[0][2] > rows[1][2] > rows[2][2], "a bigger vocabulary gives fewer tokens"
    assert rows[0][3] < rows[1][3] < rows[2][3], "and more embedding parameters"
    assert all(row[5] >= 0 for row in rows), "training times are durations in ms"


if __name__ == "__main__":
    test_analyze_tokenization()


# %% [markdown]
# ## Reflect
#
# Answer in a few sentences each, with numbers where you can: use the table your
# `analyze_tokenization` printed.

# %% [markdown]
# **Q1 (memory).** GPT-2's tokenizer has 50,257 tokens and its embeddings are 768 wide. How
# many parameters and float32 MiB do the token embedding and an untied output layer take
# together? How does that compare with the character tokenizer's 40 or so ids?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-vocab-memory", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# One table is 50,257 x 768 = 38.6 M parameters, 147 MiB in float32; the output layer is the
# same size again, so 77 M parameters, about 295 MiB, before a single transformer block (GPT-2
# small has 124 M parameters in all, which is why it ties the two). A character vocabulary of
# ~40 ids needs 40 x 768 = 31 k parameters per table: the vocabulary costs nothing there, but
# every character becomes a step of the model.
# ### END SOLUTION

# %% [markdown]
# **Q2 (compute).** In your table, how many tokens did the characters give and how many did
# the largest BPE vocabulary give? By what factor does that shrink one head's attention matrix,
# and why is it the square of the compression?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-sequence-length", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# On the default text (200 words, 853 characters) the characters give 853 tokens and BPE-320
# gives 155: a compression of c = 5.5, since each frequent word becomes one or two tokens.
# Attention compares every token with every other, T x T, so the matrix shrinks by c² = 30
# (727,609 cells down to 24,025), and so do attention's time and memory. The same model with the
# same context window also sees 5.5 times more text.
# ### END SOLUTION

# %% [markdown]
# **Q3 (scaling).** Your `train` recounts every pair of the whole text for each merge. How does
# its time grow with the text length N and the number of merges M? What would a tokenizer for
# gigabytes of text do differently?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-training-cost", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# Each round counts and merges O(N) ids, so training is O(M x N). Measured: bpe-280 (24 merges)
# took about 9 ms and bpe-320 (64 merges) about 20 ms, roughly in proportion to the merges (the
# later rounds run on a shorter sequence). For gigabytes, real trainers first split the text
# into words and count each distinct word once (thousands of words instead of billions of
# bytes), update the pair counts incrementally around each merge instead of recounting, and
# keep the pairs in a priority queue.
# ### END SOLUTION

# %% [markdown]
# **Q4 (what breaks).** A user types an emoji that never occurred in training. What does each
# of your tokenizers do with it, and what does each cost the model?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-unknowns", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# The character tokenizer maps it to <unk> (or refuses it with strict=True): the information
# is lost, and the model cannot tell one unknown character from another. Byte-level BPE never
# loses anything: the emoji is its 4 UTF-8 bytes, and decode(encode(s)) == s. The price is
# length: a rare character, or text in a script the merges were not trained on, costs up to 4
# tokens per character, so such text is both longer (T² attention) and harder to model.
# ### END SOLUTION

# %%
if __name__ == "__main__":
    print("All tests passed for module 10_tokenization.")
