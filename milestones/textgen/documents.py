"""The text textgen trains on: CPython's own documentation topics, or a UTF-8 file of yours.

Held-out text is split off by document, never by random windows, so no sentence of it was
seen in training. The default corpus is `pydoc_data.topics`: the text `help("for")` shows,
shipped with every CPython (about 465 KB in 79 topics; its exact words change a little with
the Python version, and so do the scores).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

HELD_OUT_EVERY = 10  # one document in ten is held out
MIN_CHARS = 20_000  # training windows and a held-out split need at least this much text
MIN_HELD_OUT = 2_000
PIECES = 20  # a file is cut into this many pieces at paragraph breaks


class CorpusError(ValueError):
    """Text that cannot be trained on: one sentence, exit 2."""


@dataclass(frozen=True)
class Corpus:
    name: str
    train: str
    held_out: str
    documents: int

    @property
    def size(self) -> int:
        return len(self.train) + len(self.held_out)


def split_documents(documents: list[str], name: str) -> Corpus:
    """Every HELD_OUT_EVERY-th document (from the 4th) is held out; the rest is training."""
    held = [d for i, d in enumerate(documents) if i % HELD_OUT_EVERY == 3]
    train = [d for i, d in enumerate(documents) if i % HELD_OUT_EVERY != 3]
    seen = set("\n\n".join(train).split("\n\n"))
    # Documents may share paragraphs (Python's topics repeat some sections): a held-out
    # paragraph that training already contains verbatim would be recall, not prediction.
    unseen = [p for p in "\n\n".join(held).split("\n\n") if p not in seen or len(p) < 40]
    corpus = Corpus(name, "\n\n".join(train), "\n\n".join(unseen), len(documents))
    needed = f"at least {MIN_CHARS:,} characters with {MIN_HELD_OUT:,} of them held out"
    if corpus.size < MIN_CHARS or len(corpus.held_out) < MIN_HELD_OUT:
        raise CorpusError(
            f"{name} is too small to train on and hold text out: it needs {needed}, "
            f"and has {corpus.size:,} characters ({len(corpus.held_out):,} held out)."
        )
    return corpus


def python_docs() -> Corpus:
    """The documentation topics of this Python, one document per topic, in name order."""
    from pydoc_data.topics import topics

    return split_documents([topics[key] for key in sorted(topics)], "Python's documentation")


def read_text_file(path: str) -> str:
    """The file's text, or a CorpusError that says what is wrong with it and where."""
    file = Path(path)
    if not file.is_file():
        raise CorpusError(f"There is no text file {path}.")
    data = file.read_bytes()
    if b"\0" in data:
        offset = data.index(b"\0")
        raise CorpusError(
            f"{path} looks binary, not text: it has a zero byte at offset {offset:,}."
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise CorpusError(
            f"{path} is not UTF-8 text: byte 0x{data[error.start]:02x} at offset "
            f"{error.start:,} (line {line}) cannot be decoded; save the file as UTF-8."
        ) from None
    return text.removeprefix("\ufeff").replace("\r\n", "\n")


def text_file(path: str) -> Corpus:
    """A file cut into PIECES pieces at paragraph breaks, split like the documents above."""
    text = read_text_file(path)
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    if len(paragraphs) < PIECES:  # few blank lines: cut at line breaks instead
        paragraphs = [line for line in text.split("\n") if line.strip()]
    glue = "\n\n" if "\n\n" in text else "\n"
    pieces = [
        glue.join(paragraphs[len(paragraphs) * i // PIECES : len(paragraphs) * (i + 1) // PIECES])
        for i in range(PIECES)
    ]
    return split_documents([p for p in pieces if p], path)
