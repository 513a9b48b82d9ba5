"""The Transformer encoder classifier in plain TensorFlow 2, as a user writes it: a keras.Model
subclass of keras.layers.Embedding, Dense and LayerNormalization layers, attention written with
matmul and softmax (the twins' formula), Keras' Adam and SparseCategoricalCrossentropy, and the
custom training loop of TensorFlow's guide (a GradientTape step under tf.function) over batches
in dataset order. Variants as a user would switch them on: eager (no tf.function), XLA."""
import math

import keras
import numpy as np
import tensorflow as tf

from benchmarks.plain.common import emit, load_arrays, timed_epochs
from benchmarks.plain.workloads.common import arguments, load_data

VARIANTS = ("graph", "eager", "xla")


class Block(keras.layers.Layer):
    def __init__(self, d, heads, d_ff, eps):
        super().__init__()
        self.heads = heads
        self.ln1 = keras.layers.LayerNormalization(epsilon=eps)
        self.q, self.k, self.v, self.out = (keras.layers.Dense(d) for _ in range(4))
        self.ln2 = keras.layers.LayerNormalization(epsilon=eps)
        self.ff1, self.ff2 = keras.layers.Dense(d_ff, activation="relu"), keras.layers.Dense(d)

    def call(self, x, mask_add):
        B, L, d = tf.shape(x)[0], x.shape[1], x.shape[2]
        dh = d // self.heads

        def split(t):
            return tf.transpose(tf.reshape(t, [B, L, self.heads, dh]), [0, 2, 1, 3])

        h = self.ln1(x)
        q, k, v = split(self.q(h)), split(self.k(h)), split(self.v(h))
        scores = tf.matmul(q, k, transpose_b=True) * (1.0 / math.sqrt(dh)) + mask_add[:, None, None, :]
        context = tf.reshape(tf.transpose(tf.nn.softmax(scores, axis=-1) @ v, [0, 2, 1, 3]), [B, L, d])
        x = x + self.out(context)
        return x + self.ff2(self.ff1(self.ln2(x)))


class Classifier(keras.Model):
    def __init__(self, n_ids, n_classes, s):
        super().__init__()
        self.embedding = keras.layers.Embedding(n_ids, s.d_model)
        self.position = keras.layers.Embedding(s.seq_len, s.d_model)
        self.blocks = [Block(s.d_model, s.heads, s.d_ff, s.ln_eps) for _ in range(s.layers)]
        self.ln = keras.layers.LayerNormalization(epsilon=s.ln_eps)
        self.head = keras.layers.Dense(n_classes)

    def call(self, ids):
        keep = tf.cast(ids != 0, tf.float32)
        mask_add = (1.0 - keep) * -1e9  # padding keys get no attention
        x = self.embedding(ids) + self.position(tf.range(ids.shape[1]))
        for block in self.blocks:
            x = block(x, mask_add)
        x = self.ln(x)
        pooled = tf.reduce_sum(x * keep[:, :, None], 1) / tf.maximum(tf.reduce_sum(keep, 1, keepdims=True), 1.0)
        return self.head(pooled)

    def load(self, arrays):
        """The suite's weights in its order (kernels (in, out), as Keras holds them)."""
        def dense(layer):
            return [layer.kernel, layer.bias]

        def norm(layer):
            return [layer.gamma, layer.beta]

        variables = [self.embedding.embeddings, self.position.embeddings]
        for b in self.blocks:
            variables += norm(b.ln1) + dense(b.q) + dense(b.k) + dense(b.v) + dense(b.out)
            variables += norm(b.ln2) + dense(b.ff1) + dense(b.ff2)
        variables += norm(self.ln) + dense(self.head)
        for v, a in zip(variables, arrays, strict=True):
            v.assign(a)


def main():
    args = arguments("plain-tensorflow-transformer", VARIANTS, "the Transformer encoder classifier")
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    cfg, data = load_data(args, "transformer")
    X, y, bs = data.x_train, data.y_train, cfg.batch_size
    model = Classifier(data.vocab_size, data.n_classes, cfg.settings)
    model(X[:1])  # builds the layers' weights
    weights = load_arrays(args.weights)
    if weights:
        model.load(weights)
    opt = keras.optimizers.Adam(learning_rate=cfg.learning_rate, beta_1=cfg.beta1, beta_2=cfg.beta2,
                                epsilon=cfg.adam_eps)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    if args.variant != "eager":
        train_step = tf.function(train_step, jit_compile=args.variant == "xla")
    batches = [(tf.constant(X[i:i + bs].astype(np.int32)), tf.constant(y[i:i + bs].astype(np.int64)))
               for i in range(0, X.shape[0] - bs + 1, bs)]

    def run_epoch():
        return tf.stack([train_step(xb, yb) for xb, yb in batches]).numpy()

    times, losses = timed_epochs(run_epoch, args.epochs)
    probe = tf.function(lambda: tf.math.count_nonzero(tf.fill([1 << 22], tf.constant(1e-39)) * 0.5))
    emit(args, "tensorflow", times, losses,
         {"intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
          "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
          "flush_denormal": int(probe()) == 0, "version": tf.__version__})


if __name__ == "__main__":
    main()
