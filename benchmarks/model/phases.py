"""The phase registry: every benchmark phase declared once.

A Phase says what it times, how many rounds a worker process takes, which pre-converted data it
holds while it runs, whether each round starts from a fresh model, the words the report uses and
the callable that runs it. The worker (benchmarks/harness/test_bench.py), the memory-fit check, the
runner's progress lines, the reader and the report all derive from PHASES; adding a phase is one
entry here plus its timed callable.

Every timed callable runs every step it is given and ends with a host read-back (losses or
logits to numpy) and twin.synchronize(), so device work queued by the phase is inside the timed
region (tests/test_timed.py pins this).
"""
from __future__ import annotations

import gc
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from shared.batches import distinct_epochs, epoch_order, eval_chunks, rows_bytes
from shared.config import ExperimentConfig
from shared.contract import DeviceBatch, FrameworkTwin
from shared.dataset import PreparedData
from shared.training import epoch_bytes, run_epoch


@dataclass(frozen=True)
class Rounds:
    rounds: int
    warmup: int


@dataclass(frozen=True)
class Phase:
    name: str
    scope: str  # "framework" (a framework's worker) or "shared" (the framework-neutral worker)
    times: str  # what one round times, for the report's method section
    label: str  # table label
    verb: str  # "X trains an epoch 1.8x faster than Y"
    gerund: str  # "inconclusive in training an epoch"
    rounds: Rounds  # per worker process; a case runs in several processes
    quick: Rounds  # --quick: a smoke test, not a measurement
    holds: tuple[str, ...] = ()  # pre-converted data held while it runs (see HOLDINGS)
    fresh_model: bool = False  # every round starts from a newly built model
    run: Callable | None = None  # (bench, benchmark, rounds) -> extra_info dict; set below
    latency: bool = False  # report percentiles, not only the median


# --- the timed callables -------------------------------------------------------------------

def train_epoch(twin: FrameworkTwin, batches: list[DeviceBatch]):
    losses = run_epoch(twin, batches)
    twin.synchronize()
    return losses


def pipeline_epoch(twin: FrameworkTwin, data: PreparedData, index_batches: list):
    """Build, convert and train one batch at a time, as a streaming input pipeline would
    (so only one batch is alive, whatever V), in the case's own representation."""
    x, y = data.x_train, data.y_train
    losses = [twin.train_step(twin.rows_to_device(x, idx, y)) for idx in index_batches]
    out = twin.losses_to_numpy(losses)
    twin.synchronize()
    return out


def train_to_accuracy(twin: FrameworkTwin, epochs: list[list[DeviceBatch]], n_epochs: int,
                      test_chunks: list[DeviceBatch]):
    """The whole training and the test logits; accuracy is scored outside the timed region."""
    losses = [run_epoch(twin, epochs[e % len(epochs)]) for e in range(n_epochs)]
    logits = [twin.logits(b) for b in test_chunks]
    twin.synchronize()
    return losses, logits


def predict(twin: FrameworkTwin, chunks: list[DeviceBatch]):
    logits = [twin.logits(b) for b in chunks]
    twin.synchronize()
    return logits


def epoch0_indices(cfg: ExperimentConfig, data: PreparedData) -> list:
    """The batch order every steady-state epoch uses (epoch 0's, identical for every case)."""
    return epoch_order(cfg, data.x_train.shape[0], 0)


# --- what a phase holds: builders and their size, in the case's own representation ----------

def _epoch(bench, e: int) -> list[DeviceBatch]:
    x, y = bench.data.x_train, bench.data.y_train
    return [bench.twin.rows_to_device(x, idx, y) for idx in epoch_order(bench.cfg, x.shape[0], e)]


def _test_chunks(bench) -> list[DeviceBatch]:
    x = bench.data.x_test
    return [bench.twin.rows_to_device(x, s) for s in eval_chunks(x.shape[0], bench.cfg.eval_batch_size)]


@dataclass(frozen=True)
class Holding:
    build: Callable  # (bench) -> the converted data
    nbytes: Callable  # (cfg, data, input representation) -> bytes it takes


HOLDINGS = {
    # epoch 0's batches on the device: the steady-state epoch
    "train0": Holding(lambda b: _epoch(b, 0), lambda c, d, f: epoch_bytes(c, d, f, 0)),
    # every distinct epoch order of a whole training (one unless --shuffle)
    "train": Holding(lambda b: [_epoch(b, e) for e in range(distinct_epochs(b.cfg))],
                     lambda c, d, f: sum(epoch_bytes(c, d, f, e) for e in range(distinct_epochs(c)))),
    # the test set in eval chunks
    "test": Holding(_test_chunks, lambda c, d, f: sum(
        rows_bytes(d.x_test, s, f) for s in eval_chunks(d.x_test.shape[0], c.eval_batch_size))),
    # one test post
    "one": Holding(lambda b: [b.twin.rows_to_device(b.data.x_test, slice(0, 1))],
                   lambda c, d, f: rows_bytes(d.x_test, slice(0, 1), f)),
}


def held_bytes(phase: "Phase", cfg: ExperimentConfig, data: PreparedData, fmt: str) -> int:
    return sum(HOLDINGS[h].nbytes(cfg, data, fmt) for h in phase.holds)


# --- the runners: one round loop per phase ------------------------------------------------------

def _fresh_rounds(bench, benchmark, r, fn, args_of):
    """pedantic rounds that each start from a newly built model (tracing and first-use costs
    included); the dropped model's cycles are collected in setup, outside the timed round."""
    made = []

    def setup():
        made.append(bench.fresh_twin())
        if len(made) > 1:
            del made[0]
        gc.collect()
        return args_of(made[-1]), {}
    result = benchmark.pedantic(fn, setup=setup, rounds=r.rounds, warmup_rounds=r.warmup)
    return result, made[-1]


def _run_first_epoch(bench, benchmark, r):
    batches = bench.resident["train0"]
    _, twin = _fresh_rounds(bench, benchmark, r, train_epoch, lambda t: (t, batches))
    return {"steps": len(batches), "trace_count": twin.trace_count(),
            "process_first_round_s": benchmark.stats.stats.data[0]}


def _run_train_epoch(bench, benchmark, r):
    batches = bench.resident["train0"]
    benchmark.pedantic(train_epoch, args=(bench.twin, batches), rounds=r.rounds, warmup_rounds=r.warmup)
    return {"steps": len(batches), "trace_count": bench.twin.trace_count()}


def _run_pipeline_epoch(bench, benchmark, r):
    idx = epoch0_indices(bench.cfg, bench.data)
    benchmark.pedantic(pipeline_epoch, args=(bench.twin, bench.data, idx), rounds=r.rounds, warmup_rounds=r.warmup)
    return {"steps": len(idx), "trace_count": bench.twin.trace_count()}


def _run_train_to_accuracy(bench, benchmark, r):
    epochs, chunks, cfg = bench.resident["train"], bench.resident["test"], bench.cfg
    (losses, logits), twin = _fresh_rounds(bench, benchmark, r, train_to_accuracy,
                                           lambda t: (t, epochs, cfg.epochs, chunks))
    predictions = np.concatenate([l.argmax(axis=1) for l in logits])
    return {"steps": len(epochs[0]) * cfg.epochs, "epochs": cfg.epochs,
            "accuracy": float(np.mean(predictions == bench.data.y_test)),
            "epoch_mean_loss": [float(np.mean(l)) for l in losses],
            "test_predictions": predictions.astype(int).tolist(), "trace_count": twin.trace_count()}


def _run_predict(key):
    def run(bench, benchmark, r):
        chunks = bench.resident[key]
        benchmark.pedantic(predict, args=(bench.twin, chunks), rounds=r.rounds, warmup_rounds=r.warmup)
        return {"steps": len(chunks), "posts": sum(c.size for c in chunks), "trace_count": bench.twin.trace_count()}
    return run


def _run_data_prepare(bench, benchmark, r):
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


def _run_data_load(bench, benchmark, r):
    from shared.dataset import prepare
    benchmark.pedantic(prepare, args=(bench.cfg, bench.archive, bench.cache), rounds=r.rounds, warmup_rounds=r.warmup)
    return {"steps": 1, "source": bench.data.source}


# Process order: first_epoch comes first so that its first round is the process's first
# training (kept in the raw data as process_first_round_s). Rounds are per worker process and
# sized from the noise study (results/noise-cpu/report.md, "Processes against rounds"): between-
# process variance dominates, so at a fixed time four processes of fewer rounds give narrower
# intervals than three of more. Kalibera & Jones' optimum from the study's variance components was
# about 4 rounds for the warm epoch and 13-37 for predict-all; predict-one keeps 200 rounds (its
# optimum for the median is under 100) because its p99 needs the tail. The default run (2 cases x 4
# processes, tutorial data, 2 CPU cores) stays under 10 minutes.
DEFAULT_PROCESSES = 4  # worker processes per case in a run (sized with the rounds below)
_PHASES = (
    Phase("first_epoch", "framework", "one epoch of a newly built model: tracing, compilation and first-use costs",
          "first epoch (fresh model)", "runs the first epoch of a fresh model", "the first epoch of a fresh model",
          Rounds(3, 0), Rounds(1, 0), holds=("train0",), fresh_model=True, run=_run_first_epoch),
    Phase("train_epoch", "framework", "one epoch of training steps over batches already on the device",
          "train epoch (warm)", "trains an epoch", "training an epoch",
          Rounds(4, 1), Rounds(2, 1), holds=("train0",), run=_run_train_epoch),
    Phase("train_to_accuracy", "framework", "a whole training from a fresh model, then the test set's logits",
          "train to accuracy", "trains to final accuracy", "training to final accuracy",
          Rounds(1, 0), Rounds(1, 0), holds=("train", "test"), fresh_model=True, run=_run_train_to_accuracy),
    Phase("pipeline_epoch", "framework", "one epoch that builds and converts each batch just before its step",
          "epoch incl. input pipeline", "trains an epoch with its input pipeline",
          "training an epoch with its input pipeline", Rounds(3, 1), Rounds(1, 0), run=_run_pipeline_epoch),
    Phase("predict_all", "framework", "the logits of the whole test set, read back to the host",
          "predict all (test set)", "predicts the whole test set", "predicting the whole test set",
          Rounds(12, 2), Rounds(2, 1), holds=("test",), run=_run_predict("test")),
    Phase("predict_one", "framework", "the logits of one post (batch of 1), read back to the host",
          "predict one (batch of 1)", "predicts one post", "predicting one post",
          Rounds(200, 20), Rounds(10, 2), holds=("one",), run=_run_predict("one"), latency=True),
    Phase("data_prepare", "shared", "parsing the extracted posts and counting words into a fresh cache",
          "data preparation (shared)", "prepares the data", "preparing the data",
          Rounds(3, 1), Rounds(1, 0), run=_run_data_prepare),
    Phase("data_load", "shared", "loading the prepared counts from the cache",
          "data load from cache (shared)", "loads the prepared data", "loading the prepared data",
          Rounds(10, 1), Rounds(2, 1), run=_run_data_load),
)
PHASES: dict[str, Phase] = {p.name: p for p in _PHASES}
FRAMEWORK_PHASES = tuple(p.name for p in _PHASES if p.scope == "framework")
SHARED_PHASES = tuple(p.name for p in _PHASES if p.scope == "shared")
ALL_PHASES = tuple(PHASES)

# Figures derived from two phases of the same process: (name, words, minuend, subtrahend).
DERIVED = (
    ("warm-up cost", "first epoch minus steady epoch: tracing, compilation, first use", "first_epoch", "train_epoch"),
    ("input-pipeline cost", "pipeline epoch minus steady epoch: building and converting batches",
     "pipeline_epoch", "train_epoch"),
)


def rounds_for(phase: str, quick: bool) -> Rounds:
    p = PHASES[phase]
    return p.quick if quick else p.rounds
