"""The older module page's names and example: tinytorch.core.transformers and .embeddings."""

from __future__ import annotations

import numpy as np
import pytest

from tinytorch.core.tensor import Tensor
from tinytorch.models import transformer as models
from tinytorch.text import embeddings as text_embeddings


def test_the_older_import_paths_give_the_same_classes():
    from tinytorch.core.embeddings import Embedding, PositionalEncoding
    from tinytorch.core.transformers import LayerNorm, Transformer, TransformerBlock

    assert (LayerNorm, TransformerBlock, Transformer) == (
        models.LayerNorm,
        models.TransformerBlock,
        models.Transformer,
    )
    assert (Embedding, PositionalEncoding) == (
        text_embeddings.Embedding,
        text_embeddings.PositionalEncoding,
    )
    import tinytorch.core.embeddings as older_embeddings
    import tinytorch.core.transformers as older

    assert {"LayerNorm", "TransformerBlock", "Transformer", "GPT"} <= set(dir(older))
    assert {"Embedding", "PositionalEncoding"} <= set(dir(older_embeddings))
    with pytest.raises(AttributeError, match="Nothing"):
        older.Nothing  # noqa: B018


def test_the_older_example_runs():
    """The older page's usage example, as written there."""
    from tinytorch.core.embeddings import Embedding, PositionalEncoding
    from tinytorch.core.transformers import LayerNorm, Transformer, TransformerBlock

    np.random.seed(0)
    transformer = Transformer(
        vocab_size=1000,
        embed_dim=64,
        num_heads=4,
        num_layers=2,
        hidden_dim=128,
        max_seq_length=128,
    )
    input_ids = np.random.randint(0, 1000, size=(2, 10))
    logits = transformer(input_ids)
    assert isinstance(logits, Tensor) and logits.shape == (2, 10, 1000)
    generated = transformer.generate(input_ids, max_new_tokens=50)
    assert isinstance(generated, Tensor) and generated.shape == (2, 60)
    assert np.array_equal(generated.data[:, :10], input_ids)

    assert isinstance(transformer, models.GPT)
    assert (transformer.num_heads, transformer.num_layers, transformer.max_seq_len) == (4, 2, 128)
    block = transformer.blocks[0]
    assert isinstance(block, TransformerBlock) and block.mlp.hidden_dim == 128
    assert isinstance(block.ln1, LayerNorm) and block.ln1.normalized_shape == 64
    assert isinstance(transformer.token_embedding, Embedding)
    assert isinstance(transformer.position_embedding, PositionalEncoding)


@pytest.mark.parametrize(("hidden_dim", "width"), [(None, 64), (48, 48), (100, 100), (7, 7)])
def test_hidden_dim_is_the_mlp_width(hidden_dim, width):
    model = models.Transformer(30, 16, 2, 1, hidden_dim=hidden_dim, max_seq_length=8)
    assert model.blocks[0].mlp.hidden_dim == width
    assert model.blocks[0].mlp.linear1.weight.shape == (16, width)


def test_positional_order_is_heads_before_layers():
    model = models.Transformer(30, 16, 4, 2, 32, 8)
    assert (model.num_heads, model.num_layers, len(model.blocks)) == (4, 2, 2)
    assert model.blocks[0].attention.num_heads == 4
