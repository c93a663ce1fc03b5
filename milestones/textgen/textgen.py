"""Milestone: textgen, your GPT on real text, scored against n-gram models on unseen text.

Trains a character-level GPT (or, with --bpe N, one over module 10's byte-pair tokens) on
English prose and code examples: by default the documentation topics that ship with every
CPython, or any UTF-8 file with --text. It is scored in bits per character on documents it
never saw, beside character n-gram models fitted on the same training text. It passes when
it beats the trigram model. Then it continues a few prompts (or yours: --prompt).
"""

import os
import sys
import time
from pathlib import Path

# One BLAS thread: at these widths a second thread busy-waits more than it helps (tinygpt.py).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np
from common import ProgressBar, finish, parse_args, sparkline
from documents import Corpus, CorpusError, python_docs, text_file
from ngram import fit_baselines

from tinytorch.core.autograd import no_grad
from tinytorch.core.losses import cross_entropy
from tinytorch.core.optimizers import Adam
from tinytorch.core.training import CosineSchedule, clip_grad_norm, load_checkpoint, save_checkpoint
from tinytorch.models.transformer import GPT
from tinytorch.text.tokenization import BPETokenizer, CharTokenizer

CONTEXT = 64
MODEL = {"embed_dim": 64, "num_layers": 2, "num_heads": 4}
BATCH = 32
LEARNING_RATE, FINAL_LEARNING_RATE = 3e-3, 2e-4
MAX_ORDER = 5  # n-gram orders 1..5 are fitted; the trigram is the criterion
SKIP = MAX_ORDER - 1  # every model is scored on held-out positions with 4 characters before them
PROMPTS = ("The for statement", "A list comprehension", "def ")
EVAL_POINTS = 10  # held-out loss measured this many times during training (for --plot)


class UsageError(Exception):
    """Bad input from the command line or a file: one sentence, exit 2."""


def options(parser) -> None:
    parser.add_argument("--text", metavar="FILE", help="train on this UTF-8 text file instead")
    parser.add_argument("--bpe", type=int, metavar="N", help="byte-pair tokens with N merges")
    parser.add_argument("--prompt", help="continue this phrase, e.g. 'The for statement'")
    parser.add_argument("--length", type=int, default=200, help="characters or tokens to add")
    parser.add_argument("--temperature", type=float, default=0.8, help="0 = greedy")
    parser.add_argument("--top-k", type=int, default=10, help="sample among the k likeliest")
    parser.add_argument("--save", metavar="FILE", help="save the trained weights (.npz)")
    parser.add_argument("--load", metavar="FILE", help="load weights saved by --save; no training")


# ── tokens ───────────────────────────────────────────────────────────────────────────────────


class Tokens:
    """One interface over two tokenizers: characters, or byte pairs learned on the training text."""

    def __init__(self, train_text: str, bpe_merges: int | None):
        self.chars = CharTokenizer.from_text(train_text)
        self.bpe = None
        if bpe_merges:
            self.bpe = BPETokenizer().train(train_text, 256 + bpe_merges)

    @property
    def vocab_size(self) -> int:
        return self.bpe.vocab_size if self.bpe else self.chars.vocab_size

    @property
    def description(self) -> str:
        if self.bpe:
            return f"{self.vocab_size} byte-pair tokens ({self.vocab_size - 256} merges)"
        return f"{self.vocab_size} characters"

    def encode(self, text: str) -> np.ndarray:
        ids = self.bpe.encode(text) if self.bpe else self.chars.encode(text)
        return np.asarray(ids, dtype=np.int64)

    def decode(self, ids) -> str:
        return self.bpe.decode(ids) if self.bpe else self.chars.decode(ids)

    def signature(self) -> str:
        """What the weights depend on: the characters, and the merges when there are some."""
        merges = "" if not self.bpe else ";".join(f"{a},{b}" for a, b in self.bpe.merges)
        return "".join(self.chars.itos[2:]) + " merges:" + merges


# ── training ─────────────────────────────────────────────────────────────────────────────────


def random_windows(stream: np.ndarray, rng: np.random.Generator, size: int):
    starts = rng.integers(0, len(stream) - CONTEXT - 1, size=size)
    batch = stream[starts[:, None] + np.arange(CONTEXT + 1)]
    return batch[:, :-1], batch[:, 1:]


def train(model, stream, held_out, steps: int, rng) -> tuple[list[float], list[tuple]]:
    """Adam with warm-up and cosine decay, gradients clipped at 1; held-out loss now and then."""
    optimizer = Adam(model.parameters(), lr=LEARNING_RATE)
    schedule = CosineSchedule(
        LEARNING_RATE,
        FINAL_LEARNING_RATE,
        total_steps=steps,
        warmup_steps=min(steps // 30, steps - 1),
    )
    probe = held_out[: 16 * CONTEXT + 1]  # a fixed slice, so the curve is comparable over time
    losses, held_out_curve = [], []
    bar = ProgressBar(steps, "textgen")
    for step in range(steps):
        inputs, targets = random_windows(stream, rng, BATCH)
        loss = cross_entropy(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        clip_grad_norm(model.parameters(), 1.0)
        schedule.apply(optimizer, step)
        optimizer.step()
        losses.append(float(loss.data))
        if (step + 1) % max(1, steps // EVAL_POINTS) == 0 or step + 1 == steps:
            held_out_curve.append((step + 1, float(np.mean(token_nats(model, probe)))))
        bar.update(loss=float(np.mean(losses[-20:])))
    bar.close()
    return losses, held_out_curve


# ── scoring ──────────────────────────────────────────────────────────────────────────────────


def token_nats(model, ids: np.ndarray, batch: int = 64) -> np.ndarray:
    """-ln P(ids[i] | up to CONTEXT ids before it), for i = 1 .. len(ids) - 1.

    Windows of CONTEXT ids advance by half a window; each window scores only its second half
    (the first window scores everything), so every prediction but the first few sees at least
    CONTEXT / 2 earlier ids, and each is scored exactly once.
    """
    stride = CONTEXT // 2
    count = len(ids) - 1
    starts = list(range(0, max(count - stride, 1), stride))
    padded = np.concatenate([ids, np.zeros(CONTEXT + 1, dtype=ids.dtype)])
    nats = np.empty(count)
    was_training = model.training
    model.eval()
    with no_grad():
        for first in range(0, len(starts), batch):
            chunk = starts[first : first + batch]
            windows = np.stack([padded[s : s + CONTEXT + 1] for s in chunk])
            logits = model(windows[:, :-1]).data.astype(np.float64)
            shifted = logits - logits.max(axis=-1, keepdims=True)
            log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
            picked = np.take_along_axis(log_probs, windows[:, 1:, None], axis=-1)[..., 0]
            for row, start in enumerate(chunk):
                begin = 0 if start == 0 else CONTEXT - stride
                end = min(CONTEXT, count - start)
                nats[start + begin : start + end] = -picked[row, begin:end]
    model.train(was_training)
    return nats


def gpt_bits_per_char(model, tokens: Tokens, held_out: str) -> tuple[float, float]:
    """(bits per character, next-token accuracy) of the GPT on the held-out text."""
    skipped = tokens.encode(held_out[:SKIP])
    ids = tokens.encode(held_out)
    nats = token_nats(model, ids)
    first = max(len(skipped) - 1, 0) if tokens.bpe else SKIP - 1
    bits = nats[first:].sum() / np.log(2)
    scored_chars = len(held_out) - SKIP
    accuracy = gpt_accuracy(model, ids[first:])
    return float(bits / scored_chars), accuracy


def gpt_accuracy(model, ids: np.ndarray) -> float:
    """How often the likeliest next token is the right one, over whole windows of held-out ids."""
    usable = (len(ids) - 1) // CONTEXT * CONTEXT
    if usable == 0:
        return 0.0
    inputs = ids[:usable].reshape(-1, CONTEXT)
    targets = ids[1 : usable + 1].reshape(-1, CONTEXT)
    model.eval()
    with no_grad():
        guesses = np.concatenate(
            [model(inputs[i : i + 64]).data.argmax(-1) for i in range(0, len(inputs), 64)]
        )
    model.train()
    return float((guesses == targets).mean())


def baselines(corpus: Corpus, tokens: Tokens) -> dict:
    """Character n-grams of order 1..MAX_ORDER on the same training text and held-out positions."""
    chars = tokens.chars
    train_ids = np.asarray(chars.encode(corpus.train), dtype=np.int64)
    held_ids = np.asarray(chars.encode(corpus.held_out), dtype=np.int64)
    return fit_baselines(train_ids, held_ids, chars.vocab_size, MAX_ORDER)


# ── generating ───────────────────────────────────────────────────────────────────────────────


def continue_text(model, tokens: Tokens, prompt: str, args, rng) -> str:
    ids = tokens.encode(prompt)
    if tokens.bpe is None and (ids == tokens.chars.unk_id).any():
        position = int(np.flatnonzero(ids == tokens.chars.unk_id)[0])
        raise UsageError(
            f"The prompt's character {prompt[position]!r} at position {position} never occurs "
            "in the training text, so the model cannot read it."
        )
    out = model.generate(
        ids[-CONTEXT:],
        max_new_tokens=args.length,
        temperature=args.temperature,
        top_k=args.top_k,
        rng=rng,
    )
    generated = np.asarray(getattr(out, "data", out)).reshape(-1)
    return tokens.decode(generated[len(ids[-CONTEXT:]) :])


def sample_prompts(corpus: Corpus, args) -> list[str]:
    """The default prompts for Python's documentation; held-out openings for a file of yours."""
    if not args.text:
        return list(PROMPTS)
    openings = [p.strip()[:24].rsplit(" ", 1)[0] for p in corpus.held_out.split("\n\n")]
    return [o + " " for o in openings if len(o) > 3][:3]


# ── weights on disk ──────────────────────────────────────────────────────────────────────────


def build_model(vocab_size: int) -> GPT:
    return GPT(vocab_size=vocab_size, max_seq_len=CONTEXT, **MODEL)


def check_writable(path: str) -> None:
    folder = Path(path).resolve().parent
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise UsageError(f"Cannot save weights to {path}: {folder} is not a writable folder.")


def load(path: str, tokens: Tokens) -> GPT:
    """Weights saved by --save, refused when they were trained with another vocabulary."""
    try:
        with np.load(path) as stored:
            signature = str(stored["extra/signature"])
            vocab_size = int(stored["extra/vocab_size"])
    except FileNotFoundError:
        raise UsageError(f"There is no weights file {path}.") from None
    except (OSError, ValueError, KeyError) as error:
        raise UsageError(f"{path} is not textgen weights saved by --save: {error}") from None
    if signature != tokens.signature() or vocab_size != tokens.vocab_size:
        raise UsageError(
            f"{path} was trained with a vocabulary of {vocab_size} tokens that differs from "
            f"this text's ({tokens.description}): load it with the --text and --bpe it was "
            "trained with, or train again."
        )
    model = build_model(vocab_size)
    load_checkpoint(path, model)
    return model


def plot_curves(path: str, losses: list[float], held_out_curve: list[tuple]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed, so no plot was written.")
        return
    figure, axes = plt.subplots(figsize=(6, 3.5))
    axes.plot(range(1, len(losses) + 1), np.array(losses) / np.log(2), label="training batch")
    steps, values = zip(*held_out_curve, strict=True) if held_out_curve else ((), ())
    axes.plot(steps, np.array(values) / np.log(2), "o-", label="held-out slice")
    axes.set(title="textgen: loss in bits per token", xlabel="step", ylabel="bits")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    print(f"Loss curves written to {path}")


# ── main ─────────────────────────────────────────────────────────────────────────────────────


def load_corpus(args) -> Corpus:
    try:
        return text_file(args.text) if args.text else python_docs()
    except CorpusError as error:
        raise UsageError(str(error)) from None


def run(args) -> dict:
    started = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    np.random.seed(args.seed)
    if args.load and args.save:
        raise UsageError("--save keeps weights after training; with --load there is none.")
    if args.bpe is not None and args.bpe < 1:
        raise UsageError("--bpe takes a number of merges of at least 1.")
    corpus = load_corpus(args)
    tokens = Tokens(corpus.train, args.bpe)
    losses, held_out_curve = [], []
    if args.load:
        model = load(args.load, tokens)
        print(f"textgen: loaded {model.num_parameters():,} parameters from {args.load}")
    else:
        if args.save:
            check_writable(args.save)
        stream = tokens.encode(corpus.train)
        model = build_model(tokens.vocab_size)
        print(
            f"textgen: {corpus.name}, {len(corpus.train):,} training and "
            f"{len(corpus.held_out):,} held-out characters ({corpus.documents} documents); "
            f"{tokens.description}; GPT of {model.num_parameters():,} parameters, "
            f"{args.steps} steps of {BATCH} x {CONTEXT} tokens"
        )
        losses, held_out_curve = train(
            model, stream, tokens.encode(corpus.held_out), args.steps, rng
        )
        print(f"loss  {sparkline(losses)}  {losses[0]:.3f} -> {np.mean(losses[-20:]):.3f} nats")
        if args.save:
            save_checkpoint(
                args.save, model, signature=tokens.signature(), vocab_size=tokens.vocab_size
            )
            print(f"weights saved to {args.save}")
    if args.prompt is not None:
        print(f"{args.prompt}{continue_text(model, tokens, args.prompt, args, rng)}")
    bpc, accuracy = gpt_bits_per_char(model, tokens, corpus.held_out)
    grams = baselines(corpus, tokens)
    best = min(grams.values(), key=lambda b: b.bpc)
    print("held-out bits per character (lower is better):")
    for order, baseline in grams.items():
        print(f"  {order}-gram  {baseline.bpc:.3f}  (discount {baseline.discount})")
    print(f"  GPT     {bpc:.3f}   criterion: below the 3-gram's {grams[3].bpc:.3f}")
    if args.prompt is None:
        print("samples:")
        for prompt in sample_prompts(corpus, args):
            text = continue_text(model, tokens, prompt, args, rng)
            print("  " + f"{prompt}{text}".replace("\n", "\n  ") + "\n")
    if args.plot and losses:
        plot_curves(args.plot, losses, held_out_curve)
    return {
        "passed": bpc < grams[3].bpc,
        "final_loss": float(np.mean(losses[-20:])) if losses else None,
        "accuracy": accuracy,
        "bpc": bpc,
        "baseline_bpc": grams[3].bpc,
        "best_ngram_bpc": best.bpc,
        "best_ngram_order": best.order,
        "tokens": int(len(losses) * BATCH * CONTEXT),
        "steps": len(losses),
        "seconds": round(time.perf_counter() - started, 3),
    }


def main() -> None:
    args = parse_args(__doc__, default_steps=2000, quick_steps=800, extra=options)
    try:
        result = run(args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(2)
    finish(result)


if __name__ == "__main__":
    main()
