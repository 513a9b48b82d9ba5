"""The tutorial's MLP in plain TensorFlow 2: a keras.Sequential model, Keras' Adam and
SparseCategoricalCrossentropy, and the custom training loop of TensorFlow's own guide (a
GradientTape step under tf.function) over batches of 150 in dataset order. Variants as a user
would switch them on: eager (no tf.function), XLA (jit_compile=True), sparse tf.SparseTensor input."""
import numpy as np
import keras
import tensorflow as tf

from benchmarks.plain.common import arguments, emit, load_data, load_weights, timed_epochs

VARIANTS = ("graph", "eager", "xla", "sparse")


def main():
    args = arguments("plain-tensorflow", VARIANTS)
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    cfg, data = load_data(args)
    X, y = data.x_train, data.y_train
    V, bs = X.shape[1], cfg.batch_size
    model = keras.Sequential([keras.Input(shape=(V,)), keras.layers.Dense(100, activation="relu"),
                              keras.layers.Dense(100, activation="relu"), keras.layers.Dense(data.n_classes)])
    weights = load_weights(args.weights)
    if weights:
        model.set_weights([a for layer in weights for a in layer])
    # epsilon 1e-8: the tutorial's tf.train.AdamOptimizer default (and PyTorch's); Keras' is 1e-7
    opt = keras.optimizers.Adam(learning_rate=cfg.learning_rate, epsilon=cfg.adam_eps)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    sparse = args.variant == "sparse"

    def forward(x):
        if not sparse:
            return model(x, training=True)
        first = model.layers[0]  # Keras layers take no SparseTensor: the first layer by hand
        h = tf.nn.relu(tf.sparse.sparse_dense_matmul(x, first.kernel) + first.bias)
        for layer in model.layers[1:]:
            h = layer(h, training=True)
        return h

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = loss_fn(y, forward(x))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    if args.variant != "eager":
        train_step = tf.function(train_step, jit_compile=args.variant == "xla")

    def to_tensor(rows):
        if sparse:
            coo = rows.tocoo()
            return tf.sparse.reorder(tf.SparseTensor(np.stack([coo.row, coo.col], 1).astype(np.int64),
                                                     coo.data.astype(np.float32), coo.shape))
        return tf.constant(rows.toarray().astype(np.float32))

    batches = [(to_tensor(X[i:i + bs]), tf.constant(y[i:i + bs].astype(np.int64)))
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
