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
# - what a loss over a large vocabulary costs in memory (you will measure it).
#
# **How the losses meet autograd.** MSE is composed from Tensor operations (`-`, `**`,
# `mean`), so module 05 differentiates it with the rules of those operations. The two
# cross-entropies are computed in NumPy in one go and recorded as **single ops** with
# `Tensor.from_op(value, op_name, inputs, saved)`: `"cross_entropy"` and
# `"binary_cross_entropy"`. `saved` holds exactly what their gradient rules in module 05 will
# read, so the contract of `saved` (which arrays, which shapes, which order) is part of the
# specification below. A loss is always a **0-d tensor** (shape `()`) in the predictions'
# float dtype: float32 in, float32 out; float64 in (gradient checks), float64 out.
#
# ```
#   logits (B, T, C) ──┐
#                      ├── cross_entropy ──> loss ()      op "cross_entropy"
#   targets (B, T) ────┘                                  saved = (probs (B·T, C), targets (B·T,))
# ```

# %%
#| default_exp core.losses
#| export
import numpy as np

from tinytorch.core.tensor import Tensor, as_tensor

# %% [markdown]
# ## 1. Mean squared error
#
# For a regression the model predicts real numbers and the loss is the average squared error
# over **every element**:
#
# ```
# mse(pred, target) = mean((pred - target)²)
# ```
#
# **Worked example.** `pred = [[1, 2], [3, 4]]`, `target = [[1, 0], [3, 8]]`:
# differences `[[0, 2], [0, -4]]`, squares `[[0, 4], [0, 16]]`, mean `20 / 4 = 5.0`.
#
# **Why the shapes must match exactly.** With `pred` of shape `(N, 1)` (a linear layer with
# one output) and `target` of shape `(N,)`, broadcasting would silently compare every
# prediction with every target, an `(N, N)` matrix of differences, and training would "work"
# towards the wrong answer. For N = 3:
#
# ```
# pred (3, 1) - target (3,)  ->  (3, 3):  p0-t0  p0-t1  p0-t2      only the diagonal
#                                         p1-t0  p1-t1  p1-t2      is what you meant
#                                         p2-t0  p2-t1  p2-t2
# ```
#
# So we refuse it with a clear error instead.
#
# ### Specification
#
# `_float_tensor(x) -> Tensor`: `x` as a Tensor (use `as_tensor` from module 01); if its dtype
# is not floating (`x.dtype.kind != "f"`: integer or boolean data), a new float32 Tensor of
# the same values. A float Tensor is returned **as is** (same object, so it stays in the graph).
#
# `mse_loss(predictions, targets) -> Tensor`:
# - `pred = _float_tensor(predictions)`;
# - targets: a float `Tensor` is used **as is** (a target that requires grad gets a gradient
#   too); anything else (a list, an array, an integer Tensor) becomes
#   `Tensor(values, dtype=pred.dtype)`, so float32 predictions stay float32;
# - if the shapes differ: `ValueError` whose message contains both shapes, e.g.
#   `"mse_loss: predictions (3, 1) and targets (3,) must have the same shape"`;
# - return `((pred - target) ** 2).mean()`: composed from Tensor ops, so the result's `_op` is
#   `"mean"`; shape `()`, dtype of `pred`.
#
# Tiny example: `mse_loss(Tensor([1.0, 2.0]), [1, 4]).item() == 2.0` (errors 0 and -2).


# %% nbgrader={"grade": false, "grade_id": "mse", "locked": false, "schema_version": 3, "solution": true}
#| export
def _float_tensor(x) -> Tensor:
    """x as a Tensor of floats: a float Tensor unchanged, anything else float32 if not float."""
    ### BEGIN SOLUTION
    x = as_tensor(x)
    return x if x.dtype.kind == "f" else Tensor(x.data, dtype=np.float32)
    ### END SOLUTION


def mse_loss(predictions, targets) -> Tensor:
    """mean((predictions - targets)²) over every element; shapes must match (ValueError)."""
    ### BEGIN SOLUTION
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
    return ((pred - target) ** 2).mean()
    ### END SOLUTION


# %% [markdown]
# ### Test: mean squared error
#
# **What this checks and why.** The value of the worked example above (5.0), that float32
# predictions give a float32 loss (a float64 loss would silently double the memory of
# everything computed from it), that integer targets are converted, that the loss is built
# from Tensor ops (its `_op` is `"mean"`, so module 05 can differentiate it without a rule of
# its own), and that the `(3, 1)` against `(3,)` mistake is refused with a message naming
# both shapes.


# %% nbgrader={"grade": true, "grade_id": "test-mse", "locked": true, "points": 15, "schema_version": 3}
def test_mse():
    pred = Tensor([[1.0, 2.0], [3.0, 4.0]])
    target = np.array([[1.0, 0.0], [3.0, 8.0]])
    loss = mse_loss(pred, target)
    assert loss.shape == (), f"a loss is one number (shape ()), got shape {loss.shape}"
    assert np.isclose(loss.item(), 5.0), f"mean of [0, 4, 0, 16] is 5.0, got {loss.item()}"
    assert loss.dtype == np.float32, f"float32 predictions give a float32 loss, got {loss.dtype}"
    same = mse_loss(pred, [[1, 2], [3, 4]]).item()
    assert same == 0.0, f"integer targets equal to the predictions give 0, got {same}"
    as_float = _float_tensor([1, 2])
    assert as_float.dtype == np.float32, f"integers become float32, got {as_float.dtype}"
    assert _float_tensor(pred) is pred, "a float Tensor is returned as is (it stays in the graph)"
    w = Tensor([1.0, 2.0], requires_grad=True)
    op = mse_loss(w, [0.0, 0.0])._op
    assert op == "mean", f"MSE is composed from Tensor ops ending in mean, got op {op!r}"
    try:
        mse_loss(Tensor(np.ones((3, 1))), np.ones(3))
    except ValueError as error:
        message = str(error)
        assert "(3, 1)" in message and "(3,)" in message, f"name both shapes: {message!r}"
    else:
        raise AssertionError("(3, 1) against (3,) must raise ValueError, not broadcast")
    ### BEGIN HIDDEN TESTS
    rng = np.random.default_rng(7)
    p, t = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    value = mse_loss(Tensor(p, dtype=np.float64), t).item()
    assert np.isclose(value, np.mean((p - t) ** 2)), "mse on random data matches NumPy"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_mse()

# %% [markdown]
# ## 2. Cross-entropy from logits
#
# A classifier outputs one score per class, the **logits** z of shape `(..., C)`. Softmax turns
# a row of logits into probabilities, `softmax(z)ᵢ = exp(zᵢ) / Σⱼ exp(zⱼ)`, and the loss of a
# row with correct class y is the negative log-probability of that class:
#
# ```
# loss_row = -log softmax(z)[y] = log Σⱼ exp(zⱼ) - z_y
# ```
#
# averaged over all N rows. **Worked example** (C = 3, one row, y = 0): z = [2, 1, 0.1];
# exp(z) = [7.389, 2.718, 1.105], sum 11.212, log 2.417; loss = 2.417 - 2 = **0.417**
# (softmax = [0.659, 0.242, 0.099], and -ln 0.659 = 0.417). A perfectly unsure model (all
# logits equal) has loss ln C: ln 10 = 2.303 for 10 classes, a useful sanity check at step 0.
#
# ### Why the loss takes logits, not probabilities
#
# 1. **Stability.** `softmax` first and `log` afterwards fails for a confident model. With
#    z = [-1000, 0] the softmax is [e⁻¹⁰⁰⁰, 1], and e⁻¹⁰⁰⁰ underflows to exactly 0, so
#    `log 0 = -inf`. In logits the answer is simply -1000.
# 2. **A simple gradient.** Module 05 shows that d loss / dz = softmax(z) - onehot(y): every
#    entry in [-1, 1]. A loss that took probabilities p would differentiate -log p as -1/p,
#    which explodes as p → 0.
# 3. **Memory.** One fused op keeps one `(N, C)` array for backward instead of the several
#    that `exp`, `sum`, `div` and `log` would each keep.
#
# ### The log-sum-exp trick, with numbers
#
# `exp` overflows: above 709.8 in float64 and above **88.7 in float32** it gives `inf`. Since
# exp(zⱼ) = exp(m)·exp(zⱼ - m) for any m, we can take m = max(z) out of the sum:
#
# ```
# log Σⱼ exp(zⱼ) = m + log Σⱼ exp(zⱼ - m)         every zⱼ - m <= 0, so exp(zⱼ - m) in (0, 1]
# ```
#
# For z = [1000, 1001, 1002] (naively exp(1000) = inf, and inf/inf = nan):
#
# ```
# m = 1002,   z - m = [-2, -1, 0],   exp = [0.1353, 0.3679, 1.0],   sum = 1.5032
# log sum = 0.4076,   log_probs = (z - m) - 0.4076 = [-2.4076, -1.4076, -0.4076]
# probs = exp(log_probs) = [0.0900, 0.2447, 0.6652]            (sum to 1)
# ```
#
# The largest term is exp(0) = 1, so the sum lies in [1, C]: its log never overflows and never
# is log 0. For z = [-1000, 0] it gives log_probs = [-1000, 0] exactly.
#
# ### Any leading shape
#
# An image classifier gives logits `(N, C)`; a language model gives `(B, T, V)`: one row of V
# logits per token, with targets `(B, T)`. Both are the same computation on **rows**: reshape
# the logits to `(N, C)` with N = the product of the leading dimensions and the targets to
# `(N,)`. NumPy's row-major reshape keeps row `b·T + t` paired with target `[b, t]`:
#
# ```
# logits (2, 3, 5)  --reshape-->  rows (6, 5)       targets (2, 3)  --reshape-->  (6,)
#   [b=1, t=2, :]       ->        row 1·3 + 2 = 5     [1, 2]              ->        [5]
# ```
#
# and the loss is the mean over all 6 rows (every token counts equally).

# %% [markdown]
# ### Checking the targets
#
# Wrong targets are a common bug, and NumPy would either crash with an unhelpful message or,
# for a negative id, silently pick a class from the end of the row (`row[-1]`). So the targets
# are checked before any arithmetic.
#
# **Specification.** `_class_targets(targets, logits_shape) -> np.ndarray`: `targets` is a
# Tensor, array or list of class ids; `logits_shape` is the logits' shape `(..., C)`. Check,
# in this order, and raise:
#
# | problem | exception | the message must contain |
# |---|---|---|
# | `logits_shape == ()` (no class axis) | `ValueError` | `"class axis"` |
# | targets' dtype is not integer (`dtype.kind not in "iu"`) | `TypeError` | the dtype |
# | targets' shape is not `logits_shape[:-1]` | `ValueError` | both shapes |
# | some id < 0 or >= C | `ValueError` | the first bad id and `[0, C)` |
#
# Return the targets flattened to shape `(N,)` (N = product of `logits_shape[:-1]`), dtype
# unchanged. Example: `_class_targets([[0, 2]], (1, 2, 3))` gives `array([0, 2])`;
# `_class_targets([0, 3], (2, 3))` raises `ValueError` ("target 3 is out of range: class ids
# must be in [0, 3)").


# %% nbgrader={"grade": false, "grade_id": "class-targets", "locked": false, "schema_version": 3, "solution": true}
#| export
def _class_targets(targets, logits_shape: tuple) -> np.ndarray:
    """Integer targets checked against logits (..., C): shape (...), ids in [0, C); flat (N,)."""
    ### BEGIN SOLUTION
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
    ### END SOLUTION


# %% [markdown]
# ### Test: target checks
#
# **What this checks and why.** Good targets of any leading shape come back flat; each kind of
# bad target raises the exception type of the table, with the information a user needs to
# find the bug. A negative id matters most: without the check NumPy would quietly read
# `row[-1]`, the last class, and the model would learn the wrong labels without any error.


# %% nbgrader={"grade": true, "grade_id": "test-class-targets", "locked": true, "points": 10, "schema_version": 3}
def test_class_targets():
    flat = _class_targets([[0, 2], [1, 1]], (2, 2, 3))
    assert flat.shape == (4,), f"(2, 2) targets become (4,) rows, got shape {flat.shape}"
    assert flat.tolist() == [0, 2, 1, 1], f"row-major order is kept, got {flat.tolist()}"
    from_tensor = _class_targets(Tensor(np.array([2, 0])), (2, 3)).tolist()
    assert from_tensor == [2, 0], f"a Tensor of ids works too, got {from_tensor}"
    for bad_targets, shape, error_type, words in [
        ([0, 3], (2, 3), ValueError, "[0, 3)"),  # 3 is not a class of 3
        ([0, -1], (2, 3), ValueError, "-1"),  # negative ids would silently wrap around
        ([0, 1, 2], (2, 3), ValueError, "(2,)"),  # one target per row
        ([0.0, 1.0], (2, 3), TypeError, "float"),  # class ids, not floats
        (0, (), ValueError, "class axis"),  # logits without a class axis
    ]:
        try:
            _class_targets(bad_targets, shape)
        except error_type as error:
            assert words in str(error), f"the message for {bad_targets} should say {words!r}"
        else:
            raise AssertionError(
                f"targets {bad_targets} for logits {shape} must raise {error_type.__name__}"
            )


if __name__ == "__main__":
    test_class_targets()

# %% [markdown]
# ### The cross-entropy op
#
# **Specification.** `cross_entropy(logits, targets) -> Tensor`:
# 1. `logits = _float_tensor(logits)`, `t = _class_targets(targets, logits.shape)` (flat `(N,)`);
#    if `t.size == 0`: `ValueError` ("there are no targets").
# 2. `rows = logits.data.reshape(N, C)`; with the log-sum-exp trick per row (`max` and `sum`
#    with `axis=1, keepdims=True`) compute `log_probs`, shape `(N, C)`.
# 3. `loss = -mean(log_probs[row i, t[i]])` over the N rows: pick one entry per row with
#    `log_probs[np.arange(N), t]` (no loop, no one-hot matrix).
# 4. `probs = np.exp(log_probs)`: the softmax, `(N, C)`, the logits' dtype.
# 5. Return `Tensor.from_op(np.asarray(loss, dtype=logits.dtype), "cross_entropy", (logits,),
#    (probs, t))`: a 0-d tensor; inputs `(logits,)` (the targets get no gradient); `saved` is
#    the tuple **(probs, t)** in that order, probs `(N, C)` and t `(N,)`, both flat even for
#    `(B, T, C)` logits. Module 05's rule reads exactly these two.
#
# Tiny example: `cross_entropy([[2.0, 1.0, 0.1]], [0]).item()` ≈ 0.417 (the worked example);
# `cross_entropy(np.zeros((4, 10)), [1, 2, 3, 4]).item()` = ln 10 ≈ 2.303.


# %% nbgrader={"grade": false, "grade_id": "cross-entropy", "locked": false, "schema_version": 3, "solution": true}
#| export
def cross_entropy(logits, targets) -> Tensor:
    """Mean of -log softmax(logits)[target] over all positions; logits (..., C), targets (...).

    Recorded as op "cross_entropy" with inputs (logits,) and saved (probs (N, C), targets (N,)).
    """
    ### BEGIN SOLUTION
    logits = _float_tensor(logits)
    t = _class_targets(targets, logits.shape)
    if t.size == 0:
        raise ValueError("cross_entropy: there are no targets (the batch is empty).")
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
# ### Test: cross-entropy
#
# **What this checks and why.** Values against the formula and the two hand examples (0.417
# and ln 10); a `(B, T, C)` batch gives the same loss as its `(B·T, C)` rows (the reshape is
# right); logits of ±1e4 give a finite loss with NumPy set to *raise* on overflow, so a version
# without the log-sum-exp trick fails here; and the recorded op: name, inputs, and the
# `saved = (probs, targets)` contract module 05 relies on.


# %% nbgrader={"grade": true, "grade_id": "test-cross-entropy", "locked": true, "points": 25, "schema_version": 3}
def test_cross_entropy():
    one = cross_entropy([[2.0, 1.0, 0.1]], [0]).item()
    assert np.isclose(one, 0.41703, atol=1e-4), f"worked example: expected 0.417, got {one}"
    uniform = cross_entropy(np.zeros((4, 10)), [1, 2, 3, 4]).item()
    assert np.isclose(uniform, np.log(10)), f"equal logits give ln 10 = 2.303, got {uniform}"

    logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    targets = np.array([0, 2])
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = -np.mean(log_probs[[0, 1], targets])
    loss = cross_entropy(logits, targets)
    assert loss.shape == (), f"the loss is 0-d, got shape {loss.shape}"
    assert np.isclose(loss.item(), expected, atol=1e-6), f"expected {expected}, got {loss.item()}"

    rng = np.random.default_rng(0)
    seq_logits, seq_targets = rng.normal(size=(2, 3, 5)), rng.integers(0, 5, (2, 3))
    flat = cross_entropy(seq_logits.reshape(6, 5), seq_targets.reshape(6)).item()
    seq = cross_entropy(seq_logits, seq_targets).item()
    assert np.isclose(seq, flat), f"(2, 3, 5) logits must equal their (6, 5) rows: {seq} != {flat}"

    huge = Tensor([[1e4, 0.0, -1e4], [1e4, 0.0, -1e4]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        stable = cross_entropy(huge, [0, 2]).item()
    assert np.isclose(stable, 2e4 / 2), f"log-sum-exp: losses 0 and 2e4 average 1e4, got {stable}"

    z = Tensor(rng.normal(size=(2, 3, 4)), requires_grad=True)
    out = cross_entropy(z, rng.integers(0, 4, (2, 3)))
    assert out._op == "cross_entropy", f"record op 'cross_entropy', got {out._op!r}"
    assert out._inputs == (z,), "the inputs are (logits,): targets get no gradient"
    assert out.dtype == np.float32, f"float32 logits give a float32 loss, got {out.dtype}"
    probs, flat_targets = out._saved
    assert probs.shape == (6, 4), f"saved probs are the flat (N, C) = (6, 4), got {probs.shape}"
    assert flat_targets.shape == (6,), f"saved targets are flat (6,), got {flat_targets.shape}"
    assert probs.dtype == np.float32, f"probs keep the logits' dtype, got {probs.dtype}"
    sums = probs.sum(axis=1)
    assert np.allclose(sums, 1, atol=1e-6), f"saved probs are a softmax, rows sum to {sums}"
    try:
        cross_entropy(np.zeros((0, 3)), np.zeros(0, dtype=int))
    except ValueError:
        pass
    else:
        raise AssertionError("an empty batch has no mean: it must raise ValueError")
    ### BEGIN HIDDEN TESTS
    z = rng.normal(size=(3, 2, 7)) * 30
    y = rng.integers(0, 7, (3, 2))
    rows = z.reshape(6, 7)
    reference = np.mean(
        np.log(np.exp(rows - rows.max(1, keepdims=True)).sum(1))
        + rows.max(1)
        - rows[range(6), y.ravel()]
    )
    got = cross_entropy(Tensor(z, dtype=np.float64), y).item()
    assert np.isclose(got, reference), f"random (3, 2, 7) logits: expected {reference}, got {got}"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_cross_entropy()

# %% [markdown]
# ## 3. Binary cross-entropy
#
# For a yes/no label y ∈ {0, 1} and a predicted probability p (usually `sigmoid(logit)`):
#
# ```
# bce(p, y) = mean of -(y·ln p + (1 - y)·ln(1 - p))
# ```
#
# Only one of the two terms is active for a hard label: -ln p when y = 1, -ln(1 - p) when
# y = 0. **Worked example:** p = [0.9, 0.2], y = [1, 0]: -(ln 0.9 + ln 0.8) / 2 =
# (0.1054 + 0.2231) / 2 = **0.1643**. Soft labels (y = 0.3) are allowed too.
#
# ### Clipping, and why eps depends on the dtype
#
# At p = 0 or p = 1 a logarithm is `-inf`, and the gradient `(p - y) / (p(1 - p))` (module 05)
# divides by zero. We therefore **clip** p to `[eps, 1 - eps]` before taking logs. The right
# eps depends on the precision:
#
# - **float32**: eps = 1e-7. The clip bound `1 - eps` must differ from 1 in float32. The
#   float32 numbers just below 1 are spaced 2⁻²⁴ ≈ 6e-8 apart, so `1 - 1e-7` is stored as
#   0.99999988 (= 1 - 1.19e-7) and works, while `1 - 1e-12` rounds to exactly 1.0 and
#   `ln(1 - p)` would be `-inf` again. The largest loss per element is then
#   `-ln(1e-7) ≈ 16.1`.
# - **float64**: eps = 1e-12. Float64 resolves it easily, and a tiny eps changes the loss
#   only for predictions within 1e-12 of 0 or 1, so gradient checks against PyTorch stay
#   exact everywhere else. (PyTorch clamps each log at -100 instead; at exactly 0 or 1 our
#   values therefore differ from PyTorch's, by design.)
#
# Use `np.log1p(-p)` for ln(1 - p): it stays accurate when p is tiny, where `1 - p` would
# round to 1 and lose the digits of p.
#
# ### Specification
#
# `_bce_eps(dtype) -> float`: 1e-12 for float64, 1e-7 for anything else.
#
# `binary_cross_entropy(predictions, targets) -> Tensor`:
# 1. `p = _float_tensor(predictions)`; `y` = the targets' values as a NumPy array of p's dtype
#    (a Tensor's `.data`, or `np.asarray` of a list).
# 2. Errors, all `ValueError`, in this order: shapes differ (message names both shapes); p is
#    empty; some p outside [0, 1] (the message says to apply `sigmoid` to logits); some y
#    outside [0, 1].
# 3. `clipped = np.clip(p.data, eps, 1 - eps)`; `loss = -mean(y·ln(clipped) + (1-y)·ln(1-clipped))`.
# 4. Return `Tensor.from_op(np.asarray(loss, dtype=p.dtype), "binary_cross_entropy", (p,),
#    (clipped, y))`: inputs `(p,)`, `saved` = **(clipped, y)** in that order, both shaped like
#    p and of p's dtype.
#
# Tiny example: `binary_cross_entropy([0.9, 0.2], [1, 0]).item()` ≈ 0.1643.


# %% nbgrader={"grade": false, "grade_id": "binary-cross-entropy", "locked": false, "schema_version": 3, "solution": true}
#| export
def _bce_eps(dtype: np.dtype) -> float:
    """Clip bound: 1e-7 keeps 1 - eps < 1 in float32; float64 can afford 1e-12."""
    ### BEGIN SOLUTION
    return 1e-12 if dtype == np.float64 else 1e-7
    ### END SOLUTION


def binary_cross_entropy(predictions, targets) -> Tensor:
    """Mean of -(y ln p + (1-y) ln(1-p)) with p clipped to [eps, 1-eps].

    Recorded as op "binary_cross_entropy" with inputs (p,) and saved (clipped p, y).
    """
    ### BEGIN SOLUTION
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
    eps = _bce_eps(p.dtype)
    clipped = np.clip(p.data, eps, 1 - eps)
    loss = -np.mean(y * np.log(clipped) + (1 - y) * np.log1p(-clipped))
    return Tensor.from_op(
        np.asarray(loss, dtype=p.dtype), "binary_cross_entropy", (p,), (clipped, y)
    )
    ### END SOLUTION


# %% [markdown]
# ### Test: binary cross-entropy
#
# **What this checks and why.** The worked example and integer labels; predictions of exactly
# 0 and 1 against the wrong label give the clipped maximum (-ln eps) instead of `inf`, with
# NumPy set to raise on a division by zero, in float32 and in float64 (different eps); the
# recorded op and its `saved = (clipped, y)`; and the three kinds of bad input.


# %% nbgrader={"grade": true, "grade_id": "test-bce", "locked": true, "points": 35, "schema_version": 3}
def test_binary_cross_entropy():
    worked = binary_cross_entropy([0.9, 0.2], [1, 0]).item()
    assert np.isclose(worked, 0.16425, atol=1e-5), f"worked example: 0.1643, got {worked}"
    p = np.array([0.9, 0.2, 0.6])
    y = np.array([1.0, 0.0, 1.0])
    expected = -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))
    loss = binary_cross_entropy(p, y)
    assert np.isclose(loss.item(), expected, atol=1e-6), f"expected {expected}, got {loss.item()}"
    assert loss.dtype == np.float32, f"float predictions become float32, got {loss.dtype}"

    assert _bce_eps(np.float32) == 1e-7 and _bce_eps(np.float64) == 1e-12, "eps per dtype"
    with np.errstate(divide="raise", invalid="raise"):
        certain = binary_cross_entropy(Tensor([0.0, 1.0]), [1.0, 0.0]).item()
    # 1 - 1e-7 is stored as 1 - 1.19e-7 in float32, hence rtol=0.02 for the second element
    assert np.isclose(certain, -np.log(1e-7), rtol=0.02), f"clipped to -ln(1e-7), got {certain}"
    certain64 = binary_cross_entropy(Tensor([0.0, 1.0], dtype=np.float64), [1.0, 0.0]).item()
    assert np.isclose(certain64, -np.log(1e-12)), f"float64 uses eps = 1e-12, got {certain64}"

    w = Tensor([0.0, 0.5, 1.0], requires_grad=True)
    out = binary_cross_entropy(w, [0, 1, 1])
    assert out._op == "binary_cross_entropy", f"record op 'binary_cross_entropy', got {out._op!r}"
    assert out._inputs == (w,), "the inputs are (p,): targets get no gradient"
    clipped, targets = out._saved
    assert clipped.shape == targets.shape == (3,), "saved arrays are shaped like p"
    assert targets.dtype == np.float32, f"saved targets take p's dtype, got {targets.dtype}"
    assert 0 < clipped[0] and clipped[2] < 1, f"saved probabilities are clipped, got {clipped}"

    for bad_p, bad_y in [([0.5, 0.5], [1.0]), ([1.5, 0.5], [1.0, 0.0]), ([0.5], [2.0])]:
        try:
            binary_cross_entropy(bad_p, bad_y)
        except ValueError:
            pass
        else:
            raise AssertionError(f"p={bad_p}, y={bad_y} must raise ValueError")


if __name__ == "__main__":
    test_binary_cross_entropy()

# %% [markdown]
# ## 4. Loss classes
#
# The classes wrap the functions, PyTorch style: `criterion = CrossEntropyLoss()` once, then
# `loss = criterion(logits, targets)` in the training loop. A loss has no parameters.
#
# **Specification.** `_Loss` is the base class: `__call__(predictions, targets)` returns
# `self.forward(predictions, targets)`; `parameters()` returns an empty list; `repr` is the
# class name with empty brackets, `"CrossEntropyLoss()"`. `_Loss.forward` itself raises
# `NotImplementedError` (given: a subclass must override it). Each subclass's `forward` calls
# its function: `MSELoss` → `mse_loss`, `CrossEntropyLoss` → `cross_entropy`,
# `BinaryCrossEntropyLoss` → `binary_cross_entropy`.


# %% nbgrader={"grade": false, "grade_id": "loss-classes", "locked": false, "schema_version": 3, "solution": true}
#| export
class _Loss:
    """Base of the loss classes: loss(predictions, targets) calls forward."""

    def forward(self, predictions, targets) -> Tensor:
        """The loss value; every subclass overrides this."""
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, predictions, targets) -> Tensor:
        """loss(predictions, targets) is loss.forward(predictions, targets)."""
        ### BEGIN SOLUTION
        return self.forward(predictions, targets)
        ### END SOLUTION

    def parameters(self) -> list:
        """A loss has no parameters: an empty list."""
        ### BEGIN SOLUTION
        return []
        ### END SOLUTION

    def __repr__(self) -> str:
        """The class name with empty brackets, e.g. 'MSELoss()'."""
        ### BEGIN SOLUTION
        return f"{type(self).__name__}()"
        ### END SOLUTION


class MSELoss(_Loss):
    """Mean squared error; predictions and targets of the same shape."""

    def forward(self, predictions, targets) -> Tensor:
        """mse_loss(predictions, targets)."""
        ### BEGIN SOLUTION
        return mse_loss(predictions, targets)
        ### END SOLUTION


class CrossEntropyLoss(_Loss):
    """Cross-entropy of logits (..., C) against integer targets (...)."""

    def forward(self, logits, targets) -> Tensor:
        """cross_entropy(logits, targets)."""
        ### BEGIN SOLUTION
        return cross_entropy(logits, targets)
        ### END SOLUTION


class BinaryCrossEntropyLoss(_Loss):
    """Binary cross-entropy of probabilities against 0/1 targets of the same shape."""

    def forward(self, predictions, targets) -> Tensor:
        """binary_cross_entropy(predictions, targets)."""
        ### BEGIN SOLUTION
        return binary_cross_entropy(predictions, targets)
        ### END SOLUTION


# %% [markdown]
# ### Test: loss classes
#
# **What this checks and why.** Calling a loss object gives the same number as its function
# and as `forward`, a loss has no parameters (an optimizer given `loss.parameters()` must find
# nothing to update), and the repr is readable in a training log.


# %% nbgrader={"grade": true, "grade_id": "test-loss-classes", "locked": true, "points": 15, "schema_version": 3}
def test_loss_classes():
    pred, target = np.array([[0.2, 0.8]]), np.array([[0.0, 1.0]])
    for loss, function in [
        (MSELoss(), mse_loss),
        (BinaryCrossEntropyLoss(), binary_cross_entropy),
    ]:
        value = function(pred, target).item()
        called, forward = loss(pred, target).item(), loss.forward(pred, target).item()
        assert called == forward == value, f"{loss!r}: call {called}, forward {forward}, {value}"
        assert loss.parameters() == [], f"{loss!r} has no parameters"
    ce = CrossEntropyLoss()
    assert ce(pred, [1]).item() == cross_entropy(pred, [1]).item(), "CrossEntropyLoss() calls it"
    assert repr(ce) == "CrossEntropyLoss()", f"repr should be 'CrossEntropyLoss()', got {ce!r}"


if __name__ == "__main__":
    test_loss_classes()

# %% [markdown]
# ## Systems analysis: the memory of a language model's loss
#
# Cross-entropy keeps the `(N, C)` probabilities for the backward pass, as large as the
# logits themselves, and while it runs it also holds temporaries of that size (`shifted`,
# `exp(shifted)`, `log_probs`). We measure the peak with `tracemalloc` (NumPy reports its
# allocations to it) on your `cross_entropy`, and compare it with the logits' own size.
# Then we extrapolate: for GPT-2, a batch of 8 × 1024 tokens and 50,257 tokens of vocabulary
# gives 8,192 × 50,257 ≈ 412 million logits, 1.5 GiB in float32, before the loss adds its own
# copies. That is why large models compute the loss in chunks, and why TinyGPT's character
# vocabulary (about 100 symbols) is cheap.


# %%
def measure_cross_entropy_memory(tokens: int = 2048, vocabularies=(100, 1000)) -> list:
    """Peak bytes allocated by cross_entropy per vocabulary size, as a multiple of the logits.

    Prints and returns rows (vocabulary, logits MiB, peak MiB, peak / logits).
    """
    import tracemalloc

    rng = np.random.default_rng(0)
    rows = []
    for vocab in vocabularies:
        logits = Tensor(rng.normal(size=(tokens, vocab)), requires_grad=True)
        targets = rng.integers(0, vocab, tokens)
        tracemalloc.start()
        loss = cross_entropy(logits, targets)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        del loss
        mib = logits.nbytes / 2**20
        rows.append((vocab, mib, peak / 2**20, peak / logits.nbytes))
        print(
            f"{tokens} tokens x vocab {vocab:5d}: logits {mib:6.2f} MiB, "
            f"peak in cross_entropy {peak / 2**20:6.2f} MiB ({peak / logits.nbytes:.1f}x)"
        )
    return rows


def analyze_cross_entropy_memory(tokens: int = 8 * 1024, vocabularies=(100, 50_257)) -> dict:
    """MiB of float32 logits (and as much again for saved probabilities) per vocabulary size."""
    sizes = {}
    for vocab in vocabularies:
        sizes[vocab] = tokens * vocab * 4 / 2**20
        print(f"{tokens} tokens x vocabulary {vocab:6d}: {sizes[vocab]:9.1f} MiB of logits")
    return sizes


if __name__ == "__main__":
    measure_cross_entropy_memory()
    analyze_cross_entropy_memory()

# %% [markdown]
# **Reading the numbers.** The peak is a small multiple of the logits (about 3x): the shifted
# logits, their exponentials and the log-probabilities exist at the same time, and the
# probabilities stay alive after the call as `saved`. Memory grows linearly with tokens × vocab,
# so a 500x larger vocabulary costs 500x more. Time grows the same way: the loss is one pass of
# `exp` over N·C numbers, cheap next to the model's matmuls but not free for a huge vocabulary.

# %% [markdown]
# ## Reflect
#
# Answer in a few sentences each, with numbers where you can.

# %% [markdown]
# **Q1 (memory).** GPT-2 trains on batches of 8 × 1024 tokens with a vocabulary of 50,257.
# How much memory do the float32 logits take, and how much more does your `cross_entropy`
# keep alive for the backward pass? Suggest one way to reduce it.

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-loss-memory", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# 8,192 × 50,257 ≈ 412 M logits × 4 bytes ≈ 1.5 GiB. The saved softmax is the same size, another
# 1.5 GiB, and during the call the temporaries briefly add about as much again (the measured
# peak was about 3x the logits). Ways out: compute the loss in chunks of tokens (each chunk's
# probabilities are freed after its backward), recompute the softmax in backward from the
# logits instead of saving it, or keep it in bfloat16.
# ### END SOLUTION

# %% [markdown]
# **Q2 (numerical stability).** In float32, `exp` overflows above about 88.7. A model's logits
# reach 100. What does a `log(softmax(z))` written naively return, and why does the log-sum-exp
# version return a finite number for the same logits?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-log-sum-exp", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# exp(100) is inf in float32, so the softmax is inf/inf = nan for that row (and a small logit
# next to it gives 0, whose log is -inf): the loss becomes nan and training stops making
# sense. Subtracting the row maximum first makes every exponent <= 0, so each exp is in (0, 1],
# the sum is in [1, C] and its log is finite; the maths is unchanged because the exp(m) factor
# cancels.
# ### END SOLUTION

# %% [markdown]
# **Q3 (precision).** Why is BCE's eps 1e-7 in float32 and not 1e-12? What would happen to a
# float32 prediction p = 1.0 with label 0 if eps were 1e-12?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-bce-eps", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# Float32 numbers just below 1 are 2⁻²⁴ ≈ 6e-8 apart, so 1 - 1e-12 rounds to exactly 1.0: the
# clip would not move p = 1.0 at all, ln(1 - p) would be -inf, the loss inf, and the gradient
# (p - y)/(p(1 - p)) a division by zero. With eps = 1e-7 the bound is 0.99999988 and the loss
# at most -ln(1e-7) ≈ 16.1.
# ### END SOLUTION

# %% [markdown]
# **Q4 (what breaks).** A regression model outputs `(N, 1)` and the targets are `(N,)`. What
# would MSE compute if it allowed broadcasting, how much memory for N = 100,000, and why would
# training not crash?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-mse-broadcast", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# `(N, 1) - (N,)` broadcasts to `(N, N)`: every prediction minus every target. For N = 100,000
# that is 10¹⁰ differences, 40 GB in float32, so it would run out of memory; for a small batch it
# silently works and the model learns to predict the mean target for every input, because the
# loss then averages over all pairs. Nothing crashes, which is why the shapes are checked.
# ### END SOLUTION

# %%
if __name__ == "__main__":
    print("All tests passed for module 04_losses.")
