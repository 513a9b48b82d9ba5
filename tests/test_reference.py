"""`fwbench plain --reference`: an external script's epoch times read by the RESULT-line protocol
(benchmarks/plain/reference.py), refused with one line when they are missing, malformed or not
like for like, and shown as a third column whose ratios and verdicts are the suite's."""
from __future__ import annotations

import json
import math
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from benchmarks.plain import check, reference, summary
from benchmarks.plain.reference import ReferenceFailed
from shared.errors import UserError
from tests.conftest import fwbench, one_stderr_line

CASES = ["torch:eager@cpu", "tensorflow:graph@cpu"]


def fake_script(tmp_path: Path, body: str, name: str = "fake_ref.py") -> Path:
    """A reference script that prints what `body` says (no framework: it starts in a blink)."""
    path = tmp_path / name
    path.write_text("import json, os, sys\n" + textwrap.dedent(body))
    return path


FIXED = """
    epochs = int(sys.argv[sys.argv.index('--epochs') + 1])
    print('training...')
    print('RESULT ' + json.dumps({'epoch_times_s': [5.0] + [2.0] * (epochs - 1),
                                  'threads': int(os.environ['FWBENCH_THREADS']), 'epoch_last_loss': [1.0] * epochs}))
"""


# --- the RESULT line --------------------------------------------------------------------------

def test_result_line_is_read_and_cut_to_the_epochs_compared():
    rec = reference.read_result("noise\nRESULT " + json.dumps({"epoch_times_s": [3, 1.5, 1.25, 1.0, 9.0],
                                                               "threads": 2}) + "\n", 4)
    side = reference.side_record(rec, 4, 2)
    # the first four (warm-up first): the same positions as the plain script's and the twin's epochs
    assert side["epoch_seconds"] == [3.0, 1.5, 1.25, 1.0]
    assert side["epochs_reported"] == 5 and side["read_back"] == {"intra_op_threads": 2, "threads_reported": True}


@pytest.mark.parametrize("stdout,fragment", [
    ("", "printed no line starting with 'RESULT'"),
    ("done in 3 s\n", "printed no line starting with 'RESULT'"),
    ("RESULT {\"epoch_times_s\": [1, 1]}\nRESULT {\"epoch_times_s\": [1, 1]}\n", "printed 2 RESULT lines"),
    ("RESULT {epoch_times_s: [1, 1]}\n", "its RESULT line is not JSON"),
    ("RESULT [1, 2]\n", "is not a JSON object"),
    ("RESULT {\"times\": [1, 2]}\n", "has no epoch_times_s list"),
    ("RESULT {\"epoch_times_s\": [1.0, NaN]}\n", "not a finite positive number"),
    ("RESULT {\"epoch_times_s\": [1.0, Infinity]}\n", "not a finite positive number"),
    ("RESULT {\"epoch_times_s\": [1.0, -2.0]}\n", "not a finite positive number"),
    ("RESULT {\"epoch_times_s\": [1.0, \"2\"]}\n", "not a finite positive number"),
    ("RESULT {\"epoch_times_s\": [1.0, true]}\n", "not a finite positive number"),
    ("RESULT {\"epoch_times_s\": [1.0]}\n", "printed 1 epoch times, 2 are needed"),
])
def test_a_bad_result_is_one_line(stdout, fragment):
    with pytest.raises(ReferenceFailed, match=None) as e:
        reference.read_result(stdout, 2)
    assert fragment in str(e.value) and "\n" not in str(e.value)


def test_another_thread_count_fails_and_none_is_recorded_as_not_reported():
    with pytest.raises(ReferenceFailed, match="reports 4 intra-op threads, the budget is 2"):
        reference.side_record({"epoch_times_s": [1, 1], "threads": 4}, 2, 2)
    assert reference.side_record({"epoch_times_s": [1, 1], "intra": 2}, 2, 2)["read_back"]["intra_op_threads"] == 2
    side = reference.side_record({"epoch_times_s": [1, 1]}, 2, 2)
    assert side["read_back"] == {"intra_op_threads": None, "threads_reported": False}


# --- one process ---------------------------------------------------------------------------------

def test_a_script_runs_with_the_budget_in_its_environment(tmp_path):
    script = fake_script(tmp_path, FIXED)
    side = reference.run([sys.executable, str(script), "--epochs", "4"], {}, 4, 3)
    assert side["epoch_seconds"] == [5.0, 2.0, 2.0, 2.0] and side["read_back"]["intra_op_threads"] == 3


@pytest.mark.parametrize("body,fragment", [
    ("sys.stderr.write('Traceback...\\nValueError: no data\\n'); sys.exit(3)", "exit 3: ValueError: no data"),
    ("print('trained')", "printed no line starting with 'RESULT'"),
    ("print('RESULT ' + json.dumps({'epoch_times_s': [1.0, float('nan')]}))", "not a finite positive number"),
])
def test_a_failing_script_gives_one_line(tmp_path, body, fragment):
    script = fake_script(tmp_path, body)
    with pytest.raises(ReferenceFailed) as e:
        reference.run([sys.executable, str(script)], {}, 2, 2)
    assert fragment in str(e.value) and "\n" not in str(e.value)


# --- the option ------------------------------------------------------------------------------------

def test_spec_fills_placeholders_and_names_the_case(tmp_path):
    script = fake_script(tmp_path, FIXED)
    ref = reference.parse_spec(f"torch={{python}} {script} --epochs {{epochs}} --threads {{threads}} --seed {{seed}}",
                               CASES)
    assert ref.case == "torch:eager@cpu"
    assert ref.argv(epochs=7, threads=2, seed=0) == [sys.executable, str(script), "--epochs", "7", "--threads", "2",
                                                     "--seed", "0"]
    assert reference.parse_spec(f"tf:graph={{python}} {script}", CASES).case == "tensorflow:graph@cpu"
    w = reference.parse_spec(f"torch={{python}} {script} --w {{weights}}", CASES)
    assert w.argv(epochs=2, threads=2, weights=tmp_path / "w.npz")[-1] == str(tmp_path / "w.npz")
    with pytest.raises(UserError, match="needs --init shared"):
        w.argv(epochs=2, threads=2)


@pytest.mark.parametrize("spec,fragment", [
    ("torch", "write CASE=COMMAND"),
    ("torch=", "write CASE=COMMAND"),
    ("torch:fused=python x.py", "torch:fused@cpu is not one of the --cases"),
    ("torch={python} {script} --n {epoch}", "unknown placeholder {epoch}"),
    ("torch={python} /no/such/dir/ref_torch.py", "script /no/such/dir/ref_torch.py does not exist"),
    ("torch=no-such-program-xyz {script}", "program 'no-such-program-xyz' not found"),
    ("torch={python} '{script}", "cannot read the command"),
])
def test_bad_spec_is_refused_before_timing(tmp_path, spec, fragment):
    script = fake_script(tmp_path, FIXED)
    with pytest.raises(UserError) as e:
        reference.parse_spec(spec.replace("{script}", str(script)), CASES)
    assert fragment in str(e.value)


@pytest.mark.parametrize("args,fragment", [
    (["--reference", "torch={python} /no/such/dir/ref_torch.py"], "does not exist"),
    (["--reference", "torch"], "write CASE=COMMAND"),
    (["--cases", "torch", "--reference", "torch=python a.py", "--reference", "torch:eager=python b.py"], "twice"),
    (["--cases", "torch", "--init", "own", "--reference", "torch=python a.py --w {weights}"], "needs --init shared"),
])
def test_cli_bad_reference_is_one_line_and_writes_nothing(tmp_path, args, fragment):
    (tmp_path / "a.py").write_text("")
    (tmp_path / "b.py").write_text("")
    args = [a.replace("a.py", str(tmp_path / "a.py")).replace("b.py", str(tmp_path / "b.py")) for a in args]
    p = fwbench("plain", *args, "--output", str(tmp_path / "out"), cache=tmp_path / "cache")
    assert fragment in one_stderr_line(p, 2)
    assert not (tmp_path / "out").exists()


def test_report_mode_refuses_a_reference(tmp_path):
    p = fwbench("plain", "--report", str(tmp_path), "--reference", "torch=python x.py", cache=tmp_path / "cache")
    assert "times nothing: drop --reference" in one_stderr_line(p, 2)


# --- the figures -----------------------------------------------------------------------------------

def _triples(plain, twin, ref):
    losses = [[1.0, 0.5]]
    return [{"plain": {"epoch_seconds": [9.0, p, p, p], "epoch_losses": losses, "read_back": {}},
             "twin": {"epoch_seconds": [9.0, t, t, t], "epoch_losses": losses, "read_back": {}},
             "reference": {"epoch_seconds": [7.0, r, r, r], "epochs_reported": 4,
                           "read_back": {"intra_op_threads": 2, "threads_reported": True}}}
            for p, t, r in zip(plain, twin, ref)]


def test_reference_column_is_the_suites_ratio_of_warm_epochs():
    s = summary.summarise("torch:eager@cpu", _triples([1.5, 1.5], [1.53, 1.53], [1.25, 1.25]),
                          {"case": "torch:eager@cpu", "command": "python ref.py", "failed": None})
    c = s["reference"]
    # warm epochs only (the 9 s and 7 s first epochs left out); identical processes: a point interval
    assert c["reference_s"]["value"] == pytest.approx(1.25)
    assert (c["twin_over_reference"]["value"], c["twin_over_reference"]["low"], c["twin_over_reference"]["high"]) \
        == (pytest.approx(1.224), pytest.approx(1.224), pytest.approx(1.224))
    assert c["plain_over_reference"]["value"] == pytest.approx(1.2)
    assert c["twin_verdict"] == "slower than the reference script by more than 5%"
    assert c["threads_read_back"] == [2] and c["epochs_reported"] == [4]
    # the twin / plain figures are what they were without a reference
    assert s["ratio"]["value"] == pytest.approx(1.02)


def test_reference_interval_spreads_with_its_processes():
    import numpy as np
    from scipy import stats as st
    s = summary.summarise("torch:eager@cpu", _triples([1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [0.9, 1.0, 1.1]),
                          {"case": "torch:eager@cpu", "command": "c", "failed": None})
    c = s["reference"]["twin_over_reference"]
    lr = np.log([0.9, 1.0, 1.1])
    se = lr.std(ddof=1) / math.sqrt(3)
    h = st.t.ppf(0.975, 2) * se  # Welch with a zero-variance side: df = n - 1 of the other
    assert c["value"] == pytest.approx(math.exp(-lr.mean()))
    assert (c["low"], c["high"]) == (pytest.approx(math.exp(-lr.mean() - h)), pytest.approx(math.exp(-lr.mean() + h)))
    assert s["reference"]["twin_verdict"].startswith("inconclusive")


def test_failed_reference_has_no_figures_only_its_reason():
    pairs = _triples([1.0, 1.0], [1.0, 1.0], [1.0, 1.0])
    c = summary.summarise("torch:eager@cpu", pairs, {"case": "x", "command": "c", "failed": "process pair 2: exit 1"})
    assert c["reference"] == {"command": "c", "failed": "process pair 2: exit 1"}
    del pairs[1]["reference"]
    c = summary.summarise("torch:eager@cpu", pairs, {"case": "x", "command": "c", "failed": None})
    assert c["reference"]["failed"] == "not run in every process pair"


def test_three_sides_rotate_so_each_runs_in_each_position():
    orders = [check.side_order(k, True) for k in range(3)]
    assert orders == [("plain", "twin", "reference"), ("twin", "reference", "plain"), ("reference", "plain", "twin")]
    assert [check.side_order(k, False) for k in range(2)] == [("plain", "twin"), ("twin", "plain")]


# --- the whole check, its sides faked: the column, the report, a failure written and named ----------

def _check(tmp_path, monkeypatch, script: Path, processes: int = 2):
    import argparse

    import shared.dataset
    calls = []

    def fake_side(cmd, env, what):
        side = "plain" if "torch_script" in " ".join(cmd) else "twin"
        calls.append(side)
        t = 1.5 if side == "plain" else 1.53
        return {"epoch_seconds": [9.0, t, t, t], "epoch_losses": [[1.0, 0.5]], "read_back": {"intra_op_threads": 2}}

    monkeypatch.setattr(check, "_run_side", fake_side)
    monkeypatch.setattr(shared.dataset, "prepare", lambda cfg, archive=None: SimpleNamespace(vocab_size=5, n_classes=3))
    p = argparse.ArgumentParser()
    check.add_arguments(p)
    args = p.parse_args(["--cases", "torch", "--processes", str(processes), "--epochs", "4", "--threads", "2",
                         "--output", str(tmp_path / "out"),
                         "--reference", f"torch={{python}} {script} --epochs {{epochs}}"])
    return args, calls


def test_check_with_a_reference_writes_its_column(tmp_path, monkeypatch, capsys):
    script = fake_script(tmp_path, FIXED.replace("[2.0]", "[1.25]"))
    args, calls = _check(tmp_path, monkeypatch, script, processes=3)
    assert check.main(args) == 0
    folder = next((tmp_path / "out").iterdir())
    doc = json.loads((folder / "plain.json").read_text())
    col = doc["results"][0]["reference"]
    assert col["failed"] is None and col["reference_s"]["value"] == pytest.approx(1.25)
    assert col["twin_over_reference"]["value"] == pytest.approx(1.224)
    assert col["plain_over_reference"]["value"] == pytest.approx(1.2)
    assert [len(p) for p in doc["pairs"]["torch:eager@cpu"]] == [3, 3, 3]
    assert calls == ["plain", "twin", "twin", "plain", "plain", "twin"]  # rotation: reference 3rd, 2nd, 1st
    text = (folder / "report.md").read_text()
    assert "Against a reference script" in text and "epochs 2-4 of the first 4" in text
    assert "| 1.25 s | 1.22 (1.22-1.22) | slower than the reference script by more than 5% | 1.20 (1.20-1.20) |" in text


def test_check_names_a_failed_reference_keeps_the_rest_and_exits_2(tmp_path, monkeypatch):
    script = fake_script(tmp_path, "print('RESULT ' + json.dumps({'epoch_times_s': [1.0, -1.0, 1.0, 1.0]}))")
    args, calls = _check(tmp_path, monkeypatch, script)
    with pytest.raises(UserError, match=r"reference script failed \(torch:eager@cpu: process pair 1: epoch_times_s "
                                        r"holds a value that is not a finite positive number"):
        check.main(args)
    folder = next((tmp_path / "out").iterdir())
    doc = json.loads((folder / "plain.json").read_text())
    assert doc["results"][0]["ratio"]["value"] == pytest.approx(1.02)  # the twin and plain figures are kept
    assert doc["references"][0]["failed"].startswith("process pair 1:")
    assert calls == ["plain", "twin", "twin", "plain"]  # the failed reference is not run again
    assert "| failed: process pair 1: epoch_times_s holds" in (folder / "report.md").read_text()
