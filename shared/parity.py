"""Parity of two cases: train them from the same start and collect what `fwbench check` judges.

A case is a framework and one of its variants ("torch:eager", "tensorflow:xla"); the two may
be variants of one framework. For each seed both cases get the same numpy initial weights and
the same batches in the same order, and are trained one after the other with
shared/training.fit. The numbers compared and the rules judged live in shared/metrics.py; this
module runs and reports.
Nothing here is timed, so both runtimes are configured in one process.
"""
from __future__ import annotations

import time

import numpy as np

from shared import metrics, workloads
from shared.config import ExperimentConfig
from shared.errors import UserError


def parse_case(text: str) -> str:
    """'FRAMEWORK[:VARIANT]' -> the case id 'framework:variant' (canonical framework name, the
    framework's default variant when none is given). Framework aliases are accepted ("tf:xla").
    A UserError names the valid frameworks or variants in one line."""
    from shared import registry
    fw, _, variant = text.strip().partition(":")
    fw = registry.canonical(fw.strip())
    return f"{fw}:{registry.variant(fw, variant.strip() or None).name}"


def split_case(case: str) -> tuple[str, str]:
    """'framework:variant' -> (framework, variant)."""
    fw, _, variant = parse_case(case).partition(":")
    return fw, variant


def train(case: str, cfg: ExperimentConfig, data):
    """One case's full run from cfg.seed's initial weights: (FitResult, final weights, twin)."""
    from shared import registry, training
    fw, variant = split_case(case)
    twin = training.build(registry.twin_class(fw, cfg.workload), cfg, data, variant)
    result = training.fit(twin, cfg, data)
    return result, twin.get_weights(), twin


def compare_seed(cfg: ExperimentConfig, data, cases: tuple[str, str], log=None) -> dict:
    """Both cases ('framework[:variant]', e.g. 'torch:eager' and 'torch:fused') from cfg.seed's
    start; every figure of the comparison, JSON-ready, keyed by case id."""
    ids = tuple(parse_case(c) for c in cases)
    runs, weights = {}, {}
    for case in ids:
        t0 = time.perf_counter()
        result, weights[case], twin = train(case, cfg, data)
        runs[case] = {"framework": twin.framework, "variant": twin.variant, "label": twin.variant_label,
                      "accuracy": result.test_accuracy, "epoch_mean_loss": result.mean_epoch_loss,
                      "first_epoch_losses": result.epoch_losses[0].tolist(),
                      "predictions": result.test_predictions, "seconds": time.perf_counter() - t0}
        del twin
        if log:
            log(f"seed {cfg.seed}: {case} accuracy {result.test_accuracy:.4f} in {runs[case]['seconds']:.1f} s")
    a, b = ids
    ra, rb = runs[a], runs[b]
    return {
        "seed": cfg.seed,
        "cases": {c: {k: v for k, v in r.items() if k != "predictions"} for c, r in runs.items()},
        "first_epoch_step_loss_max_rel": metrics.max_relative_difference(ra["first_epoch_losses"], rb["first_epoch_losses"]),
        "epoch_loss_abs_diff": np.abs(np.subtract(ra["epoch_mean_loss"], rb["epoch_mean_loss"])).tolist(),
        "accuracy_difference": ra["accuracy"] - rb["accuracy"],
        "agreement": metrics.agreement(ra["predictions"], rb["predictions"]),
        "weights": metrics.layer_differences(weights[a], weights[b]),
    }


def check_cases(cases) -> tuple[str, str]:
    """Two different case ids from two 'FRAMEWORK[:VARIANT]' texts (a UserError otherwise)."""
    ids = tuple(parse_case(c) for c in cases)
    if len(ids) != 2 or ids[0] == ids[1]:
        raise UserError(f"a parity check compares two different cases, got {', '.join(ids) or 'none'}: "
                        f"e.g. torch,tensorflow or torch:eager,torch:fused")
    return ids


def run_check(cfg: ExperimentConfig, data, cases: tuple[str, str], seeds: int, log=None) -> dict:
    """Seeds cfg.seed .. cfg.seed+seeds-1, then the rules of cfg.optimizer's mode and the verdict.
    cases: two 'FRAMEWORK[:VARIANT]' (two variants of one framework allowed); results are keyed
    by case id ('torch:eager'). The frameworks' runtimes must already be configured."""
    ids = check_cases(cases)
    per_seed = [compare_seed(cfg.replace(seed=cfg.seed + i), data, ids, log) for i in range(seeds)]
    a, b = ids
    acc = {c: [s["cases"][c]["accuracy"] for s in per_seed] for c in ids}
    interval = metrics.welch_interval(acc[a], acc[b])
    res = {
        "config": cfg.to_dict(),
        "optimizer": cfg.optimizer,
        "cases": list(ids),
        "labels": {c: per_seed[0]["cases"][c]["label"] for c in ids},
        "seeds": [s["seed"] for s in per_seed],
        "per_seed": per_seed,
        "accuracy": {c: dict(zip(("mean", "sd"), metrics.mean_sd(v)), values=v) for c, v in acc.items()},
        "difference_of_means": interval.to_dict() if interval else None,
        "median_agreement": float(np.median([s["agreement"] for s in per_seed])),
        "median_abs_accuracy_difference": float(np.median(np.abs([s["accuracy_difference"] for s in per_seed]))),
        "workload": cfg.workload,
        "accuracy_target": cfg.accuracy_floor,
    }
    return judge(res)


def judge(res: dict) -> dict:
    """The rules of the check's mode and the verdict, from its recorded figures (so a stored check is
    judged again by the rules in force: fwbench check --rewrite)."""
    a, b = res["cases"]
    per_seed = res["per_seed"]
    acc = {c: [s["cases"][c]["accuracy"] for s in per_seed] for c in (a, b)}
    res.pop("accuracy_parity", None)
    if res["optimizer"] == "native":
        rules = metrics.native_rules(acc, accuracy_floor(res))
        res["accuracy_parity"] = metrics.accuracy_equivalence(acc[a], acc[b]).to_dict()
    else:  # strict and sgd: the same formula on both sides, as close as the workload's tolerances
        rules = metrics.strict_rules([s["first_epoch_step_loss_max_rel"] for s in per_seed],
                                     [s["agreement"] for s in per_seed], [s["accuracy_difference"] for s in per_seed],
                                     workloads.get(_config(res).workload).tolerances)
    res["rules"] = [r.to_dict() for r in rules]
    res["holds"] = metrics.parity_holds(rules)
    return res


def _config(res: dict) -> ExperimentConfig:
    """The check's configuration; one recorded before workloads existed reads as the MLP's."""
    return ExperimentConfig.from_dict(res.get("config") or {})


def accuracy_floor(res: dict) -> float | None:
    """The accuracy floor a check applies: recorded as a number (or None); a record from before
    workloads existed says only whether the tutorial's floor applied (true/false)."""
    target = res.get("accuracy_target", True)
    if isinstance(target, bool):
        return _config(res).accuracy_floor if target else None
    return target
