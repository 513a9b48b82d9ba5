"""The figures of a plain-script check, from its recorded process pairs: each case's twin / plain
ratio with the suite's process-level interval, and all cases' pairs together. Used by the check
(benchmarks/plain/check.py) when it runs and by its report when it renders."""
from __future__ import annotations

import numpy as np

TOLERANCE = 0.05  # the fairness bar: a twin at most 5% slower than its plain script


def summarise(case_id: str, pairs: list[dict]) -> dict:
    """One case's figures from its process pairs: medians of warm epochs, the ratio twin / plain
    with its interval, the loss agreement and the fairness verdict."""
    from benchmarks.analysis import stats
    plain = [p["plain"]["epoch_seconds"][1:] for p in pairs]
    twin = [p["twin"]["epoch_seconds"][1:] for p in pairs]
    r = stats.ratio(twin, plain)
    loss_diff = max(float(np.max(np.abs(np.array(p["twin"]["epoch_losses"][0]) - np.array(p["plain"]["epoch_losses"][0]))
                                 / np.abs(np.array(p["plain"]["epoch_losses"][0])))) for p in pairs)
    if not r.has_interval:
        verdict = "no interval: fewer than 2 process pairs"
    elif r.high < 1 + TOLERANCE:
        verdict = f"as fast as the plain script (within {TOLERANCE:.0%})"
    elif r.low > 1 + TOLERANCE:
        verdict = f"slower than the plain script by more than {TOLERANCE:.0%}"
    else:
        verdict = f"could not tell: the interval reaches past {1 + TOLERANCE:.2f}"
    return {"case": case_id, "plain_s": stats.location(plain).to_dict(), "twin_s": stats.location(twin).to_dict(),
            "ratio": r.to_dict(), "verdict": verdict, "first_epoch_loss_max_rel_diff": loss_diff,
            "plain_read_back": pairs[0]["plain"]["read_back"], "twin_read_back": pairs[0]["twin"]["read_back"],
            "processes": len(pairs)}


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
                "pairs": int(logs.size), "cases": len(pairs_by_case), "verdict": "no interval: fewer than 2 pairs"}
    h = stats._t(stats.CONFIDENCE, logs.size - 1) * float(logs.std(ddof=1)) / np.sqrt(logs.size)
    m = float(logs.mean())
    low, high = float(np.exp(m - h)), float(np.exp(m + h))
    verdict = (f"as fast as the plain scripts (within {TOLERANCE:.0%})" if high < 1 + TOLERANCE else
               f"slower than the plain scripts by more than {TOLERANCE:.0%}" if low > 1 + TOLERANCE else
               f"could not tell: the interval reaches past {1 + TOLERANCE:.2f}")
    return {"ratio": float(np.exp(m)), "low": low, "high": high, "pairs": int(logs.size),
            "cases": len(pairs_by_case), "verdict": verdict}
