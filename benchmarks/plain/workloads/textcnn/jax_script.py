"""Kim (2014)'s text CNN in plain JAX, in the idiom of JAX's own tutorials: the parameters a pytree
of jax.numpy arrays (a dict) and the network a plain function of them (no flax: it is not among the
suite's dependencies; its nn.Embed and nn.Conv are the same gather and lax.conv_general_dilated):
the embedding gathered by indexing, one jax.lax.conv_general_dilated per width on the (batch, time,
channels) batch with the (width, in, out) kernel, ReLU and the maximum over time, concatenated, a
linear head; optax.adam and optax's softmax cross-entropy, and optax's quickstart train step
(jax.value_and_grad, optimizer.update, optax.apply_updates) under jax.jit with parameters and optimizer state donated, in a for-loop over the
batches in dataset order. Variants as a user would switch them on: eager (the same step without
jax.jit)."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax

from benchmarks.plain.jax_loop import train_and_emit
from benchmarks.plain.workloads.common import arguments, load_arrays, load_data
from impl_jax import runtime

VARIANTS = ("jit", "eager")


def init_params(key, n_ids, embed_dim, widths, filters, n_classes):
    """Own initialisation, flax's defaults: nn.Embed's N(0, 1/embed_dim), lecun_normal kernels, zero biases."""
    keys = jax.random.split(key, len(widths) + 2)
    lecun = jax.nn.initializers.lecun_normal()
    return {"embedding": jax.random.normal(keys[0], (n_ids, embed_dim)) / np.sqrt(embed_dim),
            "convs": [{"kernel": lecun(k, (w, embed_dim, filters)), "bias": jnp.zeros(filters)}
                      for k, w in zip(keys[1:], widths)],
            "head": {"kernel": lecun(keys[-1], (len(widths) * filters, n_classes)), "bias": jnp.zeros(n_classes)}}


def forward(params, ids):
    x = params["embedding"][ids]  # (batch, time, embed_dim)
    pooled = []
    for conv in params["convs"]:
        z = jax.lax.conv_general_dilated(x, conv["kernel"], window_strides=(1,), padding="VALID",
                                         dimension_numbers=("NWC", "WIO", "NWC"))
        pooled.append(jax.nn.relu(z + conv["bias"]).max(axis=1))
    return jnp.concatenate(pooled, axis=1) @ params["head"]["kernel"] + params["head"]["bias"]


def loss_fn(params, x, y):
    return optax.losses.softmax_cross_entropy_with_integer_labels(forward(params, x), y).mean()


def main():
    args = arguments("plain-jax-textcnn", VARIANTS, "Kim (2014)'s text CNN")
    # JAX has no thread API: XLA:CPU sizes its intra-op pool from PJRT_NPROC when the CPU client
    # starts (at the first array), so it is set before any; impl_jax/runtime.py says how it was checked
    os.environ[runtime.THREAD_ENV] = str(args.threads)
    cfg, data = load_data(args, "textcnn")
    s, bs = cfg.settings, cfg.batch_size
    weights = load_arrays(args.weights)
    if weights:  # the shared layout: kernels (w, E, F) and (in, out), as the network above takes them
        embedding, *convs, head_w, head_b = map(jnp.asarray, weights)
        params = {"embedding": embedding,
                  "convs": [{"kernel": k, "bias": b} for k, b in zip(convs[0::2], convs[1::2])],
                  "head": {"kernel": head_w, "bias": head_b}}
    else:
        params = init_params(jax.random.key(cfg.seed), data.vocab_size, s.embed_dim, s.widths, s.filters,
                             data.n_classes)
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
    X, y = data.x_train, data.y_train
    # int32 ids and labels: JAX without x64 has no int64
    batches = [(jnp.asarray(X[i:i + bs], dtype=jnp.int32), jnp.asarray(y[i:i + bs], dtype=jnp.int32))
               for i in range(0, X.shape[0] - bs + 1, bs)]

    train_and_emit(args, train_step, params, opt_state, batches)


if __name__ == "__main__":
    main()
