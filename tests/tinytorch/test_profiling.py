"""Module 15: the profiler hears every op of forward and backward, and costs nothing when off."""

import numpy as np

from tinytorch import GPT, Tensor
from tinytorch.core.activations import relu
from tinytorch.core.losses import cross_entropy
from tinytorch.profiling import Profile, count_flops, profile, profile_gpt_step


def test_profiler_counts_ops_bytes_and_backward():
    x = Tensor(np.ones((3, 4)), requires_grad=True)
    w = Tensor(np.ones((4, 5)), requires_grad=True)
    with profile() as prof:
        relu(x @ w).sum().backward()
    rows = {row["op"]: row for row in prof.rows()}
    assert set(rows) >= {"matmul", "relu", "sum", "accumulate_grad"}
    assert rows["matmul"]["calls"] == 1
    assert rows["matmul"]["bytes"] == 3 * 5 * 4
    assert rows["matmul"]["flops"] == 2 * 3 * 4 * 5
    assert all(rows[op]["backward_ms"] > 0 for op in ("matmul", "relu", "sum"))
    assert Tensor.profilers == []
    assert np.allclose(x.grad.data, 5.0)


def test_profiler_is_removed_after_an_exception_and_nests():
    try:
        with profile():
            raise ValueError
    except ValueError:
        pass
    assert Tensor.profilers == []
    a = Tensor(np.ones(3))
    with profile() as outer:
        a + a
        with profile() as inner:
            a * a
    assert [r["op"] for r in inner.rows()] == ["mul"]
    assert {r["op"] for r in outer.rows()} == {"add", "mul"}


def test_gpt_step_profile_covers_the_step():
    prof = profile_gpt_step(batch=2, seq_len=8, embed_dim=16, num_layers=2, steps=1)
    ops = {row["op"] for row in prof.rows()}
    assert {"matmul", "softmax", "layer_norm", "gelu_tanh", "cross_entropy", "adam"} <= ops
    assert 0.3 < prof.coverage() <= 1.0 + 1e-9
    assert isinstance(prof, Profile)


def test_no_grad_ops_are_recorded_and_flops_only_for_matmul():
    model = GPT(vocab_size=20, embed_dim=8, num_layers=1, num_heads=2, max_seq_len=8)
    ids = np.zeros((1, 8), dtype=np.int64)
    with profile() as prof:
        loss = cross_entropy(model(ids), ids)
    assert loss.requires_grad
    assert all(row["flops"] == 0 for row in prof.rows() if row["op"] != "matmul")
    a = Tensor(np.ones(2))
    assert count_flops("add", a + a, (a, a)) == 0
