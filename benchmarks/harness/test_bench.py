"""The benchmark phases of one case in one worker process (the protocol: benchmarks/harness/conftest.py).

Each phase runs its registry entry (benchmarks/model/phases.py) under benchmark.pedantic, so data
conversion and model building happen in `setup` or before, outside the timed region. The
anatomy pass (step breakdown, machine probe) runs after every timed phase, on a fresh model,
so its instrumentation never touches the headline figures.
"""
from __future__ import annotations

import gc
import os
import time

import numpy as np
import pytest

from benchmarks.harness import execution, machine, memory
from benchmarks.harness.conftest import FAIL_ENV, emit, plan_of, record_anatomy, record_phase
from benchmarks.model.phases import PHASES, epoch0_indices
from shared.batches import rows_nnz

# Steps the breakdown times per part (after one warm-up step), on a fresh model.
BREAKDOWN_REPEATS = 7


def test_phase(bench, benchmark, phase):
    # --gc off and the duet barrier act on benchmark.pedantic (execution.timed_rounds); leaving the
    # block, however the phase ends, tells a duet partner not to wait for this side
    with execution.timed_rounds(benchmark, phase, plan_of(bench.config)):
        _phase(bench, benchmark, phase)


def _phase(bench, benchmark, phase):
    if os.environ.get(FAIL_ENV) == bench.fw:
        raise RuntimeError(f"failure injected by {FAIL_ENV}={bench.fw}")
    reason = bench.too_big(phase) if not bench.case.is_shared else None
    if reason:
        pytest.skip(reason)  # the runner and the report put the phase beside it
    bench.hold(phase)
    r = bench.rounds[phase]  # resolved by the runner: the plan's figure is the one the manifest records
    emit(bench.config, event="start", phase=phase, rounds=r.rounds, warmup=r.warmup)
    benchmark.group = phase
    benchmark.extra_info.update(bench.extra_info(phase))
    scope = memory.reset_peak_rss()
    if bench.runtime is not None:
        bench.runtime.reset_peak_device_memory(bench.device)
    models_before = bench.fresh_models
    before = machine.sample()  # the whole pedantic call: warm-up rounds and per-round setup included
    extra = PHASES[phase].run(bench, benchmark, r)
    extra = {**extra, "machine": machine.between(before, machine.sample())}
    benchmark.extra_info.update(extra, peak_rss_mb=memory.peak_rss_mb(), peak_rss_scope=scope,
                                rounds=r.rounds, warmup_rounds=r.warmup,
                                fresh_models=bench.fresh_models - models_before)
    if bench.runtime is not None:
        benchmark.extra_info["peak_device_mem_mb"] = bench.runtime.peak_device_memory_mb(bench.device)
    s = benchmark.stats.stats
    record_phase(bench.config, phase, s.data, dict(benchmark.extra_info))
    emit(bench.config, event="end", phase=phase, outcome="passed", median=s.median, iqr=s.iqr)


def test_anatomy(bench, request):
    """Not a timed phase: the training step taken apart (forward, backward, optimizer, read-back)
    and, in a case's first process, the machine probe (this framework's matmul and copy rates)."""
    if not plan_of(request.config)["anatomy"] or bench.case.is_shared:
        pytest.skip("anatomy pass not requested")
    from shared import registry
    cfg, data = bench.cfg, bench.data
    idx = epoch0_indices(cfg, data)
    twin = bench.fresh_twin()
    batch = twin.rows_to_device(data.x_train, idx[0], data.y_train)
    emit(bench.config, event="start", phase="anatomy", rounds=BREAKDOWN_REPEATS, warmup=1)
    t0 = time.perf_counter()
    parts = twin.step_breakdown(batch, BREAKDOWN_REPEATS)
    anatomy = {"breakdown": parts, "breakdown_repeats": BREAKDOWN_REPEATS,
               "nnz_per_step": float(np.mean([rows_nnz(data.x_train, i) for i in idx])), "steps_per_epoch": len(idx)}
    del twin, batch
    gc.collect()
    if bench.index == 0:
        probe = registry.probe(bench.fw)
        anatomy["probe"] = {"matmul": probe.matmul_gflops(device=bench.device),
                            "copy": probe.copy_bandwidth_gbs(device=bench.device)}
    anatomy["seconds"] = round(time.perf_counter() - t0, 2)
    record_anatomy(bench.config, anatomy)
    emit(bench.config, event="end", phase="anatomy", outcome="passed", median=parts.get("step"), iqr=0.0)
