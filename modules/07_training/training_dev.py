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
import os
from pathlib import Path

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.tensor import Tensor

# %% [markdown]
# ## Learning-rate schedule and gradient clipping
#
# `CosineSchedule(max_lr, min_lr, total_steps, warmup_steps)` is a function of the step
# number t = 0, 1, 2, ...:
#
# ```
# t < W:        lr(t) = max_lr · (t + 1) / W                         (linear warm-up)
# W ≤ t ≤ T:    lr(t) = min_lr + ½(max_lr − min_lr)(1 + cos(π(t − W)/(T − W)))
# t > T:        lr(t) = min_lr
# ```
#
# Warm-up matters for Adam: its first steps have step size ≈ lr in *every* direction, and a
# freshly initialised model does not yet know which directions are trustworthy. With W = 0
# this is exactly PyTorch's `CosineAnnealingLR`. `apply(optimizer, t)` writes lr(t) into
# `optimizer.lr`.
#
# `clip_grad_norm(params, max_norm)` computes the global norm ‖g‖ = √(Σₚ Σᵢ gₚᵢ²) over all
# gradients together and, when it exceeds `max_norm`, multiplies every gradient by
# max_norm / (‖g‖ + 10⁻⁶), as `torch.nn.utils.clip_grad_norm_` does. It returns the norm
# before clipping, which is worth logging: a spike in it is the first sign of instability.


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
        ### BEGIN SOLUTION
        if step < self.warmup_steps:
            return self.max_lr * (step + 1) / self.warmup_steps
        progress = min(1.0, (step - self.warmup_steps) / (self.total_steps - self.warmup_steps))
        return self.min_lr + 0.5 * (self.max_lr - self.min_lr) * (1 + math.cos(math.pi * progress))
        ### END SOLUTION

    def apply(self, optimizer, step: int) -> float:
        """Set the optimizer's learning rate for `step`; returns it."""
        optimizer.lr = self(step)
        return optimizer.lr


def clip_grad_norm(params, max_norm: float) -> float:
    """Scale all gradients so their global L2 norm is at most max_norm; returns the norm."""
    if not max_norm > 0:
        raise ValueError(f"max_norm must be positive, not {max_norm}.")
    grads = [p.grad.data for p in params if p.grad is not None]
    ### BEGIN SOLUTION
    total = math.sqrt(sum(float(np.sum(g * g)) for g in grads))
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for g in grads:
            g *= scale  # in place: p.grad.data is what the optimizer reads
    return total
    ### END SOLUTION


# %% [markdown]
# ## The Trainer
#
# `train_epoch` runs the loop above over a loader (any iterable of `(x, y)` batches, such as
# the DataLoader of module 08 or a plain list) and returns the epoch's mean loss, each batch
# weighted by its number of samples so that a small last batch does not count as much as a
# full one. `evaluate` runs the model in `eval()` mode (dropout off) under `no_grad()`: no
# graph is recorded, so it needs only the memory of one batch's activations.
#
# The schedule is applied before every `optimizer.step()`, with the count of steps taken so
# far: step 0 uses `schedule(0)`.


# %% nbgrader={"grade": false, "grade_id": "trainer", "locked": false, "schema_version": 3, "solution": true}
#| export
def _batch_size(x) -> int:
    shape = np.shape(x.data if isinstance(x, Tensor) else x)
    return shape[0] if shape else 1


def _weighted_mean(losses: list[float], sizes: list[int]) -> float:
    return float(np.average(losses, weights=sizes)) if losses else float("nan")


class Trainer:
    """Train a model with an optimizer and a loss function; keeps a history per epoch."""

    def __init__(self, model, optimizer, loss_fn, scheduler=None, grad_clip_norm=None):
        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.scheduler, self.grad_clip_norm = scheduler, grad_clip_norm
        self.step = 0  # optimizer steps taken, the schedule's clock
        self.history: dict[str, list[float]] = {"train_loss": [], "val_loss": [], "lr": []}

    def train_step(self, x, y) -> float:
        """One forward, backward and update on a batch; returns the batch loss."""
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
        self.model.train()
        losses, sizes = [], []
        for x, y in loader:
            losses.append(self.train_step(x, y))
            sizes.append(_batch_size(x))
        mean = _weighted_mean(losses, sizes)
        self.history["train_loss"].append(mean)
        self.history["lr"].append(self.optimizer.lr)
        return mean

    def evaluate(self, loader) -> float:
        """Mean loss over `loader` in eval mode, without recording a graph."""
        was_training = getattr(self.model, "training", True)
        self.model.eval()
        losses, sizes = [], []
        ### BEGIN SOLUTION
        with no_grad():
            for x, y in loader:
                losses.append(float(self.loss_fn(self.model(x), y).data))
                sizes.append(_batch_size(x))
        ### END SOLUTION
        self.model.train(was_training)
        return _weighted_mean(losses, sizes)

    def fit(self, train_loader, val_loader=None, epochs: int = 1) -> dict:
        """`epochs` passes of training (and evaluation, with a val_loader); returns history."""
        for _ in range(epochs):
            self.train_epoch(train_loader)
            if val_loader is not None:
                self.history["val_loss"].append(self.evaluate(val_loader))
        return self.history


# %% [markdown]
# ## Checkpoints
#
# `named_parameters()` (module 03) gives every parameter a stable name such as
# `layers.0.weight`. A checkpoint is one `.npz` file (NumPy's zip of arrays) holding
#
# - `param/<name>`: every parameter;
# - `optimizer/<name>/<key>`: the optimizer's state for that parameter (momentum buffer,
#   Adam's moments and step count), plus `optimizer/lr` and `optimizer/step_count`;
# - `extra/<key>`: numbers you pass, such as `epoch=3`.
#
# Loading checks every name and every shape before changing anything, so a checkpoint of a
# different model fails with a clear `ValueError` and leaves the model as it was. The file is
# written under a temporary name and then renamed, so a crash mid-save never destroys the
# previous checkpoint.


# %% nbgrader={"grade": false, "grade_id": "checkpoints", "locked": false, "schema_version": 3, "solution": true}
#| export
def _parameter_names(model, optimizer) -> list[str]:
    """The model's name of each of the optimizer's parameters, in the optimizer's order."""
    names = {id(p): name for name, p in model.named_parameters()}
    missing = [i for i, p in enumerate(optimizer.params) if id(p) not in names]
    if missing:
        raise ValueError(f"Optimizer parameters {missing} do not belong to the model.")
    return [names[id(p)] for p in optimizer.params]


def save_checkpoint(path, model, optimizer=None, **extra) -> Path:
    """Save parameters (and optimizer state, and extra values) to an .npz file."""
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
    path = Path(path)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as handle:  # a handle: np.savez would append .npz to a name
        np.savez(handle, **arrays)
    os.replace(partial, path)
    return path


def _check_parameters(path, model, stored: dict) -> None:
    ### BEGIN SOLUTION
    expected = dict(model.named_parameters())
    missing = [name for name in expected if f"param/{name}" not in stored]
    unexpected = [k[len("param/") :] for k in stored if k.startswith("param/")]
    unexpected = [name for name in unexpected if name not in expected]
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
    with np.load(path) as data:  # allow_pickle stays False: a checkpoint holds no code
        stored = {k: data[k] for k in data.files}
    _check_parameters(path, model, stored)
    if optimizer is not None:
        _restore_optimizer(path, model, optimizer, stored)
    for name, p in model.named_parameters():
        p.data[...] = stored[f"param/{name}"]  # in place: the optimizer holds these Tensors
    extras = {k[len("extra/") :]: v for k, v in stored.items() if k.startswith("extra/")}
    return {k: v.item() if v.ndim == 0 else v for k, v in extras.items()}


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
    assert trainer.step == 160 and model.training, "4 steps per epoch; back in training mode"

    # evaluate() weights each batch by its size: 3 samples with loss 1, then 1 with loss 5.
    constant = Sequential(Linear(1, 1))
    constant.parameters()[0].data[...] = 0.0
    constant.parameters()[1].data[...] = 0.0
    uneven = [(np.zeros((3, 1)), np.ones((3, 1))), (np.zeros((1, 1)), np.full((1, 1), 5.0**0.5))]
    judge = Trainer(constant, SGD(constant.parameters(), lr=0.1), MSELoss())
    assert math.isclose(judge.evaluate(uneven), (3 * 1 + 1 * 5) / 4, rel_tol=1e-6)


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
        fresh = Adam(copy.parameters(), lr=0.5)
        extras = load_checkpoint(path, copy, fresh)
        assert extras == {"epoch": 3} and fresh.step_count == 1 and fresh.lr == 0.1
        for (_, p), (_, q) in zip(model.named_parameters(), copy.named_parameters()):
            assert np.array_equal(p.data, q.data)
        for ours, theirs in zip(optimizer.state, fresh.state):
            assert ours["step"] == theirs["step"] == 1
            assert np.array_equal(ours["exp_avg_sq"], theirs["exp_avg_sq"])
        for other in (Sequential(Linear(3, 4)), Sequential(Linear(3, 2))):
            try:
                load_checkpoint(path, other)
            except ValueError as error:
                assert "shape" in str(error) or "does not fit" in str(error), error
            else:
                raise AssertionError("a checkpoint of another model must be refused")


# %% [markdown]
# ## Systems analysis: what training keeps, and what a checkpoint costs
#
# For P float32 parameters a training step holds the weights (4P bytes), their gradients
# (4P) and Adam's two moments (8P): 16P bytes before any activation. A checkpoint that can
# resume training must store weights and moments, 12P bytes; one for inference only needs
# 4P. We measure both on a real model.


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


# %%
if __name__ == "__main__":
    test_cosine_schedule()
    test_clip_grad_norm()
    test_trainer_learns_a_line()
    test_checkpoint_round_trip()
    analyze_checkpoint_size()
    print("All tests passed for module 07_training.")
