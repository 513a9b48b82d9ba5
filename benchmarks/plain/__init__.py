"""Plain training scripts, one per framework, written as a user would write them from the
tutorial, and the check that times each twin against its plain script (`fwbench plain`).

The scripts use no project code beyond loading the prepared data (shared/dataset.py) and,
for a like-for-like comparison, the initial weights from an .npz the check writes; the JAX
scripts also read their thread budget and denormal state back as the JAX twin does (XLA's pool
threads counted in /proc, impl_jax/runtime.py's probe), after timing, JAX having no getter for
either (the other frameworks' scripts ask their API). They are
the fairness reference: a twin that trains slower than its plain script measures the harness,
not the framework (README, "Fairness").
"""
