"""The text CNN (shared/workloads/textcnn) as pure functions over the shared weight list; its
variants (impl_jax/variants.py) that apply to token ids: the whole train step under jax.jit
(default) or op by op (the sparse-input variant is refused by FrameworkTwin). The convolutions
are lax.conv_general_dilated on the embedded batch as it comes, (B, L, E) = "NWC", with the
shared (w, E, F) kernel as it is, "WIO": no transposition anywhere."""
from __future__ import annotations

from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from impl_jax.twin_base import BaseTwin

DIMENSIONS = ("NWC", "WIO", "NWC")  # batch-time-channel input and output, (width, in, out) kernel


def forward(params, ids):
    """ids (B, L) int32 -> logits (B, C): embedding gather, per width relu(conv + bias) and its
    maximum over time, concatenated, the linear head."""
    embedding, *convs, head_w, head_b = params
    x = jnp.take(embedding, ids, axis=0)  # (B, L, E); its gradient is a scatter-add into the table
    pooled = []
    for k, b in zip(convs[0::2], convs[1::2]):
        z = jax.lax.conv_general_dilated(x, k, window_strides=(1,), padding="VALID", dimension_numbers=DIMENSIONS)
        pooled.append(jnp.max(jax.nn.relu(z + b), axis=1))  # max over time; ties share the gradient
    return jnp.concatenate(pooled, axis=1) @ head_w + head_b


class Twin(BaseTwin):
    """The text CNN's own part; the rest (steps, breakdown) is impl_jax/twin_base.py's."""

    _logits_of = staticmethod(forward)  # the module's function itself: no extra call in the step

    def _build(self, weights: Sequence[np.ndarray]) -> list:
        return [self._device_copy(w) for w in weights]

    def get_weights(self) -> list[np.ndarray]:
        return [np.array(w, np.float32) for w in self.params]  # copies
