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
# # Module 15: Profiling
#
# Your GPT trains. Is it fast? Before changing any code for speed you need to know **where
# the time goes**: a guess ("the matrix products, surely") is wrong often enough that every
# performance engineer learns to measure first. In this module you build a profiler for your
# own framework and then use it on the GPT of module 13.
#
# **You will learn**
# - how to listen to every op of a program from two hook points, without touching any op;
# - how to attribute time between events, so that the op times add up to the wall time;
# - how a step's time moves between ops as the context T, the width D and the depth L grow;
# - what a step's memory is made of, measured with `tracemalloc`, and what `no_grad` saves;
# - how far your matrix products are from the machine's peak (achieved GFLOP/s).
#
# ### Two hook points, not one per op
#
# Every op of the framework ends the same way: it computes its result on `.data`, then calls
# `Tensor.from_op(result, op_name, inputs, saved)`. Every backward step goes through one loop
# in the engine of module 05. So a profiler needs only two places to listen:
#
# ```
#   forward:   x @ W ──> np.matmul ──> Tensor.from_op(.., "matmul", ..) ──> profiler.forward_event
#   backward:  engine loop: rule(g, node), sums ──────────────────────────> profiler.backward_event
# ```
#
# Both places hold a list, `Tensor.profilers`. While it is empty (no profiler active) the
# cost is one `if` per op, about 20 ns against the microseconds an op takes. Inside
# `with profile() as prof:` the list holds `prof`, and every op reports to it.
#
# ### Time between events
#
# `from_op` is called **after** the op computed its data, so it does not know when the op
# started. Instead of wrapping each op in a timer, the profiler remembers the time of the
# previous event and charges the gap to the op that just reported:
#
# ```
#   time ─────|────────────|──────|─────────────────|──────>
#          enter       "matmul"  "add"         "gelu_tanh"
#             <─ 0.8 ms ─> <0.1 ms> <──── 1.1 ms ──>
# ```
#
# The gap holds the op's own NumPy work plus the Python that ran since the last op (a
# layer's `__call__`, a reshape of the arguments). So the op times add up to nearly all of
# the wall time of the block, and the Python glue is charged to the op it prepared. The
# profiler's own bookkeeping is left out: it restarts the clock after it has written its
# numbers.

# %%
#| default_exp profiling
#| export
import contextlib
import time
import tracemalloc

import numpy as np

from tinytorch.core.autograd import no_grad
from tinytorch.core.losses import cross_entropy
from tinytorch.core.optimizers import Adam
from tinytorch.core.tensor import Tensor
from tinytorch.models.transformer import GPT

# %% [markdown]
# ## 1. Counting FLOPs of an op
#
# To compare time with work, the profiler counts floating-point operations where the count
# is exact and matters: matrix products. `A @ B` with A (..., M, K) and B (K, N) does one
# multiply and one add per (m, k, n) triple, so **2·M·K·N** per batch element; in terms of the
# output, `2 · out.size · K`. Example: (2, 3) @ (3, 4) gives 8 outputs of 3 products each:
# 2 · 8 · 3 = 48 FLOPs. The backward pass of a product does two products of the same size
# (dA = g Bᵀ, dB = Aᵀ g), so 2x the forward count.
#
# Other ops (adds, exp, tanh) do a few FLOPs per element; their time is memory traffic, not
# arithmetic, so we count them as 0 and let their time speak for them.
#
# **Specify.** `count_flops(op, out, inputs) -> int`: for `op == "matmul"`, 2 · out.data.size
# · K with K = `inputs[0].shape[-1]` (a 1-D left operand is one row); 0 for every other op.


# %% nbgrader={"grade": false, "grade_id": "count-flops", "locked": false, "schema_version": 3, "solution": true}
#| export
def count_flops(op: str, out: Tensor, inputs: tuple) -> int:
    """Forward FLOPs of one op: 2·out.size·K for "matmul" (K = inputs[0].shape[-1]), else 0."""
    ### BEGIN SOLUTION
    if op != "matmul" or not inputs:
        return 0
    inner = inputs[0].shape[-1]
    return 2 * int(out.data.size) * int(inner)
    ### END SOLUTION


# %% [markdown]
# ### Test: FLOP counts
#
# **What this checks and why.** The worked example (48 FLOPs), a batched product, a
# matrix-vector product, and 0 for an elementwise op: the GFLOP/s of section 5 divide by
# these numbers, so they must be exact.


# %% nbgrader={"grade": true, "grade_id": "test-count-flops", "locked": true, "points": 5, "schema_version": 3}
def test_count_flops():
    a, b = Tensor(np.ones((2, 3))), Tensor(np.ones((3, 4)))
    out = a @ b
    assert count_flops("matmul", out, (a, b)) == 48, (
        f"(2,3)@(3,4) is 2*2*3*4 = 48 FLOPs, got {count_flops('matmul', out, (a, b))}"
    )
    x, w = Tensor(np.ones((5, 2, 3))), Tensor(np.ones((3, 7)))
    flops = count_flops("matmul", x @ w, (x, w))
    assert flops == 2 * 5 * 2 * 3 * 7, f"(5,2,3)@(3,7) is 420 FLOPs, got {flops}"
    v = Tensor(np.ones(3))
    flops = count_flops("matmul", b.transpose() @ v, (b.transpose(), v))
    assert flops == 2 * 4 * 3, f"(4,3)@(3,) is 24 FLOPs, got {flops}"
    assert count_flops("add", a + a, (a, a)) == 0, "elementwise ops count 0 FLOPs here"


if __name__ == "__main__":
    test_count_flops()

# %% [markdown]
# ## 2. The profiler
#
# A `Profile` keeps one row per op name: `[calls, forward seconds, backward seconds, bytes
# of outputs, forward FLOPs]`, and the time of the last event, `self._last`.
#
# **Specify.**
# - `__enter__`: append self to `Tensor.profilers`, set `self._start` and `self._last` to
#   `time.perf_counter()`, return self. `__exit__`: remove self from `Tensor.profilers`
#   (also when the block raised: `__exit__` always runs), and set `self.wall_s` to the
#   seconds since `_start`.
# - `forward_event(op, out, inputs)` (called by `from_op`): add 1 to the op's calls, the
#   seconds since `_last` to its forward time, `out.data.nbytes` to its bytes **unless the
#   result is a view of an input** (`_is_view_of_input(out, inputs)`, given: a reshape or a
#   transpose allocates nothing, while a fresh result reshaped at the end of an op still
#   counts), `count_flops(op, out, inputs)` to its FLOPs; then set `_last` to a **fresh**
#   `perf_counter()` (so the bookkeeping is not charged to the next op).
# - `backward_event(op, node)` (called by the engine after each node): the seconds since
#   `_last` go to the op's backward time (leaves report as `"accumulate_grad"`); restart the
#   clock the same way. Calls count forward calls only.
# - `section(name)`: a context manager for work that makes no graph (the optimizer's
#   step): the gap before it goes to a row `"(other)"`, the time inside to a row `name`
#   (one call, in the forward column).
# - `rows()`: one dict per op, `{"op", "calls", "forward_ms", "backward_ms", "total_ms",
#   "bytes", "flops", "percent"}` (percent of the recorded total), sorted by `total_ms`,
#   largest first. `recorded_ms()` is the sum of every row's total; `coverage()` is
#   `recorded_ms / (1000 · wall_s)`, the share of the block's wall time the rows explain.
# - `table(top=None)`: the rows as aligned text, a header and a total line.
#
# Example: `with profile() as p: (x * y).sum().backward()` with x, y of shape (1000,) gives a
# row `mul` with 1 call and 4000 bytes (float32), a row `sum` with 1 call, and both have a
# backward time; `accumulate_grad` has 2 backward events and 0 calls.


# %% nbgrader={"grade": false, "grade_id": "profile", "locked": false, "schema_version": 3, "solution": true}
#| export
def _is_view_of_input(out: Tensor, inputs: tuple) -> bool:
    """Whether out's data is a view into an input's memory (a reshape, a transpose)."""
    return out.data.base is not None and any(np.may_share_memory(out.data, t.data) for t in inputs)


class Profile:
    """Records each op the graph runs: calls, forward and backward ms, output bytes, FLOPs."""

    def __init__(self):
        self._stats: dict = {}  # op -> [calls, forward_s, backward_s, bytes, flops]
        self._start = self._last = 0.0
        self.wall_s = 0.0

    def _row(self, op: str) -> list:
        """The stats list of `op`, created at zero the first time."""
        row = self._stats.get(op)
        if row is None:
            row = self._stats[op] = [0, 0.0, 0.0, 0, 0]
        return row

    def __enter__(self) -> "Profile":
        """Start listening: join Tensor.profilers and start the clock."""
        ### BEGIN SOLUTION
        Tensor.profilers.append(self)
        self._start = self._last = time.perf_counter()
        return self
        ### END SOLUTION

    def __exit__(self, *exc) -> None:
        """Stop listening (even after an exception) and record the wall time."""
        ### BEGIN SOLUTION
        if self in Tensor.profilers:
            Tensor.profilers.remove(self)
        self.wall_s = time.perf_counter() - self._start
        ### END SOLUTION

    def forward_event(self, op: str, out: Tensor, inputs: tuple) -> None:
        """`op` produced `out`: charge it the time since the last event, its bytes and FLOPs."""
        ### BEGIN SOLUTION
        row = self._row(op)
        row[0] += 1
        row[1] += time.perf_counter() - self._last
        if not _is_view_of_input(out, inputs):
            row[3] += out.data.nbytes
        row[4] += count_flops(op, out, inputs)
        self._last = time.perf_counter()
        ### END SOLUTION

    def backward_event(self, op: str, node: Tensor) -> None:
        """The engine finished `node` (an op, or "accumulate_grad"): charge it the gap."""
        ### BEGIN SOLUTION
        self._row(op)[2] += time.perf_counter() - self._last
        self._last = time.perf_counter()
        ### END SOLUTION

    @contextlib.contextmanager
    def section(self, name: str):
        """Time work without graph ops (an optimizer step) as a row of its own."""
        ### BEGIN SOLUTION
        self._row("(other)")[1] += time.perf_counter() - self._last
        started = time.perf_counter()
        try:
            yield self
        finally:
            row = self._row(name)
            row[0] += 1
            row[1] += time.perf_counter() - started
            self._last = time.perf_counter()
        ### END SOLUTION

    def rows(self) -> list:
        """One dict per op (op, calls, forward_ms, backward_ms, total_ms, bytes, flops, percent)."""
        ### BEGIN SOLUTION
        total_s = sum(row[1] + row[2] for row in self._stats.values()) or 1.0
        rows = [
            {
                "op": op,
                "calls": calls,
                "forward_ms": 1e3 * forward,
                "backward_ms": 1e3 * backward,
                "total_ms": 1e3 * (forward + backward),
                "bytes": nbytes,
                "flops": flops,
                "percent": 100.0 * (forward + backward) / total_s,
            }
            for op, (calls, forward, backward, nbytes, flops) in self._stats.items()
        ]
        return sorted(rows, key=lambda row: row["total_ms"], reverse=True)
        ### END SOLUTION

    def recorded_ms(self) -> float:
        """The sum of every row's forward and backward milliseconds."""
        return sum(row["total_ms"] for row in self.rows())

    def coverage(self) -> float:
        """The share of the block's wall time that the rows explain (1.0 = all of it)."""
        return self.recorded_ms() / (1e3 * self.wall_s) if self.wall_s else 0.0

    def table(self, top: int | None = None) -> str:
        """The rows as aligned text: op, calls, forward, backward and total ms, %, MB."""
        ### BEGIN SOLUTION
        rows = self.rows()
        lines = [
            f"{'op':<18}{'calls':>7}{'fwd ms':>10}{'bwd ms':>10}{'total ms':>10}"
            f"{'%':>7}{'MB out':>9}"
        ]
        for row in rows[:top]:
            lines.append(
                f"{row['op']:<18}{row['calls']:>7}{row['forward_ms']:>10.2f}"
                f"{row['backward_ms']:>10.2f}{row['total_ms']:>10.2f}{row['percent']:>7.1f}"
                f"{row['bytes'] / 1e6:>9.2f}"
            )
        lines.append(
            f"{'total':<18}{sum(r['calls'] for r in rows):>7}"
            f"{sum(r['forward_ms'] for r in rows):>10.2f}"
            f"{sum(r['backward_ms'] for r in rows):>10.2f}{self.recorded_ms():>10.2f}"
            f"{'':>7}{sum(r['bytes'] for r in rows) / 1e6:>9.2f}"
        )
        if self.wall_s:
            lines.append(
                f"wall {1e3 * self.wall_s:.2f} ms; the rows explain {100 * self.coverage():.1f}%"
            )
        return "\n".join(lines)
        ### END SOLUTION


def profile() -> Profile:
    """`with profile() as prof:` records every op run inside; then prof.rows(), prof.table()."""
    return Profile()


# %% [markdown]
# ### Test: the profiler on a graph you can count by hand
#
# **What this checks and why.** `(x * y).sum().backward()` runs exactly one `mul` and one
# `sum`, whose outputs are 4,000 bytes and 4 bytes; the two leaves each get one
# `accumulate_grad`. A reshape is a view and allocates 0 bytes. The profiler must leave
# `Tensor.profilers` empty afterwards, even when the block raises (otherwise every later op
# would pay for a profiler nobody reads). The rows add up to the recorded total.


# %% nbgrader={"grade": true, "grade_id": "test-profile", "locked": true, "points": 15, "schema_version": 3}
def test_profile():
    x = Tensor(np.ones(1000), requires_grad=True)
    y = Tensor(np.full(1000, 2.0), requires_grad=True)
    with profile() as prof:
        (x * y).sum().backward()
    rows = {row["op"]: row for row in prof.rows()}
    assert Tensor.profilers == [], f"the profiler must leave the list empty, got {Tensor.profilers}"
    assert rows["mul"]["calls"] == 1 and rows["sum"]["calls"] == 1, f"one mul, one sum: {rows}"
    assert rows["mul"]["bytes"] == 4000, f"mul's output is 1000 float32 = 4000 B, got {rows}"
    assert rows["sum"]["bytes"] == 4, f"sum's output is one float32 = 4 B, got {rows['sum']}"
    assert rows["mul"]["backward_ms"] > 0 and rows["sum"]["backward_ms"] > 0, (
        f"backward events must be timed, got {rows}"
    )
    assert rows["accumulate_grad"]["calls"] == 0, "leaves report backward events, not calls"
    assert x.grad.data[0] == 2.0, "profiling must not change the gradients"
    total = sum(row["total_ms"] for row in prof.rows())
    assert abs(total - prof.recorded_ms()) < 1e-9, "recorded_ms is the sum of the rows"
    assert abs(sum(row["percent"] for row in prof.rows()) - 100) < 1e-6, "percents add to 100"
    text = prof.table()
    assert "mul" in text and "total" in text, f"the table names the ops and a total:\n{text}"
    with profile() as prof:
        x.reshape(10, 100)
    assert prof.rows()[0]["bytes"] == 0, f"a reshape is a view: 0 bytes, got {prof.rows()}"
    try:
        with profile():
            raise KeyError("boom")
    except KeyError:
        pass
    assert Tensor.profilers == [], "an exception inside the block must still remove the profiler"
    ### BEGIN HIDDEN TESTS
    a = Tensor(np.ones((4, 6)), requires_grad=True)
    with profile() as prof:
        for _ in range(3):
            (a @ a.transpose()).exp().mean().backward()
        with prof.section("optimizer"):
            a.data -= 0.1
    rows = {row["op"]: row for row in prof.rows()}
    assert rows["matmul"]["calls"] == 3 and rows["exp"]["calls"] == 3, f"3 of each: {rows}"
    assert rows["matmul"]["flops"] == 3 * 2 * 4 * 4 * 6, f"3 products of 192 FLOPs: {rows}"
    assert rows["exp"]["bytes"] == 3 * 16 * 4, f"3 outputs of 16 float32: {rows['exp']}"
    assert rows["optimizer"]["calls"] == 1, f"a section is one call: {rows}"
    assert prof.wall_s > 0 and 0 < prof.coverage() <= 1.0 + 1e-9, "coverage is a share of wall"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_profile()

# %% [markdown]
# ## 3. What does profiling cost when it is off?
#
# A profiler nobody uses must cost nothing, or people will rip it out. The hook in
# `from_op` is `if Tensor.profilers:`: one attribute lookup and one truth test. We measure it
# against a whole GPT step: the number of ops in a step times the cost of the check, as a
# share of the step's time.
#
# **Specify.** `profile_gpt_step(batch, seq_len, embed_dim, num_layers, num_heads, vocab,
# steps=2, seed=0)` builds `GPT(vocab, embed_dim, num_layers, num_heads, max_seq_len=seq_len)`
# and Adam (lr 1e-3), takes one warm-up step, then profiles `steps` training steps (forward,
# `cross_entropy`, `backward`, and `opt.step()` inside `prof.section("adam")`, after
# `opt.zero_grad()`) and returns the Profile. Random token ids from
# `np.random.default_rng(seed)`, targets are the ids shifted by one.


# %% nbgrader={"grade": false, "grade_id": "profile-gpt-step", "locked": false, "schema_version": 3, "solution": true}
#| export
def _gpt_and_batch(batch, seq_len, embed_dim, num_layers, num_heads, vocab, seed):
    """A GPT, Adam and one batch of (ids, next ids), all from `seed`."""
    np.random.seed(seed)
    model = GPT(vocab, embed_dim, num_layers, num_heads, max_seq_len=seq_len)
    rng = np.random.default_rng(seed)
    tokens = rng.integers(0, vocab, size=(batch, seq_len + 1))
    return model, Adam(model.parameters(), lr=1e-3), tokens[:, :-1], tokens[:, 1:]


def _train_step(model, opt, ids, targets, prof=None) -> float:
    """One forward, backward and Adam step; the Adam step is a profiler section if given."""
    opt.zero_grad()
    loss = cross_entropy(model(ids), targets)
    loss.backward()
    with prof.section("adam") if prof is not None else contextlib.nullcontext():
        opt.step()
    return float(loss.data)


def profile_gpt_step(
    batch=4, seq_len=32, embed_dim=32, num_layers=2, num_heads=4, vocab=100, steps=2, seed=0
) -> Profile:
    """Profile `steps` GPT training steps (after one warm-up step) and return the Profile."""
    ### BEGIN SOLUTION
    model, opt, ids, targets = _gpt_and_batch(
        batch, seq_len, embed_dim, num_layers, num_heads, vocab, seed
    )
    _train_step(model, opt, ids, targets)
    with profile() as prof:
        for _ in range(steps):
            _train_step(model, opt, ids, targets, prof)
    return prof
    ### END SOLUTION


def measure_hook_cost(repeats: int = 200_000) -> dict:
    """Print and return the cost of the disabled hook against one profiled GPT step."""
    check = min(_time_check(repeats) for _ in range(3))  # seconds per `if Tensor.profilers:` check
    prof = profile_gpt_step(steps=1)
    ops = sum(row["calls"] for row in prof.rows())  # forward calls; backward has as many
    share = check * 2 * ops / prof.wall_s  # two checks per op: forward and backward, roughly
    print(
        f"one disabled check: {1e9 * check:.0f} ns; a GPT step runs about {ops} ops and takes "
        f"{1e3 * prof.wall_s:.1f} ms, so profiling off costs {100 * share:.3f}% of the step"
    )
    return {"check_ns": 1e9 * check, "ops": ops, "step_ms": 1e3 * prof.wall_s, "share": share}


def _time_check(repeats: int) -> float:
    """Seconds per `if Tensor.profilers:` when the list is empty."""
    started = time.perf_counter()
    for _ in range(repeats):
        if Tensor.profilers:
            pass
    return (time.perf_counter() - started) / repeats


# %% [markdown]
# ### Test: a GPT step, op by op
#
# **What this checks and why.** A GPT of L layers runs 2L + 1 LayerNorms, L softmaxes and
# L GELUs per forward pass; the profile must count exactly that per step, see backward time
# for them, and explain most of the step's wall time (the rows are the time between events,
# so only the profiler's own bookkeeping is missing). We print the table: read it.


# %% nbgrader={"grade": true, "grade_id": "test-profile-gpt-step", "locked": true, "points": 10, "schema_version": 3}
def test_profile_gpt_step():
    prof = profile_gpt_step(batch=2, seq_len=16, embed_dim=32, num_layers=3, steps=2)
    rows = {row["op"]: row for row in prof.rows()}
    print(prof.table(top=12))
    assert rows["layer_norm"]["calls"] == 2 * (2 * 3 + 1), f"2 steps x 7 LayerNorms: {rows}"
    assert rows["softmax"]["calls"] == 2 * 3, f"2 steps x 3 softmaxes: {rows['softmax']}"
    assert rows["gelu_tanh"]["backward_ms"] > 0, "GELU's backward must be timed"
    assert rows["adam"]["calls"] == 2, f"the optimizer section runs once per step: {rows}"
    assert rows["matmul"]["flops"] > 0, "the products' FLOPs must be counted"
    assert prof.coverage() > 0.5, f"the rows should explain most of the step: {prof.coverage()}"
    assert Tensor.profilers == [], "profile_gpt_step must leave no profiler behind"
    cost = measure_hook_cost(repeats=20_000)
    assert cost["ops"] > 50, f"a 2-layer GPT step runs dozens of ops, counted {cost['ops']}"


if __name__ == "__main__":
    test_profile_gpt_step()

# %% [markdown]
# ## 4. Where the time goes as T, D and L grow
#
# Per layer, a GPT step does two kinds of work:
#
# | work | FLOPs per token (forward) | grows with |
# |---|---|---|
# | the four projections and the MLP | 2 · 12 D² = 24 D² | D² |
# | attention scores and the weighted sum | 2 · 2 · T · D = 4 T D | T · D |
# | softmax, mask, scale | a few per score: ~5 · H · T | T · H |
# | LayerNorm, GELU, adds | a few per activation: ~30 D | D |
#
# So doubling D quadruples the products' work, doubling T doubles attention's share per
# token, and L multiplies everything (the share of each op stays). But FLOPs are not time:
# elementwise ops do little arithmetic per byte and run at memory speed, so they take more
# of the time than of the FLOPs, most at small D.
#
# **Specify.** `scaling_study(configs=..., batch=4)` runs `profile_gpt_step` (one step) for
# each `(T, D, L)` in configs (4 heads, vocab 128) and returns one dict per config:
# `{"T", "D", "L", "step_ms", "matmul_pct", "softmax_pct", "gelu_pct", "layer_norm_pct",
# "other_pct"}` (percent of the recorded time; `other_pct` is the rest), printing a line each.

# %% nbgrader={"grade": false, "grade_id": "scaling-study", "locked": false, "schema_version": 3, "solution": true}
#| export
SCALING_CONFIGS = ((16, 32, 2), (64, 32, 2), (16, 128, 2), (16, 32, 4))
_SHARES = {
    "matmul": "matmul",
    "softmax": "softmax",
    "gelu_tanh": "gelu",
    "layer_norm": "layer_norm",
}


def scaling_study(configs=SCALING_CONFIGS, batch: int = 4) -> list:
    """Profile one GPT step per (T, D, L) and return the share of the main ops, printed."""
    ### BEGIN SOLUTION
    results = []
    for seq_len, dim, layers in configs:
        prof = profile_gpt_step(batch, seq_len, dim, layers, num_heads=4, vocab=128, steps=1)
        shares = {f"{name}_pct": 0.0 for name in _SHARES.values()}
        for row in prof.rows():
            if row["op"] in _SHARES:
                shares[f"{_SHARES[row['op']]}_pct"] += row["percent"]
        shares["other_pct"] = 100.0 - sum(shares.values())
        result = {"T": seq_len, "D": dim, "L": layers, "step_ms": 1e3 * prof.wall_s, **shares}
        results.append(result)
        print(
            f"T={seq_len:3d} D={dim:4d} L={layers}: step {result['step_ms']:7.1f} ms | "
            + " ".join(f"{key[:-4]} {value:4.1f}%" for key, value in shares.items())
        )
    return results
    ### END SOLUTION


# %% [markdown]
# ### Test: the scaling study
#
# **What this checks and why.** One row per configuration, shares that add up to 100%, and
# a step that takes longer when the model grows 4x wider (the products grow 16x). Times are
# not asserted against numbers: the machine decides those.


# %% nbgrader={"grade": true, "grade_id": "test-scaling-study", "locked": true, "points": 5, "schema_version": 3}
def test_scaling_study():
    results = scaling_study(configs=((8, 16, 1), (8, 64, 1)), batch=2)
    assert len(results) == 2, f"one row per configuration, got {len(results)}"
    for row in results:
        total = sum(value for key, value in row.items() if key.endswith("_pct"))
        assert abs(total - 100) < 1e-6, f"shares must add to 100%, got {total} in {row}"
        assert row["matmul_pct"] > 0, f"a GPT step spends time in products: {row}"
    assert [r["D"] for r in results] == [16, 64], f"rows follow the configs: {results}"


if __name__ == "__main__":
    test_scaling_study()

# %% [markdown]
# ## 5. Memory per step, and achieved GFLOP/s
#
# **Memory.** `tracemalloc` counts every byte NumPy allocates (its arrays go through Python's
# allocator hooks). The peak during a training step is the graph's saved activations plus
# the temporaries alive at the worst moment; under `no_grad()` nothing is kept for backward,
# so the forward peak is only a few activations.
#
# **GFLOP/s.** The profile has the products' FLOPs (forward; backward does 2x that) and their
# times, so `3 · flops / (forward + backward seconds)` is what your matmuls achieved. Compare
# with one large product measured alone: the machine's practical peak for float32.
#
# **Specify.**
# - `step_memory(batch=4, seq_len=32, embed_dim=32, num_layers=2)`: returns
#   `{"train_mb": ..., "no_grad_mb": ...}`, the tracemalloc peak (MB = 10⁶ bytes) of one
#   training step (forward, loss, backward; after a warm-up step) and of one forward pass
#   under `no_grad()`.
# - `achieved_gflops(...)` (same sizes): profiles two steps and returns
#   `{"matmul_gflops": ..., "peak_gflops": ..., "step_gflops": ...}`: the products' rate, the
#   rate of a lone (512, 512) @ (512, 512) float32 product (median of 5), and all the step's
#   product FLOPs over the whole wall time.


# %% nbgrader={"grade": false, "grade_id": "memory-and-flops", "locked": false, "schema_version": 3, "solution": true}
#| export
def step_memory(batch=4, seq_len=32, embed_dim=32, num_layers=2) -> dict:
    """tracemalloc peak (MB) of one training step, and of a forward pass under no_grad()."""
    ### BEGIN SOLUTION
    model, opt, ids, targets = _gpt_and_batch(batch, seq_len, embed_dim, num_layers, 4, 100, 0)
    _train_step(model, opt, ids, targets)  # warm-up: Adam's moments and the grads exist now
    tracemalloc.start()
    try:
        loss = cross_entropy(model(ids), targets)
        loss.backward()
        del loss
        train_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        with no_grad():
            model(ids)
        no_grad_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    result = {"train_mb": train_peak / 1e6, "no_grad_mb": no_grad_peak / 1e6}
    print(
        f"training step peak {result['train_mb']:.2f} MB; no_grad forward {result['no_grad_mb']:.2f} MB"
    )
    return result
    ### END SOLUTION


def achieved_gflops(batch=4, seq_len=32, embed_dim=64, num_layers=2) -> dict:
    """The products' achieved GFLOP/s in a GPT step, against one large product alone."""
    ### BEGIN SOLUTION
    prof = profile_gpt_step(batch, seq_len, embed_dim, num_layers, steps=2)
    matmul = next(row for row in prof.rows() if row["op"] == "matmul")
    flops = 3 * matmul["flops"]  # backward does two products per forward product
    seconds = (matmul["forward_ms"] + matmul["backward_ms"]) / 1e3
    a = np.ones((512, 512), dtype=np.float32)
    times = []
    for _ in range(5):
        started = time.perf_counter()
        a @ a
        times.append(time.perf_counter() - started)
    peak = 2 * 512**3 / float(np.median(times)) / 1e9
    result = {
        "matmul_gflops": flops / seconds / 1e9,
        "peak_gflops": peak,
        "step_gflops": flops / prof.wall_s / 1e9,
    }
    print(
        f"products in the step: {result['matmul_gflops']:.1f} GFLOP/s; whole step "
        f"{result['step_gflops']:.1f} GFLOP/s; one 512x512 product alone {peak:.1f} GFLOP/s"
    )
    return result
    ### END SOLUTION


# %% [markdown]
# ### Test: memory and GFLOP/s
#
# **What this checks and why.** The graph costs memory: a training step's peak must be
# well above a `no_grad` forward's, and growing the batch 4x must grow the training peak by
# about 4x (activations scale with the batch; the weights are already allocated). The rates
# must be positive and finite; their size depends on the machine, so it is printed only.


# %% nbgrader={"grade": true, "grade_id": "test-memory-and-flops", "locked": true, "points": 5, "schema_version": 3}
def test_memory_and_flops():
    small = step_memory(batch=2, seq_len=16, embed_dim=32, num_layers=2)
    large = step_memory(batch=8, seq_len=16, embed_dim=32, num_layers=2)
    assert small["train_mb"] > 2 * small["no_grad_mb"], f"the graph must cost memory: {small}"
    ratio = large["train_mb"] / small["train_mb"]
    assert 2.5 < ratio < 5, f"4x the batch should cost about 4x the step's memory, got {ratio:.2f}"
    rates = achieved_gflops(batch=2, seq_len=16, embed_dim=32, num_layers=1)
    assert all(np.isfinite(v) and v > 0 for v in rates.values()), f"rates must be >0: {rates}"


if __name__ == "__main__":
    test_memory_and_flops()

# %% [markdown]
# ### Reading the numbers
#
# Run `scaling_study()` and `achieved_gflops()` on your machine. Typical readings (2-core
# VM, batch 4): at T = 16, D = 32 the products are a minority of the step and the Python
# per op dominates; at D = 128 the products take the largest share; at T = 64 the softmax
# and the (T, T) products grow. The products inside a step run several times below the lone
# 512 x 512 product's rate: small matrices cannot keep the cores busy, and every op between
# them costs a pass over memory. Module 16 uses these readings to decide what to fuse.

# %% [markdown]
# ## Reflect

# %% [markdown]
# **Q1 (overhead).** The disabled hook costs one check per op. What share of a GPT step did
# `measure_hook_cost` report, and what would a profiler that wrapped every op in a Python
# function (one extra call, ~100 ns, even when off) cost instead?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-overhead", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# The check took about 20-40 ns and a TinyGPT step runs about 80 ops forward and as many backward in 5-20 ms, so the
# disabled hook costs about 0.05% of the step, below the run-to-run noise. A wrapper call of
# ~100 ns plus argument passing (~300 ns in total) on every op, twice per op, would cost
# 160 x 0.6 µs = 0.1 ms, about 1-2% of a small step: measurable, and paid by everyone.
# ### END SOLUTION

# %% [markdown]
# **Q2 (attribution).** The profiler charges each op the time since the previous event.
# Which op gets charged for the Python in `Module.__call__` and for `cross_entropy`'s target
# checks? When would this mislead you?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-attribution", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# The next op to report: the first op inside the layer (usually a matmul) pays for the
# layer's `__call__`, and `cross_entropy` pays for its own checks. It misleads when a lot of
# work happens outside the graph between two ops: a NumPy computation on `.data` (module 14's
# head split and cache update, a mask built with np.where each call) is charged to whatever op follows, and
# before a section the gap goes to "(other)". Topological sorting at the start of backward
# is charged to the first backward event (the loss). Wrapping ops would separate these, at
# the cost of overhead.
# ### END SOLUTION

# %% [markdown]
# **Q3 (scaling).** In your `scaling_study`, which share grew when T went from 16 to 64, and
# which when D went from 32 to 128? Explain both from the FLOP table of section 4.

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-scaling", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# With T 4x longer, attention's work per token (4TD for products, ~5HT for the softmax, mask
# and scale) grows 4x while the projections' 24D² stay: the softmax share and the batched
# (T, T) products grow. With D 4x wider, the projections' and MLP's 24D² grow 16x per token,
# far faster than LayerNorm's and GELU's ~30D elementwise work, so matmul takes the largest
# share; the GELU (on 4D values per token, with tanh) stays visible.
# ### END SOLUTION

# %% [markdown]
# **Q4 (memory).** What did `step_memory` report with and without the graph? What keeps the
# training peak high, and which of those arrays could a fused op avoid keeping?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-memory", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# About 3-6x more for the training step (a few MB against under one MB at batch 4, T 32,
# D 32). The graph keeps every op's output that a rule reads: per layer the scores, the
# scaled scores, the masked scores and the softmax (four (B, H, T, T) arrays), the MLP's
# hidden activation before and after GELU and GELU's tanh, and the LayerNorms' normalised
# inputs. A fused attention op keeps only the softmax (the others can be recomputed or are
# not needed), which is where most of the T² memory goes.
# ### END SOLUTION

# %% [markdown]
# **Q5 (GFLOP/s).** Your products reached far fewer GFLOP/s inside the step than one
# 512 x 512 product alone. Give two reasons, and one thing that would raise the rate.

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-gflops", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# The step's products are small ((B·T, 32) @ (32, 32), or many (T, 8) @ (8, T) head
# products): each call pays NumPy's dispatch and BLAS's setup, and the matrices are too small
# to use both cores or to reuse cached blocks; and the profiler's matmul time includes the
# Python glue charged to it. Bigger products raise the rate: one (D, 3D) projection for Q, K
# and V instead of three (D, D) ones, a larger batch, or folding the heads into fewer calls.
# ### END SOLUTION

# %%
if __name__ == "__main__":
    print("All tests passed for module 15_profiling.")
