"""The benchmark phases of one framework on one device (options: benchmarks/conftest.py).

Each phase times its callable from benchmarks/phases.py with benchmark.pedantic, so data
conversion and model building happen in `setup`, outside the timed region.
"""
from __future__ import annotations

import gc
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest

from benchmarks import memory, phases
from benchmarks.conftest import FAIL_ENV, emit


def test_phase(bench, benchmark, phase):
    if os.environ.get(FAIL_ENV) == bench.fw:
        raise RuntimeError(f"failure injected by {FAIL_ENV}={bench.fw}")
    reason = bench.too_big(phase) if bench.fw != "shared" else None
    if reason:
        pytest.skip(f"{phase} skipped: {reason}")
    bench.hold(phase)
    r = phases.rounds_for(phase, bench.quick)
    emit(bench.config, event="start", phase=phase, rounds=r.rounds, warmup=r.warmup)
    benchmark.group = phase
    benchmark.extra_info.update(bench.extra_info(phase))
    scope = memory.reset_peak_rss()
    if bench.runtime is not None:
        bench.runtime.reset_peak_device_memory(bench.device)
    extra = RUNNERS[phase](bench, benchmark, r)
    benchmark.extra_info.update(extra, peak_rss_mb=memory.peak_rss_mb(), peak_rss_scope=scope,
                                rounds=r.rounds, warmup_rounds=r.warmup)
    if bench.runtime is not None:
        benchmark.extra_info["peak_device_mem_mb"] = bench.runtime.peak_device_memory_mb(bench.device)
    s = benchmark.stats.stats
    emit(bench.config, event="end", phase=phase, outcome="passed", median=s.median, iqr=s.iqr)


def _first_epoch(bench, benchmark, r):
    batches = bench.resident["train0"]
    twins = []
    def setup():  # a fresh model each round: its first epoch carries the tracing and first-use costs
        twins[:] = [bench.fresh_twin()]
        gc.collect()  # the dropped model's cycles are collected here, not inside the timed round
        return (twins[0], batches), {}
    benchmark.pedantic(phases.train_epoch, setup=setup, rounds=r.rounds, warmup_rounds=r.warmup)
    return {"steps": len(batches), "trace_count": twins[0].trace_count(),
            "process_first_round_s": benchmark.stats.stats.data[0]}


def _train_epoch(bench, benchmark, r):
    batches = bench.resident["train0"]
    benchmark.pedantic(phases.train_epoch, args=(bench.twin, batches), rounds=r.rounds, warmup_rounds=r.warmup)
    return {"steps": len(batches), "trace_count": bench.twin.trace_count()}


def _pipeline_epoch(bench, benchmark, r):
    idx = phases.epoch0_indices(bench.cfg, bench.data)
    benchmark.pedantic(phases.pipeline_epoch, args=(bench.twin, bench.data, idx), rounds=r.rounds, warmup_rounds=r.warmup)
    return {"steps": len(idx), "trace_count": bench.twin.trace_count()}


def _train_to_accuracy(bench, benchmark, r):
    epochs, chunks, cfg = bench.resident["train"], bench.resident["test"], bench.cfg
    twins = []
    def setup():
        twins[:] = [bench.fresh_twin()]
        gc.collect()
        return (twins[0], epochs, cfg.epochs, chunks), {}
    losses, logits = benchmark.pedantic(phases.train_to_accuracy, setup=setup, rounds=r.rounds, warmup_rounds=r.warmup)
    predictions = np.concatenate([l.argmax(axis=1) for l in logits])
    return {"steps": len(epochs[0]) * cfg.epochs, "epochs": cfg.epochs,
            "accuracy": float(np.mean(predictions == bench.data.y_test)),
            "epoch_mean_loss": [float(np.mean(l)) for l in losses],
            "test_predictions": predictions.astype(int).tolist(), "trace_count": twins[0].trace_count()}


def _predict(key):
    def run(bench, benchmark, r):
        chunks = bench.resident[key]
        benchmark.pedantic(phases.predict, args=(bench.twin, chunks), rounds=r.rounds, warmup_rounds=r.warmup)
        return {"steps": len(chunks), "posts": sum(c.size for c in chunks), "trace_count": bench.twin.trace_count()}
    return run


def _data_prepare(bench, benchmark, r):
    """Parsing and counting from the extracted archive, into a fresh prepared-data cache each
    round (the one-off extraction is not part of it: it is shared with the real cache)."""
    from shared.dataset import prepare
    def setup():
        tmp = Path(tempfile.mkdtemp(prefix="fwbench-prepare-"))
        if (bench.cache / "archives").is_dir():
            (tmp / "archives").symlink_to((bench.cache / "archives").resolve(), target_is_directory=True)
        return (bench.cfg, bench.archive, tmp), {}
    def teardown(cfg, archive, tmp):
        shutil.rmtree(tmp, ignore_errors=True)
    benchmark.pedantic(prepare, setup=setup, teardown=teardown, rounds=r.rounds, warmup_rounds=r.warmup)
    return {"steps": 1, "source": bench.data.source}


def _data_load(bench, benchmark, r):
    from shared.dataset import prepare
    benchmark.pedantic(prepare, args=(bench.cfg, bench.archive, bench.cache), rounds=r.rounds, warmup_rounds=r.warmup)
    return {"steps": 1, "source": bench.data.source}


RUNNERS = {
    "first_epoch": _first_epoch,
    "train_epoch": _train_epoch,
    "pipeline_epoch": _pipeline_epoch,
    "train_to_accuracy": _train_to_accuracy,
    "predict_all": _predict("test"),
    "predict_one": _predict("one"),
    "data_prepare": _data_prepare,
    "data_load": _data_load,
}
