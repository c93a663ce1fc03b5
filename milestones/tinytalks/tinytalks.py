"""Milestone: TinyTalks, a character-level GPT that completes questions you can read and type.

Trains your GPT on lines such as "Q: spell cat backwards. A: tac", then checks it on words it
has never seen. Afterwards, --prompt completes a phrase of yours and --interactive reads
phrases until an empty line; --save/--load keep the trained weights, so you train once.
"""

import os
import sys
import time
from pathlib import Path

# One BLAS thread: at these sizes a second thread costs more than it gives (see tinygpt.py).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np
from common import ProgressBar, finish, parse_args, plot_losses, sparkline
from corpus import FACT_KINDS, LONGEST, QA, SHORTEST, WORD_GAMES, build_corpus

from tinytorch.core.autograd import no_grad
from tinytorch.core.losses import cross_entropy
from tinytorch.core.optimizers import Adam
from tinytorch.core.training import (
    CosineSchedule,
    clip_grad_norm,
    load_checkpoint,
    save_checkpoint,
)
from tinytorch.models.transformer import GPT
from tinytorch.text.tokenization import CharTokenizer

CRITERION = 0.90
CONTEXT = 64
MODEL = {"embed_dim": 64, "num_layers": 2, "num_heads": 4}
BATCH = 32
MAX_NEW = CONTEXT  # a completion ends at its newline; this only stops a runaway


class UsageError(Exception):
    """Bad input from the command line or a file: one sentence, exit 2."""


def options(parser) -> None:
    parser.add_argument("--prompt", help="complete this phrase, e.g. 'Q: what is two plus two?'")
    parser.add_argument(
        "--interactive", action="store_true", help="complete phrases typed on the terminal"
    )
    parser.add_argument("--save", metavar="FILE", help="save the trained weights (.npz)")
    parser.add_argument("--load", metavar="FILE", help="load weights saved by --save; no training")
    parser.add_argument(
        "--temperature", type=float, default=0.0, help="0 = greedy (default); higher = bolder"
    )
    parser.add_argument("--top-k", type=int, default=None, help="sample among the k likeliest")


# ── training ─────────────────────────────────────────────────────────────────────────────────


def windows(stream: np.ndarray, starts: np.ndarray, rng: np.random.Generator, size: int):
    """`size` windows of CONTEXT + 1 ids, each from a line start: inputs and targets.

    Every window begins with the newline before a line, as every prompt does, so a line's
    characters sit at the same positions in training and when answering. With windows at
    random offsets the model must learn "copy the letter 3 places back" separately at every
    position (its position embeddings are learned), and that takes several times longer.
    """
    chosen = rng.choice(starts, size=size)
    batch = stream[chosen[:, None] + np.arange(CONTEXT + 1)]
    return batch[:, :-1], batch[:, 1:]


def train(model, stream: np.ndarray, steps: int, rng: np.random.Generator) -> list[float]:
    newline = stream[0]  # the text is built to start with a newline
    starts = np.flatnonzero(stream[: len(stream) - CONTEXT - 1] == newline)
    optimizer = Adam(model.parameters(), lr=3e-3)
    schedule = CosineSchedule(3e-3, 2e-4, total_steps=steps, warmup_steps=max(1, steps // 30))
    losses = []
    bar = ProgressBar(steps, "tinytalks")
    for step in range(steps):
        inputs, targets = windows(stream, starts, rng, BATCH)
        loss = cross_entropy(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        clip_grad_norm(model.parameters(), 1.0)
        schedule.apply(optimizer, step)
        optimizer.step()
        losses.append(float(loss.data))
        bar.update(loss=float(np.mean(losses[-20:])))
    bar.close()
    return losses


# ── checking answers ─────────────────────────────────────────────────────────────────────────


def greedy_agrees(model, tokenizer: CharTokenizer, pairs: list[tuple[str, str]]) -> np.ndarray:
    """For each (prefix, continuation): would greedy decoding after prefix write continuation?

    Greedy decoding picks the most likely next character. If it has written the first k
    characters of the continuation, its next pick is the argmax after the true prefix. So it
    writes the whole continuation exactly when, fed prefix + continuation, the model's argmax
    is the true next character at every continuation position: one batched forward pass
    instead of one pass per generated character.
    """
    lines = [tokenizer.encode(prefix + rest, strict=True) for prefix, rest in pairs]
    starts = [len(tokenizer.encode(prefix, strict=True)) for prefix, _ in pairs]
    ids = np.zeros((len(pairs), max(map(len, lines))), dtype=np.int64)
    for row, line in enumerate(lines):  # right-padded: attention is causal, so harmless
        ids[row, : len(line)] = line
    agrees = np.zeros(len(pairs), dtype=bool)
    was_training = model.training
    model.eval()
    with no_grad():
        for first in range(0, len(pairs), 128):
            predicted = model(ids[first : first + 128]).data.argmax(axis=-1)
            for row in range(first, min(first + 128, len(pairs))):
                start, end = starts[row], len(lines[row])
                guesses = predicted[row - first, start - 1 : end - 1]
                agrees[row] = np.array_equal(guesses, ids[row, start:end])
    model.train(was_training)
    return agrees


def exact_matches(model, tokenizer: CharTokenizer, items: list[QA]) -> np.ndarray:
    """Does the greedy completion of each prompt give exactly its answer, then a newline?"""
    pairs = [("\n" + qa.prompt, " " + qa.answer + "\n") for qa in items]
    return greedy_agrees(model, tokenizer, pairs)


def accuracy_by_kind(items: list[QA], correct: np.ndarray) -> dict[str, float]:
    kinds = sorted({qa.kind for qa in items}, key=[*WORD_GAMES, *FACT_KINDS].index)
    return {k: float(np.mean([c for qa, c in zip(items, correct) if qa.kind == k])) for k in kinds}


# ── completing phrases ───────────────────────────────────────────────────────────────────────


def complete(model, tokenizer: CharTokenizer, phrase: str, args, rng) -> str:
    """The model's continuation of `phrase`, up to the end of its line."""
    try:
        ids = tokenizer.encode("\n") + tokenizer.encode(phrase, strict=True)
    except ValueError as error:
        known = "".join(c for c in tokenizer.itos[2:] if c != "\n")
        raise UsageError(f"{error} TinyTalks knows only these characters: {known!r}") from None
    newline = tokenizer.stoi["\n"]
    tokens = model.generate(
        ids,
        max_new_tokens=MAX_NEW,
        temperature=args.temperature,
        top_k=args.top_k,
        stop_token=newline,
        rng=rng,
    )
    return tokenizer.decode(tokens.data[0, len(ids) :]).rstrip("\n")  # ids (1, T + new)


def show_samples(model, tokenizer, held_out: list[QA], facts: list[QA], args, rng) -> None:
    """A few completions of each family, generated character by character."""
    print("completions (held-out words, then facts from the training text):")
    picks = [held_out[int(i)] for i in rng.choice(len(held_out), size=6, replace=False)]
    picks += [facts[int(i)] for i in rng.choice(len(facts), size=4, replace=False)]
    for qa in picks:
        said = complete(model, tokenizer, qa.prompt, args, rng)
        mark = "✓" if said.strip() == qa.answer else f"✗ (expected {qa.answer})"
        print(f"  {qa.prompt}{said}  {mark}")


def interact(model, tokenizer, args, rng) -> None:
    print(
        "Type the start of a phrase, e.g. 'Q: say moon twice.' (the word games were trained on "
        f"words of {SHORTEST} to {LONGEST} letters); an empty line stops.",
        flush=True,
    )
    for line in sys.stdin:
        phrase = line.rstrip("\n")
        if not phrase:
            break
        try:
            print(f"{phrase}{complete(model, tokenizer, phrase, args, rng)}", flush=True)
        except UsageError as error:
            print(error, flush=True)


# ── weights on disk ──────────────────────────────────────────────────────────────────────────


def build_model(vocab_size: int) -> GPT:
    return GPT(vocab_size=vocab_size, max_seq_len=CONTEXT, **MODEL)


def check_writable(path: str) -> None:
    """Fail before training, not after it, when --save could not write its file."""
    folder = Path(path).resolve().parent
    if not folder.is_dir():
        raise UsageError(f"Cannot save weights to {path}: the folder {folder} does not exist.")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"Cannot save weights to {path}: the folder {folder} is not writable.")


def save(path: str, model, tokenizer: CharTokenizer, seed: int) -> None:
    chars = "".join(tokenizer.itos[2:])
    save_checkpoint(path, model, chars=chars, seed=seed)
    print(f"weights saved to {path}")


def load(path: str):
    """The model, tokenizer and corpus seed stored in a file written by --save."""
    try:
        with np.load(path) as stored:
            chars, seed = str(stored["extra/chars"]), int(stored["extra/seed"])
        tokenizer = CharTokenizer(chars)
        model = build_model(tokenizer.vocab_size)
        load_checkpoint(path, model)
    except FileNotFoundError:
        raise UsageError(f"There is no weights file {path}.") from None
    except (OSError, ValueError, KeyError) as error:
        raise UsageError(f"{path} is not TinyTalks weights saved by --save: {error}") from None
    return model, tokenizer, seed


# ── main ─────────────────────────────────────────────────────────────────────────────────────


def run(args) -> dict:
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    np.random.seed(args.seed)
    losses: list[float] = []
    if args.load and args.save:
        raise UsageError("--save keeps weights after training; with --load there is none.")
    if args.load:
        model, tokenizer, corpus_seed = load(args.load)
        corpus = build_corpus(corpus_seed)
        print(f"TinyTalks: loaded {model.num_parameters():,} parameters from {args.load}")
    else:
        if args.save:
            check_writable(args.save)
        corpus = build_corpus(args.seed)
        tokenizer = CharTokenizer(corpus.alphabet())
        stream = np.array(tokenizer.encode("\n" + corpus.text(rng, 40_000), strict=True))
        model = build_model(tokenizer.vocab_size)
        print(
            f"TinyTalks: {model.num_parameters():,} parameters, vocabulary of "
            f"{tokenizer.vocab_size} characters, {len(corpus.train_words)} training words, "
            f"{args.steps} steps"
        )
        losses = train(model, stream, args.steps, rng)
        print(f"loss  {sparkline(losses)}  {losses[0]:.3f} -> {np.mean(losses[-20:]):.3f}")
        if args.save:
            save(args.save, model, tokenizer, args.seed)
    if args.prompt is not None:
        print(f"{args.prompt}{complete(model, tokenizer, args.prompt, args, rng)}", flush=True)
    held_out = corpus.held_out()
    correct = exact_matches(model, tokenizer, held_out)
    accuracy = float(correct.mean())
    per_kind = accuracy_by_kind(held_out, correct)
    shown = ", ".join(f"{k} {v:.2f}" for k, v in per_kind.items())
    print(f"held-out exact match: {accuracy:.3f} ({shown}); criterion >= {CRITERION}")
    facts = {}
    if args.prompt is None and not args.interactive:  # playing: skip the long report
        facts = accuracy_by_kind(corpus.facts, exact_matches(model, tokenizer, corpus.facts))
        print("recall of facts: " + ", ".join(f"{k} {v:.2f}" for k, v in facts.items()))
        show_samples(model, tokenizer, held_out, corpus.facts, args, rng)
    if args.interactive:
        interact(model, tokenizer, args, rng)
    if args.plot and losses:
        plot_losses(args.plot, losses, "TinyTalks: training loss")
    return {
        "passed": accuracy >= CRITERION,
        "final_loss": float(np.mean(losses[-20:])) if losses else None,
        "accuracy": accuracy,
        "per_kind": per_kind,
        "recall": facts,
        "seconds": round(time.perf_counter() - started, 3),
        "steps": len(losses),
    }


def main() -> None:
    args = parse_args(__doc__, default_steps=1400, quick_steps=1000, extra=options)
    try:
        result = run(args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    finish(result)


if __name__ == "__main__":
    main()
