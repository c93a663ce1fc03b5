"""benchmarks/products.py times the products of a training step: they must be that step's."""

import numpy as np
import pytest

from benchmarks.gpt import CONFIGS, training_flops
from benchmarks.products import _product, product_shapes


def _flops(kind: str, shape_a: tuple, shape_b: tuple) -> int:
    """2·m·k·n (times the batch) of one product, from its operands' shapes."""
    a = np.zeros(shape_a, dtype=np.float32)
    b = np.zeros(shape_b, dtype=np.float32)
    inner = shape_b[-1] if kind == "nt" else shape_b[-2]
    out = _product(kind, a, b)()
    return 2 * out.size * inner


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_the_products_are_those_of_a_training_step(name):
    """Their FLOPs add up to the step's matmul FLOPs (3x forward), workload by workload."""
    config = CONFIGS[name]
    total = sum(count * _flops(*shape) for *shape, count in product_shapes(config))
    assert total == training_flops(config), (total, training_flops(config))
