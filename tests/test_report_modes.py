"""`fwbench report --sweep` refuses what is not a sweep folder in one line (exit 2), and a GPU case
whose framework is missing names the GPU install, whatever the recorded hint said."""
from __future__ import annotations

from benchmarks.reports import report
from benchmarks.analysis import rundata
from benchmarks.cli import main_entry
from tests.runfolders import write_run


def test_sweep_mode_refuses_a_run_folder_and_mixed_modes(tmp_path, capfd):
    run = write_run(tmp_path / "run", {"torch:eager@cpu": {"train_epoch": [[1.0, 1.1], [1.0, 1.2]]}})
    for argv, needle in ((["--sweep", str(run)], "not a sweep folder"),
                         (["--sweep"], "needs the sweep folders"),
                         (["--sweep", "--compare", str(run), str(run)], "a mode of its own")):
        assert main_entry(["report", *argv]) == 2
        err = capfd.readouterr().err
        assert needle in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_missing_framework_on_gpu_names_the_gpu_install(tmp_path):
    old_hint = ("tensorflow is not installed in this environment (No module named 'tensorflow'): run `make venv` "
                "or `pip install -e '.[cpu]'`")
    run = rundata.load_run(write_run(tmp_path / "run", {"torch:eager@gpu": {"train_epoch": [[1.0, 1.1], [1.0, 1.2]]}},
                                     unavailable={"tensorflow:graph@gpu": old_hint}))
    lines = report.headline(run, rundata.summary(run))
    line = next(x for x in lines if x.startswith("On GPU, TensorFlow (graph)"))
    assert "pip install -e '.[gpu]'" in line
    # a CPU case missing its framework keeps the recorded hint alone
    run = rundata.load_run(write_run(tmp_path / "cpu", {"torch:eager@cpu": {"train_epoch": [[1.0, 1.1], [1.0, 1.2]]}},
                                     unavailable={"tensorflow:graph@cpu": old_hint}))
    line = next(x for x in report.headline(run, rundata.summary(run)) if x.startswith("On CPU, TensorFlow"))
    assert ".[gpu]" not in line
