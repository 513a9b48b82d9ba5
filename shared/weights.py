"""Initial weights, drawn once in numpy and copied into both frameworks.

Layout: a list of (W, b) per layer with W of shape (fan_in, fan_out), as Keras stores a
kernel; the torch twin transposes W into nn.Linear's (out, in).

Law: PyTorch's nn.Linear default, which the tutorial trained with: W and b both
U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with a=sqrt(5) reduces to that bound).
Stream: numpy's PCG64 seeded with `seed`, layers in order, W before b; float64 draws cast
to float32, so the same seed gives the same weights on every machine. Every workload draws
through draw_float32, which says why in chunks.
"""
from __future__ import annotations

import numpy as np

Layer = tuple[np.ndarray, np.ndarray]

# float64 values per chunk: 64 KB, under glibc malloc's initial mmap threshold (128 KB). A whole
# float64 draw of 8-32 MB, freed after its cast, raises the process's mmap and trim thresholds for
# good (glibc's dynamic threshold), and the twin's process then allocates its tensors otherwise
# than a plain script's: the transformer's 10.2 MB token table draw left the PyTorch twin with
# about 4x the minor page faults of its plain script a warm epoch (619k against 145k, AMD EPYC)
# and 1.07x its time (`fwbench plain`). Chunks of one stream are the same values as one draw.
DRAW_CHUNK = 8192


def draw_float32(rng: np.random.Generator, law: str, shape, *params) -> np.ndarray:
    """rng.<law>(*params, size=shape).astype(float32), value for value, drawn chunk by chunk into
    the float32 array so that no float64 array of the whole is allocated and freed."""
    out = np.empty(shape, np.float32)
    flat = out.reshape(-1)
    draw = getattr(rng, law)
    for i in range(0, flat.size, DRAW_CHUNK):
        flat[i:i + DRAW_CHUNK] = draw(*params, size=min(DRAW_CHUNK, flat.size - i))
    return out


def layer_sizes(vocab_size: int, hidden: tuple[int, ...], n_classes: int) -> list[int]:
    return [vocab_size, *hidden, n_classes]


def initial_weights(sizes: list[int], seed: int) -> list[Layer]:
    rng = np.random.default_rng(seed)
    layers = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        w = draw_float32(rng, "uniform", (fan_in, fan_out), -bound, bound)
        b = draw_float32(rng, "uniform", (fan_out,), -bound, bound)
        layers.append((w, b))
    return layers


def parameter_count(layers: list[Layer]) -> int:
    return sum(w.size + b.size for w, b in layers)


def sizes_of(layers: list[Layer]) -> list[int]:
    """[V, hidden..., n_classes] read back from a weight list (what a twin builds its model from)."""
    return [layers[0][0].shape[0]] + [w.shape[1] for w, _ in layers]
