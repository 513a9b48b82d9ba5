"""Duet scheduling (`fwbench run --duet A,B`): K pairs, each pair's two workers started together.

In pair k both cases' workers run at the same time, each pinned to its own core with one thread,
and their rounds are synchronised by the barrier (benchmarks/harness/barrier.py), so whatever
the machine does to one round it does to its partner too. The cores swap in alternate pairs
(pair 0: A on c0 and B on c1; pair 1: A on c1 and B on c0; ...): a core that is faster than
the other (its neighbour's load, its cache, its frequency) then favours each case equally often,
and the report shows the ratio per core assignment so an asymmetry is seen, not only averaged.

The two workers of a pair are two threads, each running the runner's ordinary run_worker (so
each keeps its own log, result, progress lines and failure handling); pairs run one after another.
"""
from __future__ import annotations

import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor

from benchmarks.harness.barrier import mark_exit

SIDES = ("a", "b")  # the barrier's names for the plan's first and second case


def cores_of_pair(k: int, cores: list[int]) -> tuple[int, int]:
    """(A's core, B's core) in pair k: swapped in every other pair."""
    c0, c1 = cores
    return (c0, c1) if k % 2 == 0 else (c1, c0)


def run_pairs(clock, plan, staging, env, run_worker) -> tuple[list[dict], dict]:
    """Run the plan's two cases as plan.processes pairs; returns the worker records (in the
    manifest's form) and the manifest's duet record. run_worker is runner.run_worker (passed in:
    the runner imports this module)."""
    a, b = plan.cases
    records, pairs = [], []
    clock.say(f"duet: {a.id} and {b.id} together, {plan.processes} pair(s), one thread each on cores "
              f"{plan.duet_cores[0]} and {plan.duet_cores[1]} (swapped in alternate pairs)")
    for k in range(plan.processes):
        cores = cores_of_pair(k, plan.duet_cores)
        pairs.append({"index": k, "cores": {a.id: cores[0], b.id: cores[1]}})
        folder = tempfile.mkdtemp(prefix=f"fwbench-duet-p{k}-")
        started: list = []
        try:
            with ThreadPoolExecutor(max_workers=2) as pool:
                futures = []
                for side, case, core in zip(SIDES, (a, b), cores):
                    partner = SIDES[1 - SIDES.index(side)]
                    over = {"affinity": [core], "barrier": {"folder": folder, "side": side, "partner": partner}}
                    futures.append(pool.submit(_one, run_worker, clock, case, k, plan, staging, env, over,
                                               started, folder, side))
                try:
                    got = [f.result() for f in futures]  # re-raises a worker's UserError here
                except BaseException:
                    for proc in started:  # Ctrl-C, SIGTERM or the partner's bad input: stop both now
                        proc.kill()
                    raise
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        for side, rec in enumerate(got):
            rec["slot"] = 2 * k + side
            rec["core"] = cores[side]
            records.append(rec)
    return records, {"cases": [a.id, b.id], "cores": list(plan.duet_cores), "pairs": pairs}


def _one(run_worker, clock, case, k, plan, staging, env, over, started, folder, side) -> dict:
    try:
        return run_worker(clock, case, k, plan, staging, env, overrides=over, started=started)
    finally:
        mark_exit(folder, side)  # a worker that died without a word must not keep its partner waiting
