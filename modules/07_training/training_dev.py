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
# Every model in this course trains with the same loop:
#
# ```
# for each batch (x, y):
#     loss = loss_fn(model(x), y)      # forward
#     optimizer.zero_grad()
#     loss.backward()                  # gradients
#     clip gradients (optional)        # keep one bad batch from blowing up the weights
#     set the learning rate            # schedule
#     optimizer.step()                 # update
# ```
#
# This module packages it as a `Trainer` with a history of losses, plus three tools:
#
# - **Cosine schedule**: warm up linearly from 0 to `max_lr` over `warmup_steps`, then follow
#   half a cosine down to `min_lr`:
#   lr(t) = min_lr + ½(max_lr − min_lr)(1 + cos(π·(t − warmup)/(total − warmup))).
# - **Gradient clipping by global norm**: ‖g‖ = √(Σ over all parameters of Σ g²). If it exceeds
#   `max_norm`, scale every gradient by max_norm/‖g‖: the direction is kept, the step bounded.
# - **Checkpoints**: parameters (by name) and optimizer state in one NumPy `.npz` file.

# %%
#| default_exp core.training
#| export
import math
from pathlib import Path

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.tensor import Tensor


# %% nbgrader={"grade": false, "grade_id": "schedule-and-clip", "locked": false, "schema_version": 3, "solution": true}
#| export
class CosineSchedule:
    """Linear warm-up to max_lr, then cosine decay to min_lr at total_steps."""

    def __init__(self, max_lr: float, min_lr: float, total_steps: int, warmup_steps: int = 0):
        if total_steps <= warmup_steps:
            raise ValueError("total_steps must be larger than warmup_steps.")
        self.max_lr, self.min_lr = max_lr, min_lr
        self.total_steps, self.warmup_steps = total_steps, warmup_steps

    def __call__(self, step: int) -> float:
        ### BEGIN SOLUTION
        if step < self.warmup_steps:
            return self.max_lr * (step + 1) / self.warmup_steps
        progress = min(1.0, (step - self.warmup_steps) / (self.total_steps - self.warmup_steps))
        return self.min_lr + 0.5 * (self.max_lr - self.min_lr) * (1 + math.cos(math.pi * progress))
        ### END SOLUTION

    def apply(self, optimizer, step: int) -> float:
        optimizer.lr = self(step)
        return optimizer.lr


def clip_grad_norm(params, max_norm: float) -> float:
    """Scale all gradients so their global L2 norm is at most max_norm; returns the norm."""
    grads = [p.grad.data for p in params if p.grad is not None]
    ### BEGIN SOLUTION
    total = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for g in grads:
            g *= scale
    return total
    ### END SOLUTION


# %% [markdown]
# ## The Trainer
#
# `train_epoch` runs the loop above over a loader (any iterable of `(x, y)` batches) and
# returns the mean loss. `evaluate` runs the model in `eval()` mode under `no_grad()`: no graph
# is recorded, so it needs only the memory of the activations of one batch.


# %% nbgrader={"grade": false, "grade_id": "trainer", "locked": false, "schema_version": 3, "solution": true}
#| export
class Trainer:
    """Train a model with an optimizer and a loss function; keeps a history."""

    def __init__(self, model, optimizer, loss_fn, scheduler=None, grad_clip_norm=None):
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.scheduler, self.grad_clip_norm = scheduler, grad_clip_norm
        self.step = 0
        self.history = {"train_loss": [], "val_loss": [], "lr": []}

    def train_step(self, x, y) -> float:
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
        self.model.train()
        losses = [self.train_step(x, y) for x, y in loader]
        mean = float(np.mean(losses)) if losses else float("nan")
        self.history["train_loss"].append(mean)
        self.history["lr"].append(self.optimizer.lr)
        return mean

    def evaluate(self, loader) -> float:
        self.model.eval()
        with no_grad():
            losses = [float(self.loss_fn(self.model(x), y).data) for x, y in loader]
        self.model.train()
        return float(np.mean(losses)) if losses else float("nan")

    def fit(self, train_loader, val_loader=None, epochs: int = 1) -> dict:
        for _ in range(epochs):
            self.train_epoch(train_loader)
            if val_loader is not None:
                self.history["val_loss"].append(self.evaluate(val_loader))
        return self.history


# %% [markdown]
# ## Checkpoints
#
# `named_parameters()` (module 03) gives every parameter a stable name such as
# `layers.0.weight`; a checkpoint maps those names to arrays. Loading checks that every name
# exists and every shape matches, so a checkpoint of a different model fails loudly.


# %% nbgrader={"grade": false, "grade_id": "checkpoints", "locked": false, "schema_version": 3, "solution": true}
#| export
def save_checkpoint(path, model, optimizer=None, **extra) -> Path:
    """Save parameters (and optimizer moments, step and extra numbers) to an .npz file."""
    arrays = {f"param/{name}": p.data for name, p in model.named_parameters()}
    if optimizer is not None:
        arrays["optimizer/step_count"] = np.array(optimizer.step_count)
        for key in ("m", "v", "velocity"):
            for i, state in enumerate(getattr(optimizer, key, []) or []):
                if state is not None:
                    arrays[f"optimizer/{key}/{i}"] = state
    for key, value in extra.items():
        arrays[f"extra/{key}"] = np.asarray(value)
    path = Path(path)
    with open(path, "wb") as handle:  # a file handle: np.savez keeps the name as given
        np.savez(handle, **arrays)
    return path


def load_checkpoint(path, model, optimizer=None) -> dict:
    """Load parameters into `model` (names and shapes must match); returns the extras."""
    with np.load(path) as data:
        stored = {k: data[k] for k in data.files}
    ### BEGIN SOLUTION
    for name, p in model.named_parameters():
        key = f"param/{name}"
        if key not in stored:
            raise ValueError(f"The checkpoint {path} has no parameter '{name}'.")
        if stored[key].shape != p.data.shape:
            raise ValueError(
                f"Parameter '{name}' has shape {p.data.shape} in the model but "
                f"{stored[key].shape} in the checkpoint {path}."
            )
        p.data[...] = stored[key]
    ### END SOLUTION
    if optimizer is not None and "optimizer/step_count" in stored:
        optimizer.step_count = int(stored["optimizer/step_count"])
        for key in ("m", "v", "velocity"):
            states = getattr(optimizer, key, None)
            for i in range(len(states or [])):
                if f"optimizer/{key}/{i}" in stored:
                    states[i] = np.array(stored[f"optimizer/{key}/{i}"])
    return {k[len("extra/") :]: v for k, v in stored.items() if k.startswith("extra/")}


# %% [markdown]
# ## Unit tests

# %%
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import MSELoss
from tinytorch.core.optimizers import SGD, Adam


# %% nbgrader={"grade": true, "grade_id": "test-schedule", "locked": true, "points": 20, "schema_version": 3}
def test_cosine_schedule():
    schedule = CosineSchedule(max_lr=1.0, min_lr=0.1, total_steps=110, warmup_steps=10)
    assert math.isclose(schedule(0), 0.1) and math.isclose(schedule(9), 1.0), "linear warm-up"
    assert math.isclose(schedule(10), 1.0)
    assert math.isclose(schedule(60), 0.55), "half way: the mean of max and min"
    assert math.isclose(schedule(110), 0.1) and math.isclose(schedule(500), 0.1)


# %% nbgrader={"grade": true, "grade_id": "test-clip", "locked": true, "points": 20, "schema_version": 3}
def test_clip_grad_norm():
    a, b = Tensor([3.0], requires_grad=True), Tensor([4.0], requires_grad=True)
    a.grad, b.grad = Tensor([3.0]), Tensor([4.0])
    norm = clip_grad_norm([a, b], max_norm=1.0)
    assert math.isclose(norm, 5.0)
    assert np.allclose([a.grad.data[0], b.grad.data[0]], [0.6, 0.8], atol=1e-5)
    assert math.isclose(clip_grad_norm([a, b], max_norm=10.0), 1.0, rel_tol=1e-5), "no change"


# %% nbgrader={"grade": true, "grade_id": "test-trainer", "locked": true, "points": 40, "schema_version": 3}
def test_trainer_learns_a_line():
    np.random.seed(0)
    x = np.random.rand(64, 1).astype(np.float32)
    y = 3 * x - 1
    batches = [(x[i : i + 16], y[i : i + 16]) for i in range(0, 64, 16)]
    model = Sequential(Linear(1, 1))
    trainer = Trainer(model, SGD(model.parameters(), lr=0.5), MSELoss(), grad_clip_norm=10.0)
    history = trainer.fit(batches, val_loader=batches, epochs=40)
    assert history["train_loss"][-1] < 0.01 * history["train_loss"][0]
    assert len(history["val_loss"]) == 40 and history["val_loss"][-1] < 1e-3


# %% nbgrader={"grade": true, "grade_id": "test-checkpoint", "locked": true, "points": 20, "schema_version": 3}
def test_checkpoint_round_trip():
    import tempfile

    model = Sequential(Linear(3, 2), Linear(2, 1))
    optimizer = Adam(model.parameters(), lr=0.1)
    for p in model.parameters():
        p.grad = Tensor(np.ones_like(p.data))
    optimizer.step()
    with tempfile.TemporaryDirectory() as folder:
        path = save_checkpoint(Path(folder) / "model.npz", model, optimizer, epoch=3)
        copy = Sequential(Linear(3, 2), Linear(2, 1))
        fresh = Adam(copy.parameters(), lr=0.1)
        extras = load_checkpoint(path, copy, fresh)
        assert int(extras["epoch"]) == 3 and fresh.step_count == 1
        for (_, p), (_, q) in zip(model.named_parameters(), copy.named_parameters()):
            assert np.array_equal(p.data, q.data)
        try:
            load_checkpoint(path, Sequential(Linear(3, 4)))
        except ValueError as error:
            assert "shape" in str(error)
        else:
            raise AssertionError("a checkpoint of another shape must be refused")


# %% [markdown]
# ## Systems analysis: what a training step keeps in memory


# %%
def analyze_training_memory(num_parameters: int = 1_000_000) -> dict:
    """float32 bytes: weights, gradients, Adam's two moments (activations come on top)."""
    weights = 4 * num_parameters
    parts = {"weights": weights, "gradients": weights, "adam_moments": 2 * weights}
    total = sum(parts.values())
    print(f"{num_parameters:,} parameters: {total / 2**20:.1f} MiB before activations")
    return parts


# %%
if __name__ == "__main__":
    test_cosine_schedule()
    test_clip_grad_norm()
    test_trainer_learns_a_line()
    test_checkpoint_round_trip()
    analyze_training_memory()
    print("All tests passed for module 07_training.")
