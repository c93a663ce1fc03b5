"""TinyTalks: the corpus grammar, the one-pass exact-match check, and the script's options.

The full training run (--quick) is in test_milestone_scripts.py and tests/e2e; here the
script runs for a few steps only, to check saving, loading, prompts and bad input.
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
FOLDER = ROOT / "milestones" / "tinytalks"
SCRIPT = FOLDER / "tinytalks.py"
ENV = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}

sys.path[:0] = [str(FOLDER), str(ROOT / "milestones")]
import corpus  # noqa: E402
import tinytalks  # noqa: E402

from tinytorch.models.transformer import GPT  # noqa: E402
from tinytorch.text.tokenization import CharTokenizer  # noqa: E402


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        env=ENV,
        cwd=ROOT,
    )


# ── the corpus ───────────────────────────────────────────────────────────────────────────────


def test_corpus_is_the_same_for_a_seed_and_differs_between_seeds():
    a, b, c = corpus.build_corpus(0), corpus.build_corpus(0), corpus.build_corpus(1)
    assert a == b
    assert a.text(np.random.default_rng(5), 50) == b.text(np.random.default_rng(5), 50)
    assert a.held_out_words != c.held_out_words


def test_words_of_every_trained_length_are_in_both_sets():
    data = corpus.build_corpus(0)
    for words in (data.train_words, data.held_out_words):
        assert {len(w) for w in words} == {3, 4, 5}
        assert all(w.isalpha() and w.islower() for w in words)


def test_held_out_words_never_occur_in_training_lines():
    data = corpus.build_corpus(0, train_words=400, held_out_words=40)
    assert not set(data.held_out_words) & set(data.train_words)
    text = data.text(np.random.default_rng(0), 5000)
    for qa in data.held_out():
        assert qa.line not in text
    trained = {line.split()[2] for line in text.splitlines() if line.startswith("Q: s")}
    assert trained <= set(data.train_words)


def test_word_games_answer_correctly():
    assert corpus.word_game("backwards", "tip").line == "Q: spell tip backwards. A: pit"
    assert corpus.word_game("twice", "mo").answer == "mo mo"
    assert corpus.word_game("last letter", "cake").answer == "e"
    with pytest.raises(ValueError, match="Unknown word game"):
        corpus.word_game("sideways", "cat")


def test_facts_are_true():
    sums = {qa.question: qa.answer for qa in corpus.sums()}
    assert sums["what is two plus five?"] == "seven"
    assert sums["what is nineteen plus zero?"] == "nineteen"
    assert len(sums) == 210 and "what is ten plus ten?" not in sums  # sums below twenty
    after = {qa.question: qa.answer for qa in corpus.successors()}
    assert after["what comes after sunday?"] == "monday"
    assert after["what comes after december?"] == "january"
    assert after["what comes after twelve?"] == "thirteen"
    animals = corpus.animal_facts(np.random.default_rng(0))
    assert len({qa.question for qa in animals}) == len(animals) == 20


def test_alphabet_covers_every_line():
    data = corpus.build_corpus(3, train_words=300, held_out_words=30)
    alphabet = set(data.alphabet())
    text = data.text(np.random.default_rng(1), 3000)
    assert set(text) <= alphabet
    assert all(set(qa.line) <= alphabet for qa in data.held_out() + data.facts)


# ── exact match in one forward pass ──────────────────────────────────────────────────────────


@pytest.fixture(scope="module")
def tiny():
    np.random.seed(0)
    tokenizer = CharTokenizer(corpus.build_corpus(0, 50, 10).alphabet())
    model = GPT(tokenizer.vocab_size, embed_dim=16, num_layers=1, num_heads=2, max_seq_len=64)
    return model, tokenizer


def greedy(model, tokenizer, prefix: str, count: int) -> str:
    ids = tokenizer.encode(prefix)
    out = model.generate(ids, max_new_tokens=count, temperature=0)
    return tokenizer.decode(out.data[0, len(ids) :])


def test_one_pass_check_agrees_with_generate(tiny):
    model, tokenizer = tiny
    prefixes = ["\nQ: spell abc backwards. A:", "\nQ: say x", "\nQ: what is two plus"]
    pairs = []
    for prefix in prefixes:
        said = greedy(model, tokenizer, prefix, 6)
        wrong_last = said[:-1] + ("a" if said[-1] != "a" else "b")
        wrong_first = ("a" if said[0] != "a" else "b") + said[1:]
        pairs += [(prefix, said), (prefix, said[:3]), (prefix, wrong_last), (prefix, wrong_first)]
    agrees = tinytalks.greedy_agrees(model, tokenizer, pairs)
    assert agrees.tolist() == [True, True, False, False] * len(prefixes)
    assert model.training, "the check puts the model back in training mode"


def test_unknown_characters_are_refused_with_the_character_named(tiny):
    model, tokenizer = tiny
    args = tinytalks.parse_args.__globals__["argparse"].Namespace(temperature=0.0, top_k=None)
    with pytest.raises(tinytalks.UsageError, match="'Z' at position 3"):
        tinytalks.complete(model, tokenizer, "Q: Zebra", args, np.random.default_rng(0))


# ── the script: save, load, prompt, interactive, bad input ───────────────────────────────────


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tinytalks") / "weights.npz"
    done = run("--steps", "3", "--save", str(path))
    assert done.returncode == 1, done.stderr  # three steps do not meet the criterion
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["passed"] is False and result["steps"] == 3
    assert "held-out exact match" in done.stdout and path.exists()
    return path


def test_load_and_prompt_completes_one_phrase_without_training(weights):
    done = run("--load", str(weights), "--prompt", "Q: what is one plus one?")
    assert done.returncode == 1, done.stderr  # an untrained model, honestly reported
    lines = done.stdout.splitlines()
    assert any(line.startswith("Q: what is one plus one?") for line in lines)
    assert "tinytalks:" not in done.stderr, "no training when weights are loaded"
    result = json.loads(lines[-1])
    assert result["steps"] == 0 and result["final_loss"] is None


def test_interactive_reads_until_an_empty_line(weights):
    done = run("--load", str(weights), "--interactive", stdin="Q: say ab twice.\nQ: Hi\n\nQ: x\n")
    lines = done.stdout.splitlines()
    assert any(line.startswith("Q: say ab twice.") for line in lines)
    assert any("'H' at position 3" in line for line in lines), "reported, and it goes on"
    assert not any(line.startswith("Q: x") for line in lines), "stops at the empty line"


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "There is no weights file"), (b"not a zip", "is not TinyTalks weights")],
)
def test_bad_weights_file_is_one_sentence_and_exit_2(tmp_path, content, message):
    path = tmp_path / "weights.npz"
    if content is not None:
        path.write_bytes(content)
    done = run("--load", str(path))
    assert done.returncode == 2 and message in done.stderr
    assert "Traceback" not in done.stderr


def test_weights_of_another_model_are_refused(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, **{"extra/chars": np.array("abc"), "extra/seed": np.array(0)})
    done = run("--load", str(path))
    assert done.returncode == 2 and "is not TinyTalks weights" in done.stderr


def test_prompt_with_an_unknown_character_exits_2(weights):
    done = run("--load", str(weights), "--prompt", "Q: what is 1 plus 1?")
    assert done.returncode == 2
    assert "'1' at position 11" in done.stderr and "Traceback" not in done.stderr


def test_save_to_a_missing_folder_fails_before_training(tmp_path):
    done = run("--steps", "2000", "--save", str(tmp_path / "nowhere" / "w.npz"))
    assert done.returncode == 2 and "does not exist" in done.stderr
    assert "tinytalks:" not in done.stderr, "it stops before any training step"
