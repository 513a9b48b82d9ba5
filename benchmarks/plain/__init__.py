"""Plain training scripts, one per framework, written as a user would write them from the
tutorial, and the check that times each twin against its plain script (`fwbench plain`).

The scripts use no project code beyond loading the prepared data (shared/dataset.py) and,
for a like-for-like comparison, the initial weights from an .npz the check writes. They are
the fairness reference: a twin that trains slower than its plain script measures the harness,
not the framework (README, "Fairness").
"""
