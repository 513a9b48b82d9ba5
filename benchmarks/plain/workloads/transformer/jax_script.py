"""The Transformer encoder classifier in plain JAX, in the idiom of JAX's own tutorials: the
parameters a pytree of jax.numpy arrays (nested dicts) and the network plain functions of them (no
flax: it is not among the suite's dependencies), a LayerNorm written with mean and var, attention
written with matmul and softmax (the twins' formula), optax.adam and optax's softmax
cross-entropy, and optax's quickstart train step (jax.value_and_grad, optimizer.update,
optax.apply_updates) under jax.jit with parameters and optimizer state donated, in a for-loop over batches in dataset order. Variants as a user
would switch them on: eager (the same step without jax.jit)."""
import math
import os

import jax
import jax.numpy as jnp
import optax

from benchmarks.plain.common import load_arrays
from benchmarks.plain.jax_loop import train_and_emit
from benchmarks.plain.workloads.common import arguments, load_data
from impl_jax import runtime

VARIANTS = ("jit", "eager")


def from_arrays(arrays, layers):
    """The parameters from a list of arrays in the suite's order (kernels (in, out), as h @ kernel wants them)."""
    it = iter(jnp.asarray(a) for a in arrays)

    def dense():
        return {"kernel": next(it), "bias": next(it)}

    def norm():
        return {"gamma": next(it), "beta": next(it)}

    params = {"embedding": next(it), "position": next(it),  # a dict display evaluates in order
              "layers": [{"ln1": norm(), "q": dense(), "k": dense(), "v": dense(), "out": dense(), "ln2": norm(),
                          "ff1": dense(), "ff2": dense()} for _ in range(layers)],
              "ln": norm(), "head": dense()}
    if next(it, None) is not None:
        raise ValueError("more weight arrays than the network has parameters")
    return params


def init_params(key, n_ids, n_classes, s):
    """Own initialisation, flax's defaults: nn.Embed's N(0, 1/d_model), lecun_normal kernels, zero
    biases, LayerNorm's ones and zeros; in the suite's order, so from_arrays builds the pytree."""
    d, keys = s.d_model, iter(jax.random.split(key, 3 + 6 * s.layers))
    lecun = jax.nn.initializers.lecun_normal()

    def dense(n_in, n_out):
        return [lecun(next(keys), (n_in, n_out)), jnp.zeros(n_out)]

    norm = [jnp.ones(d), jnp.zeros(d)]
    arrays = [jax.random.normal(next(keys), (n_ids, d)) / math.sqrt(d),
              jax.random.normal(next(keys), (s.seq_len, d)) / math.sqrt(d)]
    for _ in range(s.layers):
        arrays += norm + dense(d, d) + dense(d, d) + dense(d, d) + dense(d, d) + norm + dense(d, s.d_ff)
        arrays += dense(s.d_ff, d)
    return from_arrays(arrays + norm + dense(d, n_classes), s.layers)


def layer_norm(x, p, eps):
    mean = x.mean(-1, keepdims=True)
    return (x - mean) / jnp.sqrt(x.var(-1, keepdims=True) + eps) * p["gamma"] + p["beta"]


def dense(x, p):
    return x @ p["kernel"] + p["bias"]


def block(x, p, mask_add, heads, eps):
    B, L, d = x.shape
    dh = d // heads

    def split(t):  # (B, L, d) -> (B, heads, L, dh)
        return t.reshape(B, L, heads, dh).transpose(0, 2, 1, 3)

    h = layer_norm(x, p["ln1"], eps)
    q, k, v = split(dense(h, p["q"])), split(dense(h, p["k"])), split(dense(h, p["v"]))
    scores = q @ k.transpose(0, 1, 3, 2) * (1.0 / math.sqrt(dh)) + mask_add[:, None, None, :]
    x = x + dense((jax.nn.softmax(scores, axis=-1) @ v).transpose(0, 2, 1, 3).reshape(B, L, d), p["out"])
    return x + dense(jax.nn.relu(dense(layer_norm(x, p["ln2"], eps), p["ff1"])), p["ff2"])


def forward(params, ids, heads, eps):
    keep = (ids != 0).astype(jnp.float32)
    mask_add = (1.0 - keep) * -1e9  # padding keys get no attention
    x = params["embedding"][ids] + params["position"][:ids.shape[1]]
    for p in params["layers"]:
        x = block(x, p, mask_add, heads, eps)
    x = layer_norm(x, params["ln"], eps)
    pooled = (x * keep[:, :, None]).sum(1) / jnp.maximum(keep.sum(1, keepdims=True), 1.0)
    return dense(pooled, params["head"])


def main():
    args = arguments("plain-jax-transformer", VARIANTS, "the Transformer encoder classifier")
    # JAX has no thread API: XLA:CPU sizes its intra-op pool from PJRT_NPROC when the CPU client
    # starts (at the first array), so it is set before any; impl_jax/runtime.py says how it was checked
    os.environ[runtime.THREAD_ENV] = str(args.threads)
    cfg, data = load_data(args, "transformer")
    X, y, bs, s = data.x_train, data.y_train, cfg.batch_size, cfg.settings
    weights = load_arrays(args.weights)
    params = (from_arrays(weights, s.layers) if weights else
              init_params(jax.random.key(cfg.seed), data.vocab_size, data.n_classes, s))
    optimizer = optax.adam(cfg.learning_rate, b1=cfg.beta1, b2=cfg.beta2, eps=cfg.adam_eps)
    opt_state = optimizer.init(params)

    def loss_fn(params, x, y):
        logits = forward(params, x, s.heads, s.ln_eps)
        return optax.losses.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    def train_step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    if args.variant != "eager":
        # Parameters and optimizer state donated, as JAX's guide to buffer donation advises for a
        # training step: XLA updates them in place. The twins donate too; without it the JAX
        # Transformer twin ran 0.94 (0.89-1.00) of this script (16 pairs, AMD EPYC, 2026-12-07).
        train_step = jax.jit(train_step, donate_argnums=(0, 1))
    # int32 ids and labels: JAX without x64 has no int64
    batches = [(jnp.asarray(X[i:i + bs], dtype=jnp.int32), jnp.asarray(y[i:i + bs], dtype=jnp.int32))
               for i in range(0, X.shape[0] - bs + 1, bs)]

    train_and_emit(args, train_step, params, opt_state, batches)


if __name__ == "__main__":
    main()
