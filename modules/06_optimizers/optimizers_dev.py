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
import numpy as np

from tinytorch.core.tensor import Tensor

# %% [markdown]
# ## The Optimizer base class
#
# It holds the parameter list and clears gradients. `zero_grad()` sets each `.grad` to `None`
# (rather than filling zeros): the next `backward()` then creates fresh arrays, and a
# parameter that received no gradient is skipped by `step()`.


# %% nbgrader={"grade": false, "grade_id": "optimizer-base", "locked": false, "schema_version": 3, "solution": true}
#| export
class Optimizer:
    """Base class: keeps the parameters, clears their gradients, `step()` updates them."""

    def __init__(self, params, lr: float):
        self.params = [p for p in params]
        if not self.params:
            raise ValueError("The optimizer got no parameters: pass model.parameters().")
        if lr <= 0:
            raise ValueError(f"The learning rate must be positive, not {lr}.")
        self.lr = lr
        self.step_count = 0

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        raise NotImplementedError("Subclasses implement step().")


# %% [markdown]
# ## SGD with momentum
#
# For each parameter with a gradient g (in the parameter's dtype):
#
# ```
# g ← g + λ·θ                      (weight decay, if λ > 0)
# v ← μ·v + g                      (momentum buffer, if μ > 0; v starts as g)
# θ ← θ − lr·v                     (or θ − lr·g without momentum)
# ```


# %% nbgrader={"grade": false, "grade_id": "sgd", "locked": false, "schema_version": 3, "solution": true}
#| export
class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum and L2 weight decay."""

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, lr)
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.velocity = [None] * len(self.params)

    def step(self) -> None:
        self.step_count += 1
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            ### BEGIN SOLUTION
            g = p.grad.data
            if self.weight_decay:
                g = g + self.weight_decay * p.data
            if self.momentum:
                if self.velocity[i] is None:
                    self.velocity[i] = np.array(g, dtype=p.data.dtype)
                else:
                    self.velocity[i] *= self.momentum
                    self.velocity[i] += g
                g = self.velocity[i]
            p.data -= self.lr * g
            ### END SOLUTION


# %% [markdown]
# ## Adam and AdamW
#
# ```
# g ← g + λ·θ                          (Adam's L2 decay, if λ > 0)
# m ← β₁·m + (1−β₁)·g
# v ← β₂·v + (1−β₂)·g²
# θ ← θ − lr · (m / (1−β₁ᵗ)) / (√(v / (1−β₂ᵗ)) + ε)
# ```
#
# AdamW differs in one line: instead of adding λθ to g, it first shrinks θ ← θ·(1 − lr·λ).
# Memory: m and v are two extra arrays per parameter, so training with Adam needs about
# 3× the memory of the weights alone (4× counting the gradients).


# %% nbgrader={"grade": false, "grade_id": "adam", "locked": false, "schema_version": 3, "solution": true}
#| export
class Adam(Optimizer):
    """Adam: per-parameter step sizes from running moments of the gradient."""

    decoupled = False  # AdamW sets this: weight decay shrinks θ directly

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(params, lr)
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.weight_decay = weight_decay
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]

    def step(self) -> None:
        self.step_count += 1
        t = self.step_count
        bias1 = 1 - self.beta1**t
        bias2 = 1 - self.beta2**t
        for p, m, v in zip(self.params, self.m, self.v):
            if p.grad is None:
                continue
            ### BEGIN SOLUTION
            g = p.grad.data
            if self.weight_decay and self.decoupled:
                p.data *= 1 - self.lr * self.weight_decay
            elif self.weight_decay:
                g = g + self.weight_decay * p.data
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * (g * g)
            denominator = np.sqrt(v / bias2)
            denominator += self.eps
            p.data -= (self.lr / bias1) * m / denominator
            ### END SOLUTION


class AdamW(Adam):
    """Adam with decoupled weight decay (θ ← θ·(1 − lr·λ) before the Adam step)."""

    decoupled = True

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas=(0.9, 0.999),
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
    assert np.allclose(q.data, [1.0 - 1.0 - 1.9]), "v = 1, then 0.9·1 + 1 = 1.9"
    opt.zero_grad()
    assert q.grad is None
    opt.step()  # no gradient: nothing moves
    assert np.allclose(q.data, [-1.9])
    try:
        SGD([], lr=0.1)
    except ValueError:
        pass
    else:
        raise AssertionError("an empty parameter list must be refused")


# %% nbgrader={"grade": true, "grade_id": "test-adam", "locked": true, "points": 40, "schema_version": 3}
def test_adam_first_steps():
    p = Tensor([1.0, 1.0], requires_grad=True)
    opt = Adam([p], lr=0.1)
    p.grad = Tensor([2.0, -0.001])
    opt.step()
    # After bias correction the first step is lr·sign(g) (up to ε), whatever |g| is.
    assert np.allclose(p.data, [0.9, 1.1], atol=1e-4), p.data
    assert p.data.dtype == np.float32, "the update keeps the parameter's dtype"
    w = Tensor([1.0], requires_grad=True)
    decay = AdamW([w], lr=0.1, weight_decay=0.5)
    w.grad = Tensor([0.0])
    decay.step()
    assert np.allclose(w.data, [0.95]), "AdamW shrinks θ by lr·λ even with a zero gradient"


# %% nbgrader={"grade": true, "grade_id": "test-training", "locked": true, "points": 30, "schema_version": 3}
def test_optimizers_minimise_a_quadratic():
    target = np.array([3.0, -1.0], dtype=np.float32)
    for make in (lambda ps: SGD(ps, lr=0.1, momentum=0.5), lambda ps: Adam(ps, lr=0.1)):
        x = Tensor(np.zeros(2), requires_grad=True)
        opt = make([x])
        for _ in range(200):
            opt.zero_grad()
            ((x - target) ** 2).sum().backward()
            opt.step()
        assert np.allclose(x.data, target, atol=1e-2), x.data


# %% [markdown]
# ## Systems analysis: optimizer memory


# %%
def analyze_optimizer_memory(num_parameters: int = 1_000_000) -> dict:
    """Bytes of state each optimizer keeps for float32 parameters."""
    weights = num_parameters * 4
    costs = {"SGD": 0, "SGD+momentum": weights, "Adam/AdamW": 2 * weights}
    for name, extra in costs.items():
        print(f"{name:13s} state: {extra / 2**20:7.1f} MiB (weights: {weights / 2**20:.1f} MiB)")
    return costs


# %%
if __name__ == "__main__":
    test_sgd_and_momentum()
    test_adam_first_steps()
    test_optimizers_minimise_a_quadratic()
    analyze_optimizer_memory()
    print("All tests passed for module 06_optimizers.")
