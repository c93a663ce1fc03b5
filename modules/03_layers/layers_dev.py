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
# - the shapes of a linear layer, for a batch and for a batch of sequences;
# - why weights start small and random, with a scale of `1/√in_features`, and what happens
#   through ten layers when they do not;
# - how many parameters, bytes and FLOPs a linear layer costs, and how fast yours runs;
# - why dropout scales the survivors by `1/(1-p)` and does nothing at evaluation time.
#
# Every layer is built only from Tensor operations (`@`, `+`, `*`), so the graph records
# `"matmul"`, `"add"` and `"mul"` nodes and module 05 can train it without new rules. Each
# piece below follows the same order: explanation, specification, your code, then its test.

# %%
#| default_exp core.layers
#| export
import math

import numpy as np

from tinytorch.core.tensor import Tensor, as_tensor

# %% [markdown]
# ## 1. The Module base class: finding parameters
#
# An optimizer needs the list of all parameters of a model. Writing that list by hand for a
# GPT with dozens of layers would be tedious and fragile, so `Module.parameters()` finds them
# by walking the object's attributes (`vars(self)`, in the order they were assigned). For
# `Sequential(Linear(2, 3), ReLU(), Linear(3, 1))` the walk is:
#
# ```
# Sequential                          (a Module: walk its attributes)
# └── layers: [ ... ]                 (a list: walk its items, named 0, 1, 2)
#     ├── 0: Linear                   (a Module)
#     │   ├── weight (2, 3)  ->  "layers.0.weight"   6 numbers
#     │   └── bias   (3,)    ->  "layers.0.bias"     3
#     ├── 1: ReLU                     (not a Module, no tensors: nothing)
#     └── 2: Linear
#         ├── weight (3, 1)  ->  "layers.2.weight"   3
#         └── bias   (1,)    ->  "layers.2.bias"     1       total: 13 parameters
# ```
#
# The walk collects
#
# - every **parameter**: a leaf `Tensor` with `requires_grad=True` (one you created, with
#   `_op is None`; the result of an operation is not a parameter, so a layer may keep its
#   last output for inspection without the optimizer updating it);
# - the parameters of every sub-`Module`, recursively;
# - the same inside lists, tuples (names `0`, `1`, ...) and dicts (their keys).
#
# A tensor or module reached twice (tied weights, a sub-module stored under two names) is
# listed **once**, under the first name: otherwise the optimizer would update it twice per
# step. A set of `id(...)` values remembers what was seen (ids, because Tensors are not
# hashable by value). The walk also yields each `Module` it enters, so `modules()` (every
# module, for `train()`/`eval()`) comes from the same walk.
#
# The rest of the base class:
#
# | method | does |
# |---|---|
# | `__call__(x)` | calls `forward(x)`, so `layer(x)` works (given) |
# | `parameters()` | the tensors of `named_parameters()`, as a list |
# | `modules()` | this module and every sub-module, each once |
# | `train(mode=True)` / `eval()` | set `training` on every module of `modules()`; return self |
# | `zero_grad()` | sets `.grad` of every parameter to `None` before the next backward pass |
# | `num_parameters()` | the number of learnable numbers, `Σ p.size` |
#
# `training` is also a class attribute (`True`), so a subclass that forgets to call
# `super().__init__()` still works.
#
# ### Specification
#
# - `_join(prefix, name)`: `"prefix.name"`, or just `name` when prefix is `""`.
# - `_walk(value, name, seen)`: a generator of `(dotted name, obj)` pairs:
#   - a `Tensor` that requires grad, has `_op is None`, and whose `id` is not in `seen`: add
#     its id to `seen`, yield `(name, value)`; any other Tensor yields nothing;
#   - a `Module` whose id is not in `seen`: add it, yield `(name, value)`, then walk every
#     `(key, child)` of `vars(value).items()` with the name `_join(name, key)`;
#   - a list or tuple: walk each item with `_join(name, str(index))`; a dict: each value with
#     `_join(name, str(key))`; anything else yields nothing.
# - `named_parameters()`: the pairs of `_walk(self, "", set())` whose object is a Tensor.
# - `parameters()`, `modules()`, `zero_grad()`, `num_parameters()`, `train(mode)` as in the
#   table.


# %% nbgrader={"grade": false, "grade_id": "module-base", "locked": false, "schema_version": 3, "solution": true}
#| export
def _join(prefix: str, name: str) -> str:
    """Dotted names: _join("blocks.0", "weight") is "blocks.0.weight"; _join("", "w") is "w"."""
    ### BEGIN SOLUTION
    return f"{prefix}.{name}" if prefix else name
    ### END SOLUTION


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
        ### BEGIN SOLUTION
        return [parameter for _, parameter in self.named_parameters()]
        ### END SOLUTION

    def modules(self) -> list:
        """This module and every sub-module, each once."""
        ### BEGIN SOLUTION
        return [obj for _, obj in _walk(self, "", set()) if isinstance(obj, Module)]
        ### END SOLUTION

    def train(self, mode: bool = True) -> "Module":
        """Set `training = mode` on this module and every sub-module; return self."""
        ### BEGIN SOLUTION
        for module in self.modules():
            module.training = mode
        return self
        ### END SOLUTION

    def eval(self) -> "Module":
        return self.train(False)

    def zero_grad(self) -> None:
        """Set `.grad` of every parameter to None."""
        ### BEGIN SOLUTION
        for parameter in self.parameters():
            parameter.grad = None
        ### END SOLUTION

    def num_parameters(self) -> int:
        """The number of learnable numbers: the sum of the parameters' sizes."""
        ### BEGIN SOLUTION
        return sum(parameter.size for parameter in self.parameters())
        ### END SOLUTION

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.num_parameters()} parameters)"


# %% [markdown]
# ### Test: parameter discovery, train/eval and zero_grad
#
# What this checks and why: a small model with every case of the walk (a sub-module, a list
# of modules, a dict, a tensor shared three times, a module stored twice, a constant tensor
# and an op's result that must *not* be collected). The exact list of names is checked,
# because the optimizer, saving and loading all rely on the same order every time. Then
# `train()`/`eval()` must reach nested modules (dropout deep inside a model reads it), and
# `zero_grad()` must clear every gradient.


# %% nbgrader={"grade": true, "grade_id": "test-module", "locked": true, "points": 35, "schema_version": 3}
def test_module_parameters():
    class Head(Module):
        def __init__(self, bias: bool):
            super().__init__()
            self.weight = Tensor(np.ones((2, 1)), requires_grad=True)
            self.bias = Tensor(np.zeros(1), requires_grad=True) if bias else None

        def forward(self, x):
            return x @ self.weight

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
            self.heads = {"a": Head(bias=True), "b": Head(bias=False)}
            self.again = self.first  # the same sub-module twice: counted once
            self.cache = self.first.scale * 2  # an op's result, not a parameter

    net = Net()
    names = [name for name, _ in net.named_parameters()]
    expected = [
        "first.scale",
        "first.shared",
        "blocks.0.scale",
        "blocks.1.scale",
        "heads.a.weight",
        "heads.a.bias",
        "heads.b.weight",
    ]
    assert names == expected, f"names in attribute order, each parameter once: got {names}"
    params = net.parameters()
    assert len({id(p) for p in params}) == len(params) == 7, f"7 distinct, got {len(params)}"
    assert params[1] is net.first.shared, "parameters() gives the tensors themselves"
    count = net.num_parameters()
    assert count == 3 * 2 + 3 + (2 + 1) + 2, f"2+3+2+2 + 3 + 2 = 14 numbers, got {count}"
    assert len(net.modules()) == 1 + 3 + 2, "modules(): net, three blocks, two heads"
    assert net.modules()[0] is net, "modules() starts with the module itself"
    assert Head(True)(np.ones((1, 2))).shape == (1, 1), "layer(x) calls forward"
    assert _join("", "w") == "w" and _join("blocks.0", "w") == "blocks.0.w", "_join"

    class Leaf(Module):
        def __init__(self):
            super().__init__()
            self.w = Tensor(np.ones(3), requires_grad=True)

    class Tree(Module):
        def __init__(self):
            super().__init__()
            self.left = Leaf()
            self.children = [Leaf(), [Leaf()]]

    model = Tree()
    assert model.training and all(m.training for m in model.modules()), "modules start training"
    assert model.eval() is model, "eval() returns the module (so model.eval()(x) works)"
    assert not any(m.training for m in model.modules()), "eval() reaches nested modules"
    assert model.train() is model and all(m.training for m in model.modules()), "train()"
    assert model.train(False).training is False, "train(False) is eval()"

    class NoInit(Module):  # forgets super().__init__()
        def __init__(self):
            self.w = Tensor([1.0], requires_grad=True)

    assert NoInit().training, "training is also a class attribute"
    assert NoInit().eval().training is False, "eval() works without super().__init__()"
    for p in model.parameters():
        p.grad = Tensor(np.ones(p.shape))
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters()), "zero_grad() clears every grad"

    ### BEGIN HIDDEN TESTS
    class Pair(Module):
        def __init__(self):
            super().__init__()
            self.items = ({"k": Tensor([1.0], requires_grad=True)}, [Head(bias=False)])

    hidden = [n for n, _ in Pair().named_parameters()]
    assert hidden == ["items.0.k", "items.1.0.weight"], f"tuples, dicts, lists nest: {hidden}"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_module_parameters()


# %% [markdown]
# ## 2. Linear
#
# `Linear(in_features, out_features)` computes
#
# ```
# y = x @ W + b        x: (..., in)    W: (in, out)    b: (out,)    y: (..., out)
# ```
#
# **Worked example** with `in = 2`, `out = 3`:
#
# ```
# x = [[1, 2]]           W = [[1, 0, -1],        b = [0.5, 0, 0]
#     shape (1, 2)            [2, 1,  0]]            shape (3,)
#                             shape (2, 3)
#
# x @ W = [[1*1 + 2*2, 1*0 + 2*1, 1*(-1) + 2*0]] = [[5, 2, -1]]      shape (1, 3)
# y = x @ W + b = [[5.5, 2, -1]]                                      shape (1, 3)
# ```
#
# The layer has `2*3 + 3 = 9` parameters. `W` is stored as `(in, out)` so the product reads
# left to right; PyTorch stores the transpose, `(out, in)`, and computes `x @ W.T`. Any
# leading shape works: `(B, in)` for a batch, `(B, T, in)` for a batch of sequences, even
# `(in,)` for one vector, because matmul broadcasts over the leading dimensions and the bias
# add broadcasts `(out,)` over every row. The forward pass costs `2 * rows * in * out` FLOPs,
# where `rows` is the product of the leading dimensions.
#
# **Initialisation.** If each of the `in` inputs has variance v and each weight variance σ²,
# an output (a sum of `in` products) has variance `in · σ² · v`. Weights drawn from
# `uniform(-k, k)` have σ² = k²/3; with `k = 1/√in` that is σ² = 1/(3·in), so the output
# variance is v/3 whatever the width: activations neither explode nor vanish as layers get
# wider. (This is PyTorch's default bound too; section 5 measures it through 10 layers.) For
# `Linear(4, 3)` the bound is `1/√4 = 0.5`. The bias uses the same range. We draw from
# NumPy's global generator, **weight first, then bias**, so `np.random.seed(0)` reproduces a
# model exactly.
#
# ### Specification
#
# - `_check_size(name, value)`: return `int(value)` for a positive integer (a Python `int` or
#   a NumPy integer); anything else (0, -1, 2.5, `True`, `"3"`) raises `ValueError` with a
#   sentence naming `name` and the value.
# - `Linear.__init__(in_features, out_features, bias=True)`: store `in_features` and
#   `out_features` (checked by `_check_size`); `weight` is a float32 Tensor of shape
#   `(in, out)` with `requires_grad=True`, drawn with `np.random.uniform(-k, k, (in, out))`,
#   `k = 1/√in`; `bias` likewise of shape `(out,)` (drawn after the weight), or `None` when
#   `bias=False`.
# - `Linear.forward(x)`: `x` may be a Tensor, a list or an ndarray (`as_tensor`). An integer
#   input is converted to a Tensor of the weight's dtype (`[[1, 2]]` must give float32). If
#   x is 0-d or its last dimension is not `in_features`, raise `ValueError` whose message
#   shows the expected `(..., in_features)` and the shape received. Return `x @ weight`, plus
#   `bias` when there is one: the graph then ends in `"add"` whose first input is the
#   `"matmul"` node.


# %% nbgrader={"grade": false, "grade_id": "linear", "locked": false, "schema_version": 3, "solution": true}
#| export
def _check_size(name: str, value) -> int:
    """A positive integer as int; anything else raises ValueError naming `name`."""
    ### BEGIN SOLUTION
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, not {value!r}.")
    return int(value)
    ### END SOLUTION


class Linear(Module):
    """y = x @ W + b with W (in_features, out_features) and b (out_features,)."""

    def __init__(self, in_features: int, out_features: int, bias: bool = True):
        """Check the sizes; W and b from uniform(-1/√in, 1/√in), weight first, float32."""
        super().__init__()
        ### BEGIN SOLUTION
        self.in_features = _check_size("in_features", in_features)
        self.out_features = _check_size("out_features", out_features)
        bound = 1.0 / math.sqrt(self.in_features)
        weight = np.random.uniform(-bound, bound, (self.in_features, self.out_features))
        self.weight = Tensor(weight, requires_grad=True, dtype=np.float32)
        self.bias = None
        if bias:
            values = np.random.uniform(-bound, bound, self.out_features)
            self.bias = Tensor(values, requires_grad=True, dtype=np.float32)
        ### END SOLUTION

    def forward(self, x) -> Tensor:
        """x @ weight + bias: (..., in_features) -> (..., out_features); see the spec above."""
        ### BEGIN SOLUTION
        x = as_tensor(x)
        if x.dtype.kind != "f":
            x = Tensor(x.data, dtype=self.weight.dtype)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"Linear({self.in_features}, {self.out_features}) expects inputs of shape "
                f"(..., {self.in_features}), got {x.shape}."
            )
        out = x @ self.weight  # (..., in) @ (in, out) -> (..., out)
        return out if self.bias is None else out + self.bias
        ### END SOLUTION

    def __repr__(self) -> str:
        return (
            f"Linear(in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None})"
        )


# %% [markdown]
# ### Test: Linear
#
# What this checks and why: the worked example (with W and b set by hand), shapes for one
# vector, a batch and a batch of sequences, the initialisation bound and its reproducibility
# under a seed (experiments must be repeatable), the recorded graph, integer input, and
# that a wrong width fails with a message showing both widths instead of a matmul error.


# %% nbgrader={"grade": true, "grade_id": "test-linear", "locked": true, "points": 25, "schema_version": 3}
def test_linear():
    layer = Linear(2, 3)
    layer.weight = Tensor([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0]], requires_grad=True)
    layer.bias = Tensor([0.5, 0.0, 0.0], requires_grad=True)
    got = layer(Tensor([[1.0, 2.0]])).data
    assert np.array_equal(got, [[5.5, 2.0, -1.0]]), f"the worked example gives {got}"
    assert layer.num_parameters() == 9, "2*3 + 3 parameters"
    np.random.seed(0)
    layer = Linear(4, 3)
    assert layer.weight.shape == (4, 3) and layer.bias.shape == (3,), "W (in, out), b (out,)"
    assert layer.weight.dtype == np.float32 and layer.weight.requires_grad, "float32 params"
    assert np.all(np.abs(layer.weight.data) <= 0.5), "bound 1/sqrt(4) = 0.5"
    assert np.all(np.abs(layer.bias.data) <= 0.5), "the bias uses the same bound"
    np.random.seed(0)
    assert np.array_equal(Linear(4, 3).weight.data, layer.weight.data), "the seed reproduces"
    np.random.seed(0)
    expected_w = np.random.uniform(-0.5, 0.5, (4, 3)).astype(np.float32)
    expected_b = np.random.uniform(-0.5, 0.5, 3).astype(np.float32)
    assert np.array_equal(layer.weight.data, expected_w), "weight drawn first, uniform(-k, k)"
    assert np.array_equal(layer.bias.data, expected_b), "bias drawn right after the weight"
    x = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    y = layer(x)
    assert y.shape == (5, 3) and y.dtype == np.float32, f"(5,4) -> (5,3), got {y.shape}"
    assert np.allclose(y.data, x @ layer.weight.data + layer.bias.data, atol=1e-6), "x @ W + b"
    assert y._op == "add" and y._inputs[0]._op == "matmul", "x @ W + b is recorded"
    assert layer(np.ones((2, 7, 4))).shape == (2, 7, 3), "(B, T, in) -> (B, T, out)"
    assert layer(np.ones(4)).shape == (3,), "(in,) -> (out,)"
    assert layer([[1, 2, 3, 4]]).dtype == np.float32, "integer input becomes float32"
    no_bias = Linear(4, 3, bias=False)
    assert no_bias.bias is None and len(no_bias.parameters()) == 1, "bias=False: W only"
    assert no_bias(np.ones((2, 4)))._op == "matmul", "without bias the graph ends in matmul"
    assert layer.parameters() == [layer.weight, layer.bias], "parameters: weight, then bias"
    big = Linear(10_000, 1)
    assert np.all(np.abs(big.weight.data) <= 0.01), "bound 1/sqrt(10000) = 0.01"
    try:
        layer(np.ones((2, 5)))
    except ValueError as error:
        assert "(2, 5)" in str(error) and "4" in str(error), f"show both widths: {error}"
    else:
        raise AssertionError("a wrong input width must raise ValueError")
    for bad in (0, -1, 2.5, True):
        try:
            Linear(bad, 2)
        except ValueError:
            pass
        else:
            raise AssertionError(f"in_features={bad!r} must raise ValueError")
    assert Linear(np.int64(3), 2).in_features == 3, "a NumPy integer is a valid size"
    ### BEGIN HIDDEN TESTS
    h = Linear(3, 2)
    h.weight = Tensor([[1.0, -1.0], [0.0, 2.0], [3.0, 0.5]], requires_grad=True)
    h.bias = Tensor([1.0, -1.0], requires_grad=True)
    got = h(Tensor([[2.0, 1.0, -1.0], [0.0, 0.0, 1.0]])).data
    assert np.allclose(got, [[0.0, -1.5], [4.0, -0.5]]), f"another hand example, got {got}"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_linear()


# %% [markdown]
# ## 3. Dropout
#
# During training, `Dropout(p)` sets each element to 0 with probability p, so the network
# cannot rely on any single unit. The survivors are multiplied by `1/(1-p)`:
#
# ```
# keep = uniform(0, 1) >= p            (True with probability 1 - p)
# mask = keep / (1 - p)                y = x * mask
# ```
#
# **Worked example**, p = 0.5, `x = [1, 2, 3, 4]`, and a draw that keeps elements 0 and 2:
# `keep = [T, F, T, F]`, `mask = [2, 0, 2, 0]`, `y = [2, 0, 6, 0]`. On average over draws each
# output equals its input: `E[y] = (1-p)·x/(1-p) = x` ("inverted dropout"). Thanks to that
# scaling, evaluation needs no correction: in `eval()` mode, and for p = 0, dropout returns
# its input unchanged (the same object, no copy, no cost).
#
# The mask is a constant Tensor (no gradient of its own), so the graph records an ordinary
# `"mul"` and the gradient that reaches x is `g · mask`: dropped elements get none.
#
# ### Specification
#
# - `Dropout(p=0.5)`: p must be a number (not a bool) with `0 <= p < 1`, otherwise
#   `ValueError` naming p (p = 1 would drop everything and divide by zero). Store
#   `self.p = float(p)`.
# - `forward(x)` (`as_tensor` and the identity case are given): the mask's dtype is x's
#   dtype when x is a float tensor, else float32. Draw `keep = np.random.random(x.shape) >= p`
#   (NumPy's global generator, so a seed reproduces it), make
#   `mask = Tensor(keep.astype(dtype) / (1 - p), dtype=dtype)` and return `x * mask`.


# %% nbgrader={"grade": false, "grade_id": "dropout", "locked": false, "schema_version": 3, "solution": true}
#| export
class Dropout(Module):
    """Zero each element with probability p in training, scale the rest by 1/(1-p)."""

    def __init__(self, p: float = 0.5):
        """Check 0 <= p < 1 (ValueError otherwise) and store it as a float."""
        super().__init__()
        ### BEGIN SOLUTION
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p < 1:
            raise ValueError(f"Dropout probability p must be in [0, 1), not {p!r}.")
        self.p = float(p)
        ### END SOLUTION

    def forward(self, x) -> Tensor:
        """Training: x * mask (see the spec); evaluation or p = 0: x itself."""
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
# ### Test: Dropout
#
# What this checks and why: on 20,000 ones, about 30% are dropped for p = 0.3, every survivor
# is exactly `1/0.7`, and the mean stays 1 (the whole point of the scaling); evaluation mode
# and p = 0 return the input itself; the mask enters the graph as a `"mul"`; bad p values
# are refused when the layer is built.


# %% nbgrader={"grade": true, "grade_id": "test-dropout", "locked": true, "points": 20, "schema_version": 3}
def test_dropout():
    np.random.seed(0)
    x = Tensor(np.ones((200, 100)))
    drop = Dropout(0.3)
    y = drop(x)
    zeros = np.mean(y.data == 0)
    assert abs(zeros - 0.3) < 0.02, f"about 30% dropped, got {zeros:.3f}"
    survivors = y.data[y.data != 0]
    assert np.allclose(survivors, 1 / 0.7), f"survivors scaled by 1/(1-p), got {survivors[:3]}"
    assert abs(y.data.mean() - 1.0) < 0.03, f"the expected value is kept, mean {y.data.mean()}"
    assert y.dtype == np.float32, f"float32 in, float32 out, got {y.dtype}"
    drop.eval()
    assert drop(x) is x, "eval mode: the input itself"
    assert Dropout(0.0)(x) is x, "p = 0: the input itself"
    w = Tensor(np.ones(4), requires_grad=True)
    node = Dropout(0.5)(w)
    assert node._op == "mul" and node._inputs[0] is w, "the mask is a constant multiplied in"
    assert not node._inputs[1].requires_grad, "the mask has no gradient of its own"
    for bad in (1.0, -0.1, 1.5, "0.5", True):
        try:
            Dropout(bad)
        except ValueError:
            pass
        else:
            raise AssertionError(f"p={bad!r} must raise ValueError")
    ### BEGIN HIDDEN TESTS
    np.random.seed(1)
    keep = np.random.random((3, 4)) >= 0.25
    np.random.seed(1)
    got = Dropout(0.25)(Tensor(np.full((3, 4), 3.0))).data
    assert np.allclose(got, keep * 4.0), "keep = random >= p, survivors times 1/(1-p)"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_dropout()


# %% [markdown]
# ## 4. Sequential
#
# `Sequential(layer1, layer2, ...)` calls each layer on the output of the previous one:
#
# ```
# x (5, 2) -> Linear(2, 8) -> (5, 8) -> ReLU() -> (5, 8) -> Linear(8, 1) -> (5, 1)
# ```
#
# The layers live in the list `self.layers`, which `Module.parameters()` already searches,
# so nothing extra is needed to collect their parameters (`"layers.0.weight"`, ...). Any
# callable works as a layer, including the activations of module 02 and plain functions.
#
# ### Specification
#
# - `Sequential(*layers)`: the layers as arguments, or one list/tuple of them
#   (`Sequential([a, b])`). A layer that is not callable raises `TypeError` naming it, at
#   construction. Store them as the list `self.layers`.
# - `forward(x)`: `x = layer(x)` for each layer in order; return the last result.
# - `len(model)`, `model[i]` and iteration go to `self.layers` (given).


# %% nbgrader={"grade": false, "grade_id": "sequential", "locked": false, "schema_version": 3, "solution": true}
#| export
class Sequential(Module):
    """Apply layers one after another: Sequential(Linear(2, 8), ReLU(), Linear(8, 1))."""

    def __init__(self, *layers):
        """Store the layers (arguments or one list) in self.layers; each must be callable."""
        super().__init__()
        ### BEGIN SOLUTION
        if len(layers) == 1 and isinstance(layers[0], list | tuple):
            layers = tuple(layers[0])  # Sequential([a, b]) works too
        for layer in layers:
            if not callable(layer):
                raise TypeError(f"Sequential: {layer!r} is not a layer (it is not callable).")
        self.layers = list(layers)
        ### END SOLUTION

    def forward(self, x):
        """Each layer on the previous one's output."""
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
# ### Test: Sequential
#
# What this checks and why: a small MLP against the same computation written with NumPy,
# the parameter names and count of the tree drawn in section 1, that `eval()` reaches a
# Dropout inside a nested Sequential, and the two ways of building one.


# %% nbgrader={"grade": true, "grade_id": "test-sequential", "locked": true, "points": 20, "schema_version": 3}
def test_sequential():
    from tinytorch.core.activations import ReLU

    np.random.seed(0)
    model = Sequential(Linear(2, 8), ReLU(), Linear(8, 1))
    x = np.random.default_rng(0).normal(size=(5, 2))
    hidden = np.maximum(x @ model[0].weight.data + model[0].bias.data, 0)
    expected = hidden @ model[2].weight.data + model[2].bias.data
    got = model(x)
    assert got.shape == (5, 1), f"(5, 2) -> (5, 1), got {got.shape}"
    assert np.allclose(got.data, expected, atol=1e-5), "layers applied in order"
    assert len(model) == 3 and isinstance(model[1], ReLU), "len() and indexing"
    names = [n for n, _ in model.named_parameters()]
    assert names == ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias"], (
        f"names from the list of layers, got {names}"
    )
    tree = Sequential(Linear(2, 3), ReLU(), Linear(3, 1))
    assert tree.num_parameters() == 13, f"the tree of section 1 has 13, got {tree.num_parameters()}"
    nested = Sequential(Linear(3, 4), Sequential(Dropout(0.5), Linear(4, 2)))
    nested.eval()
    assert not nested[1][0].training, "eval() reaches a Dropout in a nested Sequential"
    assert np.allclose(nested(np.ones((1, 3))).data, nested(np.ones((1, 3))).data), (
        "in eval mode the output is deterministic"
    )
    assert len(Sequential([Linear(2, 2), ReLU()])) == 2, "a list works too"
    assert Sequential(lambda t: t * 2)(Tensor([1.0])).item() == 2.0, "any callable is a layer"
    try:
        Sequential(Linear(2, 2), 3)
    except TypeError as error:
        assert "3" in str(error), f"name the bad layer: {error}"
    else:
        raise AssertionError("a non-callable layer must raise TypeError")


if __name__ == "__main__":
    test_sequential()


# %% [markdown]
# ## 5. Systems: parameters, memory, FLOPs and initialisation
#
# A `Linear(in, out)` has `in·out + out` parameters: 4 bytes each in float32. Training with
# Adam (module 06) keeps a gradient and two moment estimates per parameter, so about 16 bytes
# per parameter in all. Its forward pass on a batch of B rows costs `2·B·in·out` FLOPs (one
# multiply and one add per weight per row); the backward pass costs about twice that (one
# matmul for the input gradient, one for the weight gradient). An MLP's cost is therefore
# dominated by its widest layers.
#
# `analyze_mlp_costs` counts those numbers for an MNIST-sized MLP and **measures** the
# forward time of each of your `Linear` layers (median of 5 runs), giving GFLOP/s: compare
# with the matmul speed you measured in module 01 (and, as there, run it again if a number
# looks absurd: a busy machine makes BLAS wait for cores).
#
# `analyze_depth_scale` pushes a batch through 10 `Linear(256, 256)` layers and prints the
# standard deviation of the activations after each layer, once with your initialisation
# (bound `1/√in`) and once with weights from `uniform(-1, 1)`. By the variance argument of
# section 2, expect the first to shrink by about `1/√3 ≈ 0.58` per layer and the second to
# grow by about `√(256/3) ≈ 9.2` per layer.


# %%
def analyze_mlp_costs(widths=(784, 256, 128, 10), batch: int = 64) -> list[tuple]:
    """(in, out, parameters, KiB, forward MFLOP, measured ms, GFLOP/s) per Linear of an MLP."""
    import time

    rng = np.random.default_rng(0)
    rows = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        layer = Linear(fan_in, fan_out)
        x = Tensor(rng.normal(size=(batch, fan_in)))
        layer(x)  # warm-up
        times = []
        for _ in range(5):
            start = time.perf_counter()
            layer(x)
            times.append(time.perf_counter() - start)
        seconds = sorted(times)[2]
        count = layer.num_parameters()
        megaflops = 2 * batch * fan_in * fan_out / 1e6
        rows.append(
            (
                fan_in,
                fan_out,
                count,
                count * 4 / 1024,
                megaflops,
                seconds * 1e3,
                megaflops / 1e3 / seconds,
            )
        )
        print(
            f"Linear({fan_in:4d}, {fan_out:4d}): {count:7d} params, {count * 4 / 1024:7.1f} KiB, "
            f"{megaflops:6.2f} MFLOP in {seconds * 1e3:6.3f} ms = {rows[-1][-1]:6.2f} GFLOP/s"
        )
    total = sum(row[2] for row in rows)
    print(f"total: {total} parameters, {total * 16 / 2**20:.2f} MiB with gradients and Adam")
    return rows


def analyze_depth_scale(width: int = 256, depth: int = 10, batch: int = 256) -> list[tuple]:
    """(layer, std with the 1/sqrt(in) bound, std with uniform(-1, 1)) through `depth` Linears."""
    np.random.seed(0)
    layers = [Linear(width, width, bias=False) for _ in range(depth)]
    x = Tensor(np.random.default_rng(0).normal(size=(batch, width)))
    scaled, unit = x, x
    rows = []
    for index, layer in enumerate(layers, 1):
        scaled = layer(scaled)
        # The same layer with weights 1/bound times larger: uniform(-1, 1).
        unit = unit @ (layer.weight * math.sqrt(width))
        rows.append((index, float(scaled.data.std()), float(unit.data.std())))
        print(
            f"after layer {index:2d}: std {rows[-1][1]:10.3e} with 1/sqrt(in), "
            f"{rows[-1][2]:10.3e} with uniform(-1, 1)"
        )
    return rows


if __name__ == "__main__":
    analyze_mlp_costs()
    analyze_depth_scale()


# %% [markdown]
# ## Reflect
#
# Answer in a few sentences, with numbers where you can. Use your measurements above.

# %% [markdown]
# **Q1 (memory).** How many parameters does the MLP 784 → 256 → 128 → 10 have, how many
# bytes in float32, and how much memory does training it with Adam need for parameters,
# gradients and optimizer state? Which layer holds most of it, and why?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-memory", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# 784·256 + 256 = 200,960; 256·128 + 128 = 32,896; 128·10 + 10 = 1,290: 235,146 parameters,
# 0.94 MB (0.90 MiB) in float32. With a gradient and Adam's two moments, 16 bytes per
# parameter: about 3.8 MB (3.6 MiB). The first layer holds 85% of it, because a layer's
# parameter count is the product of its widths and 784 x 256 is by far the largest product.
# ### END SOLUTION

# %% [markdown]
# **Q2 (compute).** One MLP layer of GPT-2 small is `Linear(768, 3072)`, applied to a batch
# of 8 sequences of 1024 tokens, i.e. an input of shape `(8, 1024, 768)`. How many FLOPs is
# its forward pass, and how many forward + backward? With the GFLOP/s you measured, how long
# would it take? Why does the `(8, 1024, 768)` shape not need a loop over the batch?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-compute", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# rows = 8·1024 = 8192, so the forward pass is 2·8192·768·3072 ≈ 38.7 GFLOP, and forward plus
# backward about three times that, 116 GFLOP, for one of the 24 large matmuls of each
# training step's MLPs alone. At, say, 50 GFLOP/s that is about 0.8 s forward and 2.3 s in
# all, for one layer. No loop is needed because matmul broadcasts the leading dimensions, and
# module 01's _matmul turns (8, 1024, 768) @ (768, 3072) into a single (8192, 768) @ (768, 3072)
# BLAS call.
# ### END SOLUTION

# %% [markdown]
# **Q3 (what breaks).** In `analyze_depth_scale`, what is the standard deviation after 10
# layers with weights from `uniform(-1, 1)`? What would happen to a softmax or a loss computed
# from such activations in float32, and to the gradients? Why does the `1/√in` bound shrink
# the activations instead of keeping them exactly constant, and what does ReLU change?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-init", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# Each layer multiplies the standard deviation by about √(256/3) ≈ 9.2, so after 10 layers it
# is about 9.2^10 ≈ 4e9 times the input's. Logits of that size make a naive softmax overflow
# (exp beyond 88.7 is inf in float32), a stable softmax becomes a hard one-hot, and the
# gradients through the layers grow by the same factor (or vanish through saturated
# activations), so training diverges. The 1/√in bound gives weight variance 1/(3·in), so the
# variance is multiplied by 1/3 per layer (std by 0.58): after 10 layers 0.58^10 ≈ 0.004.
# ReLU halves the variance again (it zeroes half the inputs), which is why He initialisation
# uses variance 2/in; normalisation layers (LayerNorm in module 13) remove the problem.
# ### END SOLUTION

# %% [markdown]
# **Q4 (what breaks).** A text generator uses Dropout(0.1) and the author forgets to call
# `model.eval()` before generating. What happens to the outputs, and why? Why does inverted
# dropout (scaling by `1/(1-p)` during training) make evaluation free, compared with scaling
# by `(1-p)` at evaluation time?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-dropout", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# In training mode every call draws a new mask, so the same prompt gives different logits on
# every run: 10% of the activations are zeroed at random and the rest inflated by 1/0.9,
# which makes generation noisy and non-reproducible, and it also costs a random draw and a
# multiply per element. With inverted dropout the expected activation during training
# already equals the evaluation activation, so in eval() mode the layer returns its input
# unchanged: no mask, no multiply, no memory. Scaling at evaluation instead would cost a
# multiply per element on every inference call, forever.
# ### END SOLUTION

# %% [markdown]
# **Q5 (scaling).** GPT-2 ties its token embedding and its output projection: the same
# (50257, 768) tensor is used twice. Why must `parameters()` list it only once? What would
# go wrong with SGD, and with memory for Adam, if it were listed twice?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-shared", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# backward() already adds both uses' gradients into the one .grad. Listed twice, SGD would
# apply that full gradient twice per step: the tied weight would effectively train with a
# doubled learning rate, unlike every other parameter. Adam would keep two sets of moment
# estimates for the same tensor (2 x 38.6 M numbers x 8 bytes ≈ 618 MB of extra state), and
# update it twice with different estimates. num_parameters() would also over-count by
# 38.6 M, about a third of GPT-2 small's 124 M.
# ### END SOLUTION

# %%
if __name__ == "__main__":
    print("All tests passed for module 03_layers.")
