"""textgen: the n-gram baseline, the held-out split, the GPT's scoring, and bad input.

The full training run (--quick) is in tests/e2e; here the script runs a few steps only.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
FOLDER = ROOT / "milestones" / "textgen"
SCRIPT = FOLDER / "textgen.py"
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}

sys.path[:0] = [str(FOLDER), str(ROOT / "milestones")]
import documents  # noqa: E402
import ngram  # noqa: E402
import textgen  # noqa: E402


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
        cwd=cwd,
    )


def prose(paragraphs: int = 100, seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    words = "the a cat sat on mat and dog ran to it was big small red blue".split()
    return "\n\n".join(" ".join(rng.choice(words, size=60)) + "." for _ in range(paragraphs))


# ── n-gram models ────────────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("order", [1, 2, 3, 5])
def test_ngram_distribution_sums_to_one_for_every_context(order):
    rng = np.random.default_rng(order)
    vocab = 6
    train = rng.integers(0, vocab, size=400)
    model = ngram.NGramModel(order, vocab, discount=0.7).fit(train)
    for _ in range(10):  # seen and unseen contexts alike
        context = rng.integers(0, vocab, size=order - 1)
        total = sum(model.probabilities(np.append(context, symbol))[-1] for symbol in range(vocab))
        assert total == pytest.approx(1.0, abs=1e-12), f"P(. | {context}) sums to {total}"


def test_ngram_matches_the_formula_by_hand():
    # "abab": bigram counts ab=2, ba=1; contexts a:2 (1 kind), b:1 (1 kind); uniform over 3.
    model = ngram.NGramModel(2, 3, discount=0.5).fit([0, 1, 0, 1])
    unigram_b = (max(2 - 0.5, 0) + 0.5 * 2 * (1 / 3)) / 4  # counts a=2, b=2 of 4, 2 kinds
    expected = (2 - 0.5) / 2 + 0.5 * 1 / 2 * unigram_b
    assert model.probabilities([0, 1])[-1] == pytest.approx(expected)


def test_higher_orders_predict_repetitive_text_better():
    text = np.tile(np.arange(7), 200)
    noisy = text.copy()
    noisy[::13] = 3
    scores = ngram.fit_baselines(noisy[:1000], noisy[1000:], 7, max_order=3)
    assert scores[3].bpc < scores[2].bpc < scores[1].bpc


# ── corpus ───────────────────────────────────────────────────────────────────────────────────


def test_python_docs_split_by_document_with_no_shared_paragraph():
    corpus = documents.python_docs()
    assert len(corpus.held_out) > 20_000 and len(corpus.train) > 4 * len(corpus.held_out)
    train_paragraphs = set(corpus.train.split("\n\n"))
    long_held = [p for p in corpus.held_out.split("\n\n") if len(p) > 200]
    assert long_held and not any(p in train_paragraphs for p in long_held)


def test_text_file_is_split_into_pieces(tmp_path):
    path = tmp_path / "story.txt"
    path.write_text(prose(), encoding="utf-8")
    corpus = documents.text_file(str(path))
    assert corpus.documents == documents.PIECES
    assert len(corpus.held_out) > documents.MIN_HELD_OUT


# ── scoring ──────────────────────────────────────────────────────────────────────────────────


def test_every_held_out_prediction_is_scored_once_with_the_true_context():
    class Recorder:
        """A 'model' whose log-probability of each target id is minus its position."""

        training = False

        def eval(self):
            pass

        def train(self, mode=True):
            pass

        def __call__(self, windows):
            batch, length = windows.shape
            logits = np.zeros((batch, length, 1000))
            logits[..., :] = -1e9
            # the right id gets 0: the softmax puts all its mass there
            rows, cols = np.indices((batch, length))
            logits[rows, cols, np.minimum(windows + 1, 999)] = 0.0
            return type("T", (), {"data": logits})()

    ids = np.arange(500) % 999  # target = input + 1 everywhere
    nats = textgen.token_nats(Recorder(), ids)
    assert nats.shape == (499,)
    assert np.allclose(nats, 0.0), "each position is scored from its own window's prediction"


# ── the script ───────────────────────────────────────────────────────────────────────────────


def test_a_few_steps_save_load_and_prompt(tmp_path):
    text = tmp_path / "story.txt"
    text.write_text(prose(), encoding="utf-8")
    weights = tmp_path / "w.npz"
    trained = run("--text", str(text), "--steps", "3", "--save", str(weights))
    result = json.loads(trained.stdout.strip().splitlines()[-1])
    for key in ("bpc", "baseline_bpc", "best_ngram_bpc", "best_ngram_order", "tokens", "seconds"):
        assert key in result, f"the result line lacks {key}"
    assert weights.exists()
    loaded = run("--text", str(text), "--load", str(weights), "--prompt", "the cat")
    assert json.loads(loaded.stdout.strip().splitlines()[-1])["bpc"] == pytest.approx(result["bpc"])
    assert "the cat" in loaded.stdout


def test_bpe_run_reports_bits_per_character(tmp_path):
    text = tmp_path / "story.txt"
    text.write_text(prose(), encoding="utf-8")
    done = run("--text", str(text), "--steps", "2", "--bpe", "20")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert 0 < result["bpc"] < 12, "bits per character, not per token"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "There is no text file"),
        (b"abc\0def" * 5000, "looks binary"),
        ("caf\u00e9 ".encode("latin-1") * 5000, "is not UTF-8 text: byte 0xe9"),
        (b"too short\n\nreally", "is too small"),
    ],
)
def test_bad_text_exits_2_with_one_sentence(tmp_path, content, message):
    path = tmp_path / "input.txt"
    if content is not None:
        path.write_bytes(content)
    done = run("--text", str(path), "--steps", "1")
    assert done.returncode == 2, done.stdout + done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


def test_weights_from_another_vocabulary_are_refused(tmp_path):
    first, second = tmp_path / "a.txt", tmp_path / "b.txt"
    first.write_text(prose(), encoding="utf-8")
    second.write_text(prose().replace("e", "E"), encoding="utf-8")
    weights = tmp_path / "w.npz"
    trained = run("--text", str(first), "--steps", "1", "--save", str(weights))
    assert json.loads(trained.stdout.strip().splitlines()[-1])["steps"] == 1, trained.stderr
    done = run("--text", str(second), "--load", str(weights))
    assert done.returncode == 2
    assert "differs from this text's" in done.stderr
