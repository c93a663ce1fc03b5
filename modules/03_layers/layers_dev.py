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
# # Module 03: Layers
#
# A neural network is a stack of **layers**: objects that hold learnable **parameters**
# (tensors with `requires_grad=True`) and turn an input tensor into an output tensor. In this
# module you build `tinytorch.core.layers`:
#
# - `Module`, the base class of every layer and model in the course (embeddings, attention
#   and the GPT of later modules subclass it). It finds its parameters by itself, switches
#   between training and evaluation, and clears gradients;
# - `Linear(in_features, out_features)`, the layer that holds almost all the parameters of
#   an MLP or a transformer: `y = x @ W + b`;
# - `Dropout(p)`, which zeroes random elements during training to fight overfitting;
# - `Sequential(*layers)`, which chains layers: `Sequential(Linear(2, 8), ReLU(), Linear(8, 1))`.
#
# **You will learn**
# - how a framework discovers parameters without you listing them;
# - why weights start small and random, with a scale of `1/√in_features`;
# - how many parameters and flops a linear layer costs;
# - why dropout scales the survivors by `1/(1-p)` and does nothing at evaluation time.
#
# Every layer is built only from Tensor operations (`@`, `+`, `*`), so the graph records
# `"matmul"`, `"add"` and `"mul"` nodes and module 05 can train it without new rules.

# %%
#| default_exp core.layers
#| export
import math

import numpy as np

from tinytorch.core.tensor import Tensor, as_tensor

# %% [markdown]
# ## The Module base class
#
# An optimizer needs the list of all parameters of a model. Writing that list by hand for a
# GPT with dozens of layers would be tedious and fragile, so `Module.parameters()` finds them:
# it looks through the object's attributes (`vars(self)`, in the order they were assigned)
# and collects
#
# - every **parameter**: a leaf `Tensor` with `requires_grad=True` (one you created, not the
#   result of an operation: a layer may keep its last output for inspection without turning
#   it into something the optimizer updates);
# - the parameters of every sub-`Module`, recursively;
# - the same inside lists, tuples and dicts (a list of transformer blocks, say).
#
# A tensor shared by two layers (tied weights) is listed **once**: otherwise the optimizer
# would update it twice per step. The order is deterministic (attribute order, then list
# order), so a saved list of parameters matches a freshly built model.
# `named_parameters()` gives the same tensors with dotted names such as `"layers.0.weight"`.
#
# The rest of the base class:
#
# | method | does |
# |---|---|
# | `__call__(x)` | calls `forward(x)`, so `layer(x)` works |
# | `train()` / `eval()` | set `training` on this module and every sub-module (Dropout reads it) |
# | `zero_grad()` | sets `.grad` of every parameter to `None` before the next backward pass |
# | `num_parameters()` | the number of learnable numbers, `Σ p.size` |
#
# `training` is also a class attribute (`True`), so a subclass that forgets to call
# `super().__init__()` still works.


# %% nbgrader={"grade": false, "grade_id": "module-base", "locked": false, "schema_version": 3, "solution": true}
#| export
def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _walk(value, name: str, seen: set):
    """Yield (dotted name, obj) for every parameter and Module inside `value`, each once."""
    ### BEGIN SOLUTION
    if isinstance(value, Tensor):
        # A parameter is a leaf (no _op) that wants a gradient; results of ops are not.
        if value.requires_grad and value._op is None and id(value) not in seen:
            seen.add(id(value))
            yield name, value
    elif isinstance(value, Module):
        if id(value) in seen:  # shared sub-module, or a cycle back to a parent
            return
        seen.add(id(value))
        yield name, value
        for key, child in vars(value).items():
            yield from _walk(child, _join(name, key), seen)
    elif isinstance(value, list | tuple):
        for index, child in enumerate(value):
            yield from _walk(child, _join(name, str(index)), seen)
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from _walk(child, _join(name, str(key)), seen)
    ### END SOLUTION


class Module:
    """Base class of layers and models: parameters, train/eval, zero_grad, layer(x)."""

    training: bool = True

    def __init__(self):
        self.training = True

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward().")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def named_parameters(self):
        """(dotted name, parameter) pairs, each parameter once, in attribute order."""
        ### BEGIN SOLUTION
        for name, obj in _walk(self, "", set()):
            if isinstance(obj, Tensor):
                yield name, obj
        ### END SOLUTION

    def parameters(self) -> list:
        """Every parameter of this module and its sub-modules, each once."""
        return [parameter for _, parameter in self.named_parameters()]

    def modules(self) -> list:
        """This module and every sub-module, each once."""
        return [obj for _, obj in _walk(self, "", set()) if isinstance(obj, Module)]

    def train(self, mode: bool = True) -> "Module":
        ### BEGIN SOLUTION
        for module in self.modules():
            module.training = mode
        return self
        ### END SOLUTION

    def eval(self) -> "Module":
        return self.train(False)

    def zero_grad(self) -> None:
        for parameter in self.parameters():
            parameter.grad = None

    def num_parameters(self) -> int:
        return sum(parameter.size for parameter in self.parameters())

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.num_parameters()} parameters)"


# %% [markdown]
# ## Linear
#
# `Linear(in_features, out_features)` computes
#
# ```
# y = x @ W + b        x: (..., in)    W: (in, out)    b: (out,)    y: (..., out)
# ```
#
# `W` is stored as `(in, out)` so the product reads left to right; PyTorch stores the
# transpose, `(out, in)`, and computes `x @ W.T`. Any leading shape works: `(B, in)` for a
# batch, `(B, T, in)` for a batch of sequences, because matmul broadcasts over the leading
# dimensions and the bias add broadcasts `(out,)` over every row. Integer inputs (a list
# like `[[1, 2]]`) are converted to the weight's dtype, so the result stays float32.
#
# **Initialisation.** If each of the `in` inputs has variance v and each weight variance σ²,
# an output has variance `in · σ² · v`. Weights drawn from `uniform(-k, k)` with
# `k = 1/√in` have σ² = k²/3 = 1/(3·in), so the output variance is v/3 whatever the width:
# activations neither explode nor vanish as layers get wider. (This is PyTorch's default
# bound too.) The bias uses the same range. We draw from NumPy's global generator, weight
# first, so `np.random.seed(0)` reproduces a model exactly.


# %% nbgrader={"grade": false, "grade_id": "linear", "locked": false, "schema_version": 3, "solution": true}
#| export
def _check_size(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, not {value!r}.")
    return int(value)


class Linear(Module):
    """y = x @ W + b with W (in_features, out_features) and b (out_features,)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        super().__init__()
        self.in_features = _check_size("in_features", in_features)
        self.out_features = _check_size("out_features", out_features)
        ### BEGIN SOLUTION
        bound = 1.0 / math.sqrt(self.in_features)
        weight = np.random.uniform(-bound, bound, (self.in_features, self.out_features))
        self.weight = Tensor(weight, requires_grad=True, dtype=np.float32)
        self.bias = None
        if bias:
            values = np.random.uniform(-bound, bound, self.out_features)
            self.bias = Tensor(values, requires_grad=True, dtype=np.float32)
        ### END SOLUTION

    def forward(self, x) -> Tensor:
        """(..., in_features) -> (..., out_features)."""
        x = as_tensor(x)
        if x.dtype.kind != "f":
            x = Tensor(x.data, dtype=self.weight.dtype)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features}, {self.out_features}) expects inputs of shape "
                f"(..., {self.in_features}), got {x.shape}."
            )
        ### BEGIN SOLUTION
        out = x @ self.weight  # (..., in) @ (in, out) -> (..., out)
        return out if self.bias is None else out + self.bias
        ### END SOLUTION

    def __repr__(self) -> str:
        return (
            f"Linear(in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None})"
        )


# %% [markdown]
# ## Dropout
#
# During training, `Dropout(p)` sets each element to 0 with probability p, so the network
# cannot rely on any single unit. The survivors are multiplied by `1/(1-p)`:
#
# ```
# mask = (uniform(0, 1) >= p) / (1 - p)        y = x * mask
# ```
#
# so that the expected value of each output equals its input, `E[y] = (1-p)·x/(1-p) = x`
# ("inverted dropout"). Thanks to that scaling, evaluation needs no correction: in `eval()`
# mode, and for p = 0, dropout returns its input unchanged. The mask is a constant Tensor
# (no gradient of its own), so the graph records an ordinary `"mul"` and the gradient that
# reaches x is `g · mask`: dropped elements get none. p must lie in [0, 1): p = 1 would drop
# everything and divide by zero.


# %% nbgrader={"grade": false, "grade_id": "dropout", "locked": false, "schema_version": 3, "solution": true}
#| export
class Dropout(Module):
    """Zero each element with probability p in training, scale the rest by 1/(1-p)."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p < 1:
            raise ValueError(f"Dropout probability p must be in [0, 1), not {p!r}.")
        self.p = float(p)

    def forward(self, x) -> Tensor:
        x = as_tensor(x)
        if not self.training or self.p == 0:
            return x
        ### BEGIN SOLUTION
        dtype = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
        keep = np.random.random(x.shape) >= self.p
        mask = Tensor(keep.astype(dtype) / (1 - self.p), dtype=dtype)
        return x * mask
        ### END SOLUTION

    def __repr__(self) -> str:
        return f"Dropout(p={self.p})"


# %% [markdown]
# ## Sequential
#
# `Sequential(layer1, layer2, ...)` calls each layer on the output of the previous one. The
# layers live in the list `self.layers`, which `Module.parameters()` already searches, so
# nothing extra is needed to collect their parameters (`"layers.0.weight"`, ...). Any callable
# works as a layer, including the activations of module 02 and plain functions.


# %% nbgrader={"grade": false, "grade_id": "sequential", "locked": false, "schema_version": 3, "solution": true}
#| export
class Sequential(Module):
    """Apply layers one after another: Sequential(Linear(2, 8), ReLU(), Linear(8, 1))."""

    def __init__(self, *layers):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], list | tuple):
            layers = tuple(layers[0])  # Sequential([a, b]) works too
        for layer in layers:
            if not callable(layer):
                raise TypeError(f"Sequential: {layer!r} is not a layer (it is not callable).")
        self.layers = list(layers)

    def forward(self, x):
        ### BEGIN SOLUTION
        for layer in self.layers:
            x = layer(x)
        return x
        ### END SOLUTION

    def __getitem__(self, index):
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self) -> str:
        inner = "".join(f"\n  ({i}): {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential({inner}\n)"


# %% [markdown]
# ## Unit tests
#
# Forward behaviour only: parameter discovery, shapes, initialisation, train/eval, and the
# ops recorded. Module 05 checks the gradients. Run this file or `tito module test 03_layers`.


# %% nbgrader={"grade": true, "grade_id": "test-module", "locked": true, "points": 25, "schema_version": 3}
def test_module_parameters():
    class Block(Module):
        def __init__(self, shared):
            super().__init__()
            self.scale = Tensor(np.ones(2), requires_grad=True)
            self.shared = shared
            self.constant = Tensor(np.ones(2))  # no gradient: not a parameter

    class Net(Module):
        def __init__(self):
            super().__init__()
            shared = Tensor(np.zeros(3), requires_grad=True)
            self.first = Block(shared)
            self.blocks = [Block(shared), Block(shared)]
            self.heads = {"a": Linear(2, 1), "b": Linear(2, 1, bias=False)}
            self.again = self.first  # the same sub-module twice: counted once
            self.cache = self.first.scale * 2  # an op's result, not a parameter

    net = Net()
    names = [name for name, _ in net.named_parameters()]
    assert names == [
        "first.scale",
        "first.shared",
        "blocks.0.scale",
        "blocks.1.scale",
        "heads.a.weight",
        "heads.a.bias",
        "heads.b.weight",
    ], names
    params = net.parameters()
    assert len({id(p) for p in params}) == len(params) == 7, "each parameter once"
    assert net.num_parameters() == 3 * 2 + 3 + (2 + 1) + 2
    assert len(net.modules()) == 1 + 3 + 2, "net, three blocks, two heads"
    assert Linear(3, 2)(np.ones((1, 3))).shape == (1, 2), "layer(x) calls forward"


# %% nbgrader={"grade": true, "grade_id": "test-train-eval", "locked": true, "points": 10, "schema_version": 3}
def test_train_eval_zero_grad():
    model = Sequential(Linear(3, 4), Dropout(0.5), Sequential(Linear(4, 2), Dropout(0.1)))
    assert model.training and all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules()), "eval() reaches nested modules"
    model.train()
    assert all(m.training for m in model.modules())

    class NoInit(Module):  # forgets super().__init__()
        def __init__(self):
            self.w = Tensor([1.0], requires_grad=True)

    assert NoInit().training and NoInit().eval().training is False
    for p in model.parameters():
        p.grad = Tensor(np.ones(p.shape))
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


# %% nbgrader={"grade": true, "grade_id": "test-linear", "locked": true, "points": 25, "schema_version": 3}
def test_linear():
    np.random.seed(0)
    layer = Linear(4, 3)
    assert layer.weight.shape == (4, 3) and layer.bias.shape == (3,)
    assert layer.weight.dtype == np.float32 and layer.weight.requires_grad
    assert np.all(np.abs(layer.weight.data) <= 0.5) and np.all(np.abs(layer.bias.data) <= 0.5)
    np.random.seed(0)
    assert np.array_equal(Linear(4, 3).weight.data, layer.weight.data), "seed reproduces"
    x = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    y = layer(x)
    assert y.shape == (5, 3) and y.dtype == np.float32
    assert np.allclose(y.data, x @ layer.weight.data + layer.bias.data, atol=1e-6)
    assert y._op == "add" and y._inputs[0]._op == "matmul", "x @ W + b is recorded"
    assert layer(np.ones((2, 7, 4))).shape == (2, 7, 3), "any leading shape"
    assert layer(np.ones(4)).shape == (3,)
    assert layer([[1, 2, 3, 4]]).dtype == np.float32, "integer input becomes float32"
    no_bias = Linear(4, 3, bias=False)
    assert no_bias.bias is None and len(no_bias.parameters()) == 1
    assert layer.parameters() == [layer.weight, layer.bias] and layer.num_parameters() == 15
    big = Linear(10_000, 1)
    assert np.all(np.abs(big.weight.data) <= 0.01), "bound 1/sqrt(in_features)"
    try:
        layer(np.ones((2, 5)))
    except ValueError as error:
        assert "(2, 5)" in str(error) and "4" in str(error)
    else:
        raise AssertionError("a wrong input width must raise ValueError")
    for bad in (0, -1, 2.5):
        try:
            Linear(bad, 2)
        except ValueError:
            pass
        else:
            raise AssertionError(f"in_features={bad} must raise ValueError")


# %% nbgrader={"grade": true, "grade_id": "test-dropout", "locked": true, "points": 20, "schema_version": 3}
def test_dropout():
    np.random.seed(0)
    x = Tensor(np.ones((200, 100)))
    drop = Dropout(0.3)
    y = drop(x)
    zeros = np.mean(y.data == 0)
    assert abs(zeros - 0.3) < 0.02, f"about 30% dropped, got {zeros:.3f}"
    survivors = y.data[y.data != 0]
    assert np.allclose(survivors, 1 / 0.7), "survivors scaled by 1/(1-p)"
    assert abs(y.data.mean() - 1.0) < 0.03, "the expected value is kept"
    assert y.dtype == np.float32
    drop.eval()
    assert drop(x) is x, "eval mode: identity"
    assert Dropout(0.0)(x) is x, "p = 0: identity"
    w = Tensor(np.ones(4), requires_grad=True)
    assert Dropout(0.5)(w)._op == "mul", "the mask is a constant multiplied in"
    for bad in (1.0, -0.1, 1.5, "0.5"):
        try:
            Dropout(bad)
        except ValueError:
            pass
        else:
            raise AssertionError(f"p={bad!r} must raise ValueError")


# %% nbgrader={"grade": true, "grade_id": "test-sequential", "locked": true, "points": 20, "schema_version": 3}
def test_sequential():
    from tinytorch.core.activations import ReLU

    np.random.seed(0)
    model = Sequential(Linear(2, 8), ReLU(), Linear(8, 1))
    x = np.random.default_rng(0).normal(size=(5, 2))
    hidden = np.maximum(x @ model[0].weight.data + model[0].bias.data, 0)
    expected = hidden @ model[2].weight.data + model[2].bias.data
    assert np.allclose(model(x).data, expected, atol=1e-5)
    assert len(model) == 3 and isinstance(model[1], ReLU)
    assert [n for n, _ in model.named_parameters()] == [
        "layers.0.weight",
        "layers.0.bias",
        "layers.2.weight",
        "layers.2.bias",
    ]
    assert model.num_parameters() == 2 * 8 + 8 + 8 + 1
    assert len(Sequential([Linear(2, 2), ReLU()])) == 2, "a list works too"
    try:
        Sequential(Linear(2, 2), 3)
    except TypeError:
        pass
    else:
        raise AssertionError("a non-callable layer must raise TypeError")


# %% [markdown]
# ## Systems analysis: parameters, memory and flops
#
# A `Linear(in, out)` has `in·out + out` parameters: 4 bytes each in float32, and training
# with Adam (module 06) keeps a gradient and two moment estimates per parameter, so about
# 16 bytes per parameter in all. Its forward pass on a batch of B rows costs `2·B·in·out`
# flops (one multiply and one add per weight per row); the backward pass costs about twice
# that (one matmul for the input gradient, one for the weight gradient). An MLP's cost is
# therefore dominated by its widest layers.


# %%
def analyze_mlp_costs(widths=(784, 256, 128, 10), batch: int = 64) -> list[tuple]:
    """(in, out, parameters, KiB in float32, forward MFLOP) per Linear of an MLP."""
    rows = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        count = fan_in * fan_out + fan_out
        kibibytes = count * 4 / 1024
        megaflops = 2 * batch * fan_in * fan_out / 1e6
        rows.append((fan_in, fan_out, count, kibibytes, megaflops))
        print(
            f"Linear({fan_in:4d}, {fan_out:4d}): {count:7d} params, "
            f"{kibibytes:7.1f} KiB, {megaflops:6.2f} MFLOP per batch of {batch}"
        )
    total = sum(row[2] for row in rows)
    print(f"total: {total} parameters, {total * 16 / 2**20:.2f} MiB with gradients and Adam")
    return rows


# %%
if __name__ == "__main__":
    test_module_parameters()
    test_train_eval_zero_grad()
    test_linear()
    test_dropout()
    test_sequential()
    analyze_mlp_costs()
    print("All tests passed for module 03_layers.")
