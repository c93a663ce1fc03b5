"""Training tools: clipping and cosine schedule against torch, Trainer, checkpoints."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.tinytorch.gradcheck import requires_torch, torch
from tinytorch.core.layers import Dropout, Linear, Sequential
from tinytorch.core.losses import MSELoss
from tinytorch.core.optimizers import SGD, Adam
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import (
    CosineSchedule,
    Trainer,
    clip_grad_norm,
    load_checkpoint,
    save_checkpoint,
)


@requires_torch
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(max_norm):
    rng = np.random.default_rng(1)
    grads = [rng.normal(size=s) for s in [(3, 4), (4,), (2, 2)]]
    ours = [Tensor(np.zeros_like(g), requires_grad=True, dtype=np.float64) for g in grads]
    for p, g in zip(ours, grads):
        p.grad = Tensor(g.copy(), dtype=np.float64)
    ours.append(Tensor(np.zeros(2), requires_grad=True))  # no gradient: ignored by both
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(theirs, grads):
        p.grad = torch.tensor(g.copy())
    norm = clip_grad_norm(ours, max_norm)
    torch_norm = torch.nn.utils.clip_grad_norm_(theirs, max_norm)
    assert math.isclose(norm, float(torch_norm), rel_tol=1e-12)
    for p, t in zip(ours, theirs):
        assert np.allclose(p.grad.data, t.grad.numpy(), rtol=0, atol=1e-12)


@requires_torch
def test_cosine_without_warmup_matches_torch_cosine_annealing():
    schedule = CosineSchedule(max_lr=0.1, min_lr=0.001, total_steps=50)
    param = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=0.1)
    annealing = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=50, eta_min=0.001)
    for step in range(51):
        assert math.isclose(schedule(step), optimizer.param_groups[0]["lr"], rel_tol=1e-9)
        optimizer.step()
        annealing.step()


def test_cosine_warmup_and_formula():
    schedule = CosineSchedule(max_lr=2.0, min_lr=0.5, total_steps=30, warmup_steps=10)
    assert [schedule(t) for t in range(3)] == pytest.approx([0.2, 0.4, 0.6])
    for t in range(10, 31):
        expected = 0.5 + 0.75 * (1 + math.cos(math.pi * (t - 10) / 20))
        assert schedule(t) == pytest.approx(expected)
    assert schedule(1000) == 0.5
    optimizer = SGD([Tensor([1.0], requires_grad=True)], lr=1.0)
    assert schedule.apply(optimizer, 20) == optimizer.lr == pytest.approx(1.25)
    with pytest.raises(ValueError, match="warmup_steps"):
        CosineSchedule(1.0, 0.1, total_steps=5, warmup_steps=5)
    with pytest.raises(ValueError, match="min_lr"):
        CosineSchedule(0.1, 1.0, total_steps=5)


def test_trainer_reduces_loss_on_a_regression_with_schedule():
    rng = np.random.default_rng(0)
    x = rng.random((40, 2)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0]], dtype=np.float32) + 0.5
    model = Sequential(Linear(2, 1))
    optimizer = Adam(model.parameters(), lr=0.1)
    schedule = CosineSchedule(0.1, 0.001, total_steps=300, warmup_steps=5)
    trainer = Trainer(model, optimizer, MSELoss(), scheduler=schedule, grad_clip_norm=5.0)
    batches = [(x[:16], y[:16]), (x[16:32], y[16:32]), (x[32:], y[32:])]  # last one partial
    history = trainer.fit(batches, val_loader=batches, epochs=100)
    assert history["train_loss"][-1] < history["train_loss"][0] / 100
    assert history["val_loss"][-1] < 1e-3 and len(history["val_loss"]) == 100
    assert trainer.step == 300 and history["lr"][-1] == pytest.approx(schedule(299))


def test_evaluate_uses_eval_mode_and_no_graph():
    model = Sequential(Linear(4, 4), Dropout(0.5))
    seen = []

    def loss_fn(out, y):
        seen.append((model.training, out.requires_grad))
        return ((out - Tensor(y)) ** 2).mean()

    trainer = Trainer(model, SGD(model.parameters(), lr=0.1), loss_fn)
    x, y = np.ones((8, 4)), np.zeros((8, 4))
    first = trainer.evaluate([(x, y)])
    assert first == trainer.evaluate([(x, y)]), "no dropout in eval mode: deterministic"
    assert seen == [(False, False), (False, False)] and model.training
    trainer.train_epoch([(x, y)])
    assert seen[-1] == (True, True)


def make_trained(seed: int = 0):
    np.random.seed(seed)
    model = Sequential(Linear(3, 5), Linear(5, 2))
    optimizer = Adam(model.parameters(), lr=0.01)
    for _ in range(3):
        for p in model.parameters():
            p.grad = Tensor(np.random.normal(size=p.shape))
        optimizer.step()
    return model, optimizer


def test_checkpoint_round_trip_resumes_training_exactly(tmp_path):
    model, optimizer = make_trained()
    path = save_checkpoint(tmp_path / "ckpt", model, optimizer, epoch=7, note="run a")
    assert path.name == "ckpt" and path.exists() and not list(tmp_path.glob("*.partial"))
    np.random.seed(99)
    copy = Sequential(Linear(3, 5), Linear(5, 2))
    resumed = Adam(copy.parameters(), lr=0.5)
    extras = load_checkpoint(path, copy, resumed)
    assert extras == {"epoch": 7, "note": "run a"}
    assert resumed.lr == 0.01 and resumed.step_count == 3
    # One more identical step on both: the weights stay identical, so the state was complete.
    for a, b in zip(model.parameters(), copy.parameters()):
        a.grad = Tensor(np.full(a.shape, 0.3))
        b.grad = Tensor(np.full(b.shape, 0.3))
    optimizer.step()
    resumed.step()
    for (name, a), (_, b) in zip(model.named_parameters(), copy.named_parameters()):
        assert np.array_equal(a.data, b.data), name
        assert b.data.dtype == np.float32


def test_checkpoint_mismatches_are_clear_errors(tmp_path):
    model, optimizer = make_trained()
    path = save_checkpoint(tmp_path / "ckpt.npz", model)
    other = Sequential(Linear(3, 4), Linear(4, 2))
    before = [p.data.copy() for p in other.parameters()]
    with pytest.raises(ValueError, match="shape"):
        load_checkpoint(path, other)
    assert all(np.array_equal(a, p.data) for a, p in zip(before, other.parameters()))
    with pytest.raises(ValueError, match="does not fit"):
        load_checkpoint(path, Sequential(Linear(3, 5), Linear(5, 2), Linear(2, 2)))
    with pytest.raises(ValueError, match="does not fit"):
        load_checkpoint(path, Sequential(Linear(3, 5)))
    with pytest.raises(ValueError, match="no optimizer state"):
        load_checkpoint(path, model, optimizer)
    with pytest.raises(ValueError, match="numbers or text"):
        save_checkpoint(tmp_path / "bad.npz", model, config={"a": 1})


def test_clip_leaves_small_gradients_alone():
    p = Tensor([1.0, 1.0], requires_grad=True)
    p.grad = Tensor([0.3, 0.4])
    assert clip_grad_norm([p], 1.0) == pytest.approx(0.5)
    assert np.allclose(p.grad.data, [0.3, 0.4])
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm([p], 0.0)
