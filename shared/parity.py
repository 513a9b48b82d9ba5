"""Parity of two twins: train them from the same start and collect what `fwbench check` judges.

For each seed both frameworks get the same numpy initial weights and the same batches in
the same order, and are trained one after the other with shared/training.fit. The numbers
compared and the rules judged live in shared/metrics.py; this module runs and reports.
Nothing here is timed, so both runtimes are configured in one process.
"""
from __future__ import annotations

import time

import numpy as np

from shared import metrics
from shared.config import ExperimentConfig


def train(framework: str, cfg: ExperimentConfig, data, variant: str | None = None):
    """One framework's full run from cfg.seed's initial weights: (FitResult, final weights, variant)."""
    from shared import registry, training
    twin = training.build(registry.twin_class(framework), cfg, data, variant)
    result = training.fit(twin, cfg, data)
    return result, twin.get_weights(), twin.variant


def compare_seed(cfg: ExperimentConfig, data, frameworks: tuple[str, str],
                 variants: dict[str, str | None] | None = None, log=None) -> dict:
    """Both frameworks from cfg.seed's start; every figure of the comparison, JSON-ready."""
    variants = variants or {}
    runs, weights = {}, {}
    for fw in frameworks:
        t0 = time.perf_counter()
        result, weights[fw], variant = train(fw, cfg, data, variants.get(fw))
        runs[fw] = {"variant": variant, "accuracy": result.test_accuracy,
                    "epoch_mean_loss": result.mean_epoch_loss,
                    "first_epoch_losses": result.epoch_losses[0].tolist(),
                    "predictions": result.test_predictions, "seconds": time.perf_counter() - t0}
        if log:
            log(f"seed {cfg.seed}: {fw} ({variant}) accuracy {result.test_accuracy:.4f} "
                f"in {runs[fw]['seconds']:.1f} s")
    a, b = frameworks
    ra, rb = runs[a], runs[b]
    out = {
        "seed": cfg.seed,
        "frameworks": {fw: {k: v for k, v in r.items() if k != "predictions"} for fw, r in runs.items()},
        "first_epoch_step_loss_max_rel": metrics.max_relative_difference(ra["first_epoch_losses"], rb["first_epoch_losses"]),
        "epoch_loss_abs_diff": np.abs(np.subtract(ra["epoch_mean_loss"], rb["epoch_mean_loss"])).tolist(),
        "accuracy_difference": ra["accuracy"] - rb["accuracy"],
        "agreement": metrics.agreement(ra["predictions"], rb["predictions"]),
        "weights": metrics.layer_differences(weights[a], weights[b]),
    }
    return out


def run_check(cfg: ExperimentConfig, data, frameworks: tuple[str, str], seeds: int,
              variants: dict[str, str | None] | None = None, log=None) -> dict:
    """Seeds cfg.seed .. cfg.seed+seeds-1, then the rules of cfg.optimizer's mode and the verdict.
    The frameworks' runtimes must already be configured."""
    per_seed = [compare_seed(cfg.replace(seed=cfg.seed + i), data, frameworks, variants, log) for i in range(seeds)]
    a, b = frameworks
    acc = {fw: [s["frameworks"][fw]["accuracy"] for s in per_seed] for fw in frameworks}
    interval = metrics.welch_interval(acc[a], acc[b])
    if cfg.optimizer == "native":
        rules = metrics.native_rules(acc)
    else:  # strict and sgd: the same formula on both sides
        rules = metrics.strict_rules([s["first_epoch_step_loss_max_rel"] for s in per_seed],
                                     [s["agreement"] for s in per_seed], [s["accuracy_difference"] for s in per_seed])
    return {
        "config": cfg.to_dict(),
        "optimizer": cfg.optimizer,
        "frameworks": list(frameworks),
        "seeds": [s["seed"] for s in per_seed],
        "per_seed": per_seed,
        "accuracy": {fw: dict(zip(("mean", "sd"), metrics.mean_sd(v)), values=v) for fw, v in acc.items()},
        "difference_of_means": interval.to_dict() if interval else None,
        "median_agreement": float(np.median([s["agreement"] for s in per_seed])),
        "median_abs_accuracy_difference": float(np.median(np.abs([s["accuracy_difference"] for s in per_seed]))),
        "rules": [r.to_dict() for r in rules],
        "holds": metrics.parity_holds(rules),
    }
