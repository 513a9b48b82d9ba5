"""Initial weights, drawn once in numpy and copied into both frameworks.

Layout: a list of (W, b) per layer with W of shape (fan_in, fan_out), as Keras stores a
kernel; the torch twin transposes W into nn.Linear's (out, in).

Law: PyTorch's nn.Linear default, which the tutorial trained with: W and b both
U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with a=sqrt(5) reduces to that bound).
Stream: numpy's PCG64 seeded with `seed`, layers in order, W before b; float64 draws cast
to float32, so the same seed gives the same weights on every machine.
"""
from __future__ import annotations

import numpy as np

Layer = tuple[np.ndarray, np.ndarray]


def layer_sizes(vocab_size: int, hidden: tuple[int, ...], n_classes: int) -> list[int]:
    return [vocab_size, *hidden, n_classes]


def initial_weights(sizes: list[int], seed: int) -> list[Layer]:
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        w = rng.uniform(-bound, bound, size=(fan_in, fan_out)).astype(np.float32)
        b = rng.uniform(-bound, bound, size=(fan_out,)).astype(np.float32)
        layers.append((w, b))
    return layers


def parameter_count(layers: list[Layer]) -> int:
    return sum(w.size + b.size for w, b in layers)


def sizes_of(layers: list[Layer]) -> list[int]:
    """[V, hidden..., n_classes] read back from a weight list (what a twin builds its model from)."""
    return [layers[0][0].shape[0]] + [w.shape[1] for w, _ in layers]
