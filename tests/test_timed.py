"""What is timed, pinned: a harness bug (an epoch that runs only its first batch, a first epoch
timed on a warm model, a thread budget not honoured) must fail here.

The timed callables and the phase runners are driven with a recording twin and a stand-in for
pytest-benchmark's `pedantic` that follows its contract (setup before each round, outside it).
"""
from __future__ import annotations

import numpy as np
import pytest

from benchmarks.model import phases
from benchmarks.model.phases import PHASES, HOLDINGS, Rounds
from benchmarks.harness.runner import INTEROP_THREADS, thread_mismatch
from shared.config import ExperimentConfig
from shared.contract import DeviceBatch


class Recorder:
    """A twin that logs every call, and how many steps it has taken since it was built."""

    built = 0

    def __init__(self, log: list):
        Recorder.built += 1
        self.id, self.log, self.steps = Recorder.built, log, 0

    def train_step(self, batch):
        self.log.append(("step", self.id, batch.x))
        self.steps += 1
        return np.float32(batch.x)

    def losses_to_numpy(self, losses):
        self.log.append(("readback", self.id, len(losses)))
        return np.asarray(losses, np.float32)

    def logits(self, batch):
        self.log.append(("logits", self.id, batch.x))
        return np.zeros((batch.size, 3), np.float32)

    def rows_to_device(self, x, rows, y=None):
        self.log.append(("convert", self.id, None))
        return DeviceBatch(int(np.asarray(rows).ravel()[0]) if not isinstance(rows, slice) else rows.start, None, 1)

    def synchronize(self):
        self.log.append(("sync", self.id, None))

    def trace_count(self):
        return None


def batches(n):
    return [DeviceBatch(i, None, 1) for i in range(n)]


def test_train_epoch_runs_every_step_then_reads_back_and_syncs():
    log = []
    twin = Recorder(log)
    out = phases.train_epoch(twin, batches(11))
    assert [e[2] for e in log if e[0] == "step"] == list(range(11))
    assert [e[0] for e in log[-2:]] == ["readback", "sync"]
    assert log[-2][2] == 11 and out.size == 11


def test_pipeline_epoch_converts_each_batch_then_steps_it():
    log = []
    twin = Recorder(log)

    class Data:
        x_train, y_train = None, np.zeros(100, np.int64)
    idx = [np.arange(i * 10, i * 10 + 10) for i in range(7)]
    phases.pipeline_epoch(twin, Data, idx)
    kinds = [e[0] for e in log]
    assert kinds == ["convert", "step"] * 7 + ["readback", "sync"]


def test_predict_reads_every_chunk_then_syncs():
    log = []
    phases.predict(Recorder(log), batches(3))
    assert [e[0] for e in log] == ["logits"] * 3 + ["sync"]


def test_train_to_accuracy_cycles_through_the_distinct_epoch_orders():
    log = []
    twin = Recorder(log)
    epochs = [batches(2), [DeviceBatch(10 + i, None, 1) for i in range(2)], [DeviceBatch(20 + i, None, 1) for i in range(2)]]
    phases.train_to_accuracy(twin, epochs, 7, batches(1))
    steps = [e[2] for e in log if e[0] == "step"]
    assert steps == [0, 1, 10, 11, 20, 21, 0, 1, 10, 11, 20, 21, 0, 1]
    assert log[-1][0] == "sync" and log[-2][0] == "logits"


def test_shuffle_builds_every_distinct_epoch_order():
    cfg = ExperimentConfig(shuffle_each_epoch=True, epochs=4, batch_size=5)

    class Bench:
        pass
    b = Bench()
    b.cfg, b.log = cfg, []
    b.twin = Recorder(b.log)

    class Data:
        x_train = np.zeros((23, 2))
        y_train = np.zeros(23, np.int64)
    b.data = Data
    built = HOLDINGS["train"].build(b)
    assert len(built) == 4
    firsts = [[bt.x for bt in epoch] for epoch in built]
    assert len({tuple(f) for f in firsts}) == 4, "the four epochs must use four different orders"
    unshuffled = ExperimentConfig(epochs=4, batch_size=5)
    b.cfg = unshuffled
    assert len(HOLDINGS["train"].build(b)) == 1


class FakeBenchmark:
    """pytest-benchmark's pedantic contract: setup() before each round, outside the timing."""

    def __init__(self):
        self.calls = []

        class S:
            data = []
        self.stats = type("T", (), {"stats": S()})()

    def pedantic(self, fn, args=(), setup=None, teardown=None, rounds=1, warmup_rounds=0):
        result = None
        for _ in range(warmup_rounds + rounds):
            a = args
            if setup is not None:
                a, _ = setup()
            result = fn(*a)
            self.calls.append(a)
            self.stats.stats.data.append(0.0)
        return result


class FakeBench:
    def __init__(self):
        self.log = []
        self.cfg = ExperimentConfig(epochs=2)
        self.fresh = []
        self.twin = self.fresh_twin()

        class Data:
            y_test = np.zeros(1, np.int64)
        self.data = Data
        self.resident = {"train0": batches(3), "train": [batches(3)], "test": batches(1)}

    def fresh_twin(self):
        t = Recorder(self.log)
        self.fresh.append(t)
        return t


@pytest.mark.parametrize("phase", [p for p, ph in PHASES.items() if ph.fresh_model])
def test_fresh_model_phases_start_every_round_from_a_new_untrained_model(phase):
    bench, bm = FakeBench(), FakeBenchmark()
    PHASES[phase].run(bench, bm, Rounds(4, 1))
    twins = [a[0] for a in bm.calls]
    assert len(twins) == 5 and len({t.id for t in twins}) == 5, "each round must get its own model"
    # every model's steps belong to exactly one round: none was trained before its round
    steps_per_round = {len(bench.resident["train0"]), len(bench.resident["train"][0]) * bench.cfg.epochs}
    assert all(t.steps in steps_per_round for t in twins)
    assert bench.twin.steps == 0, "the process's warm model must not be used"


def test_warm_phases_reuse_the_process_model():
    bench, bm = FakeBench(), FakeBenchmark()
    PHASES["train_epoch"].run(bench, bm, Rounds(3, 1))
    assert {a[0].id for a in bm.calls} == {bench.twin.id}
    assert bench.twin.steps == 4 * 3


def test_thread_budget_read_back_must_match():
    assert thread_mismatch({"intra_op_threads": 2, "inter_op_threads": INTEROP_THREADS}, 2) is None
    assert "differs" in thread_mismatch({"intra_op_threads": 1, "inter_op_threads": INTEROP_THREADS}, 2)
    assert "differs" in thread_mismatch({"intra_op_threads": 2, "inter_op_threads": 4}, 2)
