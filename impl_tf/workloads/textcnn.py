"""The text CNN (shared/workloads/textcnn) as a Keras functional model, trained through
tf.function steps with fixed input signatures; its variants (impl_tf/variants.py) that apply to
token ids: eager and XLA (the sparse-input variant is refused by FrameworkTwin). Conv1D takes
the embedded batch as it comes, (B, L, E), and holds its kernel (w, E, F): the shared layout as is.

The embedding's gradient is a tf.IndexedSlices (the gather's rows). Keras' Adam (native) takes it
and turns it dense in its update (every row's moments decay, as in torch.optim.Adam); the strict
and SGD optimizers get it as a dense tensor (tf.convert_to_tensor), the formula the other twins
apply."""
from __future__ import annotations

from typing import Sequence

import keras
import numpy as np
import tensorflow as tf

from impl_tf.twin_base import BaseTwin


def build_textcnn(seq_len: int, n_ids: int, embed_dim: int, widths: Sequence[int], filters: int,
                  n_classes: int) -> keras.Model:
    ids = keras.Input(shape=(seq_len,), dtype="int32")
    x = keras.layers.Embedding(n_ids, embed_dim)(ids)  # no masking: the padding id is an ordinary row
    # relu(conv + bias), then the maximum over time (GlobalMaxPooling1D is reduce_max over axis 1)
    pooled = [keras.layers.GlobalMaxPooling1D()(keras.layers.Conv1D(filters, w, activation="relu")(x))
              for w in widths]
    h = keras.layers.Concatenate()(pooled) if len(pooled) > 1 else pooled[0]
    return keras.Model(ids, keras.layers.Dense(n_classes)(h))


class Twin(BaseTwin):
    """The text CNN's own part; the rest (steps, breakdown) is impl_tf/twin_base.py's."""

    def _build(self, weights: Sequence[np.ndarray]) -> list:
        s = self.cfg.settings
        embedding, *convs, head_w, head_b = weights
        self.model = build_textcnn(s.seq_len, embedding.shape[0], s.embed_dim, s.widths, s.filters,
                                   head_w.shape[1])
        self.embedding = next(l for l in self.model.layers if isinstance(l, keras.layers.Embedding))
        self.convs = [l for l in self.model.layers if isinstance(l, keras.layers.Conv1D)]
        self.head = next(l for l in self.model.layers if isinstance(l, keras.layers.Dense))
        self.embedding.embeddings.assign(embedding)
        for conv, k, b in zip(self.convs, convs[0::2], convs[1::2]):
            conv.kernel.assign(k)  # (w, E, F): the shared layout
            conv.bias.assign(b)
        self.head.kernel.assign(head_w)  # (in, out): the shared layout
        self.head.bias.assign(head_b)
        return ([self.embedding.embeddings] + [v for c in self.convs for v in (c.kernel, c.bias)]
                + [self.head.kernel, self.head.bias])  # the shared order

    def _densify_gradients(self) -> bool:
        # StrictAdam's and SGD's formula on a dense gradient (see the module)
        return self.cfg.optimizer != "native"

    def _breakdown_gradients(self):
        """The gradients are handed from forward+gradients to the update dense, whatever the
        optimizer (the embedding's IndexedSlices would need a composite signature); the whole
        step, timed alongside, keeps the variant's own form."""
        def loss_and_dense_grads(x, y):
            loss, grads = self._loss_and_grads(x, y)
            return loss, [tf.convert_to_tensor(g) for g in grads]

        _, dense_signature = super()._breakdown_gradients()
        return loss_and_dense_grads, dense_signature

    def get_weights(self) -> list[np.ndarray]:
        return [v.numpy().copy() for v in self.variables]
