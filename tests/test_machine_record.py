"""What the machine did during each phase: /proc/stat parsed from a fixed text, the record of an
interval, the reader's validation, and the report's section on a synthetic run folder."""
from __future__ import annotations

import json
import mmap

import pytest

from benchmarks.analysis import rundata
from benchmarks.harness import machine
from benchmarks.model.phases import PHASES
from benchmarks.reports import disturbance
from shared.errors import UserError
from tests.runfolders import write_run

BEFORE = "cpu  100 5 50 1000 20 3 2 7 0 0\ncpu0 50 2 25 500 10 1 1 3 0 0\nintr 12345\n"
AFTER = "cpu  250 5 90 1100 20 5 4 17 0 0\ncpu0 125 2 45 550 10 2 2 8 0 0\nintr 12399\n"


def test_parse_the_aggregate_line():
    assert machine.parse_proc_stat(BEFORE) == {"user": 100, "nice": 5, "system": 50, "idle": 1000, "iowait": 20,
                                               "irq": 3, "softirq": 2, "steal": 7}
    assert machine.parse_proc_stat("cpu  1 2 3 4\n")["steal"] == 0  # an old kernel's shorter line
    assert machine.parse_proc_stat("cpu0 1 2 3 4\n") is None


def test_the_record_of_an_interval():
    a = machine.Sample(10.0, 1.0, machine.parse_proc_stat(BEFORE))
    b = machine.Sample(12.0, 2.5, machine.parse_proc_stat(AFTER))
    rec = machine.between(a, b, tick_s=0.01)
    # busy: (150 user + 0 nice + 40 system + 2 irq + 2 softirq) ticks = 1.94 s, less own 1.5 s
    assert rec == {"wall_s": 2.0, "steal_s": pytest.approx(0.10, abs=1e-12),
                   "other_cpu_s": pytest.approx(0.44, abs=1e-12), "own_cpu_s": 1.5, "minor_faults": None, "note": None}
    # page faults: the difference of the process's counts, None when either sample lacks one
    with_faults = machine.between(machine.Sample(10.0, 1.0, a.ticks, faults=1000),
                                  machine.Sample(12.0, 2.5, b.ticks, faults=4250), tick_s=0.01)
    assert with_faults["minor_faults"] == 3250
    # own time above the machine's busy time (whole ticks): other processes clamp at 0
    assert machine.between(a, machine.Sample(12.0, 9.0, b.ticks), tick_s=0.01)["other_cpu_s"] == 0.0


def test_without_proc_stat_the_system_figures_are_none_and_say_why(tmp_path):
    a, b = machine.sample(tmp_path / "no-stat"), machine.sample(tmp_path / "no-stat")
    rec = machine.between(a, b)
    assert rec["steal_s"] is None and rec["other_cpu_s"] is None and rec["own_cpu_s"] is not None
    assert "cannot be read" in rec["note"]


def _run(tmp_path, torch_machine, tf_machine):
    r = [[0.2, 0.21, 0.2], [0.21, 0.2, 0.2]]
    return write_run(tmp_path / "run", {"torch:eager@cpu": {"train_epoch": r}, "tensorflow:graph@cpu": {"train_epoch": r}},
                     extra_info={"torch:eager@cpu": {"train_epoch": [{"machine": m} for m in torch_machine]},
                                 "tensorflow:graph@cpu": {"train_epoch": [{"machine": m} for m in tf_machine]}})


def rec(wall, steal, other, own=1.0):
    return {"wall_s": wall, "steal_s": steal, "other_cpu_s": other, "own_cpu_s": own, "note": None}


def test_the_section_names_the_disturbed_processes(tmp_path):
    folder = _run(tmp_path, [rec(2.0, 0.0, 0.2), rec(2.0, 0.1, 1.0)],
                  [rec(4.0, 0.04, 0.4), rec(0.5, 0.1, 0.5)])  # the last: too short to judge
    run = rundata.load_run(folder)
    p1 = run.cases["torch:eager@cpu"].phases["train_epoch"].processes[1]
    assert p1.index == 1 and p1.machine == rec(2.0, 0.1, 1.0)
    text = "\n".join(disturbance.section(run))
    label = PHASES["train_epoch"].label
    assert f"| {label} | PyTorch (eager) | CPU | 2 | 5.0% | 0.50 | process 1 (steal 5.0%, others 0.50 cores) |" in text
    assert f"| {label} | TensorFlow (graph) | CPU | 2 | 20.0% | 1.00 | none |" in text
    assert "1 process-phase(s) disturbed." in text
    from benchmarks.reports import report
    assert "## Machine during the phases" in report.write_report(folder).read_text()


def test_a_live_sample_counts_this_process_page_faults():
    """A fresh anonymous mapping, written once a page, faults every page in. Not bytearray(8 MB):
    malloc raises its mmap threshold after earlier frees (up to 32 MB), so in a worker that ran
    other tests the block came from heap pages already mapped, and CI counted 0."""
    page = mmap.PAGESIZE
    block = mmap.mmap(-1, 2048 * page)
    if hasattr(mmap, "MADV_NOHUGEPAGE"):
        block.madvise(mmap.MADV_NOHUGEPAGE)  # one 4 KiB fault a page, not one a 2 MiB huge page
    a = machine.sample()
    for offset in range(0, len(block), page):
        block[offset] = 1
    rec = machine.between(a, machine.sample())
    block.close()
    assert rec["minor_faults"] >= 2048, rec["minor_faults"]


def test_the_section_shows_page_faults_per_round(tmp_path):
    """Known inputs: 3 timed rounds and 1 warm-up a process, 400 and 1,000 faults: 100 and 250 a
    round, the median 175; a case whose records lack the count shows n/a."""
    def m(faults):
        return {**rec(2.0, 0.0, 0.1), "minor_faults": faults}
    r = [[0.2, 0.21, 0.2], [0.21, 0.2, 0.2]]
    folder = write_run(tmp_path / "run", {"torch:eager@cpu": {"predict_all": r}, "tensorflow:graph@cpu": {"predict_all": r}},
                       extra_info={"torch:eager@cpu": {"predict_all": [{"machine": m(400), "warmup_rounds": 1},
                                                                       {"machine": m(1000), "warmup_rounds": 1}]},
                                   "tensorflow:graph@cpu": {"predict_all": [{"machine": rec(2.0, 0.0, 0.1)}] * 2}})
    text = "\n".join(disturbance.section(rundata.load_run(folder)))
    label = PHASES["predict_all"].label
    assert "| minor page faults per round |" in text
    assert f"| {label} | PyTorch (eager) | CPU | 2 | 0.0% | 0.05 | none | 175 |" in text
    assert f"| {label} | TensorFlow (graph) | CPU | 2 | 0.0% | 0.05 | none | n/a |" in text
    # records without the count (every run before it was recorded): the section as it was
    old = "\n".join(disturbance.section(rundata.load_run(_run(tmp_path / "old", [rec(2.0, 0.0, 0.1)] * 2,
                                                                                 [rec(2.0, 0.0, 0.1)] * 2))))
    assert "page faults" not in old
    path = folder / "workers" / "torch-eager-cpu.p0.json"
    doc = json.loads(path.read_text())
    doc["benchmarks"][0]["extra_info"]["machine"]["minor_faults"] = -3
    path.write_text(json.dumps(doc))
    with pytest.raises(UserError, match="machine minor_faults -3 is outside its domain"):
        rundata.load_run(folder)


def test_a_run_without_records_has_no_section(tmp_path):
    folder = write_run(tmp_path / "run", {"torch:eager@cpu": {"train_epoch": [[0.2], [0.21]]}})
    assert disturbance.section(rundata.load_run(folder)) == []


def test_none_is_a_record_and_a_negative_figure_is_refused(tmp_path):
    folder = _run(tmp_path, [rec(2.0, None, None)] * 2, [rec(2.0, 0.0, 0.0)] * 2)
    text = "\n".join(disturbance.section(rundata.load_run(folder)))
    assert "| PyTorch (eager) | CPU | 2 | n/a | n/a | none |" in text  # no /proc/stat: nothing to judge
    assert "| TensorFlow (graph) | CPU | 2 | 0.0% | 0.00 | none |" in text
    path = folder / "workers" / "torch-eager-cpu.p0.json"
    doc = json.loads(path.read_text())
    doc["benchmarks"][0]["extra_info"]["machine"]["other_cpu_s"] = -0.5
    path.write_text(json.dumps(doc))
    with pytest.raises(UserError, match="machine other_cpu_s -0.5 is outside its domain"):
        rundata.load_run(folder)
