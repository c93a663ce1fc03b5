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
# Autograd (module 05) tells us, for every parameter θ, the gradient g = dL/dθ: the direction
# in which the loss grows fastest. An **optimizer** turns those gradients into steps:
#
# - **SGD**: θ ← θ − lr·g. With **momentum** μ, a velocity v ← μ·v + g smooths the steps
#   (θ ← θ − lr·v), so consistent directions speed up and noisy ones cancel out.
# - **Adam**: keep running averages of g (first moment m) and of g² (second moment v):
#   m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g². Both start at 0, so early averages are too small;
#   dividing by (1−β₁ᵗ) and (1−β₂ᵗ) corrects that bias. The step is
#   θ ← θ − lr·m̂/(√v̂ + ε): every parameter gets its own step size.
# - **Weight decay** pulls weights towards 0. Classic L2 adds λθ to the gradient (SGD, Adam).
#   **AdamW** instead shrinks θ directly, θ ← θ − lr·λ·θ, *decoupled* from Adam's scaling,
#   which regularises better for transformers.
#
# Updates change `p.data` **in place**: a step is not part of the model's computation, so it
# must not be recorded in the graph, and in-place keeps memory flat.

# %%
#| default_exp core.optimizers
#| export
import math

import numpy as np

from tinytorch.core.tensor import Tensor

# %% [markdown]
# ## The Optimizer base class
#
# It holds the parameter list, the learning rate `lr` (a schedule may change it between
# steps) and one **state** dictionary per parameter, `self.state[i]`, where each optimizer
# keeps what it remembers about parameter i: a momentum buffer, Adam's moments and its own
# step count. Keeping the state per parameter matters when some parameter misses a step
# (no gradient this time): its moments and step count must not advance.
#
# `zero_grad()` sets each `.grad` to `None` (rather than filling zeros): the next
# `backward()` then creates fresh arrays, and `step()` skips a parameter whose `.grad` is
# still `None`, exactly as `torch.optim` does.


# %% nbgrader={"grade": false, "grade_id": "optimizer-base", "locked": false, "schema_version": 3, "solution": true}
#| export
class Optimizer:
    """Base class: keeps the parameters and their state, clears gradients; `step()` updates."""

    def __init__(self, params, lr: float):
        self.params = _unique(params)
        if not self.params:
            raise ValueError("The optimizer got no parameters: pass model.parameters().")
        if not lr > 0:
            raise ValueError(f"The learning rate must be positive, not {lr}.")
        self.lr = lr
        self.state: list[dict] = [{} for _ in self.params]
        self.step_count = 0  # calls to step(); each parameter counts its own updates

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        raise NotImplementedError("Subclasses implement step().")

    def _with_gradients(self):
        """(parameter, its gradient as an ndarray, its state) for every parameter with a .grad."""
        for p, state in zip(self.params, self.state):
            if p.grad is not None:
                yield p, p.grad.data, state


def _unique(params) -> list:
    """The parameters in order, each once (a tied weight listed twice must step once)."""
    unique, seen = [], set()
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"Optimizers update Tensors, not {type(p).__name__}.")
        if id(p) not in seen:
            seen.add(id(p))
            unique.append(p)
    return unique


def _check_range(name: str, value: float, low: float, high: float = float("inf")) -> None:
    if not low <= value < high:
        raise ValueError(f"{name} must be in [{low}, {high}), not {value}.")


# %% [markdown]
# ## SGD with momentum
#
# For each parameter θ with a gradient g (all arithmetic in θ's dtype, in place on `θ.data`):
#
# ```
# g ← g + λ·θ                      (L2 weight decay, if λ > 0)
# b ← μ·b + g                      (momentum buffer, if μ > 0; on the first step b ← g)
# θ ← θ − lr·b                     (θ − lr·g without momentum)
# ```
#
# With momentum the buffer is a running sum of past gradients with weights 1, μ, μ², ...:
# a direction that keeps coming back gets a step up to 1/(1−μ) times larger (10× for μ=0.9),
# while gradients that flip sign cancel.


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
        self.step_count += 1
        for p, g, state in self._with_gradients():
            ### BEGIN SOLUTION
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
# ## Adam and AdamW
#
# Adam keeps, per parameter, running averages of the gradient (first moment m) and of its
# square (second moment v), and counts the parameter's own steps t:
#
# ```
# g ← g + λ·θ                              (Adam's L2 decay, if λ > 0)
# t ← t + 1
# m ← β₁·m + (1−β₁)·g
# v ← β₂·v + (1−β₂)·g²
# m̂ = m / (1−β₁ᵗ),  v̂ = v / (1−β₂ᵗ)          (bias correction)
# θ ← θ − lr · m̂ / (√v̂ + ε)
# ```
#
# **Why bias correction?** m and v start at 0, so after one step m = (1−β₁)·g, only 10% of g
# for β₁ = 0.9. Dividing by 1−β₁ᵗ undoes exactly that shrinkage (for a constant gradient m̂ = g
# at every t); the correction fades as βᵗ → 0. So Adam's first step is lr·g/(|g| + ε) ≈
# lr·sign(g), whatever the scale of g: every parameter gets a step size of about lr.
#
# **AdamW** changes one line: instead of adding λθ to g (which Adam then divides by √v̂, so
# parameters with large gradients are barely decayed), it shrinks θ directly,
# θ ← θ·(1 − lr·λ), before the Adam step. This *decoupled* decay treats every weight alike
# and is the standard choice for transformers.
#
# As in PyTorch, we compute the step as (lr/(1−β₁ᵗ)) · m / (√v/√(1−β₂ᵗ) + ε): the same
# formula, arranged so that the biggest arrays see the fewest operations.


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
        self.step_count += 1
        for p, g, state in self._with_gradients():
            if not state:  # first update of this parameter: moments start at zero
                state["step"] = 0
                state["exp_avg"] = np.zeros_like(p.data)
                state["exp_avg_sq"] = np.zeros_like(p.data)
            ### BEGIN SOLUTION
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
            denominator = np.sqrt(v)
            denominator /= math.sqrt(1 - self.beta2**t)
            denominator += self.eps
            p.data -= (self.lr / (1 - self.beta1**t)) * m / denominator
            ### END SOLUTION


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
# ## Unit tests


# %% nbgrader={"grade": true, "grade_id": "test-sgd", "locked": true, "points": 30, "schema_version": 3}
def test_sgd_and_momentum():
    p = Tensor([1.0, -2.0], requires_grad=True)
    p.grad = Tensor([0.5, 0.5])
    SGD([p], lr=0.1).step()
    assert np.allclose(p.data, [0.95, -2.05]), "θ ← θ − lr·g"
    q = Tensor([1.0], requires_grad=True)
    opt = SGD([q], lr=1.0, momentum=0.9)
    for _ in range(2):
        q.grad = Tensor([1.0])
        opt.step()
    assert np.allclose(q.data, [1.0 - 1.0 - 1.9]), "b = 1, then 0.9·1 + 1 = 1.9"
    opt.zero_grad()
    assert q.grad is None
    opt.step()  # no gradient: nothing moves
    assert np.allclose(q.data, [-1.9])
    r = Tensor([2.0], requires_grad=True)
    r.grad = Tensor([0.0])
    SGD([r], lr=0.1, weight_decay=0.5).step()
    assert np.allclose(r.data, [2.0 - 0.1 * 0.5 * 2.0]), "L2 decay adds λθ to the gradient"
    try:
        SGD([], lr=0.1)
    except ValueError:
        pass
    else:
        raise AssertionError("an empty parameter list must be refused")


# %% nbgrader={"grade": true, "grade_id": "test-adam", "locked": true, "points": 40, "schema_version": 3}
def test_adam_first_steps_and_state():
    p = Tensor([1.0, 1.0], requires_grad=True)
    opt = Adam([p], lr=0.1)
    p.grad = Tensor([2.0, -0.001])
    opt.step()
    # After bias correction the first step is lr·sign(g) (up to ε), whatever |g| is.
    assert np.allclose(p.data, [0.9, 1.1], atol=1e-4), p.data
    assert p.data.dtype == np.float32, "the update keeps the parameter's dtype"
    p.grad = Tensor([2.0, -0.001])
    opt.step()
    assert np.allclose(p.data, [0.8, 1.2], atol=1e-4), "a constant gradient: m̂ = g every step"
    assert opt.state[0]["step"] == 2

    a, b = Tensor([1.0], requires_grad=True), Tensor([1.0], requires_grad=True)
    opt = Adam([a, b], lr=0.1)
    a.grad = Tensor([1.0])
    opt.step()  # b has no gradient: skipped, its state does not start
    b.grad = Tensor([1.0])
    opt.step()
    assert opt.state[0]["step"] == 2 and opt.state[1]["step"] == 1, "one step count each"
    assert np.allclose(b.data, [0.9], atol=1e-4), "b's first update is a full first step"

    w = Tensor([1.0], requires_grad=True)
    decay = AdamW([w], lr=0.1, weight_decay=0.5)
    w.grad = Tensor([0.0])
    decay.step()
    assert np.allclose(w.data, [0.95]), "AdamW shrinks θ by lr·λ even with a zero gradient"


# %% nbgrader={"grade": true, "grade_id": "test-training", "locked": true, "points": 30, "schema_version": 3}
def test_optimizers_minimise_a_quadratic():
    target = np.array([3.0, -1.0], dtype=np.float32)
    optimizers = (
        lambda ps: SGD(ps, lr=0.1, momentum=0.5),
        lambda ps: Adam(ps, lr=0.1),
        lambda ps: AdamW(ps, lr=0.1, weight_decay=1e-4),
    )
    for make in optimizers:
        x = Tensor(np.zeros(2), requires_grad=True)
        opt = make([x])
        for _ in range(300):
            opt.zero_grad()
            ((x - target) ** 2).sum().backward()
            opt.step()
        assert np.allclose(x.data, target, atol=1e-2), x.data


# %% [markdown]
# ## Systems analysis: optimizer memory
#
# The optimizer's state lives as long as training does, next to the weights and gradients.
# For P float32 parameters: weights 4P bytes, gradients 4P, SGD with momentum 4P more, Adam
# 8P more (m and v). A 124M-parameter GPT-2 therefore needs about 2 GiB before a single
# activation is stored. We measure it on real optimizers rather than trusting the formula.


# %%
def optimizer_state_bytes(optimizer: Optimizer) -> int:
    """Bytes held in the optimizer's per-parameter state arrays."""
    return sum(
        value.nbytes
        for state in optimizer.state
        for value in state.values()
        if isinstance(value, np.ndarray)
    )


def analyze_optimizer_memory(num_parameters: int = 1_000_000) -> dict:
    """Measured state bytes of each optimizer after one step on float32 parameters."""
    weights = 4 * num_parameters
    makers = {
        "SGD": lambda ps: SGD(ps, lr=0.1),
        "SGD+momentum": lambda ps: SGD(ps, lr=0.1, momentum=0.9),
        "Adam/AdamW": lambda ps: Adam(ps),
    }
    costs = {}
    for name, make in makers.items():
        p = Tensor(np.zeros(num_parameters, dtype=np.float32), requires_grad=True)
        p.grad = Tensor(np.ones(num_parameters, dtype=np.float32))
        optimizer = make([p])
        optimizer.step()
        costs[name] = optimizer_state_bytes(optimizer)
        print(
            f"{name:13s} state {costs[name] / weights:.0f}x the weights: {costs[name] / 2**20:5.1f} MiB"
        )
    return costs


# %%
if __name__ == "__main__":
    test_sgd_and_momentum()
    test_adam_first_steps_and_state()
    test_optimizers_minimise_a_quadratic()
    analyze_optimizer_memory()
    print("All tests passed for module 06_optimizers.")
