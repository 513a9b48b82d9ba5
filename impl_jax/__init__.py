"""JAX twin: the MLP as pure functions over a list of (W, b), the train step under jax.jit (or
op by op), optax's or the written-out Adam. Importable without jax (variants.py is read first)."""
