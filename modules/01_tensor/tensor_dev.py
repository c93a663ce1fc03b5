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
# losses, attention, a whole GPT) is made of the operations you write here.
#
# **You will learn**
# - how a tensor's shape, size and dtype describe its memory (`size * itemsize` bytes);
# - broadcasting: how `(B, N) + (N,)` works without copying the `(N,)` row B times;
# - matrix multiplication and why it dominates the cost of neural networks;
# - views versus copies: `reshape` and `transpose` move no data.
#
# **Getting ready for gradients (module 05).** Training needs the gradient of a loss with
# respect to every parameter. We prepare for it now: every operation creates its result with
# `Tensor.from_op(data, op, inputs, saved)`, which records *what* was done (`op`, a name like
# `"mul"`), *to what* (`inputs`) and anything the gradient will need later (`saved`). When no
# input requires a gradient nothing is recorded, so plain arithmetic stays cheap. In module 05
# you write one gradient rule per op name and the engine that walks this record backwards;
# `Tensor.backward()` below already calls that engine. Nothing here changes then: module 05
# adds rules to a table, it does not rewrite this class.

# %%
#| default_exp core.tensor
#| export
import numpy as np

# %% [markdown]
# ## Precision and creation
#
# Neural networks train in 32-bit floats: half the memory of float64 and twice the
# arithmetic per second on a CPU, with plenty of precision for gradients. So a `Tensor` made
# from floating-point data stores **float32** unless you ask for another dtype (gradient
# checks use `dtype=np.float64`). Integer data (token ids, class labels) stays integer.
# The result of an operation keeps its inputs' precision: float64 in, float64 out.
#
# `GradMode.enabled` is the switch that module 05's `no_grad()` turns off during evaluation
# and generation, when no graph needs recording.


# %%
#| export
class GradMode:
    """Whether operations record the graph; `no_grad()` (module 05) switches it off."""

    enabled: bool = True


def _to_array(data, dtype=None) -> np.ndarray:
    """Convert data to an ndarray: floats become float32 unless `dtype` is given."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    array = np.asarray(data)
    if array.dtype.kind == "f" and array.dtype != np.float32:
        return array.astype(np.float32)
    if array.dtype.kind == "O":
        raise TypeError(f"Tensor data must be numbers, not {type(data).__name__} of objects.")
    return array


# %% [markdown]
# ## The Tensor class
#
# A `Tensor` holds:
#
# | attribute | meaning |
# |---|---|
# | `data` | the NumPy array with the values |
# | `requires_grad` | whether gradients should flow to this tensor |
# | `grad` | the gradient, a `Tensor` of the same shape, filled by `backward()` |
# | `_op`, `_inputs`, `_saved` | how it was computed (set only when gradients are needed) |
#
# `__slots__` keeps each tensor small and attribute access fast: a GPT training step creates
# thousands of tensors. `__array_ufunc__ = None` tells NumPy to hand `array + tensor` over to
# `Tensor.__radd__`, so mixing arrays and tensors always gives a tensor.
#
# ### Elementwise arithmetic and broadcasting
#
# `a + b` adds matching elements. When shapes differ, NumPy **broadcasts**: shapes are
# aligned from the right, and a dimension of size 1 (or a missing one) is stretched:
#
# ```
# (8, 1, 6) + (7, 1)  ->  (8, 7, 6)          bias add: (B, N) + (N,)  ->  (B, N)
# ```
#
# Broadcasting costs no memory (nothing is copied). It matters for gradients: if `b` of shape
# `(N,)` was stretched over B rows, its gradient is the *sum* over those rows; module 05
# handles that in one place. Each operator lifts a plain number or array to a Tensor
# (`_lift`), computes on `.data`, and returns `Tensor.from_op(result, op_name, inputs)`.
#
# ### Matrix multiplication
#
# `(M, K) @ (K, N) -> (M, N)`: each output element is a dot product of length K, so the
# product costs `2*M*K*N` floating-point operations. Leading dimensions broadcast like
# elementwise ops: `(B, M, K) @ (K, N) -> (B, M, N)` applies one weight matrix to a batch.
# Inner dimensions must agree; a mismatch deserves a message that shows both shapes.
#
# ### Reductions, shapes and indexing
#
# `sum`, `mean` and `max` reduce over `axis` (all axes when `None`); `keepdims=True` keeps
# the reduced axes with size 1 so the result still broadcasts against the input (you will
# use that for softmax). `reshape` and `transpose` return **views**: same memory, new
# strides, O(1) time. Indexing (`t[0]`, `t[:, 1:3]`, `t[ids]`) follows NumPy.


# %% nbgrader={"grade": false, "grade_id": "tensor-class", "locked": false, "schema_version": 3, "solution": true}
#| export
class Tensor:
    """An n-dimensional array of numbers that can record how it was computed."""

    __slots__ = ("data", "requires_grad", "grad", "_op", "_inputs", "_saved", "__weakref__")
    __array_ufunc__ = None

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        ### BEGIN SOLUTION
        self.data = _to_array(data, dtype)
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._op = None
        self._inputs = ()
        self._saved = None
        ### END SOLUTION

    # Module 15's profilers listen to every op here; while the list is empty, one `if` per op.
    profilers: list = []

    @staticmethod
    def from_op(data: np.ndarray, op: str, inputs: tuple, saved=None) -> "Tensor":
        """Wrap an op's result; remember (op, inputs, saved) if any input needs a gradient."""
        out = Tensor.__new__(Tensor)
        out.data = data
        out.grad = None
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

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        body = np.array2string(self.data, precision=4, separator=", ", threshold=20)
        return f"Tensor({body}, shape={self.shape}, dtype={self.dtype}{grad})"

    def __array__(self, dtype=None, copy=None):
        return self.data if dtype is None else self.data.astype(dtype)

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
        """A number or array as a constant Tensor in self's float dtype, so that
        `x * 2` or `x + mask_array` keeps x's precision instead of promoting it."""
        if isinstance(other, Tensor):
            return other
        if self.data.dtype.kind == "f":
            array = np.asarray(other)
            if array.dtype.kind in "fiub":
                return Tensor(array, dtype=self.data.dtype)
        return Tensor(other)

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

    # -- elementwise arithmetic ------------------------------------------------------------
    def __add__(self, other) -> "Tensor":
        other = self._lift(other)
        ### BEGIN SOLUTION
        return Tensor.from_op(self.data + other.data, "add", (self, other))
        ### END SOLUTION

    def __sub__(self, other) -> "Tensor":
        other = self._lift(other)
        ### BEGIN SOLUTION
        return Tensor.from_op(self.data - other.data, "sub", (self, other))
        ### END SOLUTION

    def __mul__(self, other) -> "Tensor":
        other = self._lift(other)
        ### BEGIN SOLUTION
        return Tensor.from_op(self.data * other.data, "mul", (self, other))
        ### END SOLUTION

    def __truediv__(self, other) -> "Tensor":
        other = self._lift(other)
        ### BEGIN SOLUTION
        return Tensor.from_op(self.data / other.data, "div", (self, other))
        ### END SOLUTION

    def __radd__(self, other) -> "Tensor":
        return self._lift(other) + self

    def __rsub__(self, other) -> "Tensor":
        return self._lift(other) - self

    def __rmul__(self, other) -> "Tensor":
        return self._lift(other) * self

    def __rtruediv__(self, other) -> "Tensor":
        return self._lift(other) / self

    def __neg__(self) -> "Tensor":
        return Tensor.from_op(-self.data, "neg", (self,))

    def __pow__(self, exponent) -> "Tensor":
        """self ** p for a number p; p is saved for the gradient p * self**(p-1)."""
        if isinstance(exponent, Tensor):
            raise TypeError("Tensor ** Tensor is not supported: use a number as the exponent.")
        ### BEGIN SOLUTION
        return Tensor.from_op(self.data**exponent, "pow", (self,), exponent)
        ### END SOLUTION

    def exp(self) -> "Tensor":
        return Tensor.from_op(np.exp(self.data), "exp", (self,))

    def log(self) -> "Tensor":
        return Tensor.from_op(np.log(self.data), "log", (self,))

    def sqrt(self) -> "Tensor":
        return Tensor.from_op(np.sqrt(self.data), "sqrt", (self,))

    # Comparisons give boolean tensors, outside the graph (they have no gradient).
    def __lt__(self, other) -> "Tensor":
        return Tensor(self.data < self._lift(other).data)

    def __le__(self, other) -> "Tensor":
        return Tensor(self.data <= self._lift(other).data)

    def __gt__(self, other) -> "Tensor":
        return Tensor(self.data > self._lift(other).data)

    def __ge__(self, other) -> "Tensor":
        return Tensor(self.data >= self._lift(other).data)

    # -- matrix multiplication -------------------------------------------------------------
    def matmul(self, other) -> "Tensor":
        """(..., M, K) @ (..., K, N) -> (..., M, N), leading dimensions broadcast."""
        other = self._lift(other)
        a, b = self.data, other.data
        ### BEGIN SOLUTION
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError("matmul needs tensors with at least one dimension; use * for scalars.")
        k_left = a.shape[-1]
        k_right = b.shape[-2] if b.ndim > 1 else b.shape[0]
        if k_left != k_right:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} do not align "
                f"(inner dimensions {k_left} != {k_right})."
            )
        if b.ndim == 2 and a.ndim > 2:
            # (B, T, K) @ (K, N) as one (B·T, K) @ (K, N) product: one large BLAS call is
            # about twice as fast as B small ones, and the result is the same.
            out = (a.reshape(-1, k_left) @ b).reshape(*a.shape[:-1], b.shape[-1])
        else:
            out = np.matmul(a, b)
        return Tensor.from_op(out, "matmul", (self, other))
        ### END SOLUTION

    def __matmul__(self, other) -> "Tensor":
        return self.matmul(other)

    def __rmatmul__(self, other) -> "Tensor":
        return self._lift(other).matmul(self)

    # -- reductions ------------------------------------------------------------------------
    def sum(self, axis=None, keepdims: bool = False) -> "Tensor":
        ### BEGIN SOLUTION
        out = np.sum(self.data, axis=axis, keepdims=keepdims)
        return Tensor.from_op(np.asarray(out), "sum", (self,), (axis, keepdims))
        ### END SOLUTION

    def mean(self, axis=None, keepdims: bool = False) -> "Tensor":
        ### BEGIN SOLUTION
        out = np.mean(self.data, axis=axis, keepdims=keepdims)
        return Tensor.from_op(np.asarray(out), "mean", (self,), (axis, keepdims))
        ### END SOLUTION

    def max(self, axis=None, keepdims: bool = False) -> "Tensor":
        ### BEGIN SOLUTION
        out = np.max(self.data, axis=axis, keepdims=keepdims)
        return Tensor.from_op(np.asarray(out), "max", (self,), (axis, keepdims))
        ### END SOLUTION

    def argmax(self, axis=None) -> "Tensor":
        return Tensor(np.argmax(self.data, axis=axis))

    # -- shape changes (views: no data is copied) ------------------------------------------
    def reshape(self, *shape) -> "Tensor":
        """reshape(2, 3) or reshape((2, 3)); one dimension may be -1."""
        if len(shape) == 1 and isinstance(shape[0], tuple | list):
            shape = tuple(shape[0])
        ### BEGIN SOLUTION
        return Tensor.from_op(self.data.reshape(shape), "reshape", (self,))
        ### END SOLUTION

    def transpose(self, dim0: int = -2, dim1: int = -1) -> "Tensor":
        """Swap two dimensions (the last two by default)."""
        if self.data.ndim < 2:
            return self
        axes = list(range(self.data.ndim))
        axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
        return self.permute(*axes)

    def permute(self, *axes) -> "Tensor":
        """Reorder all dimensions: permute(0, 2, 1, 3) turns (B, T, H, D) into (B, H, T, D)."""
        if len(axes) == 1 and isinstance(axes[0], tuple | list):
            axes = tuple(axes[0])
        ### BEGIN SOLUTION
        return Tensor.from_op(np.transpose(self.data, axes), "permute", (self,), axes)
        ### END SOLUTION

    @property
    def T(self) -> "Tensor":
        return self.transpose()

    # -- indexing --------------------------------------------------------------------------
    def __getitem__(self, index) -> "Tensor":
        """NumPy indexing: t[0], t[:, 1:3], t[ids] (an integer array picks rows)."""
        if isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        ### BEGIN SOLUTION
        return Tensor.from_op(self.data[index], "getitem", (self,), index)
        ### END SOLUTION


def as_tensor(x) -> Tensor:
    """`x` itself if it is a Tensor, else a new Tensor of it (layers accept lists and arrays)."""
    return x if isinstance(x, Tensor) else Tensor(x)


# %% [markdown]
# ## Unit tests
#
# Each test checks one idea. Run this file (`python tensor_dev.py`) or
# `tito module test 01_tensor` to run them all.


# %% nbgrader={"grade": true, "grade_id": "test-creation", "locked": true, "points": 10, "schema_version": 3}
def test_creation_and_dtype():
    t = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert t.shape == (2, 3) and t.size == 6 and t.ndim == 2
    assert t.dtype == np.float32, "floating data should become float32"
    assert t.nbytes == 6 * 4
    assert Tensor([1, 2, 3]).dtype.kind == "i", "integer data (token ids) stays integer"
    assert Tensor([1.0], dtype=np.float64).dtype == np.float64
    assert Tensor(np.zeros(3, dtype=np.float64)).dtype == np.float32
    assert Tensor(Tensor([1.0, 2.0])).shape == (2,)
    assert Tensor(3.5).shape == () and Tensor(3.5).item() == 3.5
    assert as_tensor(t) is t and as_tensor([[1, 2]]).shape == (1, 2)
    assert not t.requires_grad and t.grad is None


# %% nbgrader={"grade": true, "grade_id": "test-arithmetic", "locked": true, "points": 15, "schema_version": 3}
def test_arithmetic_and_broadcasting():
    a = Tensor([[1.0, 2.0], [3.0, 4.0]])
    b = Tensor([10.0, 20.0])
    assert np.allclose((a + b).data, [[11, 22], [13, 24]]), "(2,2) + (2,) broadcasts the row"
    assert np.allclose((a - 1).data, [[0, 1], [2, 3]])
    assert np.allclose((1 - a).data, [[0, -1], [-2, -3]])
    assert np.allclose((a * a).data, [[1, 4], [9, 16]])
    assert np.allclose((a / 2).data, [[0.5, 1], [1.5, 2]])
    assert np.allclose((2 / a).data, [[2, 1], [2 / 3, 0.5]])
    assert np.allclose((-a).data, -a.data)
    assert np.allclose((a**2).data, [[1, 4], [9, 16]])
    assert np.allclose(a.exp().log().data, a.data, atol=1e-6)
    assert np.allclose(a.sqrt().data, np.sqrt(a.data))
    column = Tensor([[1.0], [2.0]])
    assert (column * b).shape == (2, 2), "(2,1) * (2,) -> (2,2)"
    assert isinstance(np.ones(2) + a, Tensor), "array + Tensor gives a Tensor"
    assert (a * 2.0).dtype == np.float32, "a Python number keeps float32"
    d = Tensor([1.0, 2.0], dtype=np.float64)
    assert (d * 3).dtype == np.float64, "results keep their inputs' precision"
    assert (d + np.ones(2)).dtype == np.float64 and (a * np.ones(2, int)).dtype == np.float32


# %% nbgrader={"grade": true, "grade_id": "test-matmul", "locked": true, "points": 15, "schema_version": 3}
def test_matmul():
    a = Tensor(np.arange(6).reshape(2, 3).astype(np.float32))
    w = Tensor(np.arange(12).reshape(3, 4).astype(np.float32))
    assert np.allclose((a @ w).data, a.data @ w.data) and (a @ w).shape == (2, 4)
    batch = Tensor(np.ones((5, 2, 3)))
    assert (batch @ w).shape == (5, 2, 4), "(B,M,K) @ (K,N) -> (B,M,N)"
    assert (a @ Tensor(np.ones(3))).shape == (2,)
    try:
        a @ a
    except ValueError as error:
        assert "(2, 3)" in str(error), "the error should show both shapes"
    else:
        raise AssertionError("(2,3) @ (2,3) must raise ValueError")


# %% nbgrader={"grade": true, "grade_id": "test-reductions", "locked": true, "points": 15, "schema_version": 3}
def test_reductions():
    t = Tensor([[1.0, 5.0, 3.0], [4.0, 2.0, 6.0]])
    assert t.sum().item() == 21.0 and t.sum().shape == ()
    assert np.allclose(t.sum(axis=0).data, [5, 7, 9])
    assert t.sum(axis=1, keepdims=True).shape == (2, 1)
    assert np.allclose(t.mean(axis=1).data, [3, 4])
    assert np.allclose(t.max(axis=0).data, [4, 5, 6]) and t.max().item() == 6.0
    assert np.array_equal(t.argmax(axis=1).data, [1, 2])


# %% nbgrader={"grade": true, "grade_id": "test-shapes", "locked": true, "points": 15, "schema_version": 3}
def test_reshape_transpose_indexing():
    t = Tensor(np.arange(24, dtype=np.float32).reshape(2, 3, 4))
    r = t.reshape(6, 4)
    assert r.shape == (6, 4) and t.reshape((4, -1)).shape == (4, 6)
    assert np.shares_memory(r.data, t.data), "reshape should be a view, not a copy"
    tr = t.transpose(1, 2)
    assert tr.shape == (2, 4, 3) and np.shares_memory(tr.data, t.data)
    assert t.transpose().shape == (2, 4, 3), "default: swap the last two dimensions"
    assert t.permute(2, 0, 1).shape == (4, 2, 3)
    assert Tensor(np.ones((2, 5))).T.shape == (5, 2)
    assert t[0].shape == (3, 4) and t[:, 1:3].shape == (2, 2, 4)
    ids = Tensor([2, 0, 2])
    assert np.allclose(t[0][ids].data, t.data[0][[2, 0, 2]]), "integer arrays pick rows"


# %% nbgrader={"grade": true, "grade_id": "test-graph-recording", "locked": true, "points": 20, "schema_version": 3}
def test_graph_recording():
    x = Tensor([1.0, 2.0], requires_grad=True)
    c = Tensor([3.0, 4.0])
    y = x * c + 1
    assert y.requires_grad and y._op == "add", "ops on a tensor that needs grad are recorded"
    assert y._inputs[0]._op == "mul" and y._inputs[0]._inputs[0] is x
    z = c * 2
    assert not z.requires_grad and z._op is None, "nothing is recorded without requires_grad"
    GradMode.enabled = False
    try:
        assert (x * 2)._op is None, "GradMode off: no graph"
    finally:
        GradMode.enabled = True
    assert x.sum()._saved == (None, False), "reductions save (axis, keepdims)"


# %% [markdown]
# ## Systems analysis: memory and compute
#
# A tensor's memory is `size * itemsize`. A float32 matrix of 4096 x 4096 takes 64 MiB; in
# float64 it would take 128 MiB. A matmul `(M, K) @ (K, N)` reads `(MK + KN)` numbers and does
# `2MKN` flops, so for large square matrices compute grows as n³ while memory grows as n²:
# big matmuls are limited by arithmetic, small ones by moving memory and Python overhead.
#
# Every operation returns a **new** array, so a training step allocates and frees hundreds of
# temporaries of a few MB. Where that memory comes from matters: by default the C library
# (glibc's `malloc`) hands large freed blocks back to the operating system, and the next
# temporary then starts on fresh pages that the kernel must fault in and zero, 4 KB at a time.
# On this course's larger GPT that made GELU 4x slower. `import tinytorch` therefore asks
# `malloc` (through `mallopt`) to keep freed memory for reuse; see `tinytorch/__init__.py`.
# You can watch it: `resource.getrusage(resource.RUSAGE_SELF).ru_minflt` counts page faults.


# %%
def analyze_matmul_costs(sizes=(64, 256, 1024)) -> list[tuple[int, float, float]]:
    """(n, MiB touched, GFLOP) for an n x n float32 matmul."""
    rows = []
    for n in sizes:
        mebibytes = 3 * n * n * 4 / 2**20
        gigaflops = 2 * n**3 / 1e9
        rows.append((n, mebibytes, gigaflops))
        print(f"n={n:5d}: {mebibytes:8.2f} MiB, {gigaflops:8.3f} GFLOP")
    return rows


# %%
if __name__ == "__main__":
    test_creation_and_dtype()
    test_arithmetic_and_broadcasting()
    test_matmul()
    test_reductions()
    test_reshape_transpose_indexing()
    test_graph_recording()
    analyze_matmul_costs()
    print("All tests passed for module 01_tensor.")
