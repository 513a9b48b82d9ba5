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
