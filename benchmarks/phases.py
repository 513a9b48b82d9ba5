"""What each benchmark phase times, and how often. Shared by test_bench.py and bare_loop.py,
so the bare perf_counter loop times exactly the callable the harness times.

Every timed callable ends with a host read-back (losses or logits to numpy) and
twin.synchronize(), so device work queued by the phase is inside the timed region.
"""
from __future__ import annotations

from dataclasses import dataclass

from shared.batches import dense_rows, distinct_epochs, epoch_order, eval_chunks
from shared.config import ExperimentConfig
from shared.contract import DeviceBatch, FrameworkTwin
from shared.dataset import PreparedData
from shared.training import run_epoch

# In process order: first_epoch comes first so that its first round is the process's first
# training (kept in the raw data; the median is the fresh-model cost in a warm process).
FRAMEWORK_PHASES = ("first_epoch", "train_epoch", "train_to_accuracy", "pipeline_epoch", "predict_all", "predict_one")
SHARED_PHASES = ("data_prepare", "data_load")
ALL_PHASES = FRAMEWORK_PHASES + SHARED_PHASES


@dataclass(frozen=True)
class Rounds:
    rounds: int
    warmup: int


# Sized so the default run (tutorial data, both frameworks, 2 CPU cores) stays well under
# 10 minutes; train_to_accuracy (10 epochs per round) dominates. Quick: smoke tests only.
ROUNDS = {
    "first_epoch": (Rounds(10, 0), Rounds(1, 0)),
    "train_epoch": (Rounds(12, 1), Rounds(2, 1)),
    "train_to_accuracy": (Rounds(3, 0), Rounds(1, 0)),
    "pipeline_epoch": (Rounds(12, 1), Rounds(1, 0)),
    "predict_all": (Rounds(10, 2), Rounds(2, 1)),
    "predict_one": (Rounds(1000, 20), Rounds(10, 2)),
    "data_prepare": (Rounds(5, 1), Rounds(1, 0)),
    "data_load": (Rounds(20, 1), Rounds(2, 1)),
}


def rounds_for(phase: str, quick: bool) -> Rounds:
    return ROUNDS[phase][1 if quick else 0]


# Which pre-converted data a phase holds while it runs ("train0": epoch 0's dense batches on
# the device, the steady-state epoch; "train": every distinct epoch of a whole training; "test": the test set in eval chunks; "one": one test post).
NEEDS = {
    "first_epoch": ("train0",),
    "train_epoch": ("train0",),
    "train_to_accuracy": ("train", "test"),
    "pipeline_epoch": (),
    "predict_all": ("test",),
    "predict_one": ("one",),
}


def resident_bytes(cfg: ExperimentConfig, data: PreparedData, need: tuple[str, ...]) -> int:
    """Bytes of dense float32 a phase's pre-converted data takes (labels are negligible)."""
    v = data.vocab_size
    total = 0
    if "train0" in need:
        total += (data.x_train.shape[0] // cfg.batch_size) * cfg.batch_size * v * 4
    if "train" in need:
        total += distinct_epochs(cfg) * (data.x_train.shape[0] // cfg.batch_size) * cfg.batch_size * v * 4
    if "test" in need:
        total += data.x_test.shape[0] * v * 4
    if "one" in need:
        total += v * 4
    return total


def convert_test(twin: FrameworkTwin, cfg: ExperimentConfig, data: PreparedData) -> list[DeviceBatch]:
    x = data.x_test
    return [twin.to_device(dense_rows(x, s)) for s in eval_chunks(x.shape[0], cfg.eval_batch_size)]


# --- the timed callables -------------------------------------------------------------------

def train_epoch(twin: FrameworkTwin, batches: list[DeviceBatch]):
    losses = run_epoch(twin, batches)
    twin.synchronize()
    return losses


def pipeline_epoch(twin: FrameworkTwin, data: PreparedData, index_batches: list):
    """Densify, convert and train one batch at a time, as a streaming input pipeline would
    (so only one dense batch is alive, whatever V)."""
    x, y = data.x_train, data.y_train
    losses = [twin.train_step(twin.to_device(dense_rows(x, idx), y[idx])) for idx in index_batches]
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
    """The batch order every steady-state epoch uses (epoch 0's, identical for every framework)."""
    return epoch_order(cfg, data.x_train.shape[0], 0)
