"""Kim (2014)'s text CNN in plain TensorFlow 2: a Keras functional model (Embedding, one Conv1D
with ReLU and GlobalMaxPooling1D per width, Concatenate, Dense), Keras' Adam and
SparseCategoricalCrossentropy, and the custom training loop of TensorFlow's own guide (a
GradientTape step under tf.function) over the batches in dataset order. Variants as a user would
switch them on: eager (no tf.function), XLA (jit_compile=True)."""
import numpy as np
import keras
import tensorflow as tf

from benchmarks.plain.common import emit, timed_epochs
from benchmarks.plain.workloads.common import arguments, load_arrays, load_data

VARIANTS = ("graph", "eager", "xla")


def text_cnn(seq_len, n_ids, embed_dim, widths, filters, n_classes):
    ids = keras.Input(shape=(seq_len,), dtype="int32")
    x = keras.layers.Embedding(n_ids, embed_dim)(ids)
    pooled = [keras.layers.GlobalMaxPooling1D()(keras.layers.Conv1D(filters, w, activation="relu")(x)) for w in widths]
    return keras.Model(ids, keras.layers.Dense(n_classes)(keras.layers.Concatenate()(pooled)))


def main():
    args = arguments("plain-tensorflow-textcnn", VARIANTS, "Kim (2014)'s text CNN")
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    cfg, data = load_data(args, "textcnn")
    s, bs = cfg.settings, cfg.batch_size
    model = text_cnn(s.seq_len, data.vocab_size, s.embed_dim, s.widths, s.filters, data.n_classes)
    weights = load_arrays(args.weights)
    if weights:
        # Keras' order: embedding, then each Conv1D's kernel and bias (created in width order), then
        # the Dense layer's, and its layouts (w, E, F) and (in, out): the shared file as it is
        model.set_weights(weights)
    # epsilon 1e-8, PyTorch's (Keras' default is 1e-7), as the twins use
    opt = keras.optimizers.Adam(learning_rate=cfg.learning_rate, epsilon=cfg.adam_eps)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    if args.variant != "eager":
        train_step = tf.function(train_step, jit_compile=args.variant == "xla")

    X, y = data.x_train, data.y_train
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
