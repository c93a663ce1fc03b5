"""The TinyTalks corpus: question-and-answer lines from a small grammar, made with a seed.

Every line has the form ``Q: <question> A: <answer>``. Two families of questions:

- *Word games* can be learned as rules and so be checked on words never seen in training:
  spell a word backwards, say it twice, name its last letter. The words are random strings of
  three to five letters, so the model cannot lean on English it has never read; it must learn
  to move characters around.
- *Facts* must be memorised: sums below twenty in words, what comes after a day, a month or a
  number, and a small table of made-up animals (where they live, what they eat). These are
  checked on the questions of the training text itself ("recall").

Standard library and NumPy only: the corpus is the same on every machine for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NUMBERS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
DAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
MONTHS = (
    "january february march april may june july august september october november december"
).split()
COLOURS = "red blue green gold grey pink".split()
ANIMALS = "fox owl bear frog crow goat mole hare".split()
HOMES = (
    "in the hills",
    "by the river",
    "under the bridge",
    "in the old mill",
    "near the lake",
    "in the tall grass",
    "on the mountain",
    "in the dark wood",
)
FOODS = "plums acorns honey beetles clover apples seeds mushrooms".split()
LETTERS = "abcdefghijklmnopqrstuvwxyz"

WORD_GAMES = ("backwards", "twice", "last letter")
FACT_KINDS = ("sum", "after", "animal")


@dataclass(frozen=True)
class QA:
    """One line of the corpus: `prompt` ends with "A:", the model should add " answer\\n"."""

    kind: str
    question: str
    answer: str

    @property
    def prompt(self) -> str:
        return f"Q: {self.question} A:"

    @property
    def line(self) -> str:
        return f"{self.prompt} {self.answer}"


def word_game(kind: str, word: str) -> QA:
    if kind == "backwards":
        return QA(kind, f"spell {word} backwards.", word[::-1])
    if kind == "twice":
        return QA(kind, f"say {word} twice.", f"{word} {word}")
    if kind == "last letter":
        return QA(kind, f"what is the last letter of {word}?", word[-1])
    raise ValueError(f"Unknown word game {kind!r}.")


def sums() -> list[QA]:
    """Every "a plus b" with a sum below twenty."""
    return [
        QA("sum", f"what is {NUMBERS[a]} plus {NUMBERS[b]}?", NUMBERS[a + b])
        for a in range(20)
        for b in range(20 - a)
    ]


def successors() -> list[QA]:
    """What comes after each day (the week wraps), month (the year wraps) and number 0-18."""
    items = []
    for cycle in (DAYS, MONTHS):
        for i, name in enumerate(cycle):
            items.append(QA("after", f"what comes after {name}?", cycle[(i + 1) % len(cycle)]))
    for i in range(len(NUMBERS) - 1):
        items.append(QA("after", f"what comes after {NUMBERS[i]}?", NUMBERS[i + 1]))
    return items


def animal_facts(rng: np.random.Generator, count: int = 10) -> list[QA]:
    """A made-up table: `count` coloured animals, each with a home and a food."""
    pairs = [(c, a) for c in COLOURS for a in ANIMALS]
    chosen = rng.choice(len(pairs), size=count, replace=False)
    items = []
    for index in chosen:
        colour, animal = pairs[int(index)]
        home = HOMES[int(rng.integers(len(HOMES)))]
        food = FOODS[int(rng.integers(len(FOODS)))]
        items.append(QA("animal", f"where does the {colour} {animal} live?", home))
        items.append(QA("animal", f"what does the {colour} {animal} eat?", food))
    return items


# Word lengths of the games, chosen by measurement. 3-5 letters: held-out 0.997-1.000 on every
# seed tried, at 1000 steps as at 1400. 3-6: 0.99-1.00 at 1400 steps, but 0.74 at 1000 (seed 1).
# 3-8: 0.92 on the 8-letter reversals at 1400 steps.
SHORTEST, LONGEST = 3, 5


def random_words(rng: np.random.Generator, count: int) -> list[str]:
    """`count` distinct random words of SHORTEST to LONGEST lowercase letters."""
    words: set[str] = set()
    alphabet = np.array(list(LETTERS))
    while len(words) < count:
        lengths = rng.integers(SHORTEST, LONGEST + 1, size=count)
        letters = alphabet[rng.integers(0, len(LETTERS), size=(count, LONGEST))]
        for row, length in zip(letters, lengths):
            if len(words) < count:
                words.add("".join(row[:length]))
    return sorted(words)


@dataclass
class Corpus:
    """The training words and facts, and the held-out words for the word games."""

    train_words: list[str]
    held_out_words: list[str]
    facts: list[QA]

    def held_out(self) -> list[QA]:
        """Word games on words that never occur in the training text."""
        return [word_game(kind, w) for w in self.held_out_words for kind in WORD_GAMES]

    def sample_line(self, rng: np.random.Generator) -> str:
        # Half word games, half facts: the games need many examples to become rules.
        if rng.random() < 0.6:
            kind = WORD_GAMES[int(rng.integers(len(WORD_GAMES)))]
            word = self.train_words[int(rng.integers(len(self.train_words)))]
            return word_game(kind, word).line
        return self.facts[int(rng.integers(len(self.facts)))].line

    def text(self, rng: np.random.Generator, lines: int) -> str:
        """`lines` random lines, each ended by a newline: the training stream."""
        return "".join(self.sample_line(rng) + "\n" for _ in range(lines))

    def alphabet(self) -> str:
        """Every character any line of this corpus can contain."""
        lines = [qa.line for qa in self.facts + self.held_out()]
        lines += [word_game(kind, w).line for w in self.train_words[:50] for kind in WORD_GAMES]
        return "".join(sorted(set("\n" + LETTERS + "".join(lines))))


def build_corpus(seed: int, train_words: int = 3000, held_out_words: int = 100) -> Corpus:
    rng = np.random.default_rng(seed)
    words = random_words(rng, train_words + held_out_words)
    order = rng.permutation(len(words))
    held = sorted(words[i] for i in order[:held_out_words])
    train = sorted(words[i] for i in order[held_out_words:])
    facts = sums() + successors() + animal_facts(rng)
    return Corpus(train, held, facts)
