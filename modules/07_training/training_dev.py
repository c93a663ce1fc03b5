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
# # Module 07: Training
#
# Every model in this course, from the XOR network to TinyGPT, trains with the same loop:
#
# ```
# for epoch in range(epochs):
#     for x, y in train_loader:                 # mini-batches (module 08)
#         loss = loss_fn(model(x), y)            # forward            (modules 03, 04)
#         optimizer.zero_grad()
#         loss.backward()                        # gradients          (module 05)
#         clip_grad_norm(params, max_norm)       # bound one bad batch's damage
#         optimizer.lr = schedule(step)          # warm up, then decay
#         optimizer.step()                       # update             (module 06)
#     val_loss = evaluate(val_loader)            # eval mode, no graph
#     save_checkpoint(...)                       # survive a crash, keep the best model
# ```
#
# Written inline, this loop is copied into every script with small differences, and the
# differences are where the bugs live (clipping after the step, a schedule one step late,
# evaluating with dropout on). This module writes it once:
#
# 1. `CosineSchedule`: the learning rate as a function of the step number;
# 2. `clip_grad_norm`: gradient clipping by the global norm;
# 3. `Trainer`: `train_step`, `train_epoch`, `evaluate`, `fit`, with a history of losses;
# 4. `save_checkpoint` / `load_checkpoint`: parameters and optimizer state in one file.

# %%
#| default_exp core.training
#| export
import math
import os
from pathlib import Path

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.tensor import Tensor

# %%
# isort: split
# Earlier modules that the tests and measurements below use (not exported).
from tinytorch.core.layers import Dropout, Linear, Sequential
from tinytorch.core.losses import MSELoss
from tinytorch.core.optimizers import SGD, Adam

# %% [markdown]
# ## 1. The learning-rate schedule: warm-up, then cosine decay
#
# A constant learning rate is a compromise: large enough to make progress early, small enough
# to settle into a minimum late. A schedule does both. The standard recipe for transformers:
#
# ```
# lr
# max_lr |      ______
#        |    /        ‾‾-._
#        |   /              ‾-.
#        |  /                  ‾-._
# min_lr | /                       ‾‾‾------------
#        +--W---------------------T---------------> step t
#          warm-up      cosine decay      constant
# ```
#
# - **Warm-up** (steps 0 … W−1): rise linearly to `max_lr`. A fresh model's gradients point in
#   unreliable directions, and Adam's first steps are about lr in *every* direction (module
#   06: m̂/√v̂ ≈ ±1), so the first steps are taken small.
# - **Cosine decay** (W … T): half a cosine from `max_lr` down to `min_lr`: slow at first,
#   fastest in the middle, gentle again at the end.
# - After T: stay at `min_lr`.
#
# ```
# t < W:        lr(t) = max_lr · (t + 1) / W
# W ≤ t ≤ T:    lr(t) = min_lr + ½ (max_lr − min_lr) (1 + cos(π · (t − W) / (T − W)))
# t > T:        lr(t) = min_lr
# ```
#
# Step t = 0 already gets max_lr/W (not 0: a step with lr 0 would be wasted). With W = 0 this
# is exactly PyTorch's `CosineAnnealingLR`, which the course's tests compare against.
#
# **Worked example**: max_lr = 1.0, min_lr = 0.1, T = 110, W = 10. In the decay phase
# (t − W)/(T − W) = (t − 10)/100 is the fraction of the way down.
#
# | t | phase | computation | lr |
# |---|---|---|---|
# | 0 | warm-up | 1.0 · 1/10 | 0.1 |
# | 4 | warm-up | 1.0 · 5/10 | 0.5 |
# | 9 | warm-up | 1.0 · 10/10 | 1.0 |
# | 10 | decay, 0% | 0.1 + 0.45 · (1 + cos 0) | 1.0 |
# | 35 | decay, 25% | 0.1 + 0.45 · (1 + cos(π/4)) = 0.1 + 0.45 · 1.7071 | 0.868198 |
# | 60 | decay, 50% | 0.1 + 0.45 · (1 + cos(π/2)) | 0.55 |
# | 85 | decay, 75% | 0.1 + 0.45 · (1 − 0.7071) | 0.231802 |
# | 110 | decay, 100% | 0.1 + 0.45 · (1 + cos π) | 0.1 |
# | 500 | after T | min_lr | 0.1 |
#
# Half way through the decay the rate is exactly the mean of max_lr and min_lr.
#
# ### Specification: `CosineSchedule(max_lr, min_lr, total_steps, warmup_steps=0)`
#
# - The constructor (given) checks `0 <= min_lr <= max_lr` and
#   `0 <= warmup_steps < total_steps` and stores the four numbers as attributes.
# - `schedule(t) -> float` for any int t ≥ 0, by the three cases above. For t > T the cosine
#   formula must not be used (it would rise again): clamp the fraction at 1.
# - `schedule.apply(optimizer, t) -> float` writes `schedule(t)` into `optimizer.lr` and
#   returns it. (Our optimizers read `self.lr` at every step, so this is all it takes.)


# %% nbgrader={"grade": false, "grade_id": "schedule-and-clip", "locked": false, "schema_version": 3, "solution": true}
#| export
class CosineSchedule:
    """Linear warm-up to max_lr over warmup_steps, then cosine decay to min_lr at total_steps."""

    def __init__(self, max_lr: float, min_lr: float, total_steps: int, warmup_steps: int = 0):
        if not 0 <= min_lr <= max_lr:
            raise ValueError(f"Need 0 <= min_lr <= max_lr, not min_lr={min_lr}, max_lr={max_lr}.")
        if not 0 <= warmup_steps < total_steps:
            raise ValueError(
                f"Need 0 <= warmup_steps < total_steps, not {warmup_steps} and {total_steps}."
            )
        self.max_lr, self.min_lr = max_lr, min_lr
        self.total_steps, self.warmup_steps = total_steps, warmup_steps

    def __call__(self, step: int) -> float:
        """The learning rate at `step` (0-based): warm-up, cosine decay, then min_lr."""
        ### BEGIN SOLUTION
        if step < self.warmup_steps:
            return self.max_lr * (step + 1) / self.warmup_steps
        span = self.total_steps - self.warmup_steps
        progress = min(1.0, (step - self.warmup_steps) / span)
        return self.min_lr + 0.5 * (self.max_lr - self.min_lr) * (1 + math.cos(math.pi * progress))
        ### END SOLUTION

    def apply(self, optimizer, step: int) -> float:
        """Set the optimizer's learning rate for `step`; returns it."""
        ### BEGIN SOLUTION
        optimizer.lr = self(step)
        return optimizer.lr
        ### END SOLUTION


# %% [markdown]
# ### Test: the schedule's values
#
# This checks the worked example's table point by point (warm-up starts at max_lr/W, not 0;
# the middle of the decay is the mean of the two rates; after T the rate stays at min_lr and
# does not climb back up the cosine) and that `apply` writes into the optimizer.


# %% nbgrader={"grade": true, "grade_id": "test-schedule", "locked": true, "points": 15, "schema_version": 3}
def test_cosine_schedule():
    schedule = CosineSchedule(max_lr=1.0, min_lr=0.1, total_steps=110, warmup_steps=10)
    table = {0: 0.1, 4: 0.5, 9: 1.0, 10: 1.0, 35: 0.868198, 60: 0.55, 85: 0.231802, 110: 0.1}
    for t, expected in table.items():
        assert abs(schedule(t) - expected) < 1e-6, (
            f"lr({t}) should be {expected} (see the worked example), got {schedule(t):.6f}"
        )
    assert math.isclose(schedule(500), 0.1), f"after total_steps lr stays min_lr: {schedule(500)}"
    no_warmup = CosineSchedule(max_lr=0.5, min_lr=0.0, total_steps=4)
    assert math.isclose(no_warmup(0), 0.5), "without warm-up step 0 starts at max_lr"
    assert math.isclose(no_warmup(2), 0.25), "half way through, the mean of max and min"
    optimizer = SGD([Tensor([1.0], requires_grad=True)], lr=1.0)
    assert schedule.apply(optimizer, 60) == optimizer.lr == schedule(60), "apply sets opt.lr"
    ### BEGIN HIDDEN TESTS
    other = CosineSchedule(max_lr=2.0, min_lr=0.5, total_steps=30, warmup_steps=4)
    assert [round(other(t), 9) for t in range(4)] == [0.5, 1.0, 1.5, 2.0], "warm-up, other W"
    for t in range(4, 40):
        fraction = min(1.0, (t - 4) / 26)
        expected = 0.5 + 0.75 * (1 + math.cos(math.pi * fraction))
        assert math.isclose(other(t), expected, rel_tol=1e-12), f"decay at t={t}"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_cosine_schedule()

# %% [markdown]
# ## 2. Gradient clipping by the global norm
#
# Now and then one batch produces a huge gradient: an outlier sample, a sharp ridge of the
# loss surface, an attention score that saturates. One such step can throw the weights far
# away from everything learned so far (the loss "spikes", sometimes to `nan`). Clipping
# bounds the *length* of the step while keeping its *direction*.
#
# Treat all gradients of the model as one long vector and take its length:
#
# ```
# ‖g‖ = √( Σ over parameters p  Σ over entries i  g_pi² )
# if ‖g‖ > max_norm:  every g_p ← g_p · max_norm / (‖g‖ + 10⁻⁶)
# ```
#
# **Worked example**: two parameters a, b with gradients g_a = [3], g_b = [4], max_norm = 1.
#
# ```
# ‖g‖ = √(3² + 4²) = 5 > 1       scale = 1 / (5 + 10⁻⁶) ≈ 0.2
# g_a = 3 · 0.2 = 0.6,  g_b = 4 · 0.2 = 0.8    new norm √(0.36 + 0.64) = 1, direction (3:4) kept
# ```
#
# Why *global*? Clipping each parameter on its own to norm 1 would give g_a = 1, g_b = 1:
# the step would point in direction (1:1), not (3:4), i.e. in a direction no batch ever
# asked for. With max_norm = 10 nothing changes (5 ≤ 10) and the function still returns 5.
#
# The returned norm is worth logging: a spike in it is the first sign of instability, usually
# visible before the loss moves.
#
# ### Specification: `clip_grad_norm(params, max_norm) -> float`
#
# - `max_norm` must be `> 0`, else `ValueError` with a message mentioning `max_norm`.
# - Only parameters with a `.grad` take part (a `None` gradient counts as absent, not as 0).
#   `params` may be any iterable (a list, a generator): go through it once.
# - Compute ‖g‖ as above (as a Python float; summing in float64 is fine) and, if
#   ‖g‖ > max_norm, multiply every `p.grad.data` **in place** by max_norm / (‖g‖ + 10⁻⁶),
#   which is `torch.nn.utils.clip_grad_norm_`'s factor. In place matters: the optimizer reads
#   `p.grad.data`, so a rescaled copy would be ignored.
# - Return ‖g‖ from *before* clipping. With no gradients at all, return 0.0.


# %% nbgrader={"grade": false, "grade_id": "clip", "locked": false, "schema_version": 3, "solution": true}
#| export
def clip_grad_norm(params, max_norm: float) -> float:
    """Scale all gradients so their global L2 norm is at most max_norm; returns the norm."""
    ### BEGIN SOLUTION
    if not max_norm > 0:
        raise ValueError(f"max_norm must be positive, not {max_norm}.")
    grads = [p.grad.data for p in params if p.grad is not None]
    total = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for g in grads:
            g *= scale  # in place: p.grad.data is what the optimizer reads
    return total
    ### END SOLUTION


# %% [markdown]
# ### Test: clipping keeps the direction and bounds the length
#
# This replays the worked example (norm 5 clipped to 1 gives 0.6 and 0.8, i.e. the *global*
# rule, not per-parameter clipping which would give 1 and 1), checks that the norm returned
# is the one before clipping, that small gradients are left alone, that parameters without
# a gradient are skipped, and that the change is made in place in `p.grad.data`.


# %% nbgrader={"grade": true, "grade_id": "test-clip", "locked": true, "points": 15, "schema_version": 3}
def test_clip_grad_norm():
    a, b = Tensor([3.0], requires_grad=True), Tensor([4.0], requires_grad=True)
    idle = Tensor([7.0], requires_grad=True)  # no gradient: must be ignored
    a.grad, b.grad = Tensor([3.0]), Tensor([4.0])
    array = a.grad.data
    norm = clip_grad_norm([a, idle, b], max_norm=1.0)
    assert math.isclose(norm, 5.0, rel_tol=1e-6), f"return the norm before clipping (5), {norm}"
    got = [float(a.grad.data[0]), float(b.grad.data[0])]
    assert np.allclose(got, [0.6, 0.8], atol=1e-5), (
        f"global clipping scales both by 1/5: expected [0.6, 0.8], got {got}"
    )
    assert a.grad.data is array, "clip in place: the optimizer reads this very array"
    assert idle.grad is None, "a parameter without a gradient stays without one"
    again = clip_grad_norm([a, b], max_norm=10.0)
    assert math.isclose(again, 1.0, rel_tol=1e-5), f"the clipped norm is now 1, got {again}"
    assert np.allclose([a.grad.data[0], b.grad.data[0]], [0.6, 0.8], atol=1e-5), "no change"
    assert clip_grad_norm([idle], 1.0) == 0.0, "no gradients at all: the norm is 0"
    try:
        clip_grad_norm([a], 0.0)
    except ValueError as error:
        assert "max_norm" in str(error), f"name the bad argument, got: {error}"
    else:
        raise AssertionError("max_norm = 0 must be refused with a ValueError")
    ### BEGIN HIDDEN TESTS
    rng = np.random.default_rng(5)
    grads = [rng.normal(size=s) for s in [(3, 4), (4,), (2, 2)]]
    ps = [Tensor(np.zeros_like(g), requires_grad=True, dtype=np.float64) for g in grads]
    for p, g in zip(ps, grads):
        p.grad = Tensor(g.copy(), dtype=np.float64)
    total = np.sqrt(sum((g**2).sum() for g in grads))
    assert math.isclose(clip_grad_norm(iter(ps), 0.5), total, rel_tol=1e-12), "a generator"
    for p, g in zip(ps, grads):
        assert np.allclose(p.grad.data, g * 0.5 / (total + 1e-6), atol=1e-12), "global factor"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_clip_grad_norm()

# %% [markdown]
# ## 3. The Trainer
#
# `Trainer(model, optimizer, loss_fn, scheduler=None, grad_clip_norm=None)` owns the loop.
# Its clock is `self.step`, the number of optimizer steps taken so far (0 before the first).
#
# **One training step**, in this order (each line depends on the one before):
#
# ```
# loss = loss_fn(model(x), y)          forward: records the graph
# optimizer.zero_grad()                old gradients would otherwise be added to (+=)
# loss.backward()                      fills every p.grad
# clip (if grad_clip_norm is set)      must see the full gradient, before the step uses it
# scheduler.apply(optimizer, step)     set lr for THIS step: step 0 uses schedule(0)
# optimizer.step()                     update
# step += 1
# ```
#
# Clipping after `optimizer.step()` would clip gradients that were already used; applying the
# schedule after the step would run every step with the previous step's rate.
#
# **Worked example** (one step by hand): `Linear(1, 1)` with w = 0, b = 0, one sample x = 1,
# y = 2, MSE loss, SGD with lr = 0.1.
#
# ```
# prediction = w·x + b = 0          loss = (0 − 2)² = 4
# ∂loss/∂w = 2(pred − y)·x = −4     ∂loss/∂b = 2(pred − y) = −4
# w = 0 − 0.1·(−4) = 0.4            b = 0.4            train_step returns 4.0
# ```
#
# With `grad_clip_norm=1` the gradient (−4, −4) has norm √32 ≈ 5.657, is scaled to
# (−0.7071, −0.7071), and w = b = 0.07071.
#
# **Evaluation** measures, it does not learn: no gradient, no step, and the model in
# `eval()` mode so that dropout is off (module 03) and the result is deterministic. Under
# `no_grad()` (module 05) no graph is recorded, so every activation can be freed as soon as
# the next layer has used it; section 5 measures what that saves.
#
# ### Specification
#
# Given: `__init__` (stores the five arguments, `self.step = 0`, and
# `self.history = {"train_loss": [], "val_loss": [], "lr": []}`). `train_epoch` and
# `evaluate` also use two small helpers defined in section 3b, right after the first test:
# `_batch_size(x)`, the number of samples in a batch, and `_weighted_mean(losses, sizes)`,
# the epoch's mean loss (you write it there).
#
# - `train_step(x, y) -> float`: the seven lines above; `clip_grad_norm` is applied to
#   `self.optimizer.params`; returns the batch's loss as a Python float (`float(loss.data)`).
# - `train_epoch(loader) -> float`: put the model in training mode (`self.model.train()`),
#   `train_step` every `(x, y)` of `loader` (any iterable of pairs: a DataLoader, a list),
#   then append `_weighted_mean` of the batch losses, weighted by `_batch_size(x)`, to
#   `history["train_loss"]` and the optimizer's
#   current `lr` to `history["lr"]`, and return the mean.
# - `evaluate(loader) -> float`: remember whether the model was training
#   (`getattr(model, "training", True)`), switch to `self.model.eval()`, compute every batch's
#   loss under `with no_grad():`, restore the mode with `self.model.train(was_training)`, and
#   return the sample-weighted mean. It does not touch `history` and takes no step.
# - `fit(train_loader, val_loader=None, epochs=1) -> dict`: for each epoch, `train_epoch`,
#   then, if there is a `val_loader`, append `evaluate(val_loader)` to `history["val_loss"]`.
#   Returns `self.history` (so calling `fit` twice continues the same history).


# %% nbgrader={"grade": false, "grade_id": "trainer", "locked": false, "schema_version": 3, "solution": true}
#| export
class Trainer:
    """Train a model with an optimizer and a loss function; keeps a history per epoch."""

    def __init__(self, model, optimizer, loss_fn, scheduler=None, grad_clip_norm=None):
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.scheduler, self.grad_clip_norm = scheduler, grad_clip_norm
        self.step = 0  # optimizer steps taken, the schedule's clock
        self.history: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "lr": []}

    def train_step(self, x, y) -> float:
        """One forward, backward, (clip), (schedule) and update on a batch; returns its loss."""
        ### BEGIN SOLUTION
        loss = self.loss_fn(self.model(x), y)
        self.optimizer.zero_grad()
        loss.backward()
        if self.grad_clip_norm is not None:
            clip_grad_norm(self.optimizer.params, self.grad_clip_norm)
        if self.scheduler is not None:
            self.scheduler.apply(self.optimizer, self.step)
        self.optimizer.step()
        self.step += 1
        return float(loss.data)
        ### END SOLUTION

    def train_epoch(self, loader) -> float:
        """One pass over `loader` in training mode; returns the sample-weighted mean loss."""
        ### BEGIN SOLUTION
        self.model.train()
        losses, sizes = [], []
        for x, y in loader:
            losses.append(self.train_step(x, y))
            sizes.append(_batch_size(x))
        mean = _weighted_mean(losses, sizes)
        self.history["train_loss"].append(mean)
        self.history["lr"].append(self.optimizer.lr)
        return mean
        ### END SOLUTION

    def evaluate(self, loader) -> float:
        """Sample-weighted mean loss over `loader` in eval mode, without recording a graph."""
        ### BEGIN SOLUTION
        was_training = getattr(self.model, "training", True)
        self.model.eval()
        losses, sizes = [], []
        with no_grad():
            for x, y in loader:
                losses.append(float(self.loss_fn(self.model(x), y).data))
                sizes.append(_batch_size(x))
        self.model.train(was_training)
        return _weighted_mean(losses, sizes)
        ### END SOLUTION

    def fit(self, train_loader, val_loader=None, epochs: int = 1) -> dict:
        """`epochs` passes of training (and evaluation, with a val_loader); returns history."""
        ### BEGIN SOLUTION
        for _ in range(epochs):
            self.train_epoch(train_loader)
            if val_loader is not None:
                self.history["val_loss"].append(self.evaluate(val_loader))
        return self.history
        ### END SOLUTION


# %% [markdown]
# ### Test: one step by hand
#
# This replays the worked example: from w = b = 0 one step must return the loss 4.0 and
# leave w = b = 0.4; with clipping to norm 1, w = b = 0.0707; with a schedule the step uses
# `schedule(0)`. A wrong order (clipping after the step, the schedule one step late, no
# `zero_grad`) gives a different number here, which points at the line to fix.


# %% nbgrader={"grade": true, "grade_id": "test-train-step", "locked": true, "points": 15, "schema_version": 3}
def test_train_step_by_hand():
    def one_step(**options):
        model = Sequential(Linear(1, 1))
        for p in model.parameters():
            p.data[...] = 0.0
        trainer = Trainer(model, SGD(model.parameters(), lr=0.1), MSELoss(), **options)
        loss = trainer.train_step(np.ones((1, 1)), np.full((1, 1), 2.0))
        weight, bias = (float(p.data.ravel()[0]) for p in model.parameters())
        return trainer, loss, weight, bias

    trainer, loss, w, b = one_step()
    assert isinstance(loss, float) and math.isclose(loss, 4.0), f"loss (0 − 2)² = 4, got {loss}"
    assert np.allclose([w, b], [0.4, 0.4]), f"w = b = 0 − 0.1·(−4) = 0.4, got {w}, {b}"
    assert trainer.step == 1, f"one optimizer step taken, trainer.step = {trainer.step}"
    _, _, w, b = one_step(grad_clip_norm=1.0)
    assert np.allclose([w, b], [0.07071, 0.07071], atol=1e-5), (
        f"clip (−4, −4) to norm 1 BEFORE the step: w = b = 0.07071, got {w:.5f}, {b:.5f}"
    )
    trainer, _, w, _ = one_step(scheduler=CosineSchedule(0.5, 0.0, total_steps=10, warmup_steps=5))
    assert math.isclose(w, 0.4, rel_tol=1e-5), f"step 0 uses schedule(0) = 0.1: w = 0.4, got {w}"
    assert math.isclose(trainer.optimizer.lr, 0.1), "the schedule's rate is left in opt.lr"
    ### BEGIN HIDDEN TESTS
    model = Sequential(Linear(1, 1))
    for p in model.parameters():
        p.data[...] = 1.0
    trainer = Trainer(model, SGD(model.parameters(), lr=0.05), MSELoss())
    for _ in range(2):  # without zero_grad the second step would use twice the gradient
        loss = trainer.train_step(np.full((1, 1), 2.0), np.zeros((1, 1)))
    # step 1: pred 3, grads (12, 6) -> w 0.4, b 0.7; step 2: pred 1.5, loss 2.25
    assert math.isclose(loss, 2.25, rel_tol=1e-5), f"second step's loss 2.25, got {loss}"
    assert np.allclose(model.parameters()[0].data, [[0.1]], atol=1e-5), "w after two steps"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_train_step_by_hand()

# %% [markdown]
# ## 3b. The epoch's mean loss
#
# A loader's last batch is often smaller (module 08: 5 samples in batches of 2 give batches
# of 2, 2 and 1). The epoch's loss must weight every *sample* equally: if the three batches
# have mean losses 1.0, 2.0 and 4.0, the epoch's loss is
#
# ```
# (2·1.0 + 2·2.0 + 1·4.0) / (2 + 2 + 1) = 10 / 5 = 2.0
# ```
#
# the mean over the 5 samples, the number you would get from one batch holding all of them.
# The plain mean of the batch losses, (1 + 2 + 4)/3 = 2.33, would give the single sample of
# the last batch twice the weight of every other sample.
#
# ### Specification
#
# - `_batch_size(x) -> int` (given): the first dimension of `x` (a Tensor or an array), 1
#   for a scalar.
# - `_weighted_mean(losses, sizes) -> float`: Σ lossᵢ·sizeᵢ / Σ sizeᵢ as a Python float;
#   `float("nan")` when the lists are empty (an empty loader has no mean loss).
#   Example: `_weighted_mean([1.0, 2.0, 4.0], [2, 2, 1]) == 2.0`.


# %% nbgrader={"grade": false, "grade_id": "weighted-mean", "locked": false, "schema_version": 3, "solution": true}
#| export
def _batch_size(x) -> int:
    """Number of samples in a batch: the first dimension (1 for a scalar)."""
    shape = np.shape(x.data if isinstance(x, Tensor) else x)
    return shape[0] if shape else 1


def _weighted_mean(losses: list[float], sizes: list[int]) -> float:
    """Σ loss·size / Σ size; nan when there are no batches."""
    ### BEGIN SOLUTION
    return float(np.average(losses, weights=sizes)) if losses else float("nan")
    ### END SOLUTION


# %% [markdown]
# ### Test: the Trainer learns, evaluates fairly, and keeps its history
#
# This fits a line y = 3x − 1 (a loss 100× smaller after 40 epochs, a validation loss under
# 10⁻³), checks the history has one entry per epoch and the step clock counts 4 steps per
# epoch, that `evaluate` runs in eval mode without a graph and restores training mode, and
# that means weight batches by their size (the example above, and batches of 3 samples with
# loss 1 and 1 sample with loss 5: (3·1 + 1·5)/4 = 2, not 3).


# %% nbgrader={"grade": true, "grade_id": "test-trainer", "locked": true, "points": 30, "schema_version": 3}
def test_trainer_learns_a_line():
    np.random.seed(0)
    x = np.random.rand(64, 1).astype(np.float32)
    y = 3 * x - 1
    batches = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]
    model = Sequential(Linear(1, 1))
    trainer = Trainer(model, SGD(model.parameters(), lr=0.5), MSELoss(), grad_clip_norm=10.0)
    history = trainer.fit(batches, val_loader=batches, epochs=40)
    first, last = history["train_loss"][0], history["train_loss"][-1]
    assert last < 0.01 * first, f"training loss should drop 100x in 40 epochs: {first} → {last}"
    assert len(history["val_loss"]) == 40 and history["val_loss"][-1] < 1e-3, (
        f"one validation loss per epoch, ending below 1e-3: {history['val_loss'][-3:]}"
    )
    assert history["lr"] == [0.5] * 40, "history['lr'] records the optimizer's lr per epoch"
    assert trainer.step == 160, f"4 batches x 40 epochs = 160 steps, got {trainer.step}"
    assert model.training, "after fit() the model is back in training mode"

    # Dropout makes training-mode outputs random; evaluate() must switch it off and record
    # no graph (outputs that do not require grad).
    noisy = Sequential(Linear(4, 4), Dropout(0.5))
    seen = []

    def spy(out, target):
        seen.append((noisy.training, out.requires_grad))
        return ((out - Tensor(target)) ** 2).mean()

    judge = Trainer(noisy, SGD(noisy.parameters(), lr=0.1), spy)
    data = [(np.ones((8, 4)), np.zeros((8, 4)))]
    assert judge.evaluate(data) == judge.evaluate(data), "eval mode: dropout off, same result"
    assert seen == [(False, False)] * 2, f"(training, requires_grad) seen in evaluate: {seen}"
    assert noisy.training and judge.step == 0, "evaluate restores the mode and takes no step"

    # Batches of 3 samples (loss 1 each) and 1 sample (loss 5): the mean is 8/4 = 2, not 3.
    constant = Sequential(Linear(1, 1))
    for p in constant.parameters():
        p.data[...] = 0.0
    uneven = [(np.zeros((3, 1)), np.ones((3, 1))), (np.zeros((1, 1)), np.full((1, 1), 5.0**0.5))]
    judge = Trainer(constant, SGD(constant.parameters(), lr=0.1), MSELoss())
    mean = judge.evaluate(uneven)
    assert math.isclose(mean, 2.0, rel_tol=1e-6), f"sample-weighted mean (3·1 + 1·5)/4 = 2: {mean}"
    assert math.isnan(judge.evaluate([])), "an empty loader has no mean loss: nan"
    five = _weighted_mean([1.0, 2.0, 4.0], [2, 2, 1])
    assert math.isclose(five, 2.0), f"batches of 2, 2, 1 with losses 1, 2, 4: mean 2.0, got {five}"
    ### BEGIN HIDDEN TESTS
    assert math.isclose(_weighted_mean([3.0, 1.0], [1, 3]), 1.5), "another weighted mean"
    uneven = [(np.zeros((1, 1)), np.full((1, 1), 3.0)), (np.zeros((4, 1)), np.ones((4, 1)))]
    mean = judge.evaluate(uneven)
    assert math.isclose(mean, (9 + 4) / 5, rel_tol=1e-6), f"(1·9 + 4·1)/5, got {mean}"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_trainer_learns_a_line()

# %% [markdown]
# ## 4. Checkpoints
#
# Training runs for hours; processes crash, machines reboot, and you want to keep the best
# model, not the last. A **checkpoint** stores everything needed to continue *exactly*:
# the parameters, and the optimizer's state (module 06: the momentum buffers, Adam's m, v and
# per-parameter step counts, the learning rate and the step count). Without the optimizer
# state a resumed Adam restarts its moments from zero and takes a full-size, bias-corrected
# first step in every direction: the loss jumps.
#
# **The format.** One `.npz` file (NumPy's zip of named arrays, read back with `np.load`).
# Every array has a name; names use `/` to group them. Parameters are named by the model's
# `named_parameters()` (module 03), which gives stable names such as `layers.0.weight`,
# rather than by their position in a list, so a model built in the same way finds its
# arrays again. For `Sequential(Linear(2, 1))` with Adam after one step and `epoch=3`:
#
# ```
# param/layers.0.weight                  (2, 1) float32   the parameters
# param/layers.0.bias                    (1,)   float32
# optimizer/lr                           ()     0.001     0-d arrays for single numbers
# optimizer/step_count                   ()     1
# optimizer/layers.0.weight/step         ()     1         each key of the parameter's
# optimizer/layers.0.weight/exp_avg      (2, 1) float32   state dict, under its name
# optimizer/layers.0.weight/exp_avg_sq   (2, 1) float32
# optimizer/layers.0.bias/step           ()     1
# optimizer/layers.0.bias/exp_avg        (1,)   float32
# optimizer/layers.0.bias/exp_avg_sq     (1,)   float32
# extra/epoch                            ()     3         anything else you pass, by keyword
# ```
#
# **Loading safely.** A checkpoint of a different model must fail with a clear message and
# leave the model unchanged, never half-loaded. So `load_checkpoint` first checks every name
# and every shape, and only then copies. It copies *into* the existing arrays
# (`p.data[...] = stored`) rather than replacing `p.data`: the optimizer, and any layer that
# shares the weight, hold these same Tensors. `np.load` runs with `allow_pickle=False` (its
# default): a checkpoint holds numbers, never code, so a malicious file cannot run anything.
#
# **Saving safely.** `save_checkpoint` writes to `<path>.partial` and then renames it over
# `<path>` (`os.replace`, atomic): a crash while writing never destroys the last good
# checkpoint.
#
# ### Specification
#
# Given: `_parameter_names(model, optimizer)` (the model's name for each of the optimizer's
# parameters, in the optimizer's order), `save_checkpoint` (the atomic write) and
# `_restore_optimizer` (reads the `optimizer/...` entries back into the state dicts).
#
# `_checkpoint_arrays(model, optimizer, extra) -> dict[str, np.ndarray]`: the table above.
# - `param/<name>`: `p.data` for every `(name, p)` of `model.named_parameters()`;
# - only when `optimizer` is not None: `optimizer/lr` and `optimizer/step_count` as
#   `np.array(value)`, and `optimizer/<name>/<key>` = `np.asarray(value)` for every
#   `key, value` of each parameter's state dict, with names from `_parameter_names`;
# - `extra/<key>` = `np.asarray(value)` for each entry of the dict `extra`; a value that
#   NumPy can only store as an object array (`dtype.kind == "O"`, e.g. a dict) raises
#   `ValueError` with `"numbers or text"` in the message (it would need pickle to load).
#
# `_check_parameters(path, model, stored)`, where `stored` maps the file's names to arrays:
# - the names after `param/` must be exactly the model's parameter names. If any is
#   missing or unexpected, raise `ValueError` whose message contains `"does not fit"`, the
#   path, and the lists of missing and unexpected names;
# - then for each name, if the stored shape differs from the parameter's, raise `ValueError`
#   whose message contains `"shape"`, the name, and both shapes.
#
# `load_checkpoint(path, model, optimizer=None) -> dict`:
# 1. read every array: `with np.load(path) as data: stored = {k: data[k] for k in data.files}`;
# 2. `_check_parameters(...)`; then, with an optimizer, `_restore_optimizer(...)` (it raises
#    when the file has no optimizer state); only then
# 3. copy each `param/<name>` into its parameter in place;
# 4. return the extras as `{key: value}` (without the `extra/` prefix), 0-d arrays turned
#    into Python scalars with `.item()`: `{"epoch": 3}`, not `{"extra/epoch": array(3)}`.


# %% nbgrader={"grade": false, "grade_id": "checkpoints", "locked": false, "schema_version": 3, "solution": true}
#| export
def _parameter_names(model, optimizer) -> list[str]:
    """The model's name of each of the optimizer's parameters, in the optimizer's order."""
    names = {id(p): name for name, p in model.named_parameters()}
    missing = [i for i, p in enumerate(optimizer.params) if id(p) not in names]
    if missing:
        raise ValueError(f"Optimizer parameters {missing} do not belong to the model.")
    return [names[id(p)] for p in optimizer.params]


def _checkpoint_arrays(model, optimizer, extra: dict) -> dict:
    """Every array a checkpoint holds, by name: param/..., optimizer/..., extra/..."""
    ### BEGIN SOLUTION
    arrays = {f"param/{name}": p.data for name, p in model.named_parameters()}
    if optimizer is not None:
        arrays["optimizer/lr"] = np.array(optimizer.lr)
        arrays["optimizer/step_count"] = np.array(optimizer.step_count)
        for name, state in zip(_parameter_names(model, optimizer), optimizer.state):
            for key, value in state.items():
                arrays[f"optimizer/{name}/{key}"] = np.asarray(value)
    for key, value in extra.items():
        arrays[f"extra/{key}"] = np.asarray(value)
        if arrays[f"extra/{key}"].dtype.kind == "O":
            raise ValueError(f"Checkpoint extra '{key}' must be numbers or text, not {value!r}.")
    return arrays
    ### END SOLUTION


def save_checkpoint(path, model, optimizer=None, **extra) -> Path:
    """Save parameters (and optimizer state, and extra values) to an .npz file at `path`."""
    arrays = _checkpoint_arrays(model, optimizer, extra)
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as handle:  # a handle: np.savez would append .npz to a name
        np.savez(handle, **arrays)
    os.replace(partial, path)
    return path


def _check_parameters(path, model, stored: dict) -> None:
    """ValueError ("does not fit" / "shape") unless `stored` has exactly the model's params."""
    ### BEGIN SOLUTION
    expected = dict(model.named_parameters())
    found = [key[len("param/") :] for key in stored if key.startswith("param/")]
    missing = [name for name in expected if name not in found]
    unexpected = [name for name in found if name not in expected]
    if missing or unexpected:
        raise ValueError(
            f"The checkpoint {path} does not fit this model: it has no parameter {missing} "
            f"and parameters the model does not have {unexpected}."
        )
    for name, p in expected.items():
        if stored[f"param/{name}"].shape != p.shape:
            raise ValueError(
                f"Parameter '{name}' has shape {p.shape} in the model but "
                f"{stored[f'param/{name}'].shape} in the checkpoint {path}."
            )
    ### END SOLUTION


def _restore_optimizer(path, model, optimizer, stored: dict) -> None:
    """Put the checkpoint's optimizer entries back into `optimizer` (checked first)."""
    if "optimizer/step_count" not in stored:
        raise ValueError(f"The checkpoint {path} has no optimizer state; load without one.")
    states = []
    for name, p in zip(_parameter_names(model, optimizer), optimizer.params):
        prefix = f"optimizer/{name}/"
        state = {}
        for key, value in stored.items():
            if not key.startswith(prefix):
                continue
            if value.ndim == 0:  # a count such as Adam's step
                state[key[len(prefix) :]] = value.item()
            elif value.shape != p.shape:
                raise ValueError(f"Optimizer state '{key}' has shape {value.shape}, not {p.shape}.")
            else:
                state[key[len(prefix) :]] = value.astype(p.dtype)
        states.append(state)
    optimizer.state = states
    optimizer.lr = float(stored["optimizer/lr"])
    optimizer.step_count = int(stored["optimizer/step_count"])


def load_checkpoint(path, model, optimizer=None) -> dict:
    """Load parameters into `model` (and state into `optimizer`); returns the extras."""
    ### BEGIN SOLUTION
    with np.load(path) as data:  # allow_pickle stays False: a checkpoint holds no code
        stored = {k: data[k] for k in data.files}
    _check_parameters(path, model, stored)
    if optimizer is not None:
        _restore_optimizer(path, model, optimizer, stored)
    for name, p in model.named_parameters():
        p.data[...] = stored[f"param/{name}"]  # in place: the optimizer holds these Tensors
    extras = {k[len("extra/") :]: v for k, v in stored.items() if k.startswith("extra/")}
    return {k: v.item() if v.ndim == 0 else v for k, v in extras.items()}
    ### END SOLUTION


# %% [markdown]
# ### Test: a checkpoint resumes training exactly, and refuses the wrong model
#
# This saves a model with Adam after one step, checks the file holds exactly the names of
# the format table, loads it into a fresh model and optimizer, and compares parameters and
# state entry by entry. Then it loads into two models of other shapes, which must raise a
# `ValueError` that says why and leave their weights untouched (no half-loaded model).


# %% nbgrader={"grade": true, "grade_id": "test-checkpoint", "locked": true, "points": 25, "schema_version": 3}
def test_checkpoint_round_trip():
    import tempfile

    model = Sequential(Linear(2, 1))
    optimizer = Adam(model.parameters(), lr=0.1)
    for p in model.parameters():
        p.grad = Tensor(np.ones_like(p.data))
    optimizer.step()
    names = sorted(_checkpoint_arrays(model, optimizer, {"epoch": 3}))
    expected = sorted(
        ["param/layers.0.weight", "param/layers.0.bias", "optimizer/lr", "optimizer/step_count"]
        + [
            f"optimizer/layers.0.{p}/{k}"
            for p in ("weight", "bias")
            for k in ("step", "exp_avg", "exp_avg_sq")
        ]
        + ["extra/epoch"]
    )
    assert names == expected, f"the checkpoint's names follow the format table, got {names}"
    with tempfile.TemporaryDirectory() as folder:
        path = save_checkpoint(Path(folder) / "model.npz", model, optimizer, epoch=3)
        copy = Sequential(Linear(2, 1))
        fresh = Adam(copy.parameters(), lr=0.5)
        extras = load_checkpoint(path, copy, fresh)
        assert extras == {"epoch": 3}, f"extras come back without prefix as scalars: {extras}"
        assert fresh.step_count == 1 and fresh.lr == 0.1, "the optimizer's lr and count return"
        for (name, p), (_, q) in zip(model.named_parameters(), copy.named_parameters()):
            assert np.array_equal(p.data, q.data), f"parameter {name} must be restored exactly"
        for ours, theirs in zip(optimizer.state, fresh.state):
            assert ours["step"] == theirs["step"] == 1, "Adam's per-parameter step returns"
            assert np.array_equal(ours["exp_avg_sq"], theirs["exp_avg_sq"]), "v returns exactly"
        for other, word in ((Sequential(Linear(2, 4)), "shape"), (Sequential(), "does not fit")):
            before = [p.data.copy() for p in other.parameters()]
            try:
                load_checkpoint(path, other)
            except ValueError as error:
                assert word in str(error), f"the error should say '{word}', got: {error}"
            else:
                raise AssertionError("a checkpoint of another model must be refused")
            after = [p.data for p in other.parameters()]
            assert all(np.array_equal(a, b) for a, b in zip(before, after)), "left unchanged"
        try:
            save_checkpoint(Path(folder) / "bad.npz", model, config={"a": 1})
        except ValueError as error:
            assert "numbers or text" in str(error), f"say what extras may hold, got: {error}"
        else:
            raise AssertionError("an extra that needs pickle (a dict) must be refused")


if __name__ == "__main__":
    test_checkpoint_round_trip()

# %% [markdown]
# ## 5. Systems: what evaluation and checkpoints cost
#
# **Evaluation without a graph.** During training, every intermediate result of the forward
# pass is kept alive by the graph until `backward()`; that is the activation memory, and for
# a deep network it dwarfs the weights. Under `no_grad()` an activation is freed as soon as
# the next layer has consumed it, so the peak is a few activations, whatever the depth.
# We measure the peak with `tracemalloc` (NumPy reports its arrays to it) for a forward and
# loss with the graph and for your `Trainer.evaluate`.
#
# **Checkpoint size.** For P float32 parameters a training step holds weights (4P bytes),
# gradients (4P) and Adam's two moments (8P). A checkpoint that can resume stores weights and
# moments: 12P, 3× the weights; one for inference only needs the 4P of the weights.


# %%
def analyze_eval_memory(batch: int = 512, width: int = 256, depth: int = 6) -> dict:
    """tracemalloc peak (bytes) of a forward + loss with a graph and of Trainer.evaluate."""
    import tracemalloc

    from tinytorch.core.activations import ReLU

    layers = []
    for _ in range(depth):
        layers += [Linear(width, width), ReLU()]
    model = Sequential(*layers)
    x = Tensor(np.random.rand(batch, width))
    y = Tensor(np.zeros((batch, width)))
    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), MSELoss())
    peaks = {}
    for label in ("with graph", "evaluate (no_grad)"):
        tracemalloc.start()
        if label == "with graph":
            loss = MSELoss()(model(x), y)  # the graph keeps every activation alive
            del loss
        else:
            trainer.evaluate([(x, y)])
        peaks[label] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    activation = batch * width * 4
    for label, peak in peaks.items():
        print(f"{label:20s} peak {peak / 2**20:5.2f} MiB = {peak / activation:4.1f} activations")
    return peaks


if __name__ == "__main__":
    analyze_eval_memory()


# %%
def analyze_checkpoint_size(width: int = 256) -> dict:
    """File sizes of a weights-only and a resumable (Adam) checkpoint of an MLP."""
    import tempfile

    model = Sequential(Linear(width, 4 * width), Linear(4 * width, width))
    optimizer = Adam(model.parameters())
    for p in model.parameters():
        p.grad = Tensor(np.ones_like(p.data))
    optimizer.step()
    weights = sum(p.data.nbytes for p in model.parameters())
    sizes = {"weights in memory": weights}
    with tempfile.TemporaryDirectory() as folder:
        for label, opt in (("weights-only file", None), ("with Adam state file", optimizer)):
            path = save_checkpoint(Path(folder) / "ckpt.npz", model, opt)
            sizes[label] = path.stat().st_size
    for label, size in sizes.items():
        print(f"{label:22s} {size / 2**20:6.2f} MiB ({size / weights:.2f}x the weights)")
    return sizes


if __name__ == "__main__":
    analyze_checkpoint_size()

# %% [markdown]
# ## Reflect
#
# Answer in a few sentences each, with numbers where you can. Use the measurements above.

# %% [markdown]
# **Q1 (memory).** `analyze_eval_memory` measured the peak memory of one forward pass with
# and without a graph. Explain the two numbers in units of one activation (batch × width × 4
# bytes), and say how the gap grows with the depth of the network and with the batch size.

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-eval-memory", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# With the graph, every intermediate result stays referenced by the loss's graph until the
# loss is dropped: each Linear records two (x @ W, then + b) and each ReLU one, 18 for six
# layers, plus the loss's difference and square: the measured peak was 20 activations
# (10 MiB for 512 × 256 float32). Under no_grad each output is freed as soon as the next
# operation has read it, so the peak was about 3 activations (input, output and one
# temporary). The graph's cost grows linearly with depth and with batch size; the no_grad
# peak grows with the batch size only. That is why evaluation (and generation) can use much
# larger batches than training on the same machine.
# ### END SOLUTION

# %% [markdown]
# **Q2 (storage).** A 124M-parameter model is trained with AdamW in float32 and you keep a
# resumable checkpoint every 1,000 steps, plus the best one. How large is each file, and
# what would you keep for deployment? Compare with `analyze_checkpoint_size`.

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-checkpoint", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# Weights are 4 × 124M ≈ 0.5 GB; with m and v the resumable checkpoint is 3× that, about
# 1.5 GB (the measurement gave 1.00x for weights only and 3.00x with Adam's state; the npz
# adds only a small header per array). Keeping every checkpoint of a 100k-step run would be
# 150 GB, so one keeps the last few and the best. For deployment only the weights are
# needed, 0.5 GB, or half of that in float16. Gradients are never saved: the next backward
# recomputes them.
# ### END SOLUTION

# %% [markdown]
# **Q3 (what breaks).** In the middle of training the loss jumps from 2.1 to 9.7 and
# recovers only slowly, or becomes `nan`. Which of the tools of this module would you look
# at first, and how does each one protect against a too-high learning rate?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-lr-too-high", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# Look at the logged gradient norm (the value `clip_grad_norm` returns): a spike there shows
# the batch that kicked the weights. A too-high learning rate makes each step overshoot the
# minimum along sharply curved directions (module 06: on x² any lr > 1 diverges), so the
# loss grows step after step. Clipping bounds the length of every step to lr · max_norm, so
# one bad batch can move the weights only so far. Warm-up keeps lr small while the model and
# Adam's moments are still unreliable (Adam's early steps are about lr in every direction).
# The cosine decay lowers lr late in training, when the model sits in a narrow valley that a
# large step would jump out of. If the spike persists, lower max_lr: clipping treats the
# symptom, the learning rate is the cause.
# ### END SOLUTION

# %% [markdown]
# **Q4 (compute).** What does `clip_grad_norm` cost compared with a training step, and why
# is it computed over all parameters at once rather than one layer at a time?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-clip-cost", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# It reads every gradient once (squares and sums: about 2 flops per parameter) and, when it
# clips, writes every gradient once more: one or two passes over 4P bytes, memory-bound and
# cheaper than an SGD step, negligible next to forward and backward (about 6 flops per
# parameter per sample). It must see all gradients before scaling any of them, because the
# scale depends on the global norm; clipping layer by layer would change the direction of
# the step (the 3:4 example would become 1:1), which is a different, worse update.
# ### END SOLUTION

# %%
if __name__ == "__main__":
    print("All tests passed for module 07_training.")
