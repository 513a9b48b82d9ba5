"""The memory allocator variables the workers inherit (shared/environment.allocator_env): recorded
with every run, shown in its report, named by compare when two runs differ in them, and a reason
--pool refuses to mix runs (where both recorded them). Known inputs, exact text."""
from __future__ import annotations

import json

import pytest

from benchmarks.analysis import pool, rundata
from benchmarks.cli import main_entry
from benchmarks.reports import compare, report
from shared import environment
from tests.runfolders import set_allocator_env, write_run

TORCH, TF = "torch:eager@cpu", "tensorflow:graph@cpu"
RUN = {TORCH: {"train_epoch": [[2.0, 2.2, 2.1], [2.4, 2.3, 2.5]]},
       TF: {"train_epoch": [[1.0, 1.1, 0.9], [1.3, 1.2, 1.25]]}}
OTHER = {TORCH: {"train_epoch": [[1.8, 1.9, 1.85], [2.6, 2.7, 2.65]]},  # another run's processes
         TF: {"train_epoch": [[1.05, 1.0, 1.02], [1.4, 1.5, 1.45]]}}
ROW = "| memory allocator environment given to the workers |"


def test_allocator_env_picks_the_allocator_variables_only():
    environ = {"PATH": "/bin", "OMP_NUM_THREADS": "2", "MALLOC_ARENA_MAX": "2", "LD_PRELOAD": "/x/libjemalloc.so",
               "THP_MEM_ALLOC_ENABLE": "1", "TCMALLOC_RELEASE_RATE": "0", "GLIBC_TUNABLES": "glibc.malloc.hugetlb=1",
               "MALLOC_MMAP_THRESHOLD_": "134217728", "XMALLOC": "no"}
    got = environment.allocator_env(environ)
    assert got == {"GLIBC_TUNABLES": "glibc.malloc.hugetlb=1", "LD_PRELOAD": "/x/libjemalloc.so",
                   "MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "134217728", "TCMALLOC_RELEASE_RATE": "0",
                   "THP_MEM_ALLOC_ENABLE": "1"}
    assert list(got) == sorted(got)
    assert environment.allocator_env({"PATH": "/bin"}) == {}


def test_capture_records_what_this_process_would_pass_on(monkeypatch):
    for k in list(environment.allocator_env()):
        monkeypatch.delenv(k)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "268435456")
    assert environment.capture()["allocator_env"] == {"MALLOC_TRIM_THRESHOLD_": "268435456"}


@pytest.mark.parametrize("given, shown", [
    ({"MALLOC_MMAP_THRESHOLD_": "134217728", "MALLOC_TRIM_THRESHOLD_": "268435456"},
     "MALLOC_MMAP_THRESHOLD_=134217728, MALLOC_TRIM_THRESHOLD_=268435456"),
    ({}, "none set: glibc malloc's and each framework's own defaults"),
    (None, "not recorded (a run from before fwbench recorded it)"),
])
def test_the_report_names_the_allocator_environment(tmp_path, given, shown):
    folder = set_allocator_env(write_run(tmp_path / "run", RUN), given)
    text = report.write_report(folder).read_text()
    assert f"{ROW} {shown} |" in text


def test_compare_names_runs_that_differ_in_it(tmp_path):
    a = set_allocator_env(write_run(tmp_path / "a", RUN), {})
    b = set_allocator_env(write_run(tmp_path / "b", RUN), {"LD_PRELOAD": "/usr/lib/libjemalloc.so.2"})
    old = set_allocator_env(write_run(tmp_path / "old", RUN), None)
    runs = [rundata.load_run(p) for p in (a, b)]
    (line,) = [w for w in compare.env_differences(runs) if w.startswith("memory allocator environment")]
    assert line.startswith("memory allocator environment differs: ")
    first, second = line.split("; ")
    assert first.endswith(": none set") and second.endswith(": LD_PRELOAD=/usr/lib/libjemalloc.so.2")
    # a run that did not record it is not a difference
    assert not [w for w in compare.env_differences([runs[0], rundata.load_run(old)])
                if w.startswith("memory allocator environment")]


def test_pool_refuses_runs_that_differ_in_it_and_pools_an_older_run(tmp_path, capfd):
    a = set_allocator_env(write_run(tmp_path / "a", RUN), {})
    b = set_allocator_env(write_run(tmp_path / "b", RUN), {"MALLOC_ARENA_MAX": "1"})
    out = tmp_path / "pooled"
    assert main_entry(["report", "--pool", str(a), str(b), "--output", str(out)]) == 2
    err = capfd.readouterr().err
    assert "cannot pool" in err and "memory allocator environment MALLOC_ARENA_MAX: None against '1'" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()
    old = set_allocator_env(write_run(tmp_path / "old", OTHER), None)
    pool.check_poolable([rundata.load_run(a), rundata.load_run(old)])  # no refusal: old did not record it
