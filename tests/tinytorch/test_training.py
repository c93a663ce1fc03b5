"""Training tools: clipping against torch, schedule, Trainer, checkpoints."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tests.tinytorch.gradcheck import torch
from tinytorch.core.layers import Linear, Sequential
from tinytorch.core.losses import MSELoss
from tinytorch.core.optimizers import Adam
from tinytorch.core.tensor import Tensor
from tinytorch.core.training import (
    CosineSchedule,
    Trainer,
    clip_grad_norm,
    load_checkpoint,
    save_checkpoint,
)


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(max_norm):
    rng = np.random.default_rng(1)
    grads = [rng.normal(size=s) for s in [(3, 4), (4,), (2, 2)]]
    ours = [Tensor(np.zeros_like(g), requires_grad=True, dtype=np.float64) for g in grads]
    for p, g in zip(ours, grads):
        p.grad = Tensor(g.copy(), dtype=np.float64)
    theirs = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, g in zip(theirs, grads):
        p.grad = torch.tensor(g.copy())
    norm = clip_grad_norm(ours, max_norm)
    torch_norm = torch.nn.utils.clip_grad_norm_(theirs, max_norm)
    assert math.isclose(norm, float(torch_norm), rel_tol=1e-12)
    for p, t in zip(ours, theirs):
        assert np.allclose(p.grad.data, t.grad.numpy(), atol=1e-9)


@pytest.mark.skipif(torch is None, reason="PyTorch is not installed")
def test_cosine_without_warmup_matches_torch_cosine_annealing():
    schedule = CosineSchedule(max_lr=0.1, min_lr=0.001, total_steps=50)
    param = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=0.1)
    annealing = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=50, eta_min=0.001)
    for step in range(50):
        assert math.isclose(schedule(step), optimizer.param_groups[0]["lr"], rel_tol=1e-9)
        optimizer.step()
        annealing.step()


def test_trainer_history_and_checkpoint(tmp_path):
    np.random.seed(0)
    x = np.random.rand(32, 2).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0]], dtype=np.float32)
    model = Sequential(Linear(2, 1))
    optimizer = Adam(model.parameters(), lr=0.05)
    schedule = CosineSchedule(0.05, 0.001, total_steps=200, warmup_steps=5)
    trainer = Trainer(model, optimizer, MSELoss(), scheduler=schedule)
    batches = [(x[:16], y[:16]), (x[16:], y[16:])]
    history = trainer.fit(batches, val_loader=batches, epochs=100)
    assert history["train_loss"][-1] < history["train_loss"][0] / 50
    assert trainer.step == 200 and math.isclose(history["lr"][-1], schedule(199))
    path = save_checkpoint(tmp_path / "ckpt.npz", model, optimizer, epoch=100)
    copy = Sequential(Linear(2, 1))
    assert int(load_checkpoint(path, copy)["epoch"]) == 100
    assert np.array_equal(copy.parameters()[0].data, model.parameters()[0].data)
    with pytest.raises(ValueError, match="has no parameter"):
        load_checkpoint(path, Sequential(Linear(2, 1), Linear(1, 1)))
