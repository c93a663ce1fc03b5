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
# # Module 06: Optimizers
#
# Autograd (module 05) gives every parameter θ its gradient g = ∂L/∂θ: the direction in which
# the loss grows fastest. An **optimizer** turns gradients into steps. Every training loop of
# this course, from the perceptron to TinyGPT, runs the same four lines:
#
# ```
# optimizer.zero_grad()        # forget last step's gradients
# loss = loss_fn(model(x), y)  # forward
# loss.backward()              # every p.grad is now ∂loss/∂p
# optimizer.step()             # every p.data moves, using p.grad (and the optimizer's memory)
# ```
#
# You will write three optimizers, each a small change of the one before:
#
# | optimizer | update for one parameter | memory per parameter |
# |---|---|---|
# | SGD | θ ← θ − lr·g | none |
# | SGD + momentum | b ← μ·b + g;  θ ← θ − lr·b | 1 array (b) |
# | Adam / AdamW | running averages m of g and v of g²; θ ← θ − lr·m̂/(√v̂ + ε) | 2 arrays (m, v) |
#
# They must match `torch.optim` step for step (the course's own tests compare them to 10⁻¹⁰
# in float64), so the details below (where weight decay enters, what the first momentum step
# does, which step count the bias correction uses) are part of the contract, not style.
#
# **Updates are in place and outside the graph.** A step writes `p.data` directly
# (`p.data -= ...`). It is not part of the model's computation, so autograd must not record
# it, and writing into the existing array keeps memory flat: the model, its layers and the
# optimizer all hold the *same* Tensor objects, so they all see the new values at once.

# %%
#| default_exp core.optimizers
#| export
import math

import numpy as np

from tinytorch.core.tensor import Tensor

# %% [markdown]
# ## 1. The Optimizer base class
#
# Every optimizer needs the same bookkeeping, so it lives in one base class:
#
# ```
#   params  = [ W1,   b1,   W2,   b2 ]      the Tensors to update, each listed once
#   state   = [ {},   {},   {},   {} ]      one dict per parameter: what the optimizer
#                                           remembers about it (momentum buffer, Adam's
#                                           moments and its own step count)
#   lr, step_count                          learning rate (a schedule may change it),
#                                           number of step() calls so far
# ```
#
# Why one state dict *per parameter*, and why created lazily? A parameter may miss a step:
# an embedding row that no token used, a layer that is frozen. In `torch.optim`, a parameter
# whose `.grad` is `None` is skipped entirely: it does not move, its momentum does not decay,
# and its step count does not advance. Its state stays `{}` until its first real update.
#
# Why listed once? Weight tying (module 13 shares a matrix between two layers) makes
# `model.parameters()` return the same Tensor twice; stepping it twice would double its
# learning rate. We keep the first occurrence, comparing *identity* (`id(p)`), not values:
# two different parameters can hold equal numbers.
#
# `zero_grad()` sets every `.grad` to `None` rather than filling it with zeros: the next
# `backward()` creates fresh arrays, and a parameter that receives no gradient this time is
# recognisably `None`, so `step()` skips it.
#
# ### Specification
#
# `_unique(params) -> list`
# - Walk `params` (any iterable: a list, a generator from `model.parameters()`) in order and
#   return a list holding each Tensor once, at its first position; identity decides (`id`).
# - An element that is not a `Tensor` raises `TypeError` with a message containing
#   `"Tensors"`, e.g. `"Optimizers update Tensors, not ndarray."`.
# - Example: for Tensors a, b: `_unique([a, b, a]) == [a, b]`.
#
# `Optimizer.__init__(self, params, lr)`
# - `self.params = _unique(params)`; an empty result raises `ValueError` whose message
#   contains `"no parameters"` (an optimizer over nothing is always a bug: usually a model
#   whose `parameters()` found nothing).
# - `lr` must be `> 0`, else `ValueError` mentioning `"learning rate"`. `self.lr = lr`.
# - `self.state = [{} for each parameter]` (a list of separate dicts, same order as params).
# - `self.step_count = 0`: subclasses add 1 at every `step()` call.
#
# `Optimizer.zero_grad(self)`: set `p.grad = None` for every parameter.
#
# `Optimizer._with_gradients(self)`: a generator of `(p, g, state)` for every parameter
# whose `.grad` is not `None`, in order, where `g = p.grad.data` (the ndarray) and `state`
# is that parameter's dict in `self.state` (the same object, so writing to it sticks).
# Subclasses write `step()` as one loop over it.


# %% nbgrader={"grade": false, "grade_id": "optimizer-base", "locked": false, "schema_version": 3, "solution": true}
#| export
def _unique(params) -> list:
    """The parameters in order, each Tensor once (by identity); a non-Tensor is a TypeError."""
    ### BEGIN SOLUTION
    unique, seen = [], set()
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"Optimizers update Tensors, not {type(p).__name__}.")
        if id(p) not in seen:
            seen.add(id(p))
            unique.append(p)
    return unique
    ### END SOLUTION


def _check_range(name: str, value: float, low: float, high: float = float("inf")) -> None:
    """Raise ValueError naming `name` unless low <= value < high."""
    if not low <= value < high:
        raise ValueError(f"{name} must be in [{low}, {high}), not {value}.")


class Optimizer:
    """Base class: keeps the parameters and their state, clears gradients; `step()` updates."""

    def __init__(self, params, lr: float):
        """Unique params (ValueError if none), lr > 0, one empty state dict each, step_count 0."""
        ### BEGIN SOLUTION
        self.params = _unique(params)
        if not self.params:
            raise ValueError("The optimizer got no parameters: pass model.parameters().")
        if not lr > 0:
            raise ValueError(f"The learning rate must be positive, not {lr}.")
        self.lr = lr
        self.state: list[dict] = [{} for _ in self.params]
        self.step_count = 0  # calls to step(); each parameter counts its own updates
        ### END SOLUTION

    def zero_grad(self) -> None:
        """Set every parameter's .grad to None (the next backward() makes fresh ones)."""
        ### BEGIN SOLUTION
        for p in self.params:
            p.grad = None
        ### END SOLUTION

    def step(self) -> None:
        """Update every parameter that has a gradient; each subclass defines it."""
        raise NotImplementedError("Subclasses implement step().")

    def _with_gradients(self):
        """Yield (parameter, its gradient as an ndarray, its state dict) where .grad is set."""
        ### BEGIN SOLUTION
        for p, state in zip(self.params, self.state):
            if p.grad is not None:
                yield p, p.grad.data, state
        ### END SOLUTION


# %% [markdown]
# ### Test: the bookkeeping
#
# This checks that a parameter listed twice is kept once (tied weights step once), that
# `state` holds one *separate* dict per parameter (a shared dict would mix two parameters'
# momentum), that `_with_gradients` skips a parameter without a gradient and hands out the
# real state dicts, and that the errors a user meets first (no parameters, a zero learning
# rate, an ndarray instead of a Tensor) are clear.


# %% nbgrader={"grade": true, "grade_id": "test-optimizer-base", "locked": true, "points": 10, "schema_version": 3}
def test_optimizer_base():
    a, b = Tensor([1.0], requires_grad=True), Tensor([2.0], requires_grad=True)
    opt = Optimizer([a, b, a], lr=0.1)
    assert [id(p) for p in opt.params] == [id(a), id(b)], (
        f"a parameter listed twice must be kept once, in order; got {len(opt.params)} params"
    )
    assert opt.lr == 0.1 and opt.step_count == 0, "lr is stored and step_count starts at 0"
    assert opt.state == [{}, {}], f"one empty state dict per parameter, got {opt.state}"
    assert opt.state[0] is not opt.state[1], "each parameter needs its own dict, not a shared one"
    a.grad = Tensor([0.5])
    found = list(opt._with_gradients())
    assert len(found) == 1 and found[0][0] is a, "only parameters with a .grad are yielded"
    assert isinstance(found[0][1], np.ndarray) and found[0][1][0] == 0.5, (
        "the gradient is handed out as p.grad.data, an ndarray"
    )
    found[0][2]["seen"] = True
    assert opt.state[0] == {"seen": True}, "the yielded state must be the dict in opt.state"
    opt.zero_grad()
    assert a.grad is None and b.grad is None, "zero_grad() sets every .grad to None"
    for bad_call, word in (
        (lambda: Optimizer([], lr=0.1), "no parameters"),
        (lambda: Optimizer([a], lr=0.0), "learning rate"),
        (lambda: Optimizer([np.zeros(2)], lr=0.1), "Tensors"),
    ):
        try:
            bad_call()
        except (ValueError, TypeError) as error:
            assert word in str(error), f"the error should mention '{word}', got: {error}"
        else:
            raise AssertionError(f"a bad argument must be refused with a message about '{word}'")


if __name__ == "__main__":
    test_optimizer_base()

# %% [markdown]
# ## 2. SGD with momentum
#
# **Plain SGD** steps against the gradient: θ ← θ − lr·g. On f(x) = x² (gradient 2x) with
# lr = 0.1 each step multiplies x by 1 − 2·0.1 = 0.8: 1 → 0.8 → 0.64 → 0.512 ...
#
# **Momentum** keeps a velocity b (the "momentum buffer"), a running sum of past gradients
# with weights 1, μ, μ², ...:
#
# ```
# b ← μ·b + g          (on the parameter's FIRST update: b ← g, a copy)
# θ ← θ − lr·b
# ```
#
# A direction that keeps coming back builds up speed, up to 1/(1−μ) times the plain step
# (10× for μ = 0.9); gradients that flip sign cancel in b. The first update sets b ← g
# exactly as `torch.optim.SGD` does (not b ← μ·0 + g, which is the same number, but written
# so you see that b starts from the gradient, not from zero).
#
# **Worked example**: f(x) = x², x₀ = 1, lr = 0.1, μ = 0.9.
#
# | step | x before | g = 2x | b | x after = x − 0.1·b | plain SGD |
# |---|---|---|---|---|---|
# | 1 | 1.0 | 2.0 | 2.0 (first: b = g) | 0.8 | 0.8 |
# | 2 | 0.8 | 1.6 | 0.9·2.0 + 1.6 = 3.4 | 0.46 | 0.64 |
# | 3 | 0.46 | 0.92 | 0.9·3.4 + 0.92 = 3.98 | 0.062 | 0.512 |
#
# After three steps momentum is at 0.062, plain SGD at 0.512. (Keep going and momentum
# overshoots below 0 and swings back: the velocity needs a few steps to die down.)
#
# **Weight decay (L2).** With `weight_decay` λ > 0, SGD adds λθ to the gradient *before*
# the momentum: g ← g + λθ. That is the gradient of the penalty ½λ‖θ‖², which pulls every
# weight towards 0. Example: θ = 2, g = 0, λ = 0.5, lr = 0.1 → g = 1, θ = 2 − 0.1 = 1.9.
#
# ### Specification: `SGD.step()`
#
# - Add 1 to `self.step_count` (once per call, even if no parameter has a gradient).
# - For each `(p, g, state)` of `self._with_gradients()`, in p's dtype, in place on `p.data`:
#   1. if `self.weight_decay`: `g = g + self.weight_decay * p.data` (a new array: never
#      change `p.grad` itself);
#   2. if `self.momentum`: the buffer is `state["momentum_buffer"]`, an ndarray of p's shape
#      and dtype. On the first update it is a **copy** of g (`np.array(g, dtype=p.data.dtype)`:
#      if it were g itself, the buffer would change whenever someone changes the gradient);
#      afterwards update it in place, `buffer *= μ; buffer += g`. Then use the buffer as g;
#   3. `p.data -= self.lr * g`.
# - Without momentum, SGD keeps no state: `state` stays `{}`.
# - A parameter whose `.grad` is `None` does not move and its state does not change.
# - Example: `p = Tensor([1.0, -2.0]); p.grad = Tensor([0.5, 0.5]); SGD([p], lr=0.1).step()`
#   leaves `p.data == [0.95, -2.05]`.


# %% nbgrader={"grade": false, "grade_id": "sgd", "locked": false, "schema_version": 3, "solution": true}
#| export
class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and L2 weight decay."""

    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, lr)
        _check_range("momentum", momentum, 0.0, 1.0)
        _check_range("weight_decay", weight_decay, 0.0)
        self.momentum = momentum
        self.weight_decay = weight_decay

    def step(self) -> None:
        """g ← g + λθ; b ← μb + g (b ← copy of g the first time); θ ← θ − lr·b, in place."""
        ### BEGIN SOLUTION
        self.step_count += 1
        for p, g, state in self._with_gradients():
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            if self.momentum:
                buffer = state.get("momentum_buffer")
                if buffer is None:
                    buffer = state["momentum_buffer"] = np.array(g, dtype=p.data.dtype)
                else:
                    buffer *= self.momentum
                    buffer += g
                g = buffer
            p.data -= self.lr * g
        ### END SOLUTION


# %% [markdown]
# ### Test: SGD, step by step
#
# This replays the worked example (three momentum steps on x² from x = 1 must give 0.8,
# 0.46, 0.062 and leave the buffer at 3.98), so an error in the first-step rule or in the
# order "decay, then momentum, then step" shows up as a wrong number you can find in the
# table above. It also checks that the buffer is a copy, not the gradient array, that a
# parameter without a gradient stays put, that L2 decay adds λθ, and that float32 stays
# float32 (a float64 update would silently double the model's memory).


# %% nbgrader={"grade": true, "grade_id": "test-sgd", "locked": true, "points": 20, "schema_version": 3}
def test_sgd_and_momentum():
    p = Tensor([1.0, -2.0], requires_grad=True)
    p.grad = Tensor([0.5, 0.5])
    plain = SGD([p], lr=0.1)
    plain.step()
    assert np.allclose(p.data, [0.95, -2.05]), f"θ ← θ − lr·g gives [0.95, -2.05], got {p.data}"
    assert plain.state == [{}], f"SGD without momentum keeps no state, got {plain.state}"
    assert plain.step_count == 1, "step() counts its calls in step_count"
    assert p.data.dtype == np.float32, f"the update keeps float32, got {p.data.dtype}"

    x = Tensor([1.0], requires_grad=True)
    opt = SGD([x], lr=0.1, momentum=0.9)
    seen = []
    for _ in range(3):
        opt.zero_grad()
        (x * x).sum().backward()
        opt.step()
        seen.append(round(float(x.data[0]), 5))
    assert np.allclose(seen, [0.8, 0.46, 0.062], atol=1e-5), (
        f"momentum on x² from 1 (lr 0.1, μ 0.9) must visit 0.8, 0.46, 0.062; got {seen}"
    )
    buffer = opt.state[0]["momentum_buffer"]
    assert np.allclose(buffer, [3.98], atol=1e-5), f"the buffer after 3 steps is 3.98: {buffer}"
    assert not np.shares_memory(buffer, x.grad.data), "the buffer must be a copy of g, not g"

    opt.zero_grad()
    opt.step()  # no gradient: nothing moves, the buffer does not decay
    assert np.allclose(x.data, [0.062], atol=1e-5), f"without a .grad x must stay, got {x.data}"
    assert np.allclose(buffer, [3.98], atol=1e-5), "a skipped parameter's buffer must not change"

    r = Tensor([2.0], requires_grad=True)
    r.grad = Tensor([0.0])
    SGD([r], lr=0.1, weight_decay=0.5).step()
    assert np.allclose(r.data, [1.9]), (
        f"L2 decay: g = 0 + 0.5·2 = 1, θ = 2 − 0.1 = 1.9; got {r.data}"
    )
    assert r.grad.data[0] == 0.0, "weight decay must not write into p.grad"
    ### BEGIN HIDDEN TESTS
    rng = np.random.default_rng(7)
    start = rng.normal(size=3)
    q = Tensor(start, requires_grad=True, dtype=np.float64)
    opt = SGD([q], lr=0.05, momentum=0.5, weight_decay=0.1)
    theta, b = start.copy(), None
    for _ in range(4):
        g = rng.normal(size=3)
        q.grad = Tensor(g, dtype=np.float64)
        opt.step()
        g = g + 0.1 * theta
        b = g.copy() if b is None else 0.5 * b + g
        theta = theta - 0.05 * b
    assert np.allclose(q.data, theta, atol=1e-12), "SGD with momentum and decay vs NumPy"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_sgd_and_momentum()

# %% [markdown]
# ## 3. Adam
#
# SGD uses one learning rate for every parameter. But gradients differ wildly in scale: an
# embedding row seen once in a thousand batches gets tiny, rare gradients; a bias gets large
# ones every step. **Adam** gives each parameter (each *entry*, in fact) its own step size by
# dividing by a running measure of how large its gradients usually are.
#
# It keeps, per parameter, two running averages and its own step count t:
#
# ```
# t ← t + 1
# m ← β₁·m + (1−β₁)·g          first moment: a smoothed gradient (like momentum)
# v ← β₂·v + (1−β₂)·g²         second moment: a smoothed squared gradient (g² entrywise)
# m̂ = m / (1 − β₁ᵗ)            bias corrections
# v̂ = v / (1 − β₂ᵗ)
# θ ← θ − lr · m̂ / (√v̂ + ε)
# ```
#
# With defaults β₁ = 0.9, β₂ = 0.999, ε = 10⁻⁸. For a steady gradient m̂/√v̂ ≈ g/|g| = ±1,
# so every entry moves by about lr, whatever the size of its gradient: lr is a *distance*.
#
# **Why bias correction?** m and v start at 0. After one step m = (1−β₁)·g is only 10% of g
# and v = (1−β₂)·g² is only 0.1% of g². Dividing by 1−β₁ᵗ and 1−β₂ᵗ undoes exactly that
# (for a constant gradient m̂ = g and v̂ = g² at every t); as t grows, βᵗ → 0 and the
# corrections fade. Without them the first step would be lr·0.1g/√(0.001g²) = 3.16·lr:
# the moments are not equally "too small", so their ratio is wrong, not just small.
#
# **Worked example**: f(x) = x², x₀ = 1, lr = 0.1, default betas and ε.
#
# ```
# step 1: g = 2.0
#   m = 0.1·2.0               = 0.2         m̂ = 0.2 / (1 − 0.9)       = 2.0
#   v = 0.001·4.0             = 0.004       v̂ = 0.004 / (1 − 0.999)   = 4.0
#   x = 1.0 − 0.1·2.0/(√4.0 + 1e-8)         = 0.9          (a step of exactly ≈ lr)
# step 2: g = 1.8
#   m = 0.9·0.2 + 0.1·1.8     = 0.36        m̂ = 0.36 / (1 − 0.81)     = 1.894737
#   v = 0.999·0.004 + 0.001·3.24 = 0.007236 v̂ = 0.007236 / 0.001999  = 3.619810
#   x = 0.9 − 0.1·1.894737/√3.619810 = 0.9 − 0.099588 = 0.800412
# ```
#
# Step 2 is slightly shorter than lr: the gradient shrank (1.8 < 2.0) and m̂ responds faster
# than √v̂ (β₁ forgets faster than β₂).
#
# **L2 weight decay in Adam.** As in SGD, `weight_decay` λ adds λθ to the gradient before
# anything else. (Section 4 shows why this is a poor regulariser for Adam.)
#
# ### Specification: `Adam.step()`
#
# - Add 1 to `self.step_count` (once per call).
# - For each `(p, g, state)` of `self._with_gradients()`:
#   1. if `state` is empty (the parameter's first update), create
#      `state["step"] = 0` (a Python int), `state["exp_avg"] = np.zeros_like(p.data)` (m) and
#      `state["exp_avg_sq"] = np.zeros_like(p.data)` (v). These three keys are the format
#      that checkpoints (module 07) save, so use exactly these names;
#   2. weight decay, if `self.weight_decay`: when `self.decoupled_weight_decay` is True
#      (AdamW, section 4) shrink the parameter, `p.data *= 1 - self.lr * self.weight_decay`;
#      otherwise (Adam) `g = g + self.weight_decay * p.data`, a new array;
#   3. `state["step"] += 1`, and t = that count: the parameter's own count, so a parameter
#      that missed steps gets its full bias correction at its first real update;
#   4. update m and v **in place** (`m *= β₁; m += (1−β₁)·g`, same for v with g·g);
#   5. `p.data -= lr · m̂ / (√v̂ + ε)` with m̂, v̂ as above (`math.sqrt` for the scalar
#      1−β₂ᵗ, `np.sqrt` for the array v).
# - Every array stays in p's dtype; a parameter with no `.grad` is skipped (state stays `{}`).
# - The hyperparameters are `self.beta1`, `self.beta2`, `self.eps`, `self.weight_decay`.
# - Example: `p = Tensor([1.0, 1.0]); p.grad = Tensor([2.0, -0.001]); Adam([p], lr=0.1)`,
#   one step: `p.data ≈ [0.9, 1.1]`: lr·sign(g), whatever the size of g.
#
# PyTorch arranges step 5 as (lr/(1−β₁ᵗ)) · m / (√v/√(1−β₂ᵗ) + ε), the same value with the
# fewest operations on the big arrays; any arrangement of the formula matches it to 10⁻¹⁵.


# %% nbgrader={"grade": false, "grade_id": "adam", "locked": false, "schema_version": 3, "solution": true}
#| export
class Adam(Optimizer):
    """Adam: per-parameter step sizes from bias-corrected running moments of the gradient."""

    decoupled_weight_decay = False  # AdamW sets this: decay shrinks θ instead of adding to g

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(params, lr)
        self.beta1, self.beta2 = betas
        _check_range("betas[0]", self.beta1, 0.0, 1.0)
        _check_range("betas[1]", self.beta2, 0.0, 1.0)
        _check_range("eps", eps, 0.0)
        _check_range("weight_decay", weight_decay, 0.0)
        self.eps = eps
        self.weight_decay = weight_decay

    def step(self) -> None:
        """One Adam update of every parameter with a gradient (see the specification)."""
        ### BEGIN SOLUTION
        self.step_count += 1
        for p, g, state in self._with_gradients():
            if not state:  # first update of this parameter: moments start at zero
                state["step"] = 0
                state["exp_avg"] = np.zeros_like(p.data)
                state["exp_avg_sq"] = np.zeros_like(p.data)
            if self.weight_decay and self.decoupled_weight_decay:
                p.data *= 1 - self.lr * self.weight_decay
            elif self.weight_decay:
                g = g + self.weight_decay * p.data
            state["step"] += 1
            t = state["step"]
            m, v = state["exp_avg"], state["exp_avg_sq"]
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * (g * g)
            # PyTorch's arrangement: the bias corrections act on scalars, not on m and v.
            denominator = np.sqrt(v)
            denominator /= math.sqrt(1 - self.beta2**t)
            denominator += self.eps
            p.data -= (self.lr / (1 - self.beta1**t)) * m / denominator
        ### END SOLUTION


# %% [markdown]
# ### Test: Adam's first steps and its per-parameter state
#
# This replays the worked example (x² from 1: x = 0.9, then 0.800412; m = 0.36 and
# v = 0.007236 after step 2), so a missing or wrong bias correction shows up as a number
# you can compare with the table. It checks that the first step is lr·sign(g) for a large
# and a tiny gradient alike, that the state uses the names `step`, `exp_avg`, `exp_avg_sq`,
# and that a parameter which misses a step keeps its own, smaller step count: its first real
# update must still be a full, bias-corrected step of lr.


# %% nbgrader={"grade": true, "grade_id": "test-adam", "locked": true, "points": 30, "schema_version": 3}
def test_adam_first_steps_and_state():
    x = Tensor([1.0], requires_grad=True)
    opt = Adam([x], lr=0.1)
    seen = []
    for _ in range(2):
        opt.zero_grad()
        (x * x).sum().backward()
        opt.step()
        seen.append(float(x.data[0]))
    assert np.allclose(seen, [0.9, 0.800412], atol=1e-5), (
        f"Adam on x² from 1 (lr 0.1) must give x = 0.9, then 0.800412; got {seen}"
    )
    state = opt.state[0]
    assert set(state) == {"step", "exp_avg", "exp_avg_sq"}, f"state keys, got {sorted(state)}"
    assert state["step"] == 2 and opt.step_count == 2, "two updates: t = 2"
    assert np.allclose(state["exp_avg"], [0.36], atol=1e-6), f"m = 0.36, got {state['exp_avg']}"
    assert np.allclose(state["exp_avg_sq"], [0.007236], atol=1e-7), (
        f"v = 0.999·0.004 + 0.001·1.8² = 0.007236, got {state['exp_avg_sq']}"
    )
    assert state["exp_avg"].dtype == np.float32, "moments keep the parameter's dtype (float32)"

    p = Tensor([1.0, 1.0], requires_grad=True)
    p.grad = Tensor([2.0, -0.001])
    Adam([p], lr=0.1).step()
    assert np.allclose(p.data, [0.9, 1.1], atol=1e-4), (
        f"the first step is lr·sign(g) for any size of g: expected [0.9, 1.1], got {p.data}"
    )

    a, b = Tensor([1.0], requires_grad=True), Tensor([1.0], requires_grad=True)
    opt = Adam([a, b], lr=0.1)
    a.grad = Tensor([1.0])
    opt.step()
    assert opt.state[1] == {} and b.data[0] == 1.0, "b had no gradient: untouched, no state"
    b.grad = Tensor([1.0])
    opt.step()
    assert opt.state[0]["step"] == 2 and opt.state[1]["step"] == 1, "each parameter counts t"
    assert np.allclose(b.data, [0.9], atol=1e-4), f"b's first update is a full step, {b.data}"
    ### BEGIN HIDDEN TESTS
    rng = np.random.default_rng(3)
    start = rng.normal(size=4)
    q = Tensor(start, requires_grad=True, dtype=np.float64)
    opt = Adam([q], lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)
    theta, m, v = start.copy(), np.zeros(4), np.zeros(4)
    for t in range(1, 6):
        g = rng.normal(size=4)
        q.grad = Tensor(g, dtype=np.float64)
        opt.step()
        g = g + 0.1 * theta
        m = 0.8 * m + 0.2 * g
        v = 0.95 * v + 0.05 * g * g
        theta = theta - 0.01 * (m / (1 - 0.8**t)) / (np.sqrt(v / (1 - 0.95**t)) + 1e-6)
    assert np.allclose(q.data, theta, atol=1e-12), "Adam with L2 decay and other betas vs NumPy"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_adam_first_steps_and_state()

# %% [markdown]
# ## 4. AdamW: decoupled weight decay
#
# Adam's L2 decay adds λθ to g, and then *divides* it by √v̂ along with the gradient. Two
# consequences, both bad for a regulariser:
#
# - a weight with large gradients (large √v̂) is barely decayed; one with small gradients is
#   decayed a lot. Decay should not depend on how noisy a weight's gradient is;
# - the decay part of the step is normalised away: with g = 0, the step is lr·sign(θ),
#   whatever λ is.
#
# **AdamW** (Loshchilov & Hutter, 2019) decouples the decay from the gradient: it shrinks
# the weight directly, θ ← θ·(1 − lr·λ), *before* the ordinary Adam step on the plain g.
#
# **Worked example**: θ = 2, lr = 0.1, λ = 0.1, first step.
#
# | gradient | Adam with L2 (g ← g + λθ) | AdamW (θ ← θ(1 − lr·λ), then Adam on g) |
# |---|---|---|
# | g = 0 | g = 0.2, step = lr·sign = 0.1 → θ = 1.9 | θ = 2·0.99 = 1.98, Adam step 0 → 1.98 |
# | g = 10 | g = 10.2, step ≈ 0.1 → θ = 1.9 | θ = 1.98, then − 0.1 → 1.88 |
#
# With L2 the decay is invisible once a gradient is present (both rows give 1.9: the λθ = 0.2
# drowned in g = 10) and too strong when there is none (a full lr step for a tiny λ). With
# AdamW every weight shrinks by the same factor 0.99, on top of the gradient's step. This is
# the optimizer used to train transformers, with λ around 0.01-0.1.
#
# ### Specification
#
# Nothing new to write here: `AdamW` is `Adam` with the class attribute
# `decoupled_weight_decay = True` and a default `weight_decay=0.01`, and your `Adam.step()`
# already branches on that attribute (step 2 of its specification). The test below checks
# the branch.


# %%
#| export
class AdamW(Adam):
    """Adam with decoupled weight decay: θ ← θ·(1 − lr·λ) before each Adam step."""

    decoupled_weight_decay = True

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
    ):
        super().__init__(params, lr, betas, eps, weight_decay)


# %% [markdown]
# ### Test: decoupled versus L2 decay
#
# This replays the table: with g = 0 AdamW gives 1.98 where Adam-L2 gives 1.9, and with
# g = 10 AdamW gives 1.88 where Adam-L2 still gives 1.9. If AdamW adds λθ to the gradient
# (the L2 branch) or decays after the Adam step instead of before, the numbers differ.


# %% nbgrader={"grade": true, "grade_id": "test-adamw", "locked": true, "points": 10, "schema_version": 3}
def test_adamw_decouples_weight_decay():
    results = {}
    for name, make in (("Adam", Adam), ("AdamW", AdamW)):
        for g in (0.0, 10.0):
            w = Tensor([2.0], requires_grad=True)
            w.grad = Tensor([g])
            make([w], lr=0.1, weight_decay=0.1).step()
            results[name, g] = float(w.data[0])
    expected = {
        ("Adam", 0.0): 1.9,
        ("Adam", 10.0): 1.9,
        ("AdamW", 0.0): 1.98,
        ("AdamW", 10.0): 1.88,
    }
    for key, value in expected.items():
        assert abs(results[key] - value) < 1e-4, (
            f"{key[0]} with λ = 0.1, θ = 2, g = {key[1]}: expected {value}, got {results[key]:.5f}"
        )
    assert AdamW([Tensor([1.0], requires_grad=True)]).weight_decay == 0.01, "default λ is 0.01"
    ### BEGIN HIDDEN TESTS
    w = Tensor([3.0], requires_grad=True, dtype=np.float64)
    w.grad = Tensor([0.0], dtype=np.float64)
    AdamW([w], lr=0.2, weight_decay=0.5).step()
    assert abs(w.data[0] - 3.0 * (1 - 0.2 * 0.5)) < 1e-12, "AdamW shrinks θ by (1 − lr·λ)"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_adamw_decouples_weight_decay()

# %% [markdown]
# ## 5. The loop that uses them
#
# An optimizer never computes a gradient itself: it only reads `.grad`. The loop around it
# must clear the old gradients, compute the loss, fill the new gradients, and step, in that
# order (the four lines at the top of this module). Forgetting `zero_grad()` is the classic
# bug: `backward()` *adds* into an existing `.grad` (module 05), so every step would use the
# sum of all gradients so far.
#
# ### Specification: `minimise(optimizer, loss_fn, steps) -> float`
#
# - `loss_fn` is a function of no arguments that builds and returns a scalar loss Tensor
#   from the parameters the optimizer holds (so each call records a fresh graph).
# - Repeat `steps` times: `optimizer.zero_grad()`; `loss = loss_fn()`; `loss.backward()`;
#   `optimizer.step()`.
# - Return the loss of the last iteration as a Python float (the loss *before* that last
#   step). With `steps = 0`, return `nan` (no loss was computed).
# - Example: `x = Tensor([1.0], requires_grad=True)`,
#   `minimise(SGD([x], lr=0.1), lambda: (x * x).sum(), 2)` returns 0.64 (the loss at
#   x = 0.8) and leaves x at 0.64.


# %% nbgrader={"grade": false, "grade_id": "minimise", "locked": false, "schema_version": 3, "solution": true}
def minimise(optimizer: Optimizer, loss_fn, steps: int) -> float:
    """`steps` rounds of zero_grad, loss_fn().backward(), step; returns the last loss."""
    ### BEGIN SOLUTION
    last = float("nan")
    for _ in range(steps):
        optimizer.zero_grad()
        loss = loss_fn()
        loss.backward()
        optimizer.step()
        last = float(loss.data)
    return last
    ### END SOLUTION


# %% [markdown]
# ### Test: all three actually optimise
#
# The worked examples check single steps; this checks the long run. Each optimizer minimises
# ‖x − (3, −1)‖² from x = 0 through your `minimise` loop. A sign error (stepping *up* the
# gradient), a state that is rebuilt every step (so momentum or the moments never
# accumulate) or a loop without `zero_grad` passes a one-step test but fails here.


# %% nbgrader={"grade": true, "grade_id": "test-training", "locked": true, "points": 20, "schema_version": 3}
def test_optimizers_minimise_a_quadratic():
    x = Tensor([1.0], requires_grad=True)
    last = minimise(SGD([x], lr=0.1), lambda: (x * x).sum(), 2)
    assert abs(last - 0.64) < 1e-5 and abs(x.data[0] - 0.64) < 1e-5, (
        f"two SGD steps on x² from 1: last loss 0.64 (at x = 0.8), x = 0.64; got {last}, {x.data}"
    )
    target = np.array([3.0, -1.0], dtype=np.float32)
    optimizers = {
        "SGD(momentum=0.5)": lambda ps: SGD(ps, lr=0.1, momentum=0.5),
        "Adam": lambda ps: Adam(ps, lr=0.1),
        "AdamW": lambda ps: AdamW(ps, lr=0.1, weight_decay=1e-4),
    }
    for name, make in optimizers.items():
        x = Tensor(np.zeros(2), requires_grad=True)
        last = minimise(make([x]), lambda x=x: ((x - target) ** 2).sum(), 300)
        assert np.allclose(x.data, target, atol=1e-2), (
            f"{name} should reach the minimum (3, -1) in 300 steps, got {x.data}"
        )
        assert last < 1e-3, f"{name}: the loss near the minimum should be tiny, got {last}"


if __name__ == "__main__":
    test_optimizers_minimise_a_quadratic()

# %% [markdown]
# ## 6. Systems: what the optimizer's memory costs
#
# The optimizer's state lives as long as training does, next to the weights and gradients.
# For P float32 parameters (4 bytes each):
#
# ```
#                  weights   gradients   optimizer state   total
# SGD               4P         4P           0                8P
# SGD + momentum    4P         4P           4P  (b)         12P
# Adam / AdamW      4P         4P           8P  (m, v)      16P
# ```
#
# A 124M-parameter GPT-2 in float32 therefore needs 16 × 124M ≈ 2 GB with Adam before a
# single activation is stored, half of it optimizer state. We do not trust the table: we
# measure the arrays your optimizers actually hold.
#
# ### Specification: `optimizer_state_bytes(optimizer) -> int`
#
# The sum of `.nbytes` over every **ndarray** value in every state dict of
# `optimizer.state`. Plain numbers (Adam's `step` count) are not counted. Example: after one
# step of `Adam` on a float32 parameter of 1,000 entries, 8,000 bytes (m and v, 4,000 each).


# %% nbgrader={"grade": false, "grade_id": "state-bytes", "locked": false, "schema_version": 3, "solution": true}
def optimizer_state_bytes(optimizer: Optimizer) -> int:
    """Bytes held in the ndarrays of the optimizer's per-parameter state dicts."""
    ### BEGIN SOLUTION
    total = 0
    for state in optimizer.state:
        for value in state.values():
            if isinstance(value, np.ndarray):
                total += value.nbytes
    return total
    ### END SOLUTION


# %% [markdown]
# ### Test: state memory is 0×, 1× and 2× the weights
#
# This measures the table's "optimizer state" column on your optimizers: after one step on
# 1,000 float32 weights, SGD holds 0 bytes, SGD with momentum 4,000 and Adam 8,000; a
# parameter that never had a gradient holds nothing (lazy state is a memory saving too).


# %% nbgrader={"grade": true, "grade_id": "test-state-memory", "locked": true, "points": 10, "schema_version": 3}
def test_optimizer_state_memory():
    expected = {"SGD": 0, "SGD+momentum": 4000, "Adam": 8000, "AdamW": 8000}
    makers = {
        "SGD": lambda ps: SGD(ps, lr=0.1),
        "SGD+momentum": lambda ps: SGD(ps, lr=0.1, momentum=0.9),
        "Adam": lambda ps: Adam(ps),
        "AdamW": lambda ps: AdamW(ps),
    }
    for name, make in makers.items():
        p = Tensor(np.zeros(1000), requires_grad=True)
        idle = Tensor(np.zeros(500), requires_grad=True)  # never gets a gradient
        p.grad = Tensor(np.ones(1000))
        opt = make([p, idle])
        opt.step()
        got = optimizer_state_bytes(opt)
        assert got == expected[name], (
            f"{name} on 1,000 float32 weights (+500 idle) should hold {expected[name]} "
            f"bytes of state, got {got}"
        )


if __name__ == "__main__":
    test_optimizer_state_memory()

# %% [markdown]
# ### Measure: memory and time per step on a million parameters
#
# The function below builds 1M float32 parameters, takes one step with each optimizer, and
# reports the state bytes as a multiple of the weights and the median time of a step (five
# steps). Expect 0×, 1× and 2×, and Adam's step to cost several times SGD's: it touches m, v
# and θ with about ten array operations, each a full pass over memory. On these machines a
# pass over 4 MB takes about a millisecond, so an optimizer step is *memory-bound*: its time
# is set by the bytes it reads and writes, not by its few flops per entry.


# %%
def analyze_optimizer_memory(num_parameters: int = 1_000_000) -> list[dict]:
    """State bytes (measured) and median step time of each optimizer on float32 weights."""
    import time

    weights = 4 * num_parameters
    makers = {
        "SGD": lambda ps: SGD(ps, lr=0.1),
        "SGD+momentum": lambda ps: SGD(ps, lr=0.1, momentum=0.9),
        "Adam/AdamW": lambda ps: Adam(ps),
    }
    rows = []
    for name, make in makers.items():
        p = Tensor(np.zeros(num_parameters, dtype=np.float32), requires_grad=True)
        p.grad = Tensor(np.ones(num_parameters, dtype=np.float32))
        optimizer = make([p])
        times = []
        for _ in range(5):
            start = time.perf_counter()
            optimizer.step()
            times.append(time.perf_counter() - start)
        state = optimizer_state_bytes(optimizer)
        rows.append(
            {
                "optimizer": name,
                "state_bytes": state,
                "ratio": state / weights,
                "step_ms": 1e3 * float(np.median(times)),
            }
        )
        print(
            f"{name:13s} state {state / weights:.0f}x the weights ({state / 2**20:5.1f} MiB), "
            f"step {rows[-1]['step_ms']:6.2f} ms"
        )
    return rows


if __name__ == "__main__":
    analyze_optimizer_memory()

# %% [markdown]
# ### Measure: what a too-high learning rate does
#
# On f(x) = x², one SGD step is x ← x − lr·2x = (1 − 2·lr)·x. So |x| shrinks when
# |1 − 2·lr| < 1, i.e. 0 < lr < 1, fastest at lr = 0.5 (one step to 0); at lr = 1 it flips
# sign forever, and above 1 it grows geometrically: at lr = 1.1, |x| × 1.2 every step.
# The curvature of the loss (here 2) sets the largest stable learning rate, 2/curvature.
# Below we run your SGD for 20 steps from x = 1. Adam behaves differently: its step is about
# lr whatever the gradient, so with a large lr it does not explode, it rattles around the
# minimum at distances up to about lr (here |x| = 0.2 after 20 steps, not 38).


# %%
def analyze_learning_rate(steps: int = 20) -> list[dict]:
    """|x| after `steps` steps on f(x) = x² from x = 1, for several learning rates."""
    rows = []
    for name, make, lr in [("SGD", SGD, lr) for lr in (0.1, 0.5, 0.9, 1.0, 1.1)] + [
        ("Adam", Adam, 1.1)
    ]:
        x = Tensor([1.0], requires_grad=True, dtype=np.float64)
        minimise(make([x], lr=lr), lambda x=x: (x * x).sum(), steps)
        rows.append({"optimizer": name, "lr": lr, "abs_x": abs(float(x.data[0]))})
        print(f"{name:4s} lr={lr:<4} |x| after {steps} steps: {rows[-1]['abs_x']:.3g}")
    return rows


if __name__ == "__main__":
    analyze_learning_rate()

# %% [markdown]
# ## Reflect
#
# Answer in a few sentences each, with numbers where you can. Use the measurements above.

# %% [markdown]
# **Q1 (memory).** You train a 350M-parameter model in float32 with AdamW. How much memory do
# the weights, the gradients and the optimizer state take, and what would change with SGD
# with momentum? Which of the three could you avoid keeping for inference?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-memory", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# Weights 4 × 350M = 1.4 GB, gradients another 1.4 GB, AdamW's m and v 2 × 1.4 = 2.8 GB:
# 5.6 GB (16 bytes per parameter) before any activation. With SGD + momentum the state is
# one buffer, 1.4 GB, so 4.2 GB in all (12 bytes per parameter). `analyze_optimizer_memory`
# measured exactly these ratios (0x, 1x, 2x). Inference needs only the weights: gradients
# and optimizer state exist for training, so an inference checkpoint is a third (Adam) of a
# resumable one.
# ### END SOLUTION

# %% [markdown]
# **Q2 (compute).** An Adam step does about ten elementwise array operations per parameter,
# a forward and backward pass about 6 flops per parameter *per sample*. For a batch of 64,
# what fraction of a training step is the optimizer, counted in flops? Why does it take a
# larger share of the *time* than that?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-compute", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# Forward + backward is about 6 × 64 = 384 flops per parameter, the optimizer about 10, so
# under 3% of the flops. But the matmuls of forward and backward reuse each weight for 64
# samples (they are compute-bound), while the optimizer reads and writes θ, g, m and v once
# per step with about one flop per byte moved: it is memory-bound. The measured step of
# Adam on 1M parameters took a few milliseconds, several times SGD's, because it makes
# several passes over 4 MB arrays. With small batches the optimizer's share grows; fused
# optimizers (one pass for all updates) exist for this reason.
# ### END SOLUTION

# %% [markdown]
# **Q3 (what breaks).** Your loss suddenly becomes `nan` a few hundred steps into training
# with SGD at a large learning rate. Using `analyze_learning_rate`, explain what happened,
# and why Adam with the same lr behaves differently.

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-learning-rate", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# On x² one SGD step multiplies x by (1 − 2·lr): for lr > 1 (in general lr > 2/curvature)
# every step overshoots further than the last, |x| grows geometrically (×1.2 per step at
# lr = 1.1, 38× after 20 steps), the loss grows quadratically, and after some hundreds of
# steps float32 overflows to inf, and inf − inf gives nan. The curvature also changes during
# training, so a rate that was stable can become unstable. Adam's step is about lr per entry
# whatever the gradient (m̂/√v̂ ≈ ±1), so it cannot explode geometrically; at lr = 1.1 it
# oscillates around the minimum at a distance of order lr and never settles: too-high lr
# with Adam shows up as a loss that stops improving, not as nan.
# ### END SOLUTION

# %% [markdown]
# **Q4 (scaling).** You switch from plain SGD at lr = 0.1 to SGD with momentum μ = 0.9 and
# keep lr = 0.1; training diverges. Why, and what lr would you try?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-momentum", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# With a steady gradient the buffer grows to g·(1 + μ + μ² + ...) = g/(1 − μ) = 10·g, so the
# effective step is 10× larger: lr = 0.1 with momentum behaves like lr = 1.0 without, which
# is past the stability limit 2/curvature whenever the curvature is above 2. Keep lr·1/(1 − μ) about the same: lr = 0.01.
# The worked example already shows it: after three steps momentum had moved x from 1 to
# 0.062, and it overshoots below 0 next.
# ### END SOLUTION

# %%
if __name__ == "__main__":
    print("All tests passed for module 06_optimizers.")
