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
# # Module 01: Tensor
#
# Every deep-learning framework is built on one data structure: the **tensor**, an
# n-dimensional array of numbers with a shape and a dtype. In this module you build
# `tinytorch.core.tensor.Tensor` on top of NumPy. Everything later in the course (layers,
# losses, attention, a whole GPT) is made of the operations you write here, so the time you
# spend getting shapes and dtypes exactly right pays off in every module after this one.
#
# **You will learn**
# - how a tensor's shape, size and dtype describe its memory (`size * itemsize` bytes);
# - broadcasting: how `(B, N) + (N,)` works without copying the `(N,)` row B times;
# - matrix multiplication, its shape rules, and why it dominates the cost of a network;
# - reductions with `axis` and `keepdims`;
# - views versus copies: why `reshape` and `transpose` usually move no data;
# - how a Tensor cooperates with NumPy without silently dropping out of the gradient graph.
#
# **How this module is organised.** Each piece follows the same order: an explanation with
# an example you can check by hand, then the specification (what to compute, shapes, what to
# record), then the code you write (in your copy: where it says `# YOUR CODE HERE`), then a
# graded test that checks exactly that piece. Run the file (`python tensor_dev.py`) or
# `tito module test 01_tensor` as you go; a test of a piece you have not written yet fails
# with `not implemented yet: <name>`.
#
# **Getting ready for gradients (module 05).** Training needs the gradient of a loss with
# respect to every parameter. We prepare for it now: every operation creates its result with
# `Tensor.from_op(data, op, inputs, saved)`, which records *what* was done (`op`, a name like
# `"mul"`), *to what* (`inputs`, a tuple of Tensors) and anything the gradient will need later
# that it cannot read from the inputs (`saved`). When no input requires a gradient nothing is
# recorded, so plain arithmetic stays cheap. In module 05 you write one gradient rule per op
# name and the engine that walks this record backwards; `Tensor.backward()` below already
# calls that engine. Nothing here changes then: module 05 adds rules to a table, it does not
# rewrite this class.

# %%
#| default_exp core.tensor
#| export
import numpy as np

# %% [markdown]
# ## 1. Memory, dtype and creation
#
# A tensor is a flat block of memory plus a **shape** that says how to read it. The matrix
#
# ```
# [[1., 2., 3.],
#  [4., 5., 6.]]      shape (2, 3), size 2*3 = 6, dtype float32 (4 bytes each)
# ```
#
# occupies `6 * 4 = 24` bytes, stored row after row: `1 2 3 4 5 6`. To find element
# `[i, j]`, NumPy jumps `i * 12 + j * 4` bytes: the **strides** are `(12, 4)`. Remember the
# strides; section 6 shows how they make `transpose` free.
#
# **Which dtype?** Neural networks train in 32-bit floats: half the memory of float64 and,
# on a CPU, about twice the arithmetic per second, with plenty of precision for gradients.
# The rules of this course (PyTorch's, for floats):
#
# | data given | stored as | why |
# |---|---|---|
# | Python floats, float64/float16 arrays | float32 | the course's default precision |
# | any data with `dtype=np.float64` | float64 | gradient checks need the extra digits |
# | ints (`[1, 2, 3]`), bools | kept as they are | token ids, class labels, masks |
# | objects (`[{"a": 1}]`, ragged lists) | `TypeError` | not numbers |
# | a `Tensor` | its `.data`, with the rules above | `Tensor(t)` is allowed |
#
# `GradMode.enabled` is the switch that module 05's `no_grad()` turns off during evaluation
# and generation, when no graph needs recording. It is given.
#
# ### Specification: `_to_array(data, dtype=None) -> np.ndarray`
#
# - If `data` is a `Tensor`, use its `.data`.
# - If `dtype` is given, return `np.asarray(data, dtype=dtype)` (no copy when nothing changes).
# - Otherwise convert with `np.asarray(data)`; if the result has dtype kind `"O"` (objects),
#   raise `TypeError` with a sentence naming the type; if it is a float other than float32,
#   return it converted to float32 (`.astype(np.float32)`); anything else is returned as is.
# - Example: `_to_array([1.5, 2])` is `array([1.5, 2.], dtype=float32)`;
#   `_to_array([1, 2])` keeps an integer dtype; `_to_array([1], np.float64)` is float64.
#
# Hint: `array.dtype.kind` is `"f"` for floats, `"i"`/`"u"` for integers, `"b"` for bools.


# %% nbgrader={"grade": false, "grade_id": "to-array", "locked": false, "schema_version": 3, "solution": true}
#| export
class GradMode:
    """Whether operations record the graph; `no_grad()` (module 05) switches it off."""

    enabled: bool = True


def _to_array(data, dtype=None) -> np.ndarray:
    """Convert data to an ndarray: floats become float32 unless `dtype` is given."""
    ### BEGIN SOLUTION
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    array = np.asarray(data)
    if array.dtype.kind == "O":
        raise TypeError(f"Tensor data must be numbers, not {type(data).__name__} of objects.")
    if array.dtype.kind == "f" and array.dtype != np.float32:
        return array.astype(np.float32)
    return array
    ### END SOLUTION


# %% [markdown]
# ## 2. The Tensor class
#
# A `Tensor` holds:
#
# | attribute | meaning |
# |---|---|
# | `data` | the NumPy array with the values |
# | `requires_grad` | whether gradients should flow to this tensor |
# | `grad` | the gradient, a `Tensor` of the same shape, filled by `backward()` (`None` before) |
# | `_op`, `_inputs`, `_saved` | how it was computed (set only when gradients are needed) |
#
# `__slots__` keeps each tensor small and attribute access fast: a GPT training step creates
# thousands of tensors. `grad` is a property over the slot `_grad`, so that assigning an
# ndarray (`p.grad = np.zeros(3)`) still stores a `Tensor`: the optimizers of module 06 read
# `p.grad.data` and would break on a bare array.
#
# ### The graph record: `Tensor.from_op(data, op, inputs, saved=None)`
#
# Every operation computes its result as an ndarray and wraps it with `from_op`. For
# `y = x * c + 1` with `x` requiring a gradient the record is
#
# ```
#   x (leaf, requires_grad) ──┐
#                             ├─ "mul" ── m ──┐
#   c (leaf)  ────────────────┘               ├─ "add" ── y
#   1 (lifted to a constant Tensor) ──────────┘
# ```
#
# `y._op == "add"`, `y._inputs == (m, one)`, `m._op == "mul"`, `m._inputs == (x, c)`.
# Module 05 walks this from `y` back to `x`. The record costs memory (every `_inputs` keeps
# its tensors alive), so it is made only when it can be used.
#
# ### Specification
#
# - `Tensor(data, requires_grad=False, dtype=None)` (`__init__`): `data` becomes
#   `_to_array(data, dtype)`; `requires_grad` is stored as a `bool`; a new tensor is a leaf:
#   `_grad = None`, `_op = None`, `_inputs = ()`, `_saved = None`.
# - `Tensor.from_op(data, op, inputs, saved=None)`: `data` is the finished ndarray (it is not
#   converted again; the given lines already set `data` and `_grad`). If `GradMode.enabled`
#   **and** at least one tensor of `inputs` has `requires_grad`, the result gets
#   `requires_grad = True`, `_op = op`, `_inputs = inputs`, `_saved = saved`; otherwise
#   `requires_grad = False`, `_op = None`, `_inputs = ()`, `_saved = None` (so nothing keeps
#   the inputs alive). Return the new tensor.
# - `grad` setter: `None` and Tensors are stored as they are; anything else (an ndarray, a
#   list) becomes `Tensor(value, dtype=...)` in self's dtype when self is a float tensor (the
#   default rule otherwise). A gradient whose shape differs from `self.shape` raises
#   `ValueError` naming both shapes (a gradient must match its tensor element for element).
# - `_lift(other)`: the other operand of an operator as a Tensor. A Tensor is returned as it
#   is. When self is a float tensor and `other` (through `np.asarray`) holds floats, ints,
#   unsigned ints or bools (dtype kind in `"fiub"`), return `Tensor(other, dtype=self.dtype)`,
#   so `x * 2` and `x + mask_array` keep x's precision (float64 stays float64). Otherwise
#   return `Tensor(other)`.
# - Example: `Tensor.from_op(np.ones(2), "mul", (x, c))` with `x.requires_grad` gives a tensor
#   with `_op == "mul"` and `_inputs == (x, c)`; with neither requiring grad, `_op is None`.


# %% nbgrader={"grade": false, "grade_id": "tensor-class", "locked": false, "schema_version": 3, "solution": true}
#| export
class Tensor:
    """An n-dimensional array of numbers that can record how it was computed."""

    __slots__ = ("data", "requires_grad", "_grad", "_op", "_inputs", "_saved", "__weakref__")

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        """A leaf tensor holding `_to_array(data, dtype)`; see the specification above."""
        ### BEGIN SOLUTION
        self.data = _to_array(data, dtype)
        self.requires_grad = bool(requires_grad)
        self._grad = None
        self._op = None
        self._inputs = ()
        self._saved = None
        ### END SOLUTION

    # Module 15's profilers listen to every op here; while the list is empty, one `if` per op.
    profilers: list = []

    @staticmethod
    def from_op(data: np.ndarray, op: str, inputs: tuple, saved=None) -> "Tensor":
        """Wrap an op's result; remember (op, inputs, saved) if any input needs a gradient."""
        out = Tensor.__new__(Tensor)  # skips __init__: data is already a finished ndarray
        out.data = data
        out._grad = None
        ### BEGIN SOLUTION
        if GradMode.enabled and any(t.requires_grad for t in inputs):
            out.requires_grad = True
            out._op, out._inputs, out._saved = op, inputs, saved
        else:
            out.requires_grad = False
            out._op, out._inputs, out._saved = None, (), None
        ### END SOLUTION
        if Tensor.profilers:
            for profiler in Tensor.profilers:
                profiler.forward_event(op, out, inputs)
        return out

    # -- what the tensor is ----------------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def nbytes(self) -> int:
        return self.data.nbytes

    @property
    def grad(self) -> "Tensor | None":
        """dL/dself after backward(): a Tensor of self's shape, or None."""
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        """Store None or a Tensor; an ndarray or list becomes a Tensor in self's float dtype."""
        ### BEGIN SOLUTION
        if value is not None and not isinstance(value, Tensor):
            value = Tensor(value, dtype=self.data.dtype if self.data.dtype.kind == "f" else None)
        if value is not None and value.shape != self.data.shape:
            raise ValueError(
                f"a gradient of shape {value.shape} cannot belong to a tensor of shape "
                f"{self.data.shape}: they must match element for element."
            )
        self._grad = value
        ### END SOLUTION

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        body = np.array2string(self.data, precision=4, separator=", ", threshold=20)
        return f"Tensor({body}, shape={self.shape}, dtype={self.dtype}{grad})"

    def numpy(self) -> np.ndarray:
        return self.data

    def item(self):
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def detach(self) -> "Tensor":
        """The same values cut off from the graph (shares memory)."""
        return Tensor(self.data, dtype=self.data.dtype)

    def _lift(self, other) -> "Tensor":
        """A number or array as a constant Tensor in self's float dtype (see the spec)."""
        ### BEGIN SOLUTION
        if isinstance(other, Tensor):
            return other
        if self.data.dtype.kind == "f":
            array = np.asarray(other)
            if array.dtype.kind in "fiub":
                return Tensor(array, dtype=self.data.dtype)
        return Tensor(other)
        ### END SOLUTION

    # -- NumPy interoperability (section 8) ------------------------------------------------
    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        """np.asarray(t), np.array(t): the values, refused when t requires grad."""
        return _to_numpy(self, dtype, copy)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        """np.add(a, t), arr + t, np.abs(t), ...: see `_array_ufunc`."""
        return _array_ufunc(ufunc, method, inputs, kwargs)

    # -- gradients (the engine arrives in module 05) ---------------------------------------
    def backward(self, grad=None) -> None:
        """Fill `.grad` of every leaf this tensor was computed from (dL/dx for L = self)."""
        try:
            from tinytorch.core.autograd import backward
        except ImportError:
            raise RuntimeError(
                "backward() needs the autograd engine: complete module 05_autograd first."
            ) from None
        backward(self, grad)

    def zero_grad(self) -> None:
        self.grad = None

    # -- operators: each calls the function of this module that computes it ----------------
    def __add__(self, other) -> "Tensor":
        return _binary("add", self, other)

    def __radd__(self, other) -> "Tensor":
        return _binary("add", other, self)

    def __sub__(self, other) -> "Tensor":
        return _binary("sub", self, other)

    def __rsub__(self, other) -> "Tensor":
        return _binary("sub", other, self)

    def __mul__(self, other) -> "Tensor":
        return _binary("mul", self, other)

    def __rmul__(self, other) -> "Tensor":
        return _binary("mul", other, self)

    def __truediv__(self, other) -> "Tensor":
        return _binary("div", self, other)

    def __rtruediv__(self, other) -> "Tensor":
        return _binary("div", other, self)

    def __neg__(self) -> "Tensor":
        return _unary("neg", self)

    def __pow__(self, exponent) -> "Tensor":
        return _power(self, exponent)

    def exp(self) -> "Tensor":
        return _unary("exp", self)

    def log(self) -> "Tensor":
        return _unary("log", self)

    def sqrt(self) -> "Tensor":
        return _unary("sqrt", self)

    # Comparisons give boolean tensors, outside the graph (they have no gradient).
    def __lt__(self, other) -> "Tensor":
        return Tensor(self.data < self._lift(other).data)

    def __le__(self, other) -> "Tensor":
        return Tensor(self.data <= self._lift(other).data)

    def __gt__(self, other) -> "Tensor":
        return Tensor(self.data > self._lift(other).data)

    def __ge__(self, other) -> "Tensor":
        return Tensor(self.data >= self._lift(other).data)

    def matmul(self, other) -> "Tensor":
        """(..., M, K) @ (..., K, N) -> (..., M, N), leading dimensions broadcast."""
        return _matmul(self, other)

    def __matmul__(self, other) -> "Tensor":
        return _matmul(self, other)

    def __rmatmul__(self, other) -> "Tensor":
        return _matmul(other, self)

    # np.sum(t), np.mean(t), np.max(t) call these with NumPy's own keywords (section 8).
    def sum(self, axis=None, keepdims: bool = False, **numpy_keywords) -> "Tensor":
        _refuse_numpy_keywords("sum", numpy_keywords)
        return _reduce("sum", self, axis, keepdims)

    def mean(self, axis=None, keepdims: bool = False, **numpy_keywords) -> "Tensor":
        _refuse_numpy_keywords("mean", numpy_keywords)
        return _reduce("mean", self, axis, keepdims)

    def max(self, axis=None, keepdims: bool = False, **numpy_keywords) -> "Tensor":
        _refuse_numpy_keywords("max", numpy_keywords)
        return _reduce("max", self, axis, keepdims)

    def argmax(self, axis=None) -> "Tensor":
        return Tensor(np.argmax(self.data, axis=axis))

    def reshape(self, *shape) -> "Tensor":
        """reshape(2, 3) or reshape((2, 3)); one dimension may be -1."""
        return _reshape(self, shape)

    def transpose(self, dim0: int = -2, dim1: int = -1) -> "Tensor":
        """Swap two dimensions (the last two by default)."""
        return _transpose(self, dim0, dim1)

    def permute(self, *axes) -> "Tensor":
        """Reorder all dimensions: permute(0, 2, 1, 3) turns (B, T, H, D) into (B, H, T, D)."""
        return _permute(self, axes)

    @property
    def T(self) -> "Tensor":
        return _transpose(self, -2, -1)

    def __getitem__(self, index) -> "Tensor":
        """NumPy indexing: t[0], t[:, 1:3], t[ids] (an integer array picks rows)."""
        return _getitem(self, index)


def as_tensor(x) -> Tensor:
    """`x` itself if it is a Tensor, else a new Tensor of it (layers accept lists and arrays)."""
    return x if isinstance(x, Tensor) else Tensor(x)


# %% [markdown]
# ### Test: creation, the graph record and `.grad`
#
# What this checks and why: the dtype rules of the table above (float32 by default, float64
# on request, integers kept, objects refused), the properties that describe memory
# (`nbytes = size * itemsize`), that `from_op` records a node exactly when an input requires a
# gradient and `GradMode` is on (module 05 depends on both halves: a missing record means a
# missing gradient, a needless one means wasted memory), that `_lift` keeps a float64
# tensor's precision, and that `.grad` always holds a Tensor.


# %% nbgrader={"grade": true, "grade_id": "test-creation", "locked": true, "points": 20, "schema_version": 3}
def test_tensor_class():
    t = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert t.shape == (2, 3) and t.size == 6 and t.ndim == 2, f"shape (2, 3), got {t.shape}"
    assert t.dtype == np.float32, f"floating data should become float32, got {t.dtype}"
    assert t.nbytes == 6 * 4, f"6 float32 numbers take 24 bytes, got {t.nbytes}"
    assert Tensor([1, 2, 3]).dtype.kind == "i", "integer data (token ids) stays integer"
    assert Tensor([1.0], dtype=np.float64).dtype == np.float64, "dtype= is obeyed"
    assert Tensor(np.zeros(3, dtype=np.float64)).dtype == np.float32, "float64 -> float32"
    assert Tensor(Tensor([1.0, 2.0])).shape == (2,), "a Tensor can be made from a Tensor"
    assert Tensor(3.5).shape == () and Tensor(3.5).item() == 3.5, "a number is a 0-d tensor"
    assert as_tensor(t) is t, "as_tensor returns a Tensor unchanged"
    assert as_tensor([[1, 2]]).shape == (1, 2), "as_tensor wraps a list"
    assert not t.requires_grad and t.grad is None, "a new tensor needs no grad and has none"
    try:
        Tensor([{"a": 1}])
    except TypeError:
        pass
    else:
        raise AssertionError("objects are not numbers: Tensor([{'a': 1}]) must raise TypeError")
    x = Tensor([1.0, 2.0], requires_grad=True)
    c = Tensor([3.0, 4.0])
    m = Tensor.from_op(x.data * c.data, "mul", (x, c))
    assert m.requires_grad and m._op == "mul", "an input requires grad: the op is recorded"
    assert m._inputs[0] is x and m._inputs[1] is c, "inputs are kept in order"
    assert m._saved is None and m.grad is None, "nothing saved unless given; no grad yet"
    r = Tensor.from_op(np.ones(2), "sum", (x,), (0, True))
    assert r._saved == (0, True), f"saved is stored as given, got {r._saved}"
    plain = Tensor.from_op(c.data * 2, "mul", (c,))
    assert not plain.requires_grad and plain._op is None and plain._inputs == (), (
        "no input requires grad: nothing may be recorded (it would keep the inputs alive)"
    )
    GradMode.enabled = False
    try:
        off = Tensor.from_op(x.data, "mul", (x,))
        assert off._op is None and not off.requires_grad, "GradMode off: no graph"
    finally:
        GradMode.enabled = True
    d = Tensor([1.0], dtype=np.float64)
    assert d._lift(2).dtype == np.float64, "_lift keeps a float64 tensor's precision"
    assert Tensor([1.0])._lift(np.ones(1, dtype=np.float64)).dtype == np.float32, (
        "_lift converts an array to self's float32"
    )
    assert Tensor([1, 2])._lift(2.5).dtype == np.float32, "an int tensor lifts floats by default"
    x.grad = np.array([0.5, 0.5])
    assert isinstance(x.grad, Tensor), f"an ndarray grad is stored as a Tensor, got {x.grad!r}"
    assert x.grad.dtype == x.dtype, f"the grad takes x's dtype, got {x.grad.dtype}"
    x.zero_grad()
    assert x.grad is None, "zero_grad() clears the gradient"
    try:
        x.grad = np.ones(3)
    except ValueError as error:
        assert "(3,)" in str(error) and "(2,)" in str(error), f"name both shapes: {error}"
    else:
        raise AssertionError("a gradient of shape (3,) for a tensor of shape (2,) must raise")


if __name__ == "__main__":
    test_tensor_class()


# %% [markdown]
# ## 3. Elementwise arithmetic and broadcasting
#
# `a + b` adds matching elements. When the shapes differ, NumPy **broadcasts**: align the
# shapes from the right; two sizes are compatible when they are equal or one of them is 1 (a
# missing dimension counts as 1); the size-1 side is stretched. Worked example, `(2, 3) + (3,)`:
#
# ```
# a = [[1, 2, 3],          b = [10, 20, 30]        shapes  (2, 3)
#      [4, 5, 6]]                                           (   3)  -> treated as (1, 3)
#
# a + b = [[1+10, 2+20, 3+30],   = [[11, 22, 33],           result (2, 3)
#          [4+10, 5+20, 6+30]]      [14, 25, 36]]
# ```
#
# This is the bias add of every layer: `(B, N) + (N,) -> (B, N)`. A column and a row
# stretch both ways: `(2, 1) * (3,) -> (2, 3)`, `[[1], [2]] * [1, 2, 3] = [[1, 2, 3],
# [2, 4, 6]]`. Incompatible shapes fail: `(2, 3) + (2,)` aligns 3 against 2 and raises.
#
# Broadcasting copies nothing (the stretched side is read again with a stride of 0), but it
# matters for gradients: `b` was used by both rows, so its gradient is the *sum* of the
# rows' gradients. Module 05 handles that in one place (`unbroadcast`), for every op, so the
# ops here record only their inputs.
#
# **What each op records** (module 05's rules read the inputs' values from `_inputs`):
#
# | expression | `op` names | `inputs` | `saved` |
# |---|---|---|---|
# | `a + b`, `a - b`, `a * b`, `a / b` | `"add"`, `"sub"`, `"mul"`, `"div"` | `(a, b)` | `None` |
# | `-x`, `x.exp()`, `x.log()`, `x.sqrt()` | `"neg"`, `"exp"`, `"log"`, `"sqrt"` | `(x,)` | `None` |
# | `x ** p` (p a number) | `"pow"` | `(x,)` | `p` (the rule is `p·x^(p-1)`) |
#
# The NumPy function of each name is in the tables `_BINARY` and `_UNARY` (given).
#
# ### Specification
#
# - `_binary(op, a, b)`: one of `a`, `b` is a Tensor (the other may be a number, a list or an
#   ndarray: `2 - x` calls `_binary("sub", 2, x)`). Lift **both** with that Tensor's `_lift`
#   (so they get its precision), compute `_BINARY[op](a.data, b.data)` and return
#   `Tensor.from_op(result, op, (a, b))`, inputs in the order of the expression.
# - `_unary(op, x)`: `Tensor.from_op(_UNARY[op](x.data), op, (x,))`.
# - `_power(x, p)`: `p` must be a number; a Tensor exponent raises `TypeError` whose message
#   contains the word "exponent". Return `Tensor.from_op(x.data ** p, "pow", (x,), p)`.
# - Example: `2 - Tensor([1.0, 3.0])` is `[1., -1.]`, op `"sub"`, inputs `(Tensor(2.), x)`.


# %% nbgrader={"grade": false, "grade_id": "arithmetic", "locked": false, "schema_version": 3, "solution": true}
#| export
_BINARY = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}
_UNARY = {"neg": np.negative, "exp": np.exp, "log": np.log, "sqrt": np.sqrt}


def _binary(op: str, a, b) -> Tensor:
    """a (op) b elementwise with broadcasting; both sides lifted by the Tensor among them."""
    ### BEGIN SOLUTION
    like = a if isinstance(a, Tensor) else b
    a, b = like._lift(a), like._lift(b)
    return Tensor.from_op(_BINARY[op](a.data, b.data), op, (a, b))
    ### END SOLUTION


def _unary(op: str, x: Tensor) -> Tensor:
    """neg, exp, log or sqrt of every element; op recorded with inputs (x,)."""
    ### BEGIN SOLUTION
    return Tensor.from_op(_UNARY[op](x.data), op, (x,))
    ### END SOLUTION


def _power(x: Tensor, exponent) -> Tensor:
    """x ** p for a number p; p is saved for the gradient p * x**(p-1)."""
    ### BEGIN SOLUTION
    if isinstance(exponent, Tensor):
        raise TypeError("Tensor ** Tensor is not supported: use a number as the exponent.")
    return Tensor.from_op(x.data**exponent, "pow", (x,), exponent)
    ### END SOLUTION


# %% [markdown]
# ### Test: arithmetic and broadcasting
#
# What this checks and why: the worked example above, by value; every operator in both
# orders (`x - 1` and `1 - x` are different, and the second goes through `__rsub__`); and
# the precision rules, because a float64 gradient check silently done in float32 would
# pass with a wrong gradient. Then the graph that a composite expression builds (the picture
# of section 2), with the op names and input order that module 05's rules will look up: a
# wrong name here becomes "no gradient rule for op ..." three modules later.


# %% nbgrader={"grade": true, "grade_id": "test-arithmetic", "locked": true, "points": 25, "schema_version": 3}
def test_arithmetic_and_broadcasting():
    a = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    b = Tensor([10.0, 20.0, 30.0])
    got = (a + b).data
    assert np.array_equal(got, [[11, 22, 33], [14, 25, 36]]), f"(2,3) + (3,) by rows, got {got}"
    assert np.allclose((a - 1).data, a.data - 1), "x - 1 subtracts 1 from every element"
    assert np.allclose((1 - a).data, 1 - a.data), f"1 - x reversed, got {(1 - a).data}"
    assert np.allclose((a * a).data, a.data**2), "x * x squares elementwise"
    assert np.allclose((a / 2).data, a.data / 2) and np.allclose((2 / a).data, 2 / a.data), (
        "x / 2 and 2 / x are different"
    )
    assert np.allclose((-a).data, -a.data) and np.allclose((a**2).data, a.data**2), "neg, pow"
    assert np.allclose(a.exp().log().data, a.data, atol=1e-5), "log(exp(x)) = x"
    assert np.allclose(a.sqrt().data, np.sqrt(a.data)), "sqrt elementwise"
    col = Tensor([[1.0], [2.0]])
    assert np.array_equal((col * Tensor([1.0, 2.0, 3.0])).data, [[1, 2, 3], [2, 4, 6]]), (
        "(2,1) * (3,) stretches both ways to (2,3)"
    )
    assert (a * 2.0).dtype == np.float32, "a Python number keeps float32"
    d = Tensor([1.0, 2.0], dtype=np.float64)
    assert (d * 3).dtype == np.float64, "results keep their inputs' precision (float64)"
    assert (d + np.ones(2)).dtype == np.float64, "an array operand takes the tensor's precision"
    assert (a * np.ones(3, int)).dtype == np.float32, "an int array does not promote float32"
    try:
        a ** Tensor([2.0])
    except TypeError as error:
        assert "exponent" in str(error), f"the message should mention the exponent: {error}"
    else:
        raise AssertionError("Tensor ** Tensor must raise TypeError")
    x = Tensor([1.0, 2.0], requires_grad=True)
    c = Tensor([3.0, 4.0])
    y = x * c + 1
    assert y.requires_grad and y._op == "add", f"y = x*c + 1 ends in 'add', got {y._op}"
    m, one = y._inputs
    assert m._op == "mul" and m._inputs[0] is x and m._inputs[1] is c, "x * c is 'mul'(x, c)"
    assert one.shape == () and one.item() == 1.0, "the constant 1 is lifted to a 0-d Tensor"
    assert (1 - x)._op == "sub" and (1 - x)._inputs[1] is x, "1 - x is 'sub'(1, x)"
    assert (x / c)._op == "div" and (-x)._op == "neg" and (x**2)._saved == 2, "div, neg, pow"
    assert x.exp()._op == "exp" and x.log()._op == "log" and x.sqrt()._op == "sqrt", "unary"
    z = c * 2
    assert not z.requires_grad and z._op is None, "nothing is recorded without requires_grad"
    r = _binary("sub", 2, x)
    assert np.array_equal(r.data, [1, 0]) and r._inputs[1] is x, "_binary('sub', 2, x) is 2 - x"
    assert _unary("neg", x)._op == "neg" and _power(x, 3)._saved == 3, "_unary and _power"
    ### BEGIN HIDDEN TESTS
    e = Tensor([[2.0, -1.0]], dtype=np.float64)
    f = Tensor([[3.0], [0.5]], dtype=np.float64)
    assert np.allclose((e - f).data, [[-1.0, -4.0], [1.5, -1.5]]), "(1,2) - (2,1) -> (2,2)"
    assert np.allclose((3 / e).data, [[1.5, -3.0]]), "3 / x"
    assert (e**3)._op is None, "no input requires grad: no record"
    eg = Tensor([2.0], requires_grad=True)
    assert (eg**3)._saved == 3 and (eg**3)._op == "pow", "pow saves the exponent"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_arithmetic_and_broadcasting()


# %% [markdown]
# ## 4. Matrix multiplication
#
# `(M, K) @ (K, N) -> (M, N)`: element `[i, j]` is the dot product of row i of the left
# operand with column j of the right one. By hand, for 2x2 matrices:
#
# ```
# [[1, 2],   @  [[5, 6],   =  [[1*5 + 2*7, 1*6 + 2*8],   =  [[19, 22],
#  [3, 4]]       [7, 8]]       [3*5 + 4*7, 3*6 + 4*8]]       [43, 50]]
# ```
#
# Each of the `M*N` outputs costs K multiplies and K adds, so the product costs
# **`2*M*K*N` floating-point operations (FLOPs)**: 2 * 2 * 2 * 2 = 16 above, and 2 * 512³ ≈
# 268 million for two 512 x 512 matrices. A network's layers are matmuls, so this number is
# most of a network's cost; section 9 measures how many of them per second your Tensor does.
#
# **Shapes.** The inner dimensions must agree (`K` and `K`). Leading dimensions broadcast as
# in section 3, and 1-D operands follow NumPy's rules:
#
# | left | right | result | where it appears |
# |---|---|---|---|
# | `(M, K)` | `(K, N)` | `(M, N)` | one batch through a layer |
# | `(B, T, K)` | `(K, N)` | `(B, T, N)` | a batch of sequences through one weight |
# | `(B, M, K)` | `(B, K, N)` | `(B, M, N)` | attention scores, per batch element |
# | `(K,)` | `(K, N)` | `(N,)` | one vector through a layer |
# | `(M, K)` | `(K,)` | `(M,)` | matrix times vector |
#
# **The batched case, fast.** `(B, T, K) @ (K, N)` gives the same numbers as
# `(B*T, K) @ (K, N)` reshaped to `(B, T, N)`, because every row meets the same weight. One
# large BLAS call is about twice as fast as B small ones (measured on this course's GPT),
# and the reshapes are free views (section 6).
#
# ### Specification: `_matmul(a, b) -> Tensor`
#
# - Lift both operands with the Tensor among them (as `_binary` does): `arr @ x` arrives as
#   `_matmul(arr, x)`.
# - A 0-d operand raises `ValueError` whose message says matmul needs "at least one
#   dimension" (use `*` for scalars).
# - `k_left = a.shape[-1]`; `k_right = b.shape[-2]` if b has 2+ dimensions, else `b.shape[0]`.
#   If they differ raise `ValueError` showing **both shapes**, e.g.
#   `matmul: shapes (2, 3) and (2, 3) do not align (inner dimensions 3 != 2).`
# - If b is 2-D and a has more than 2 dimensions, compute `a.reshape(-1, K) @ b` and reshape
#   the result to `a.shape[:-1] + (N,)`; otherwise `np.matmul(a, b)`.
# - Return `Tensor.from_op(result, "matmul", (a, b))` (nothing saved: the gradients
#   `g @ bᵀ` and `aᵀ @ g` need only the inputs).


# %% nbgrader={"grade": false, "grade_id": "matmul", "locked": false, "schema_version": 3, "solution": true}
#| export
def _matmul(a, b) -> Tensor:
    """(..., M, K) @ (..., K, N) -> (..., M, N); op "matmul" with inputs (a, b)."""
    ### BEGIN SOLUTION
    like = a if isinstance(a, Tensor) else b
    a, b = like._lift(a), like._lift(b)
    left, right = a.data, b.data
    if left.ndim == 0 or right.ndim == 0:
        raise ValueError("matmul needs tensors with at least one dimension; use * for scalars.")
    k_left = left.shape[-1]
    k_right = right.shape[-2] if right.ndim > 1 else right.shape[0]
    if k_left != k_right:
        raise ValueError(
            f"matmul: shapes {left.shape} and {right.shape} do not align "
            f"(inner dimensions {k_left} != {k_right})."
        )
    if right.ndim == 2 and left.ndim > 2:
        # (B, T, K) @ (K, N) as one (B*T, K) @ (K, N) product: one large BLAS call.
        out = (left.reshape(-1, k_left) @ right).reshape(*left.shape[:-1], right.shape[-1])
    else:
        out = np.matmul(left, right)
    return Tensor.from_op(out, "matmul", (a, b))
    ### END SOLUTION


# %% [markdown]
# ### Test: matmul
#
# What this checks and why: the 2x2 product computed by hand above, every row of the shape
# table, the recorded op, and that a shape mismatch is answered with a message that shows
# both shapes (a raw NumPy error names neither tensor nor the inner dimensions).


# %% nbgrader={"grade": true, "grade_id": "test-matmul", "locked": true, "points": 15, "schema_version": 3}
def test_matmul():
    a = Tensor([[1.0, 2.0], [3.0, 4.0]])
    b = Tensor([[5.0, 6.0], [7.0, 8.0]])
    got = (a @ b).data
    assert np.array_equal(got, [[19, 22], [43, 50]]), f"the 2x2 example gives {got}"
    assert np.array_equal(a.matmul(b).data, got), "matmul() and @ agree"
    x = Tensor(np.arange(6).reshape(2, 3).astype(np.float32))
    w = Tensor(np.arange(12).reshape(3, 4).astype(np.float32))
    assert (x @ w).shape == (2, 4) and np.allclose((x @ w).data, x.data @ w.data), "(2,3)@(3,4)"
    batch = Tensor(np.random.default_rng(0).normal(size=(5, 2, 3)))
    out = batch @ w
    assert out.shape == (5, 2, 4), f"(B,M,K) @ (K,N) -> (B,M,N), got {out.shape}"
    assert np.allclose(out.data, batch.data @ w.data, atol=1e-5), "batched values match NumPy"
    per_batch = Tensor(np.ones((5, 3, 2)))
    assert (batch @ per_batch).shape == (5, 2, 2), "(B,M,K) @ (B,K,N) -> (B,M,N)"
    assert (x @ Tensor(np.ones(3))).shape == (2,), "(M,K) @ (K,) -> (M,)"
    assert (Tensor(np.ones(2)) @ x).shape == (3,), "(K,) @ (K,N) -> (N,)"
    direct = _matmul(np.ones((1, 2)), a)
    assert isinstance(direct, Tensor) and np.array_equal(direct.data, [[4, 6]]), "arr @ a"
    wg = Tensor(np.ones((3, 4)), requires_grad=True)
    assert (x @ wg)._op == "matmul" and (x @ wg)._inputs[1] is wg, "op 'matmul', inputs (a, b)"
    try:
        x @ x
    except ValueError as error:
        assert "(2, 3)" in str(error), f"the error should show both shapes, got: {error}"
    else:
        raise AssertionError("(2,3) @ (2,3) must raise ValueError")
    try:
        Tensor(2.0) @ x
    except ValueError as error:
        assert "at least one dimension" in str(error), f"say why a 0-d fails: {error}"
    else:
        raise AssertionError("a 0-d operand must raise ValueError")
    ### BEGIN HIDDEN TESTS
    rng = np.random.default_rng(7)
    p, q = rng.normal(size=(2, 3, 5, 4)), rng.normal(size=(4, 6))
    got = (Tensor(p, dtype=np.float64) @ Tensor(q, dtype=np.float64)).data
    assert got.shape == (2, 3, 5, 6) and np.allclose(got, p @ q), "4-D @ 2-D via the reshape"
    v = Tensor([1.0, 2.0, 3.0])
    assert (v @ v).shape == () and (v @ v).item() == 14.0, "(K,) @ (K,) is a 0-d dot product"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_matmul()


# %% [markdown]
# ## 5. Reductions: sum, mean, max
#
# A reduction combines the elements along one or more axes. For
#
# ```
# t = [[1, 5, 3],        t.sum()                 = 21            shape ()
#      [4, 2, 6]]        t.sum(axis=0)           = [5, 7, 9]     shape (3,)   down the columns
#                        t.sum(axis=1)           = [9, 12]       shape (2,)   along the rows
#                        t.sum(axis=1, keepdims=True) = [[9], [12]]  shape (2, 1)
#                        t.mean(axis=1)          = [3, 4]
#                        t.max(axis=0)           = [4, 5, 6]
# ```
#
# `axis` may be `None` (every axis), an int (negative counts from the end) or a tuple.
# `keepdims=True` keeps each reduced axis with size 1, so the result still broadcasts against
# the input: `t - t.max(axis=1, keepdims=True)` subtracts each row's maximum from that row
# (`(2, 3) - (2, 1)`), which is exactly what softmax needs in module 02. Without `keepdims`,
# `(2, 3) - (2,)` would fail to align, or worse, for a square matrix, subtract the wrong way.
#
# **Saved for module 05:** the tuple `(axis, keepdims)`. The gradient of a sum spreads `g`
# back over the reduced axes, so the rule must know which axes they were; `max` sends `g` to
# the position of the maximum, which it finds by comparing the input with the output.
#
# ### Specification: `_reduce(op, x, axis, keepdims) -> Tensor`
#
# - `op` is `"sum"`, `"mean"` or `"max"`; compute `_REDUCE[op](x.data, axis=axis,
#   keepdims=keepdims)`.
# - NumPy returns a bare scalar (`np.float32`) when everything is reduced; the result's data
#   must still be an ndarray: wrap it with `np.asarray`.
# - Return `Tensor.from_op(result, op, (x,), (axis, keepdims))`.
# - The dtype is kept: `np.mean` of float32 is float32.
# - `argmax` (given) returns integer positions outside the graph (it has no gradient).


# %% nbgrader={"grade": false, "grade_id": "reductions", "locked": false, "schema_version": 3, "solution": true}
#| export
_REDUCE = {"sum": np.sum, "mean": np.mean, "max": np.max}


def _refuse_numpy_keywords(name: str, keywords: dict) -> None:
    """np.sum(t) passes dtype=None, out=None, ...: accept NumPy's defaults, refuse the rest."""
    given = sorted(key for key, value in keywords.items() if value is not None)
    if given:
        raise TypeError(
            f"Tensor.{name} takes axis and keepdims only, not {', '.join(given)}; "
            f"for NumPy's options use np.{name}(t.detach().data, ...)."
        )


def _reduce(op: str, x: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """sum, mean or max over `axis` (None: all); saves (axis, keepdims)."""
    ### BEGIN SOLUTION
    out = _REDUCE[op](x.data, axis=axis, keepdims=keepdims)
    return Tensor.from_op(np.asarray(out), op, (x,), (axis, keepdims))
    ### END SOLUTION


# %% [markdown]
# ### Test: reductions
#
# What this checks and why: the worked example by value, the shapes with and without
# `keepdims` (the difference breaks softmax), that a full reduction still gives an ndarray
# (`.item()` and later `.backward()` rely on it), and what is saved for the gradient.


# %% nbgrader={"grade": true, "grade_id": "test-reductions", "locked": true, "points": 10, "schema_version": 3}
def test_reductions():
    t = Tensor([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])
    total = t.sum()
    assert total.item() == 21.0 and total.shape == (), (
        f"sum of all is 21 with shape (), got {total}"
    )
    assert isinstance(total.data, np.ndarray), "a full reduction still holds an ndarray"
    assert np.array_equal(t.sum(axis=0).data, [5, 7, 9]), "axis=0 sums down the columns"
    assert np.array_equal(t.sum(axis=1).data, [9, 12]), "axis=1 sums along the rows"
    assert t.sum(axis=1, keepdims=True).shape == (2, 1), "keepdims keeps a size-1 axis"
    assert np.array_equal(t.mean(axis=1).data, [3, 4]), f"row means, got {t.mean(axis=1).data}"
    assert np.array_equal(t.max(axis=0).data, [4, 5, 6]) and t.max().item() == 6.0, "max"
    assert t.sum(axis=(0, 1)).item() == 21.0 and t.sum(axis=-1).shape == (2,), "tuple, -1"
    assert np.array_equal(t.argmax(axis=1).data, [1, 2]), "argmax gives positions"
    assert t.mean().dtype == np.float32, "the dtype is kept"
    assert np.array_equal(_reduce("max", t, 1, True).data, [[5], [6]]), "_reduce('max', t, 1)"
    x = Tensor([[1.0, 2.0]], requires_grad=True)
    assert x.sum()._saved == (None, False), f"saves (axis, keepdims), got {x.sum()._saved}"
    assert x.max(axis=1, keepdims=True)._saved == (1, True) and x.mean()._op == "mean", "saved"
    ### BEGIN HIDDEN TESTS
    u = Tensor(np.arange(24, dtype=np.float64).reshape(2, 3, 4), dtype=np.float64)
    assert np.allclose(u.mean(axis=(0, 2)).data, u.data.mean(axis=(0, 2))), "mean over (0, 2)"
    assert u.max(axis=-1, keepdims=True).shape == (2, 3, 1), "max keepdims on the last axis"
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_reductions()


# %% [markdown]
# ## 6. Views: reshape, transpose, permute
#
# Recall the (2, 3) float32 matrix of section 1, stored as `1 2 3 4 5 6` with strides
# `(12, 4)`. Its **transpose** is the (3, 2) matrix `[[1, 4], [2, 5], [3, 6]]`, and NumPy
# makes it without moving a byte: same memory, strides swapped to `(4, 12)`. A **reshape**
# to `(3, 2)` (`[[1, 2], [3, 4], [5, 6]]`) reads the same bytes in the same order with strides
# `(8, 4)`. Both are **views**: O(1) time and no memory, whatever the size.
#
# ```
# memory:              1  2  3  4  5  6
# t        (2,3)       rows [1 2 3] [4 5 6]          strides (12, 4)
# t.reshape(3, 2)      rows [1 2] [3 4] [5 6]        strides (8, 4)    view
# t.transpose()        rows [1 4] [2 5] [3 6]        strides (4, 12)   view
# t.transpose().reshape(6)   must read 1 4 2 5 3 6: no single stride does that -> COPY
# ```
#
# The last line is the catch: a reshape of a transposed (non-contiguous) array cannot be a
# view, so NumPy copies. Module 12 does exactly that when it merges attention heads; section 9
# measures what it costs.
#
# **What is recorded:** `reshape` records op `"reshape"` with nothing saved (the rule reshapes
# `g` back to the input's shape, which it reads from the input). `permute` records op
# `"permute"` with the `axes` tuple saved (the rule applies the inverse permutation).
# `transpose(dim0, dim1)` is a permute that swaps two axes; it records `"permute"` too.
#
# ### Specification
#
# - `_reshape(x, shape)`: `shape` is the tuple of the arguments of `x.reshape(...)`, so
#   `x.reshape(2, 3)` passes `(2, 3)` and `x.reshape((2, 3))` passes `((2, 3),)`: unwrap a
#   single tuple or list argument. One dimension may be `-1`. A size mismatch raises NumPy's
#   `ValueError`. Return `Tensor.from_op(x.data.reshape(shape), "reshape", (x,))`.
# - `_permute(x, axes)`: the same unwrapping (`permute(2, 0, 1)` or `permute((2, 0, 1))`);
#   return `Tensor.from_op(np.transpose(x.data, axes), "permute", (x,), axes)` with `axes` a
#   tuple.
# - `_transpose(x, dim0, dim1)`: a tensor with fewer than 2 dimensions is returned as it is
#   (nothing to swap). Otherwise build the identity order `[0, 1, ..., ndim-1]`, swap the
#   entries `dim0` and `dim1` (negative indices count from the end, as list indexing does),
#   and return `_permute(x, tuple(order))`.
# - Example: `Tensor(np.zeros((2, 3, 4))).transpose(1, 2).shape == (2, 4, 3)`, a view.


# %% nbgrader={"grade": false, "grade_id": "views", "locked": false, "schema_version": 3, "solution": true}
#| export
def _unwrap_shape(args: tuple) -> tuple:
    """f(2, 3) and f((2, 3)) both give (2, 3)."""
    if len(args) == 1 and isinstance(args[0], tuple | list):
        return tuple(args[0])
    return tuple(args)


def _reshape(x: Tensor, shape: tuple) -> Tensor:
    """The same elements in a new shape (a view when possible); op "reshape"."""
    ### BEGIN SOLUTION
    shape = _unwrap_shape(shape)
    return Tensor.from_op(x.data.reshape(shape), "reshape", (x,))
    ### END SOLUTION


def _permute(x: Tensor, axes: tuple) -> Tensor:
    """Reorder the dimensions (a view); op "permute" with the axes saved."""
    ### BEGIN SOLUTION
    axes = _unwrap_shape(axes)
    return Tensor.from_op(np.transpose(x.data, axes), "permute", (x,), axes)
    ### END SOLUTION


def _transpose(x: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions through _permute; tensors with < 2 dimensions are returned as is."""
    ### BEGIN SOLUTION
    if x.data.ndim < 2:
        return x
    order = list(range(x.data.ndim))
    order[dim0], order[dim1] = order[dim1], order[dim0]
    return _permute(x, tuple(order))
    ### END SOLUTION


# %% [markdown]
# ### Test: views
#
# What this checks and why: the shapes of the worked example, that reshape and transpose
# share memory with their input (`np.shares_memory`: the whole point of a view), both calling
# styles, and the op and saved axes that module 05 inverts.


# %% nbgrader={"grade": true, "grade_id": "test-shapes", "locked": true, "points": 10, "schema_version": 3}
def test_reshape_transpose():
    small = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    got = small.transpose().data
    assert np.array_equal(got, [[1, 4], [2, 5], [3, 6]]), f"transpose of (2,3), got {got}"
    got = small.reshape(3, 2).data
    assert np.array_equal(got, [[1, 2], [3, 4], [5, 6]]), f"reshape keeps the order, got {got}"
    t = Tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    r = t.reshape(6, 4)
    assert r.shape == (6, 4) and t.reshape((4, -1)).shape == (4, 6), "both styles, and -1"
    assert np.shares_memory(r.data, t.data), "reshape of a contiguous tensor is a view"
    tr = t.transpose(1, 2)
    assert tr.shape == (2, 4, 3) and np.shares_memory(tr.data, t.data), "transpose is a view"
    assert t.transpose().shape == (2, 4, 3), "default: swap the last two dimensions"
    assert t.transpose(0, -1).shape == (4, 3, 2), "negative dims count from the end"
    assert t.permute(2, 0, 1).shape == (4, 2, 3) and t.permute((1, 2, 0)).shape == (3, 4, 2), (
        "permute takes axes or a tuple"
    )
    assert Tensor(np.ones((2, 5))).T.shape == (5, 2), ".T swaps the last two"
    v = Tensor([1.0, 2.0])
    assert v.transpose() is v and _transpose(v, 0, 1) is v, "1-d: nothing to transpose"
    assert _reshape(small, ((6,),)).shape == (6,), "_reshape unwraps a single tuple argument"
    assert _permute(small, (1, 0)).shape == (3, 2), "_permute with the axes as arguments"
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    assert x.reshape(6)._op == "reshape", "reshape records 'reshape'"
    assert x.permute(1, 0)._saved == (1, 0) and x.T._op == "permute", "permute saves the axes"
    try:
        Tensor(np.ones(6)).reshape(4, 2)
    except ValueError:
        pass
    else:
        raise AssertionError("6 elements cannot be reshaped to (4, 2): expected ValueError")


if __name__ == "__main__":
    test_reshape_transpose()


# %% [markdown]
# ## 7. Indexing
#
# `t[index]` follows NumPy exactly: `t[0]` (the first row), `t[:, 1:3]` (a slice),
# `t[..., -1]`, and **integer arrays**, which pick rows: with `E` of shape `(V, D)` and
# `ids = [2, 0, 2]`, `E[ids]` has shape `(3, D)`: rows 2, 0 and 2 again. That is an embedding
# lookup (module 11). Slices give views; integer and boolean arrays give copies.
#
# **Saved for module 05:** the index itself. The gradient is a zero tensor of the input's
# shape with `g` *added* at the indexed positions (`np.add.at`), so that a row picked twice
# receives both contributions.
#
# ### Specification: `_getitem(x, index) -> Tensor`
#
# - An index may contain Tensors (`t[ids]` with `ids` a Tensor of token ids, or a tuple
#   such as `(rows, cols)` of Tensors): replace each Tensor by its `.data`, both when `index`
#   is a Tensor and inside a tuple index.
# - Return `Tensor.from_op(x.data[index], "getitem", (x,), index)` with the unwrapped index.


# %% nbgrader={"grade": false, "grade_id": "indexing", "locked": false, "schema_version": 3, "solution": true}
#| export
def _getitem(x: Tensor, index) -> Tensor:
    """x.data[index] with Tensor indices unwrapped; op "getitem" saves the index."""
    ### BEGIN SOLUTION
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return Tensor.from_op(x.data[index], "getitem", (x,), index)
    ### END SOLUTION


# %% [markdown]
# ### Test: indexing
#
# What this checks and why: the NumPy forms a model uses, integer-array lookups with repeated
# ids (an embedding table), Tensor indices (token ids arrive as Tensors), and the saved index.


# %% nbgrader={"grade": true, "grade_id": "test-indexing", "locked": true, "points": 5, "schema_version": 3}
def test_indexing():
    t = Tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    assert t[0].shape == (3, 4) and t[:, 1:3].shape == (2, 2, 4), "int and slice indexing"
    assert t[..., -1].shape == (2, 3), "Ellipsis and negative indices"
    table = Tensor(np.arange(12, dtype=np.float32).reshape(4, 3))
    ids = Tensor([2, 0, 2])
    got = table[ids].data
    assert np.array_equal(got, table.data[[2, 0, 2]]), f"rows 2, 0, 2 of the table, got {got}"
    assert np.array_equal(_getitem(table, ids).data, got), "_getitem is t[index]"
    pairs = table[Tensor([3, 1]), Tensor([0, 2])].data
    assert np.array_equal(pairs, [9, 5]), f"a tuple of Tensors picks elements, got {pairs}"
    x = Tensor(np.ones((4, 3)), requires_grad=True)
    picked = x[ids]
    assert picked._op == "getitem" and np.array_equal(picked._saved, [2, 0, 2]), (
        "getitem saves the unwrapped index (an ndarray, not a Tensor)"
    )


if __name__ == "__main__":
    test_indexing()


# %% [markdown]
# ## 8. Working with NumPy without leaving the graph
#
# Users mix Tensors and NumPy all the time: `np.asarray(t)` to plot, `np.abs(p.grad).max()`
# to watch gradients, `mask_array + scores`. NumPy offers two hooks, and PyTorch's tensor
# uses both the way we do here:
#
# - `__array__(dtype=None, copy=None)` is what `np.asarray(t)`, `np.array(t)` and functions
#   such as `np.clip(t, 0, 1)` call to get an array. (NumPy 2 passes `copy`: `True` means
#   "return a copy", `False` "never copy, raise if you would have to", `None` "copy only if
#   needed". `np.array(t.data, dtype=dtype, copy=copy)` implements all three.)
# - `__array_ufunc__(ufunc, method, *inputs, **kwargs)` is called for every *ufunc*
#   (`np.add`, `np.abs`, `np.exp`, ...) that has a Tensor among its inputs. Crucially,
#   `ndarray + tensor` is `np.add(ndarray, tensor)`, so this hook decides whether
#   `mask + scores` is a Tensor (correct) or a bare array.
#
# **The danger: silently leaving the graph.** If `np.exp(w)` quietly returned an ndarray for a
# weight `w` that requires a gradient, the loss computed from it would have no path back to
# `w`, `backward()` would leave `w.grad` at `None`, and training would stall without any
# error. PyTorch refuses (`Can't call numpy() on Tensor that requires grad`), and so do we,
# with an error that names the Tensor op to use instead.
#
# | call | t without grad | t with `requires_grad` |
# |---|---|---|
# | `np.asarray(t)`, `np.clip(t, 0, 1)` | ndarray | `RuntimeError`: use `t.detach()` |
# | `arr + t` (`-`, `*`, `/`, `@`), `np.add(arr, t)` | Tensor op | Tensor op (recorded) |
# | `arr < t` (`<=`, `>`, `>=`) | bool Tensor | bool Tensor (no gradient) |
# | `np.isnan(t)`, `arr == t`, other boolean ufuncs | ndarray | ndarray (nothing to lose) |
# | other ufuncs: `np.abs(t)`, `np.exp(t)`, ... | ndarray | `RuntimeError` naming the op |
# | `np.sum(t)`, `np.mean(t)`, `np.max(t)` (with `axis`, `keepdims`) | Tensor op | Tensor op (recorded) |
#
# The last row needs no hook: NumPy's reductions look for a method of the same name first,
# so `np.sum(t, axis=0)` calls `t.sum(axis=0, dtype=None, out=None)`. Our `sum`, `mean` and
# `max` (given) take NumPy's extra keywords and refuse any that is set (`out=`, `dtype=`,
# `where=`, ...) with a `TypeError`, since a Tensor op cannot write into an array or change
# the dtype halfway.
#
# (`__array_priority__` is NumPy's older hook for the same question; NumPy ignores it for a
# class that defines `__array_ufunc__`, so we do not set it.)
#
# ### Specification
#
# - `_leaves_graph(what, instead)` (given) builds the error message.
# - `_to_numpy(t, dtype=None, copy=None)`: if `t.requires_grad`, raise `RuntimeError` with
#   `_leaves_graph("converting it to a NumPy array", "t.detach()")`. Otherwise return
#   `np.array(t.data, dtype=dtype, copy=copy)` (with `copy=None` and no dtype this is `t.data`
#   itself: no copy).
# - `_array_ufunc(ufunc, method, inputs, kwargs)`, in this order:
#   1. If `method == "__call__"`, there are no `kwargs` and exactly two inputs: lift both with
#      the Tensor among them (`_lift`). If the ufunc is in `_UFUNC_OPERATORS` return
#      `_binary(name, a, b)`; if it is `np.matmul`, return `_matmul(a, b)`; if it is in
#      `_UFUNC_COMPARISONS`, return `Tensor(ufunc(a.data, b.data))`.
#   2. Otherwise, if the ufunc is not in `_NO_GRADIENT_UFUNCS` and any Tensor among the
#      inputs requires grad, raise `RuntimeError` with `_leaves_graph(f"np.{ufunc.__name__}",
#      _TENSOR_OP_FOR.get(ufunc, "Tensor operations"))`.
#   3. Otherwise compute on the values: replace every Tensor in `inputs` (and in the tuple
#      `kwargs["out"]`, if given) by its `.data` and return
#      `getattr(ufunc, method)(*values, **kwargs)`: an ndarray.
# - Example: `np.abs(Tensor([-1.0, 2.0]))` is `array([1., 2.], dtype=float32)`;
#   `np.abs(Tensor([-1.0], requires_grad=True))` raises RuntimeError mentioning
#   `"relu(t) + relu(-t)"`; `np.ones(2) + Tensor([1.0, 2.0])` is a Tensor.


# %% nbgrader={"grade": false, "grade_id": "numpy-interop", "locked": false, "schema_version": 3, "solution": true}
#| export
_UFUNC_OPERATORS = {np.add: "add", np.subtract: "sub", np.multiply: "mul", np.divide: "div"}
_UFUNC_COMPARISONS = frozenset({np.less, np.less_equal, np.greater, np.greater_equal})
# Boolean results carry no gradient, so computing them on the values loses nothing.
_NO_GRADIENT_UFUNCS = _UFUNC_COMPARISONS | {
    np.equal,
    np.not_equal,
    np.isnan,
    np.isinf,
    np.isfinite,
    np.signbit,
    np.logical_and,
    np.logical_or,
    np.logical_not,
}
_TENSOR_OP_FOR = {
    np.exp: "t.exp()",
    np.log: "t.log()",
    np.sqrt: "t.sqrt()",
    np.negative: "-t",
    np.power: "t ** p",
    np.square: "t * t",
    np.absolute: "relu(t) + relu(-t) (module 02)",
    np.maximum: "relu(t) (module 02) for np.maximum(t, 0)",
    np.tanh: "tanh(t) (module 02)",
}


def _leaves_graph(what: str, instead: str) -> str:
    """The error message for a NumPy call that would drop a Tensor out of the graph."""
    return (
        f"{what} on a Tensor that requires grad would compute outside the autograd graph, "
        f"so no gradient could flow back through the result. Use {instead} instead; for the "
        "values alone (to print, plot or compare), use t.detach() or t.data."
    )


def _to_numpy(t: Tensor, dtype=None, copy=None) -> np.ndarray:
    """`np.asarray(t)`: t's values (NumPy 2's dtype/copy rules); refused if t requires grad."""
    ### BEGIN SOLUTION
    if t.requires_grad:
        raise RuntimeError(_leaves_graph("converting it to a NumPy array", "t.detach()"))
    return np.array(t.data, dtype=dtype, copy=copy)
    ### END SOLUTION


def _array_ufunc(ufunc, method: str, inputs: tuple, kwargs: dict):
    """A NumPy ufunc with a Tensor among its inputs: operators stay Tensor ops (see the spec)."""
    ### BEGIN SOLUTION
    if method == "__call__" and not kwargs and len(inputs) == 2:
        like = inputs[0] if isinstance(inputs[0], Tensor) else inputs[1]
        a, b = like._lift(inputs[0]), like._lift(inputs[1])
        if ufunc in _UFUNC_OPERATORS:
            return _binary(_UFUNC_OPERATORS[ufunc], a, b)
        if ufunc is np.matmul:
            return _matmul(a, b)
        if ufunc in _UFUNC_COMPARISONS:
            return Tensor(ufunc(a.data, b.data))
    outs = kwargs.get("out", ())
    tensors = [x for x in inputs + tuple(outs) if isinstance(x, Tensor)]
    if ufunc not in _NO_GRADIENT_UFUNCS and any(x.requires_grad for x in tensors):
        hint = _TENSOR_OP_FOR.get(ufunc, "Tensor operations")
        raise RuntimeError(_leaves_graph(f"np.{ufunc.__name__}", hint))
    values = [x.data if isinstance(x, Tensor) else x for x in inputs]
    if outs:
        kwargs = {**kwargs, "out": tuple(x.data if isinstance(x, Tensor) else x for x in outs)}
    return getattr(ufunc, method)(*values, **kwargs)
    ### END SOLUTION


# %% [markdown]
# ### Test: NumPy interoperability
#
# What this checks and why: every row of the table above. The guard matters most: a NumPy
# call that quietly dropped a parameter out of the graph would make training stall without an
# error, so it must fail loudly and say what to write instead.


# %% nbgrader={"grade": true, "grade_id": "test-numpy-interop", "locked": true, "points": 5, "schema_version": 3}
def test_numpy_interop():
    t = Tensor([-1.0, 2.0, -3.0])
    assert np.asarray(t) is t.data, "np.asarray(t) returns the values without a copy"
    copied = np.array(t)
    assert not np.shares_memory(copied, t.data), "np.array(t) copies, as for an ndarray"
    assert np.asarray(t, dtype=np.float64).dtype == np.float64, "dtype= is obeyed"
    got = np.abs(t)
    assert isinstance(got, np.ndarray) and np.array_equal(got, [1, 2, 3]), f"np.abs, got {got!r}"
    assert np.array_equal(np.clip(t, -2, 1), [-1, 1, -2]), "np.clip works on the values"
    assert isinstance(np.ones(3) + t, Tensor), "ndarray + Tensor is a Tensor op"
    assert _to_numpy(t) is t.data, "_to_numpy without copy or dtype gives the data itself"
    direct = _array_ufunc(np.subtract, "__call__", (np.ones(3), t), {})
    assert isinstance(direct, Tensor) and direct._op is None, "np.subtract(arr, t) -> 1 - t"
    assert np.array_equal(direct.data, [2, -1, 4]), f"1 - t, got {direct.data}"
    assert isinstance(np.multiply(2.0, t), Tensor), "np.multiply with a Tensor is a Tensor op"
    less = np.zeros(3) < t
    assert isinstance(less, Tensor) and less.dtype == bool, "arr < t is a bool Tensor"
    w = Tensor([1.0, -2.0], requires_grad=True)
    mixed = np.ones(2) * w
    assert mixed._op == "mul" and mixed._inputs[1] is w, "arr * w stays in the graph"
    assert not np.isnan(w).any(), "boolean ufuncs carry no gradient: allowed"
    for call, name in [
        (lambda: np.asarray(w), "detach"),
        (lambda: np.abs(w), "relu"),
        (lambda: np.exp(w), "t.exp()"),
        (lambda: np.clip(w, 0, 1), "detach"),
    ]:
        try:
            call()
        except RuntimeError as error:
            assert name in str(error), f"the error should name {name!r}: {error}"
        else:
            raise AssertionError("a NumPy call on a tensor that requires grad must raise")
    w.grad = np.array([0.25, -0.5])
    assert np.array_equal(np.abs(w.grad), [0.25, 0.5]), "a .grad works with NumPy functions"
    ### BEGIN HIDDEN TESTS
    out = Tensor(np.zeros(3))
    np.add(np.ones(3), np.ones(3), out=(out,))
    assert np.array_equal(out.data, [2, 2, 2]), "out= may be a Tensor without grad"
    assert np.array_equal(np.negative(t), [1, -2, 3]), "np.negative on values"
    assert isinstance(np.ones((1, 3)) @ Tensor(np.ones((3, 1))), Tensor), "arr @ t"
    try:
        np.sqrt(w)
    except RuntimeError as error:
        assert "t.sqrt()" in str(error), f"name t.sqrt(): {error}"
    else:
        raise AssertionError("np.sqrt on a tensor that requires grad must raise")
    ### END HIDDEN TESTS


if __name__ == "__main__":
    test_numpy_interop()


# %% [markdown]
# ## 9. Systems: measure your Tensor
#
# Two measurements on the code you just wrote. Both print a table and return its rows; both
# take well under a second.
#
# **Views versus copies.** `analyze_views_and_copies` times `reshape`, `transpose`, a reshape
# of a transposed tensor, and an explicit copy of a 1024 x 1024 float32 tensor (4 MiB), and
# uses `tracemalloc` to see how much new memory each one allocates. Expect the views to take
# a few microseconds (the Python cost of one op) and allocate nothing, and the copies to
# allocate 4 MiB and take about as long as reading and writing 8 MiB of memory.
#
# **FLOPs per second.** `analyze_matmul_speed` times `a @ b` for n x n matrices and divides
# the `2n³` FLOPs of section 4 by the median time. A modern CPU core does tens of GFLOP/s in
# float32 on large matrices (and NumPy's BLAS uses every core it finds); small ones are far
# slower per FLOP because every call pays the same few microseconds of Python and dispatch
# overhead, and the cores' vector units and caches only run at full speed on large blocks.
#
# Timing is an experiment, not a constant: on a busy or shared machine BLAS's threads wait
# for free cores and a large matmul can suddenly take 100 times longer than it should. If a
# number looks absurd (a larger matrix at far fewer GFLOP/s than a smaller one), run it again.


# %%
def _median_seconds(fn, repeats: int = 5) -> float:
    """Median wall time of fn() over `repeats` runs (after one warm-up call)."""
    import time

    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def analyze_views_and_copies(n: int = 1024) -> list[tuple[str, float, float, bool]]:
    """(operation, microseconds, MiB allocated, shares memory) on an n x n float32 Tensor."""
    import tracemalloc

    t = Tensor(np.ones((n, n), dtype=np.float32))
    cases = [
        ("reshape(n*n)", lambda: t.reshape(n * n)),
        ("transpose()", lambda: t.transpose()),
        ("transpose().reshape(n*n)", lambda: t.transpose().reshape(n * n)),
        ("Tensor(t.data.copy())", lambda: Tensor(t.data.copy())),
    ]
    rows = []
    for name, fn in cases:
        micros = _median_seconds(fn) * 1e6
        tracemalloc.start()
        result = fn()
        allocated = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        shares = bool(np.shares_memory(result.data, t.data))
        rows.append((name, micros, allocated, shares))
        kind = "view" if shares else "copy"
        print(f"{name:26s} {micros:9.1f} us  {allocated:6.2f} MiB allocated  ({kind})")
    return rows


def analyze_matmul_speed(sizes=(16, 64, 256, 512)) -> list[tuple[int, float, float, float]]:
    """(n, GFLOP, median milliseconds, GFLOP/s) of an n x n float32 matmul on your Tensor."""
    rng = np.random.default_rng(0)
    rows = []
    for n in sizes:
        a = Tensor(rng.normal(size=(n, n)))
        b = Tensor(rng.normal(size=(n, n)))
        seconds = _median_seconds(lambda a=a, b=b: a @ b, repeats=3)
        gigaflop = 2 * n**3 / 1e9
        rows.append((n, gigaflop, seconds * 1e3, gigaflop / seconds))
        print(
            f"n={n:4d}: {gigaflop:8.5f} GFLOP in {seconds * 1e3:8.3f} ms "
            f"-> {gigaflop / seconds:7.2f} GFLOP/s"
        )
    return rows


if __name__ == "__main__":
    analyze_views_and_copies()
    analyze_matmul_speed()


# %% [markdown]
# ## Reflect
#
# Answer in a few sentences, with numbers where you can. Use your measurements above.

# %% [markdown]
# **Q1 (memory).** GPT-2 small has 124 million parameters. How much memory do they take in
# float32, and in float64? Once training has filled `.grad` for every parameter, how much do
# parameters and gradients take together? What does that say about the choice of float32 as
# the default dtype?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-memory", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# 124e6 x 4 bytes = 496 MB (about 0.46 GiB) in float32, 992 MB in float64. The gradients have
# the same shapes, so parameters plus gradients take 992 MB in float32 and about 2 GB in
# float64 (Adam in module 06 adds two more copies). float64 would double every one of these
# numbers and halve the arithmetic throughput for no gain in the trained model, which is why
# frameworks default to float32 (and large models go further, to 16-bit formats).
# ### END SOLUTION

# %% [markdown]
# **Q2 (views and copies).** In your `analyze_views_and_copies` output, which operations
# allocated memory, and why can `t.transpose().reshape(n*n)` not be a view when
# `t.reshape(n*n)` is one? Module 12 splits attention heads with a reshape then a permute,
# and merges them with a permute then a reshape: which of the two steps copies?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-views", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# reshape and transpose allocate nothing and take a few microseconds whatever n is: they
# only build new shape and stride tuples over the same memory. A reshape of the transposed
# tensor must read the elements in the order 1 4 2 5 3 6, which no single stride per
# dimension describes, so NumPy copies all n*n elements (4 MiB here) and the time grows with
# n² (about a millisecond or less for 4 MiB). When splitting heads, the reshape of the
# contiguous (B, T, D) projection is a view and the permute is a view; when merging, the
# permute is a view but the following reshape of a non-contiguous array copies the whole
# (B, T, D) activation.
# ### END SOLUTION

# %% [markdown]
# **Q3 (compute).** From `analyze_matmul_speed`, compare the GFLOP/s at n = 16 and at
# n = 512. Why is the small matmul so much less efficient per FLOP? A GPT forward pass on a
# batch of B sequences of T tokens multiplies `(B, T, D)` by `(D, 4D)`: why does `_matmul`
# turn that into one `(B*T, D) @ (D, 4D)` product instead of B products?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-compute", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# At n = 16 a matmul is only 8192 FLOPs, so the few microseconds of fixed cost per call
# (Python method calls, from_op, NumPy dispatch, allocating the result) dominate: typically
# well under 1 GFLOP/s. At n = 512 (268 MFLOP) that overhead is negligible and BLAS keeps the
# vector units busy on cache-sized blocks, giving tens of GFLOP/s: one to two orders of
# magnitude more per FLOP. The same reasoning applies to the batched product: one
# (B*T, D) @ (D, 4D) call pays the overhead once and hands BLAS a large matrix it can block
# well, while B separate calls pay it B times on smaller matrices.
# ### END SOLUTION

# %% [markdown]
# **Q4 (what breaks).** Predictions `p` of shape `(N,)` and targets `y` of shape `(N, 1)`:
# what is the shape of `p - y`, and what does `((p - y) ** 2).mean()` compute? How much memory
# does `p - y` take for N = 100,000 in float32? How would you catch this bug early?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-broadcast", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# Broadcasting aligns (N,) as (1, N) against (N, 1), so p - y has shape (N, N): every
# prediction minus every target. The mean is then over N² pairs, a number that is not the
# mean squared error, and training on it quietly optimises the wrong thing. For N = 100,000
# the difference alone takes 1e10 x 4 bytes = 40 GB, so it usually fails with a MemoryError
# instead; for small N it runs silently. Catch it by checking shapes where they meet: a loss
# should assert that predictions and targets have the same shape (module 04's losses do),
# and shape comments on every line make such mismatches visible.
# ### END SOLUTION

# %% [markdown]
# **Q5 (the graph).** Why does `np.exp(w)` raise for a weight `w` with `requires_grad=True`
# instead of returning the values, when for a tensor without grad it just works? What would a
# student see during training if it silently returned an ndarray?

# %% [markdown] nbgrader={"grade": false, "grade_id": "reflect-graph", "locked": false, "schema_version": 3, "solution": true}
# ### BEGIN SOLUTION
# np.exp computes on the raw values and returns an ndarray that has no _op and no _inputs, so
# nothing links the result back to w. A loss built from it would have no path to w:
# backward() would leave w.grad at None (or the loss would not require grad at all), the
# optimizer would skip w, and the loss would simply stop improving, with no error pointing at
# the cause. Refusing, with a message that names w.exp(), turns a silent training bug into an
# immediate one-line fix. A tensor without grad has no graph to lose, so converting it is safe.
# ### END SOLUTION

# %%
if __name__ == "__main__":
    print("All tests passed for module 01_tensor.")
