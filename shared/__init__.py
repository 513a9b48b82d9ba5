"""Framework-neutral half of fwbench: numpy, scipy and scikit-learn only, never torch or tensorflow."""
