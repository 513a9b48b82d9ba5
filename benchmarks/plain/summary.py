"""The figures of a plain-script check, from its recorded process pairs: each case's twin / plain
ratio with the suite's process-level interval, and all cases' pairs together. Used by the check
(benchmarks/plain/check.py) when it runs and by its report when it renders."""
from __future__ import annotations

import numpy as np

TOLERANCE = 0.05  # the fairness bar: a twin at most 5% slower than its plain script (stats' minimum effect)


def verdict_text(r, what: str, pairs: str = "process pairs") -> str:
    """The suite's four-valued verdict (benchmarks/analysis/stats.verdict, minimum effect TOLERANCE)
    on r = twin / plain, in words that start with stats' own word."""
    from benchmarks.analysis import stats
    v = stats.verdict(r, TOLERANCE)
    if v.word == stats.NO_INTERVAL:
        return f"{stats.NO_INTERVAL}: fewer than 2 {pairs}"
    if v.word == stats.EQUIVALENT:
        return (f"{stats.EQUIVALENT}: as fast as {what} (within {TOLERANCE:.0%}, "
                f"{v.equivalence.confidence:.0%} CI {v.equivalence.low:.2f}-{v.equivalence.high:.2f})")
    if v.word == stats.SLOWER:
        return f"{stats.SLOWER} than {what} by more than {TOLERANCE:.0%}"
    if v.word == stats.FASTER:
        return f"{stats.FASTER} than {what} by more than {TOLERANCE:.0%}"
    # the fairness bar is one-sided: an inconclusive twin whose interval ends below 1 + TOLERANCE is
    # still at most that much slower, which is what the check is for
    fair = (f"; at most {TOLERANCE:.0%} slower than {what} (the interval ends at {r.high:.2f})"
            if r.high < 1 + TOLERANCE else "")
    return (f"{stats.INCONCLUSIVE}: the interval reaches beyond {TOLERANCE:.0%} of 1; "
            + stats.inconclusive_detail(v.detectable, v.processes_needed, r.n, TOLERANCE, "the check", pairs) + fair)


def summarise(case_id: str, pairs: list[dict], reference: dict | None = None) -> dict:
    """One case's figures from its process pairs: medians of warm epochs, the ratio twin / plain
    with its interval, the loss agreement and the fairness verdict; with a reference script
    (`reference`: its entry in the check's document, benchmarks/plain/reference.py), its column."""
    from benchmarks.analysis import stats
    plain = [p["plain"]["epoch_seconds"][1:] for p in pairs]
    twin = [p["twin"]["epoch_seconds"][1:] for p in pairs]
    r = stats.ratio(twin, plain)
    loss_diff = max(float(np.max(np.abs(np.array(p["twin"]["epoch_losses"][0]) - np.array(p["plain"]["epoch_losses"][0]))
                                 / np.abs(np.array(p["plain"]["epoch_losses"][0])))) for p in pairs)
    verdict = verdict_text(r, "the plain script")
    out = {"case": case_id, "plain_s": stats.location(plain).to_dict(), "twin_s": stats.location(twin).to_dict(),
           "ratio": r.to_dict(), "verdict": verdict, "first_epoch_loss_max_rel_diff": loss_diff,
           "plain_read_back": pairs[0]["plain"]["read_back"], "twin_read_back": pairs[0]["twin"]["read_back"],
           "processes": len(pairs)}
    if reference is not None:
        out["reference"] = reference_column(pairs, reference)
    return out


def reference_column(pairs: list[dict], reference: dict) -> dict:
    """The reference script's column: its warm epochs (epochs 2..E of the first E it printed, the
    positions the other sides use), twin / reference and plain / reference with the suite's
    intervals and verdicts. A reference that failed in any process has no figures: its reason."""
    from benchmarks.analysis import stats
    col = {"command": reference["command"], "failed": reference.get("failed")}
    runs = [p.get("reference") for p in pairs]
    if col["failed"] is None and (not runs or any(r is None for r in runs)):
        col["failed"] = "not run in every process pair"
    if col["failed"] is not None:
        return col
    ref = [r["epoch_seconds"][1:] for r in runs]
    twin = [p["twin"]["epoch_seconds"][1:] for p in pairs]
    plain = [p["plain"]["epoch_seconds"][1:] for p in pairs]
    tr, pr = stats.ratio(twin, ref), stats.ratio(plain, ref)
    read = sorted({r["read_back"].get("intra_op_threads") for r in runs}, key=str)
    col.update({"reference_s": stats.location(ref).to_dict(), "twin_over_reference": tr.to_dict(),
                "twin_verdict": verdict_text(tr, "the reference script"),
                "plain_over_reference": pr.to_dict(), "plain_verdict": verdict_text(pr, "the reference script"),
                "threads_read_back": read, "epochs_reported": sorted({r.get("epochs_reported") for r in runs}, key=str)})
    return col


def overall(pairs_by_case: dict[str, list[dict]]) -> dict:
    """Every process pair of every case together: the mean of log(twin / plain) per pair (each
    side's median warm epoch), with a one-sample t interval over the pairs. The question it
    answers is whether the harness's twins, as a whole, run slower than plain scripts; a single
    case's interval, from 3 pairs on a machine whose processes spread by 10-15%, cannot bound a
    5% effect, while all pairs together can. A case's own row keeps its own (Welch) interval."""
    from benchmarks.analysis import stats
    logs = np.array([np.log(np.median(p["twin"]["epoch_seconds"][1:]) / np.median(p["plain"]["epoch_seconds"][1:]))
                     for pairs in pairs_by_case.values() for p in pairs])
    if logs.size < 2:
        return {"ratio": float(np.exp(logs.mean())) if logs.size else None, "low": None, "high": None,
                "pairs": int(logs.size), "cases": len(pairs_by_case), "verdict": f"{stats.NO_INTERVAL}: fewer than 2 pairs"}
    # one sample of pair logs: se = sd / sqrt(n), df = n - 1 (stats' verdict reads both)
    r = stats.log_interval(float(logs.mean()), float(logs.std(ddof=1)) / np.sqrt(logs.size), logs.size - 1,
                           int(logs.size), stats.CONFIDENCE)
    return {"ratio": r.value, "low": r.low, "high": r.high, "pairs": int(logs.size),
            "cases": len(pairs_by_case), "verdict": verdict_text(r, "the plain scripts", "pairs")}
