"""Duet benchmarking and the execution controls: the pairing of simultaneous rounds (synthetic run
folders, exact figures), the barrier between two real processes (its protocol, not its speed),
and the benchmark.pedantic wrapper that carries --gc off and the barrier into every phase."""
from __future__ import annotations

import gc
import json
import math
import multiprocessing
import time

import pytest
from scipy import stats as st

from benchmarks.analysis import duet, rundata, stats
from benchmarks.harness.barrier import Barrier, PartnerGone
from tests.runfolders import write_run

A, B = "torch:eager@cpu", "torch:fused@cpu"
T = float(st.t.ppf(0.975, 2))  # three pairs: two degrees of freedom

# Pair k's rounds, in round order. Matched by round index the ratios are
#   pair 0: 1/2, 3/1, 2/0.5 = 0.5, 3, 4  -> median 3 (sorted rounds would give 2)
#   pair 1: 4, 4, 1                       -> median 4
#   pair 2: 1, 1, 1                       -> median 1
ROUNDS = {A: {"predict_one": [[1.0, 3.0, 2.0], [4.0, 8.0, 1.0], [1.0, 2.0, 3.0]]},
          B: {"predict_one": [[2.0, 1.0, 0.5], [1.0, 2.0, 1.0], [1.0, 2.0, 3.0]]}}
PAIRS = [{"index": 0, "cores": {A: 0, B: 1}}, {"index": 1, "cores": {A: 1, B: 0}}, {"index": 2, "cores": {A: 0, B: 1}}]


def duet_run(folder, reverse_workers=False):
    write_run(folder, ROUNDS, baselines={"cpu": B}, kind="duet", label=f"duet {A} vs {B}")
    m = json.loads((folder / "manifest.json").read_text())
    m["duet"] = {"cases": [A, B], "cores": [0, 1], "pairs": PAIRS}
    if reverse_workers:  # the files read in another order must give the same pairs
        m["workers"].reverse()
    (folder / "manifest.json").write_text(json.dumps(m))
    return rundata.load_run(folder)


def test_duet_ratio_pairs_simultaneous_rounds(tmp_path):
    (d,) = duet.analyse(duet_run(tmp_path / "run"))
    assert d.phase == "predict_one"
    assert d.pairs == pytest.approx({0: math.log(3), 1: math.log(4), 2: 0.0})
    # exp(mean log) = (3 * 4 * 1) ** (1/3); one-sample t over the three pair figures
    logs = [math.log(3), math.log(4), 0.0]
    mean = sum(logs) / 3
    sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / 2)
    assert d.duet.value == pytest.approx(12 ** (1 / 3))
    assert d.duet.low == pytest.approx(math.exp(mean - T * sd / math.sqrt(3)))
    assert d.duet.high == pytest.approx(math.exp(mean + T * sd / math.sqrt(3)))
    assert d.duet.n == 3
    # the unpaired ratio is the ordinary one, from the same rounds
    assert d.unpaired == stats.ratio(ROUNDS[A]["predict_one"], ROUNDS[B]["predict_one"])
    assert d.width_ratio == pytest.approx(math.log(d.duet.high / d.duet.low) / math.log(d.unpaired.high / d.unpaired.low))
    # per core assignment: A on core 0 in pairs 0 and 2, on core 1 in pair 1
    assert d.by_core[0].value == pytest.approx(math.sqrt(3)) and d.by_core[0].n == 2
    assert d.by_core[1].value == pytest.approx(4.0) and not d.by_core[1].has_interval


def test_pairing_does_not_depend_on_file_order(tmp_path):
    a = duet.analyse(duet_run(tmp_path / "one"))
    b = duet.analyse(duet_run(tmp_path / "two", reverse_workers=True))
    assert [(x.duet, x.pairs, x.by_core) for x in a] == [(x.duet, x.pairs, x.by_core) for x in b]


def test_a_pair_with_unequal_rounds_is_left_out_with_a_note():
    with pytest.raises(ValueError, match="cannot be paired"):
        duet.pair_figure([1.0, 2.0], [1.0])


def test_the_report_section_states_the_duet(tmp_path):
    from benchmarks.reports import duet_report
    run = duet_run(tmp_path / "run")
    text = "\n".join(duet_report.section(run))
    (d,) = duet.analyse(run)
    assert "one thread" in text and "A on core 0" in text and "A on core 1" in text
    assert f"{rundata.fmt_ratio(d.duet.value)} ({rundata.fmt_interval(d.duet.low, d.duet.high)})" in text
    assert rundata._verdict_word(stats.verdict(d.duet, run.min_effect), False) in text
    assert duet_report.section(rundata.load_run(write_run(tmp_path / "plain", ROUNDS))) == []


def test_a_duet_run_label_and_banner(tmp_path):
    run = duet_run(tmp_path / "run")
    assert "Duet run" in rundata.kind_banner(run) and "one thread per framework" in rundata.kind_banner(run)


# --------------------------------------------------------------------------- the barrier

ROUNDS_N = 6


def _side(folder, side, partner, delays, out):
    """Arrive at each round after this side's own delay; log (arrived, left) per round."""
    b = Barrier(folder, side, partner, timeout=60)
    log = []
    for i, delay in enumerate(delays):
        time.sleep(delay)
        arrived = time.monotonic_ns()
        b.wait("p", i)
        log.append((arrived, time.monotonic_ns()))
    out.put((side, log))


def test_barrier_synchronises_two_processes(tmp_path):
    """Each side is late in alternate rounds; neither may leave round i before the other arrived at it."""
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    slow = [0.05 if i % 2 else 0.0 for i in range(ROUNDS_N)]
    fast = [0.0 if i % 2 else 0.05 for i in range(ROUNDS_N)]
    procs = [ctx.Process(target=_side, args=(str(tmp_path), "a", "b", slow, out)),
             ctx.Process(target=_side, args=(str(tmp_path), "b", "a", fast, out))]
    for p in procs:
        p.start()
    logs = dict(out.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    for i in range(ROUNDS_N):
        (a_in, a_out), (b_in, b_out) = logs["a"][i], logs["b"][i]
        assert a_out >= b_in and b_out >= a_in, f"round {i}: one side passed before the other arrived"
        if i + 1 < ROUNDS_N:  # and nobody reaches the next round before both have left this one's wait
            assert logs["a"][i + 1][0] >= a_out and logs["b"][i + 1][0] >= b_out


def test_a_partner_that_left_the_phase_fails_the_wait_at_once(tmp_path):
    Barrier(tmp_path, "b", "a").leave("p")
    with pytest.raises(PartnerGone, match="duet partner b left before round 0 of p"):
        Barrier(tmp_path, "a", "b", timeout=60).wait("p", 0)


def test_a_partner_that_never_comes_fails_at_the_timeout(tmp_path):
    with pytest.raises(PartnerGone, match="did not reach round 0 of p within 0 s"):
        Barrier(tmp_path, "a", "b", timeout=0.01).wait("p", 0)


def test_a_partner_that_arrived_and_left_is_not_taken_for_gone(tmp_path):
    partner = Barrier(tmp_path, "b", "a")
    partner._mark("p.0")
    partner.leave("p")
    partner.exit()
    Barrier(tmp_path, "a", "b", timeout=60).wait("p", 0)  # returns: b reached round 0 before it left


# --------------------------------------------------------------------------- the pedantic wrapper

class FakeBenchmark:
    """pytest-benchmark's pedantic calling order: setup before every warm-up and timed round."""

    def pedantic(self, target, args=(), kwargs=None, setup=None, teardown=None, rounds=1, warmup_rounds=0,
                 iterations=1):
        self.calls = []
        for _ in range(warmup_rounds + rounds):
            got = setup() if setup else None
            a, k = got if got else (args, kwargs or {})
            self.calls.append((a, gc.isenabled()))
            target(*a, **k)
        return "result"


def test_gc_off_and_the_barrier_wrap_every_round(tmp_path):
    from benchmarks.harness.execution import timed_rounds
    for i in range(3):  # the partner has been at every round already
        (tmp_path / f"b.p.{i}").touch()
    bench = FakeBenchmark()
    plan = {"gc": "off", "barrier": {"folder": str(tmp_path), "side": "a", "partner": "b"}}
    with timed_rounds(bench, "p", plan):
        got = bench.pedantic(lambda x: x, setup=lambda: ((7,), {}), rounds=2, warmup_rounds=1)
    assert got == "result" and bench.calls == [((7,), False)] * 3  # setup's arguments passed on, gc off
    assert gc.isenabled()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.p.0", "a.p.1", "a.p.2", "a.p.end", "b.p.0", "b.p.1",
                                                          "b.p.2"]
    with timed_rounds(bench, "q", {"gc": "on", "barrier": None}):  # args= with no setup: untouched
        bench.pedantic(lambda x: x, args=(1,), rounds=2)
    assert bench.calls == [((1,), True)] * 2
    assert "pedantic" not in vars(bench)  # the class's own method again after the phase


def test_a_barrier_without_its_folder_says_why(tmp_path):
    with pytest.raises(PartnerGone, match="barrier folder .* is gone: a duet worker runs only beside its partner"):
        Barrier(tmp_path / "removed", "a", "b").wait("p", 0)
