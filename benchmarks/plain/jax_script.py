"""The tutorial's MLP in plain JAX, in the idiom of JAX's own tutorials and optax's quickstart:
the parameters a pytree of jax.numpy arrays (a list of {"w", "b"} dicts) and the network a plain
function of them (no flax: it is not among the suite's dependencies, and its nn.Dense computes the
same x @ w + b), optax.adam and optax's softmax cross-entropy, and the quickstart's train step
(jax.value_and_grad, optimizer.update, optax.apply_updates) under jax.jit with parameters and optimizer state donated, in a for-loop over
batches of 150 in dataset order. Variants as a user would switch them on: eager (the same step
without jax.jit), sparse input (batches as jax.experimental.sparse BCOO, from_scipy_sparse, under
jit: each batch's number of stored values is part of its shape, so the first epoch traces once per
batch; the warm epochs reuse those traces)."""
import os

import jax
import jax.numpy as jnp
import optax
from jax.experimental import sparse as jsparse

from benchmarks.plain.common import arguments, load_data, load_weights
from benchmarks.plain.jax_loop import train_and_emit
from impl_jax import runtime

VARIANTS = ("jit", "eager", "sparse")


def init_params(key, sizes):
    """Own initialisation, flax's nn.Dense defaults: lecun_normal kernels (in, out), zero biases."""
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        key, sub = jax.random.split(key)
        params.append({"w": jax.nn.initializers.lecun_normal()(sub, (n_in, n_out)), "b": jnp.zeros(n_out)})
    return params


def forward(params, x):
    for layer in params[:-1]:
        x = jax.nn.relu(x @ layer["w"] + layer["b"])  # x a dense array or a BCOO batch alike
    return x @ params[-1]["w"] + params[-1]["b"]


def loss_fn(params, x, y):
    return optax.losses.softmax_cross_entropy_with_integer_labels(forward(params, x), y).mean()


def main():
    args = arguments("plain-jax", VARIANTS)
    # JAX has no thread API: XLA:CPU sizes its intra-op pool from PJRT_NPROC when the CPU client
    # starts (at the first array), so it is set before any; impl_jax/runtime.py says how it was checked
    os.environ[runtime.THREAD_ENV] = str(args.threads)
    cfg, data = load_data(args)
    X, y = data.x_train, data.y_train
    bs = cfg.batch_size
    weights = load_weights(args.weights)
    if weights:  # the shared layout: kernels (in, out), as x @ w wants them
        params = [{"w": jnp.asarray(w), "b": jnp.asarray(b)} for w, b in weights]
    else:
        params = init_params(jax.random.key(cfg.seed), (X.shape[1], *cfg.settings.hidden, data.n_classes))
    optimizer = optax.adam(cfg.learning_rate, b1=cfg.beta1, b2=cfg.beta2, eps=cfg.adam_eps)
    opt_state = optimizer.init(params)

    def train_step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    if args.variant != "eager":
        # Parameters and optimizer state donated, as JAX's guide to buffer donation advises for a
        # training step: XLA updates them in place. The twins donate too; without it the JAX
        # Transformer twin ran 0.94 (0.89-1.00) of this script (16 pairs, AMD EPYC, 2026-12-07).
        train_step = jax.jit(train_step, donate_argnums=(0, 1))

    def to_array(rows):
        if args.variant == "sparse":
            return jsparse.BCOO.from_scipy_sparse(rows)
        return jnp.asarray(rows.toarray(), dtype=jnp.float32)

    # int32 labels: JAX without x64 has no int64
    batches = [(to_array(X[i:i + bs]), jnp.asarray(y[i:i + bs], dtype=jnp.int32))
               for i in range(0, X.shape[0] - bs + 1, bs)]

    train_and_emit(args, train_step, params, opt_state, batches)


if __name__ == "__main__":
    main()
