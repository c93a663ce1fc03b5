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
# # Module 04: Losses
#
# Training needs one number that says how wrong the model is: the **loss**. Gradient descent
# then changes every parameter a little in the direction that lowers it. In this module you
# build `tinytorch.core.losses`:
#
# | loss | predictions | targets | formula (mean over all positions) |
# |---|---|---|---|
# | `MSELoss` | any shape | same shape, real numbers | (pred - target)² |
# | `CrossEntropyLoss` | logits `(..., C)` | integer classes `(...)` in [0, C) | -log softmax(logits)[target] |
# | `BinaryCrossEntropyLoss` | probabilities in [0, 1] | same shape, 0/1 (or soft) | -(y ln p + (1-y) ln(1-p)) |
#
# **You will learn**
# - why a classifier's loss takes *logits* rather than probabilities, and how the
#   log-sum-exp trick keeps it finite for logits of any size;
# - how a language model's loss works on `(B, T, V)` logits and `(B, T)` token targets;
# - why BCE clips probabilities, and why the clip depends on float32 versus float64;
# - what a loss over a large vocabulary costs in memory.
#
# MSE is composed from Tensor operations, so autograd differentiates it for free. The two
# cross-entropies are recorded as single ops (`"cross_entropy"`, `"binary_cross_entropy"`)
# that save what their gradient rules in module 05 need.

# %%
#| default_exp core.losses
#| export
import numpy as np

from tinytorch.core.tensor import Tensor, as_tensor

# %% [markdown]
# ## Mean squared error
#
# `mse(pred, target) = mean((pred - target)²)`, the average over every element. It is
# built from `-`, `**` and `mean`, so it needs no gradient rule of its own.
#
# The shapes must match exactly. With `pred` of shape `(N, 1)` and `target` of shape `(N,)`,
# broadcasting would silently compare every prediction with every target, `(N, N)`, and
# training would "work" towards the wrong answer. We refuse that with a clear error.
# Targets that are not a float Tensor (a list, integer labels) are converted to the
# predictions' dtype, so float32 stays float32.


# %% nbgrader={"grade": false, "grade_id": "mse", "locked": false, "schema_version": 3, "solution": true}
#| export
def _float_tensor(x) -> Tensor:
    """x as a Tensor of floats (float32 if x holds integers)."""
    x = as_tensor(x)
    return x if x.dtype.kind == "f" else Tensor(x.data, dtype=np.float32)


def mse_loss(predictions, targets) -> Tensor:
    """mean((predictions - targets)²) over every element; shapes must match."""
    pred = _float_tensor(predictions)
    if isinstance(targets, Tensor) and targets.dtype.kind == "f":
        target = targets  # keep it: a target that requires grad gets its gradient too
    else:
        target = Tensor(np.asarray(getattr(targets, "data", targets)), dtype=pred.dtype)
    if target.shape != pred.shape:
        raise ValueError(
            f"mse_loss: predictions {pred.shape} and targets {target.shape} must have the "
            "same shape (reshape one of them; broadcasting here would compare every pair)."
        )
    ### BEGIN SOLUTION
    return ((pred - target) ** 2).mean()
    ### END SOLUTION


# %% [markdown]
# ## Cross-entropy from logits
#
# A classifier outputs one score per class, the **logits** z of shape `(..., C)`. Softmax
# turns them into probabilities, and the loss is the negative log-probability of the
# correct class y, averaged over all N positions (N = the product of the leading
# dimensions: N rows for `(N, C)`, B·T tokens for a language model's `(B, T, V)`):
#
# ```
# loss = mean over rows of  -log softmax(z)[y] = log Σⱼ exp(zⱼ) - z_y
# ```
#
# Computing `softmax` first and then `log` fails for confident models: with logits of 1e4
# the probability of a wrong class underflows to 0 and `log 0 = -inf`. Working with logits
# directly avoids that. With `m = max(z)` per row (the **log-sum-exp trick**):
#
# ```
# log Σⱼ exp(zⱼ) = m + log Σⱼ exp(zⱼ - m)        every exp(zⱼ - m) is in (0, 1]
# ```
#
# so `log_probs = (z - m) - log Σⱼ exp(zⱼ - m)` is finite for any finite logits, and
# `loss = -mean(log_probs[row, y_row])`.
#
# **Implementation.** Flatten the logits to `(N, C)` and the targets to `(N,)`, compute as
# above, and record op `"cross_entropy"` with inputs `(logits,)` and
# `saved = (probs, targets)`: `probs = exp(log_probs)`, the `(N, C)` softmax in the logits'
# dtype, and the flat `(N,)` integer targets. Module 05's rule turns them into the gradient
# `(probs - onehot(y)) / N`, without ever forming a one-hot matrix here.
#
# **Checking the targets.** Wrong targets are a common bug, and NumPy indexing would either
# crash with an unhelpful message or (for negative ids) silently pick the wrong class. So:
# integer dtype, shape equal to `logits.shape[:-1]`, every value in `[0, C)`, or an error
# that says which.


# %% nbgrader={"grade": false, "grade_id": "cross-entropy", "locked": false, "schema_version": 3, "solution": true}
#| export
def _class_targets(targets, logits_shape: tuple) -> np.ndarray:
    """Integer targets checked against logits (..., C): shape (...), values in [0, C)."""
    t = np.asarray(targets.data if isinstance(targets, Tensor) else targets)
    if len(logits_shape) == 0:
        raise ValueError("cross_entropy: logits need a class axis, shape (..., C), not ().")
    if t.dtype.kind not in "iu":
        raise TypeError(
            f"cross_entropy: targets must be integer class ids, not {t.dtype} "
            "(one-hot or probability targets are not supported)."
        )
    if t.shape != logits_shape[:-1]:
        raise ValueError(
            f"cross_entropy: logits {logits_shape} need targets of shape {logits_shape[:-1]}, "
            f"got {t.shape}."
        )
    classes = logits_shape[-1]
    bad = (t < 0) | (t >= classes)
    if np.any(bad):
        raise ValueError(
            f"cross_entropy: target {t[bad].flat[0]} is out of range: "
            f"class ids must be in [0, {classes})."
        )
    return t.reshape(-1)


def cross_entropy(logits, targets) -> Tensor:
    """Mean of -log softmax(logits)[target] over all positions; logits (..., C), targets (...)."""
    logits = _float_tensor(logits)
    t = _class_targets(targets, logits.shape)
    if t.size == 0:
        raise ValueError("cross_entropy: there are no targets (the batch is empty).")
    ### BEGIN SOLUTION
    rows = logits.data.reshape(t.size, logits.shape[-1])  # (N, C)
    shifted = rows - rows.max(axis=1, keepdims=True)  # every entry <= 0
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -log_probs[np.arange(t.size), t].mean()
    probs = np.exp(log_probs)  # (N, C), kept for the gradient
    return Tensor.from_op(
        np.asarray(loss, dtype=rows.dtype), "cross_entropy", (logits,), (probs, t)
    )
    ### END SOLUTION


# %% [markdown]
# ## Binary cross-entropy
#
# For a yes/no label y ∈ {0, 1} and a predicted probability p (usually `sigmoid(logit)`):
#
# ```
# bce(p, y) = mean of -(y·ln p + (1 - y)·ln(1 - p))
# ```
#
# At p = 0 or p = 1 a logarithm is `-inf`, and the gradient `(p - y) / (p(1 - p))` divides by
# zero. We therefore **clip** p to `[eps, 1 - eps]` before taking logs. The right eps depends
# on the precision:
#
# - **float32**: eps = 1e-7. The clip bound `1 - eps` must differ from 1 in float32; the
#   float32 numbers just below 1 are spaced 6e-8 apart, so `1 - 1e-7` is stored as
#   0.99999988 and works, while `1 - 1e-12` would round to exactly 1.0 and `ln(1 - p)` would
#   be `-inf` again. The largest loss per element is then `-ln(1e-7) ≈ 16.1`.
# - **float64**: eps = 1e-12. Float64 resolves it easily, and a tiny eps changes the loss
#   only for predictions within 1e-12 of 0 or 1, so gradient checks against PyTorch stay
#   exact everywhere else. (PyTorch clamps each log at -100 instead; at exactly 0 or 1 our
#   values therefore differ from PyTorch's, by design.)
#
# Record op `"binary_cross_entropy"` with inputs `(p,)` and `saved = (p_clipped, y)`, both
# shaped like p, y as floats of p's dtype. Shapes must match, p must be a probability (apply
# `sigmoid` first if you have logits), and y must lie in [0, 1].


# %% nbgrader={"grade": false, "grade_id": "binary-cross-entropy", "locked": false, "schema_version": 3, "solution": true}
#| export
def _bce_eps(dtype: np.dtype) -> float:
    """Clip bound: 1e-7 keeps 1 - eps < 1 in float32; float64 can afford 1e-12."""
    return 1e-12 if dtype == np.float64 else 1e-7


def binary_cross_entropy(predictions, targets) -> Tensor:
    """Mean of -(y ln p + (1-y) ln(1-p)) with p clipped to [eps, 1-eps]."""
    p = _float_tensor(predictions)
    y = np.asarray(targets.data if isinstance(targets, Tensor) else targets).astype(p.dtype)
    if y.shape != p.shape:
        raise ValueError(
            f"binary_cross_entropy: predictions {p.shape} and targets {y.shape} must have the "
            "same shape."
        )
    if p.size == 0:
        raise ValueError("binary_cross_entropy: there are no predictions (the batch is empty).")
    if np.any((p.data < 0) | (p.data > 1)):
        raise ValueError(
            "binary_cross_entropy: predictions must be probabilities in [0, 1] "
            "(apply sigmoid to logits first)."
        )
    if np.any((y < 0) | (y > 1)):
        raise ValueError("binary_cross_entropy: targets must be in [0, 1].")
    ### BEGIN SOLUTION
    eps = _bce_eps(p.dtype)
    clipped = np.clip(p.data, eps, 1 - eps)
    # log1p(-p) = ln(1 - p), accurate also when p is tiny
    loss = -np.mean(y * np.log(clipped) + (1 - y) * np.log1p(-clipped))
    return Tensor.from_op(
        np.asarray(loss, dtype=p.dtype), "binary_cross_entropy", (p,), (clipped, y)
    )
    ### END SOLUTION


# %% [markdown]
# ## Loss classes
#
# The classes wrap the functions, PyTorch style: `criterion = CrossEntropyLoss()` once, then
# `loss = criterion(logits, targets)` in the training loop. A loss has no parameters, so
# `parameters()` is empty.


# %% nbgrader={"grade": false, "grade_id": "loss-classes", "locked": false, "schema_version": 3, "solution": true}
#| export
class _Loss:
    """Base of the loss classes: loss(predictions, targets) calls forward."""

    def forward(self, predictions, targets) -> Tensor:
        raise NotImplementedError

    def __call__(self, predictions, targets) -> Tensor:
        return self.forward(predictions, targets)

    def parameters(self) -> list:
        return []

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MSELoss(_Loss):
    """Mean squared error; predictions and targets of the same shape."""

    def forward(self, predictions, targets) -> Tensor:
        return mse_loss(predictions, targets)


class CrossEntropyLoss(_Loss):
    """Cross-entropy of logits (..., C) against integer targets (...)."""

    def forward(self, logits, targets) -> Tensor:
        return cross_entropy(logits, targets)


class BinaryCrossEntropyLoss(_Loss):
    """Binary cross-entropy of probabilities against 0/1 targets of the same shape."""

    def forward(self, predictions, targets) -> Tensor:
        return binary_cross_entropy(predictions, targets)


# %% [markdown]
# ## Unit tests
#
# Values against the formulas, stability for logits of ±1e4 and probabilities of exactly 0
# and 1, shapes, target checks, and the recorded ops. Module 05 checks the gradients.


# %% nbgrader={"grade": true, "grade_id": "test-mse", "locked": true, "points": 15, "schema_version": 3}
def test_mse():
    pred = Tensor([[1.0, 2.0], [3.0, 4.0]])
    target = np.array([[1.0, 0.0], [3.0, 8.0]])
    loss = MSELoss()(pred, target)
    assert loss.shape == () and np.isclose(loss.item(), (4 + 16) / 4)
    assert loss.dtype == np.float32, "float32 predictions give a float32 loss"
    assert mse_loss(pred, [[1, 2], [3, 4]]).item() == 0.0, "integer targets are converted"
    w = Tensor([1.0, 2.0], requires_grad=True)
    assert mse_loss(w, [0.0, 0.0])._op == "mean", "composed from Tensor ops"
    try:
        mse_loss(Tensor(np.ones((3, 1))), np.ones(3))
    except ValueError as error:
        assert "(3, 1)" in str(error) and "(3,)" in str(error)
    else:
        raise AssertionError("(3, 1) against (3,) must raise ValueError")


# %% nbgrader={"grade": true, "grade_id": "test-cross-entropy", "locked": true, "points": 35, "schema_version": 3}
def test_cross_entropy():
    logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    targets = np.array([0, 2])
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = -np.mean(log_probs[[0, 1], targets])
    loss = CrossEntropyLoss()(logits, targets)
    assert np.isclose(loss.item(), expected, atol=1e-6) and loss.shape == ()
    assert np.isclose(cross_entropy(np.zeros((4, 10)), [1, 2, 3, 4]).item(), np.log(10))

    rng = np.random.default_rng(0)
    seq_logits, seq_targets = rng.normal(size=(2, 3, 5)), rng.integers(0, 5, (2, 3))
    flat = cross_entropy(seq_logits.reshape(6, 5), seq_targets.reshape(6))
    assert np.isclose(cross_entropy(seq_logits, seq_targets).item(), flat.item()), "(B,T,C)"

    huge = Tensor([[1e4, 0.0, -1e4], [1e4, 0.0, -1e4]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        stable = cross_entropy(huge, [0, 2])
    assert np.isfinite(stable.item()) and np.isclose(stable.item(), 2e4 / 2), "log-sum-exp"

    z = Tensor(rng.normal(size=(2, 3, 4)), requires_grad=True)
    out = cross_entropy(z, rng.integers(0, 4, (2, 3)))
    probs, flat_targets = out._saved
    assert out._op == "cross_entropy" and out._inputs == (z,)
    assert probs.shape == (6, 4) and probs.dtype == np.float32 and flat_targets.shape == (6,)
    assert np.allclose(probs.sum(axis=1), 1, atol=1e-6)

    for bad_targets, error_type in [
        ([0, 3], ValueError),  # 3 is not a class of 3
        ([0, -1], ValueError),  # negative ids would silently wrap around
        ([0, 1, 2], ValueError),  # one target per row
        ([0.0, 1.0], TypeError),  # class ids, not floats
    ]:
        try:
            cross_entropy(logits, bad_targets)
        except error_type:
            pass
        else:
            raise AssertionError(f"targets {bad_targets} must raise {error_type.__name__}")


# %% nbgrader={"grade": true, "grade_id": "test-bce", "locked": true, "points": 35, "schema_version": 3}
def test_binary_cross_entropy():
    p = np.array([0.9, 0.2, 0.6])
    y = np.array([1.0, 0.0, 1.0])
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    loss = BinaryCrossEntropyLoss()(p, y)
    assert np.isclose(loss.item(), expected, atol=1e-6) and loss.dtype == np.float32
    assert np.isclose(binary_cross_entropy(p, [1, 0, 1]).item(), expected, atol=1e-6)

    with np.errstate(divide="raise", invalid="raise"):
        certain = binary_cross_entropy(Tensor([0.0, 1.0]), [1.0, 0.0])
    # 1 - 1e-7 is stored as 1 - 1.19e-7 in float32, hence rtol=0.02 for the second element
    assert np.isclose(certain.item(), -np.log(1e-7), rtol=0.02), "clipped, finite"
    certain64 = binary_cross_entropy(Tensor([0.0, 1.0], dtype=np.float64), [1.0, 0.0])
    assert np.isclose(certain64.item(), -np.log(1e-12)), "float64 uses eps = 1e-12"
    assert np.float32(1) - np.float32(1e-7) < 1, "the float32 clip bound is below 1"

    w = Tensor([0.0, 0.5, 1.0], requires_grad=True)
    out = binary_cross_entropy(w, [0, 1, 1])
    clipped, targets = out._saved
    assert out._op == "binary_cross_entropy" and out._inputs == (w,)
    assert clipped.shape == targets.shape == (3,) and targets.dtype == np.float32
    assert 0 < clipped[0] and clipped[2] < 1, "saved probabilities are clipped"

    for bad_p, bad_y in [([0.5, 0.5], [1.0]), ([1.5, 0.5], [1.0, 0.0]), ([0.5], [2.0])]:
        try:
            binary_cross_entropy(bad_p, bad_y)
        except ValueError:
            pass
        else:
            raise AssertionError(f"p={bad_p}, y={bad_y} must raise ValueError")


# %% nbgrader={"grade": true, "grade_id": "test-loss-classes", "locked": true, "points": 15, "schema_version": 3}
def test_loss_classes():
    pred, target = np.array([[0.2, 0.8]]), np.array([[0.0, 1.0]])
    for loss, function in [
        (MSELoss(), mse_loss),
        (BinaryCrossEntropyLoss(), binary_cross_entropy),
    ]:
        value = function(pred, target).item()
        assert loss(pred, target).item() == loss.forward(pred, target).item() == value
        assert loss.parameters() == []
    ce = CrossEntropyLoss()
    assert ce(pred, [1]).item() == cross_entropy(pred, [1]).item()
    assert repr(ce) == "CrossEntropyLoss()"


# %% [markdown]
# ## Systems analysis: the memory of a language model's loss
#
# Cross-entropy keeps the `(N, C)` probabilities for the backward pass, as large as the
# logits themselves. For a language model N = batch × sequence length tokens and C is the
# vocabulary: GPT-2 with a batch of 8 × 1024 tokens and 50,257 tokens of vocabulary has
# 8,192 × 50,257 ≈ 412 million logits, 1.5 GiB in float32, and the same again for the saved
# probabilities. That is why large models compute the loss in chunks and why TinyGPT's
# character vocabulary (about 100 symbols) is cheap.


# %%
def analyze_cross_entropy_memory(tokens: int = 8 * 1024, vocabularies=(100, 50_257)) -> dict:
    """MiB of float32 logits (and as much again for saved probabilities) per vocabulary size."""
    sizes = {}
    for vocab in vocabularies:
        sizes[vocab] = tokens * vocab * 4 / 2**20
        print(f"{tokens} tokens x vocabulary {vocab:6d}: {sizes[vocab]:9.1f} MiB of logits")
    return sizes


# %%
if __name__ == "__main__":
    test_mse()
    test_cross_entropy()
    test_binary_cross_entropy()
    test_loss_classes()
    analyze_cross_entropy_memory()
    print("All tests passed for module 04_losses.")
