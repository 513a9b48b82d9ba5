"""scripts/refresh_readme.py: the README's reference block is generated from a run folder through
the one reader, and only the text between the markers changes."""
from __future__ import annotations

import importlib.util

from benchmarks.analysis import rundata
from tests.conftest import REPO
from tests.runfolders import write_run


def load_script():
    spec = importlib.util.spec_from_file_location("refresh_readme", REPO / "scripts" / "refresh_readme.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_block_is_generated_between_markers_only(tmp_path, capsys):
    script = load_script()
    run = write_run(tmp_path / "run", {
        "torch:eager@cpu": {"train_epoch": [[2.0, 2.01], [2.02, 2.0], [1.99, 2.0]]},
        "tensorflow:graph@cpu": {"train_epoch": [[1.0, 1.01], [1.0, 0.99], [1.01, 1.0]]},
    })
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n\n{script.START}\nold text\n{script.END}\n\ntail\n")
    assert script.main(["--run", str(run), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert text.startswith("intro\n\n") and text.endswith("\n\ntail\n") and "old text" not in text
    frame = rundata.summary(rundata.load_run(run))
    for line in rundata.timing_markdown(frame).splitlines()[2:]:
        assert line in text  # the same table the run's results.md has
    assert "TensorFlow (graph) trains an epoch 2.00x faster than PyTorch (eager)" in text
    assert script.main(["--run", str(run), "--readme", str(readme), "--check"]) == 0
    readme.write_text(text.replace("2.00x", "9.99x"))
    assert script.main(["--run", str(run), "--readme", str(readme), "--check"]) == 1


def test_missing_markers_is_exit_2(tmp_path, capsys):
    script = load_script()
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    assert script.main(["--run", str(tmp_path), "--readme", str(readme)]) == 2
    assert "needs exactly one" in capsys.readouterr().err


# --------------------------------------------------------------------------- the committed README

import re  # noqa: E402

# A measurement figure: a time, a ratio, a percentage, a size or a rate, or a number in scientific
# notation (a measured numerical gap).
MEASUREMENT = re.compile(r"(?<![\w.\-])(\d[\d,]*(?:\.\d+)?(?:e-?\d+)?)\s?(x\b|ms\b|µs\b|s\b|min\b|GB/s|GFLOP/s|GB\b|"
                         r"GiB\b|MB\b|%)|(?<![\w.])\d(?:\.\d+)?e-\d+")
# Figures outside the generated blocks that are settings or definitions, not measurements, each with
# why. Anything else that looks like a measurement must come from a generated block.
NOT_MEASUREMENTS = {
    "95%": "the confidence level of every interval",
    "90%": "the level of the equivalence test's interval (two one-sided tests at 5%)",
    "5%": "the default minimum effect (--min-effect)",
    "10%": "pyperf's fixed spread rule, which the suite used before (counted beside the new one)",
    "1%": "the chance level of the spread warning (a chi-square test)",
    "1 ms": "the short-round warning's threshold",
    "97%": "a rule of fwbench check --optimizer strict",
    "91%": "the accuracy the tutorial itself reported (not a measurement of this suite)",
    "83%": "a property of two independent estimates (sqrt 2 standard errors), not a measurement",
    "27 GB": "the size of the dense training matrix, computed from its shape",
    "32 MB": "glibc malloc's ceiling for its dynamic mmap threshold, a constant of glibc",
    "150 x": "the shape of a batch",
    "2 x": "the 'processes x rounds' notation",
    "1e-5": "a tolerance", "1e-4": "a tolerance", "1e-3": "a tolerance", "1e-8": "Adam's epsilon",
    "2e-5": "a tolerance", "2e-8": "a tolerance",
    "20 min": "the project's CI budget for make test, a limit, not a measurement",
}


def outside_blocks(text: str, script) -> str:
    """The README with its generated blocks blanked (line count kept, for line numbers)."""
    for start, end in ((script.ANSWER_START, script.ANSWER_END), (script.START, script.END),
                       (script.PLAIN_START, script.PLAIN_END), (script.FIRSTRUN_START, script.FIRSTRUN_END),
                       (script.BISECT_START, script.BISECT_END)):
        head, rest = text.split(start, 1)
        inside, tail = rest.split(end, 1)
        text = head + "\n" * inside.count("\n") + tail
    return text


def test_no_measurement_figure_stands_outside_a_generated_block():
    script = load_script()
    text = outside_blocks((REPO / "README.md").read_text(encoding="utf-8"), script)
    found = [(n, m.group(0)) for n, line in enumerate(text.splitlines(), 1) for m in MEASUREMENT.finditer(line)
             if m.group(0) not in NOT_MEASUREMENTS]
    assert found == [], f"README figures outside generated blocks (line, figure): {found}"


def test_the_scan_finds_a_hand_typed_figure():
    # the scan above is only as good as its pattern: the figures the issue found typed by hand
    for typed in ("each run 8 min 30 s", "2.54x (2.08-3.10)", "takes 58 ms", "91.5% accuracy", "at 21 GB/s",
                  "measured: 4e-7 to 1.9e-6"):
        assert [m.group(0) for m in MEASUREMENT.finditer(typed) if m.group(0) not in NOT_MEASUREMENTS], typed


def test_committed_blocks_and_answer_page_are_current(capsys):
    script = load_script()
    assert script.main(["--check"]) == 0, capsys.readouterr().err
    text = (REPO / "README.md").read_text(encoding="utf-8")
    block, page, page_html = script.answer_block(REPO / "results", REPO)
    assert block in text and (REPO / "results" / script.ANSWER_PAGE).read_text(encoding="utf-8") == page
    assert (REPO / "results" / script.ANSWER_HTML).read_text(encoding="utf-8") == page_html
    # the answer is on the first screen: its block closes within the README's first 40 lines
    first = text.splitlines()[:40]
    assert script.ANSWER_START in first and script.ANSWER_END in first
    for topic in ("Default against default", "Best against best", "Why:", "Accuracy over", "GPU:"):
        assert any(line.startswith("- **") and f".** {topic}" in line for line in first), topic
    # every line names its machine first: a CPU model with its threads, or a GPU
    assert any(line.startswith("| phase | PyTorch") and "JAX" in line for line in first)  # best against best, a table
    lines = [line for line in block.splitlines() if line.startswith("- ")]
    assert lines and all(re.match(r"- \*\*[^*]*(threads a case|cores|NVIDIA|GPU)[^*]*\.\*\* ", line) for line in lines), lines
    # every file the answer links to exists (a figure or report renamed would leave a dead link)
    for link in re.findall(r"\]\(([^)]+)\)", block):
        assert (REPO / link).is_file(), link


def test_plain_block_shows_each_workloads_and_cases_newest_check(tmp_path):
    """Known inputs: two checks of one case (the newer wins), another workload's, one with its own
    weights (left out); each row names its workload, machine, date and evidence."""
    import json
    script = load_script()

    def check(folder, workload, started, ratio, init="shared"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "plain.json").write_text(json.dumps({
            "kind": "plain-check", "init": init, "workload": workload, "processes": 4, "started": started,
            "environment": {"cpu": "Test CPU"},
            "results": [{"case": "torch:eager@cpu", "ratio": {"value": ratio, "low": ratio - 0.1, "high": ratio + 0.1},
                         "verdict": f"verdict {ratio}"}]}))

    check("a", "textcnn", "2026-01-01T00:00:00", 0.87)
    check("b", "textcnn", "2026-01-02T00:00:00", 1.00)
    check("c", "mlp", "2026-01-01T00:00:00", 1.01)
    check("d", "mlp", "2026-01-03T00:00:00", 2.00, init="own")
    rows = [l for l in script.plain_block(tmp_path, tmp_path).splitlines() if l.startswith("| ") and "---" not in l][1:]
    assert rows == [
        "| MLP (bag of words) | PyTorch (eager) | ` torch:eager@cpu ` | 4 | 1.01 (0.91-1.11) | verdict 1.01 | "
        "Test CPU, 2026-01-01 | c/plain.json |",
        "| Text CNN (Kim 2014) | PyTorch (eager) | ` torch:eager@cpu ` | 4 | 1.00 (0.90-1.10) | verdict 1.0 | "
        "Test CPU, 2026-01-02 | b/plain.json |"]
