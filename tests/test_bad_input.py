"""Bad input: one line naming the problem and the fix, exit status 2, no traceback, nothing lost."""
from __future__ import annotations

import io
import re
import math
import os
import tarfile
from pathlib import Path

import pytest

from shared.config import ExperimentConfig
from shared.errors import UserError
from tests.conftest import fwbench, make_tiny_archive, one_stderr_line


def assert_user_error(proc, *needles: str) -> None:
    err = one_stderr_line(proc, 2)
    for n in needles:
        assert n in err, f"{n!r} not in {err!r}"


def assert_nothing_extracted(cache: Path) -> None:
    """A rejected archive leaves no folder (not even an empty one) under <cache>/archives."""
    archives = cache / "archives"
    left = [p.name for p in archives.iterdir() if p.is_dir()] if archives.is_dir() else []
    assert left == [], f"a rejected archive left {left} in {archives}"


@pytest.fixture
def good_archive(tmp_path) -> Path:
    return make_tiny_archive(tmp_path / "good.tar.gz")


def test_missing_archive(tmp_path):
    proc = fwbench("data", "--archive", str(tmp_path / "nope.tar.gz"), cache=tmp_path / "c")
    assert_user_error(proc, "does not exist", "--archive")


def test_missing_archive_from_environment(tmp_path):
    proc = fwbench("data", env_extra={"FWBENCH_ARCHIVE": str(tmp_path / "nope.tar.gz")}, cache=tmp_path / "c")
    assert_user_error(proc, "nope.tar.gz", "FWBENCH_ARCHIVE")


def test_truncated_archive(tmp_path, good_archive):
    bad = tmp_path / "truncated.tar.gz"
    bad.write_bytes(good_archive.read_bytes()[: good_archive.stat().st_size // 2])
    proc = fwbench("data", "--archive", str(bad), cache=tmp_path / "c")
    assert_user_error(proc, "truncated or not a gzip tar", "--archive")
    assert_nothing_extracted(tmp_path / "c")


def test_not_an_archive(tmp_path):
    bad = tmp_path / "text.tar.gz"
    bad.write_text("hello")
    assert_user_error(fwbench("data", "--archive", str(bad), cache=tmp_path / "c"), "not a gzip tar")


def test_wrong_layout(tmp_path):
    bad = make_tiny_archive(tmp_path / "layout.tar.gz", top_folders=("train", "test"))
    assert_user_error(fwbench("data", "--archive", str(bad), cache=tmp_path / "c"),
                      "lacks the folder(s) 20news-bydate-test, 20news-bydate-train")
    assert_nothing_extracted(tmp_path / "c")


def test_path_traversal_is_refused(tmp_path):
    evil = tarfile.TarInfo("20news-bydate-train/../../evil.txt")
    evil.size = 1
    bad = make_tiny_archive(tmp_path / "evil.tar.gz", extra_members=[evil])
    assert_user_error(fwbench("data", "--archive", str(bad), cache=tmp_path / "c"), "outside the archive")
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "c" / "evil.txt").exists()
    assert_nothing_extracted(tmp_path / "c")


def test_absolute_member_is_refused(tmp_path):
    target = tmp_path / "absolute-evil.txt"
    evil = tarfile.TarInfo(str(target))  # tarfile keeps the leading '/' of a name set this way
    evil.size = 1
    bad = make_tiny_archive(tmp_path / "abs.tar.gz", extra_members=[evil])
    with tarfile.open(bad) as tar:
        assert str(target) in tar.getnames()  # the archive really holds an absolute name
    assert_user_error(fwbench("data", "--archive", str(bad), cache=tmp_path / "c"), "outside the archive", str(target))
    assert not target.exists()
    assert_nothing_extracted(tmp_path / "c")


def test_symlink_member_is_refused(tmp_path):
    link = tarfile.TarInfo("20news-bydate-train/sci.space/link")
    link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
    bad = make_tiny_archive(tmp_path / "link.tar.gz", extra_members=[link])
    assert_user_error(fwbench("data", "--archive", str(bad), cache=tmp_path / "c"), "link")
    assert_nothing_extracted(tmp_path / "c")


def test_missing_newsgroup_folder(tmp_path):
    # Right top-level folders but only some groups: not the 20news-bydate archive.
    bad = tmp_path / "partial.tar.gz"
    with tarfile.open(bad, "w:gz") as tar:
        for top in ("20news-bydate-train", "20news-bydate-test"):
            info = tarfile.TarInfo(f"{top}/sci.space/1")
            info.size = 5
            tar.addfile(info, io.BytesIO(b"hello"))
    assert_user_error(fwbench("data", "--archive", str(bad), cache=tmp_path / "c"), "20 newsgroup folders")
    assert_nothing_extracted(tmp_path / "c")


@pytest.mark.parametrize("args, needles", [
    (["--categories", "sci.spaec"], ["unknown category 'sci.spaec'", "sci.space"]),
    (["--categories", ","], ["no categories selected"]),
    (["--categories", "sci.space"], ["at least two"]),
    (["--batch-size", "0"], ["batch size must be a positive integer"]),
    (["--epochs", "-1"], ["epochs must be a positive integer"]),
    (["--hidden", "100,0"], ["mlp setting hidden must be positive integers"]),
    (["--hidden", "a,b"], ["mlp setting hidden='a,b' is not a valid value"]),
    (["--lr", "0"], ["learning rate must be positive", "--lr 0.01"]),
    (["--lr", "inf"], ["learning rate must be a finite number, got inf", "--lr 0.01"]),
    (["--lr=-inf"], ["learning rate must be a finite number, got -inf"]),  # '--lr -inf' reads as an option
    (["--lr", "nan"], ["learning rate must be a finite number, got nan"]),
    (["--threads", "0"], ["threads must be a positive integer"]),
    (["--batch-size", "37"], ["batch size 37 is larger than the 36 training posts"]),
    (["--vocab-size", "0"], ["vocabulary size must be a positive integer, got 0", "--vocab-size"]),
    (["--vocab-size", "-3"], ["vocabulary size must be a positive integer, got -3"]),
    # The tiny archive's tutorial vocabulary: its 16 words, 'caf\xe9\n', the 40 'post N\n\n...' lines
    # and the header words ('from:', 'user0@example.org\nsubject:', ...): V is only known once counted.
    (["--vocab-size", "100000"], ["vocabulary size 100000 is larger than the V = ", "choose --vocab-size <= "]),
], ids=lambda v: " ".join(v) if isinstance(v, list) and v and v[0].startswith("--") else None)
def test_bad_options(tmp_path, good_archive, args, needles):
    from shared.dataset import prepare
    from tests.conftest import TINY_CONFIG

    cache = tmp_path / "c"
    prepare(TINY_CONFIG, archive=good_archive, cache=cache)  # an earlier result, which must survive
    before = {p: p.read_bytes() for p in cache.rglob("*") if p.is_file()}
    proc = fwbench("data", "--archive", str(good_archive), *args, cache=cache)
    assert_user_error(proc, *needles)
    assert all(p.read_bytes() == blob for p, blob in before.items()), "a rejected option changed the cache"


@pytest.mark.parametrize("field", ["learning_rate", "beta1", "beta2", "adam_eps"])
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_non_finite_numbers_are_refused(field, value):
    """Every float of the configuration, not only those the CLI exposes (a manifest or a
    caller can set them): one UserError naming the field's value."""
    with pytest.raises(UserError, match="must be a finite number") as e:
        ExperimentConfig(**{field: value})
    assert len(str(e.value).splitlines()) == 1


@pytest.mark.parametrize("field, value", [("epochs", math.inf), ("batch_size", math.nan), ("seed", math.nan),
                                          ("eval_batch_size", 2.5), ("model", {"hidden": (100, math.inf)}), ("vocab_size", 1.5),
                                          ("vocab_size", True)])
def test_non_integers_are_refused(field, value):
    # int(inf) raised OverflowError (a traceback) and nan slipped through "seed < 0".
    with pytest.raises(UserError, match="integer"):
        ExperimentConfig(**{field: value})


def test_unreadable_archive_is_named(tmp_path, good_archive, monkeypatch, capsys):
    """An archive that cannot be read is the archive's problem, said as such: never the CLI's
    generic 'check that the path is writable'. Simulated (tests may run as root, who reads
    anything): the archive's open() fails with EACCES."""
    import builtins
    import errno

    import shared.archive
    from benchmarks.cli import main_entry

    def deny(path, *args, **kwargs):
        if Path(path) == good_archive:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return builtins.open(path, *args, **kwargs)
    monkeypatch.setattr(shared.archive, "open", deny, raising=False)
    monkeypatch.setenv("FWBENCH_CACHE", str(tmp_path / "c"))
    assert main_entry(["data", "--archive", str(good_archive)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert f"archive {good_archive} cannot be read (Permission denied)" in err and "--archive" in err
    assert "writable" not in err
    assert_nothing_extracted(tmp_path / "c")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a chmod 000 file anyway")
def test_unreadable_archive_for_real(tmp_path, good_archive):
    good_archive.chmod(0)
    try:
        assert_user_error(fwbench("data", "--archive", str(good_archive), cache=tmp_path / "c"),
                          "cannot be read", str(good_archive))
    finally:
        good_archive.chmod(0o644)


def test_no_archive_and_no_network(tmp_path):
    # scikit-learn's download fails without a network: the message must point at --archive.
    proc = fwbench("data", cache=tmp_path / "c",
                   env_extra={"SCIKIT_LEARN_DATA": str(tmp_path / "skl"), "HTTPS_PROXY": "http://127.0.0.1:9",
                              "https_proxy": "http://127.0.0.1:9"})
    assert_user_error(proc, "could not download", "--archive")


def test_good_archive_describes_dataset(tmp_path, good_archive):
    proc = fwbench("data", "--archive", str(good_archive), "--batch-size", "8", cache=tmp_path / "c")
    assert proc.returncode == 0, proc.stderr
    assert "36 posts" in proc.stdout and "4 batches of 8" in proc.stdout


# =========================================================================== run folders
# A damaged, duplicated or mislabelled run folder: `fwbench report`, `--compare` and the gate
# either refuse it (one line naming the file, exit 2, the earlier report intact) or name what is
# missing; never a figure from the wrong place.

def _run_data(seed: int = 10):
    import numpy as np
    from tests.runfolders import processes
    rng = np.random.default_rng(seed)
    f = 1 + (seed - 10) * 0.01  # another seed is another measurement, to the last bit
    te, pa = 0.2 * np.exp(rng.normal(0, 0.01, 3)), 0.01 * np.exp(rng.normal(0, 0.01, 3))
    return {"torch:eager@cpu": {"train_epoch": processes(te, 5, 0.01, rng), "predict_all": processes(pa, 5, 0.01, rng),
                                "train_to_accuracy": [[2.0 * f], [2.1 * f], [1.9 * f]]},
            "tensorflow:graph@cpu": {"train_epoch": processes(te * 0.5, 5, 0.01, rng),
                                     "predict_all": processes(pa, 5, 0.01, rng),
                                     "train_to_accuracy": [[1.0 * f], [1.1 * f], [0.9 * f]]}}


def _write(folder, seed: int = 10):
    from tests.runfolders import write_run
    return write_run(folder, _run_data(seed), extra_info={c: {"train_to_accuracy": {"accuracy": 0.9}}
                                                      for c in ("torch:eager@cpu", "tensorflow:graph@cpu")})


def _report(capsys, *args):
    from benchmarks.cli import main_entry
    rc = main_entry(["report", *map(str, args)])
    out, err = capsys.readouterr()
    return rc, out, err


def _one(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    return lines[0]


def _json(path: Path, edit) -> str:
    import json
    doc = json.loads(path.read_text())
    doc = edit(doc) or doc
    path.write_text(json.dumps(doc))
    return path.name


def _manifest(run: Path, edit) -> str:
    return _json(run / "manifest.json", edit)


def _worker(run: Path, name: str, edit) -> str:
    return _json(run / "workers" / name, edit)


def _workers_of(doc, case, index):
    return next(w for w in doc["workers"] if w["case"] == case and w["index"] == index)


def _swap_files(doc):
    a, b = _workers_of(doc, "torch:eager@cpu", 0), _workers_of(doc, "tensorflow:graph@cpu", 0)
    a["json"], b["json"] = b["json"], a["json"]


def _swap_indices(doc):
    a, b = _workers_of(doc, "torch:eager@cpu", 0), _workers_of(doc, "torch:eager@cpu", 1)
    a["json"], b["json"] = b["json"], a["json"]


def _extra(phase, **kw):
    def edit(doc):
        next(b for b in doc["benchmarks"] if b["extra_info"]["phase"] == phase)["extra_info"].update(kw)
    return edit


def _round(value):
    def edit(doc):
        doc["benchmarks"][0]["stats"]["data"][0] = value
    return edit


def _phase_twice(doc):
    doc["benchmarks"].append(doc["benchmarks"][0])


def _shared_phase(doc):
    b = doc["benchmarks"][0]
    b["extra_info"]["phase"] = "data_prepare"


# (id, damage(run) -> the file named in the one line, a word of the message)
RUN_FOLDER_FAULTS = [
    ("bench file is a list", lambda r: _worker(r, "tensorflow-graph-cpu.p1.json", lambda d: [d]), "expected dict"),
    ("round time not a number", lambda r: _worker(r, "torch-eager-cpu.p0.json", _round("fast")), "outside its domain"),
    ("round time zero", lambda r: _worker(r, "torch-eager-cpu.p0.json", _round(0.0)), "outside its domain"),
    ("round time negative", lambda r: _worker(r, "torch-eager-cpu.p0.json", _round(-0.2)), "outside its domain"),
    ("round time infinite", lambda r: _worker(r, "torch-eager-cpu.p0.json", _round(float("inf"))), "outside its domain"),
    ("manifest is a list", lambda r: _manifest(r, lambda d: [d]), "expected dict"),
    ("manifest schema 1", lambda r: _manifest(r, lambda d: d.update(schema=1)), "another fwbench version"),
    ("manifest without rounds", lambda r: _manifest(r, lambda d: d.pop("rounds") and None), "'rounds'"),
    ("worker index not a number", lambda r: _manifest(r, lambda d: d["workers"][0].update(index="first")), "index"),
    ("probe without matmul", lambda r: _manifest(
        r, lambda d: d["workers"][0].update(anatomy={"probe": {"copy": {"gbs_best": 9.0}}})), "matmul"),
    # issue 17: a copied record counted as an extra process ("4 x N" against 3 processes)
    ("worker record duplicated", lambda r: _manifest(r, lambda d: d["workers"].append(dict(d["workers"][1]))),
     "recorded twice"),
    ("worker record copied under a new index", lambda r: _manifest(
        r, lambda d: d["workers"].append(dict(_workers_of(d, "torch:eager@cpu", 0), index=7))), "the same file"),
    # issue 17: a record pointing at another case's file showed that case's times under this label
    ("records point at each other's case files", lambda r: _manifest(r, _swap_files), "names case"),
    ("records point at each other's process files", lambda r: _manifest(r, _swap_indices), "names process index"),
    ("worker file outside the run folder (absolute)", lambda r: _manifest(
        r, lambda d: d["workers"][1].update(json="/etc/passwd")), "outside the run folder"),
    ("worker file outside the run folder (../)", lambda r: _manifest(
        r, lambda d: d["workers"][1].update(json="../other/workers/x.json")), "outside the run folder"),
    ("worker file holds a phase twice", lambda r: _worker(r, "torch-eager-cpu.p0.json", _phase_twice), "twice"),
    ("worker file holds another scope's phase", lambda r: _worker(r, "torch-eager-cpu.p0.json", _shared_phase),
     "did not give"),
    ("negative process index", lambda r: _manifest(r, lambda d: d["workers"][0].update(index=-1)), "outside its domain"),
    # issue 17: an accuracy of 5.0 printed as "500.0%"
    ("accuracy above 1", lambda r: _worker(r, "torch-eager-cpu.p1.json", _extra("train_to_accuracy", accuracy=5.0)),
     "outside its domain"),
    ("accuracy negative", lambda r: _worker(r, "torch-eager-cpu.p1.json", _extra("train_to_accuracy", accuracy=-0.1)),
     "outside its domain"),
    ("accuracy NaN", lambda r: _worker(r, "torch-eager-cpu.p1.json",
                                       _extra("train_to_accuracy", accuracy=float("nan"))), "outside its domain"),
    ("peak memory negative", lambda r: _worker(r, "torch-eager-cpu.p1.json", _extra("train_epoch", peak_rss_mb=-5)),
     "peak_rss_mb"),
    # issue 17: manifest values the command line refuses were printed
    ("min effect NaN", lambda r: _manifest(r, lambda d: d.update(min_effect=float("nan"))), "min_effect"),
    ("min effect negative", lambda r: _manifest(r, lambda d: d.update(min_effect=-0.05)), "min_effect"),
    ("min effect in percent", lambda r: _manifest(r, lambda d: d.update(min_effect=5.0)), "min_effect"),
]


@pytest.mark.parametrize("damage, word", [(d, w) for _, d, w in RUN_FOLDER_FAULTS],
                         ids=[i for i, _, _ in RUN_FOLDER_FAULTS])
def test_damaged_run_folder_is_one_line_and_keeps_the_good_report(tmp_path, capsys, damage, word):
    good = _write(tmp_path / "good")
    run = _write(tmp_path / "run")
    assert _report(capsys, run)[0] == 0
    before = (run / "report.md").read_bytes()
    figures = {p.name: p.read_bytes() for p in run.glob("fig-*.png")}
    name = damage(run)

    rc, out, err = _report(capsys, run)
    assert rc == 2
    line = _one(err)
    assert name in line and word in line, line
    assert (run / "report.md").read_bytes() == before
    assert {p.name: p.read_bytes() for p in run.glob("fig-*.png")} == figures

    rc, _, err = _report(capsys, good, run, "--compare", "--output", tmp_path / "cmp")
    assert rc == 2 and name in _one(err)
    assert not (tmp_path / "cmp" / "report.md").exists()

    rc, _, err = _report(capsys, "--baseline", good, run)
    assert rc == 2 and name in _one(err)


def _no_file_named(run: Path) -> str:
    _manifest(run, lambda d: _workers_of(d, "tensorflow:graph@cpu", 1).update(json=None))
    return "recorded as successful but names no result file"


def _file_unreadable(run: Path) -> str:
    (run / "workers" / "tensorflow-graph-cpu.p1.json").write_text("{")
    return "tensorflow-graph-cpu.p1.json could not be read"


def _file_deleted(run: Path) -> str:
    (run / "workers" / "tensorflow-graph-cpu.p1.json").unlink()
    return "tensorflow-graph-cpu.p1.json could not be read"


def _phase_absent(run: Path) -> str:
    _worker(run, "tensorflow-graph-cpu.p1.json",
            lambda d: d.update(benchmarks=[b for b in d["benchmarks"] if b["extra_info"]["phase"] != "train_epoch"]))
    return "holds no train_epoch result"


# A worker recorded as successful whose results are not there: a named missing result everywhere.
MISSING_RESULT_FAULTS = [_no_file_named, _file_unreadable, _file_deleted, _phase_absent]


@pytest.mark.parametrize("damage", MISSING_RESULT_FAULTS, ids=lambda f: f.__name__.strip("_"))
def test_a_lost_worker_result_is_named_in_every_output(tmp_path, capsys, damage):
    from benchmarks.analysis import rundata
    from benchmarks.reports import sweep_report
    good = _write(tmp_path / "good", seed=11)
    run = _write(tmp_path / "run")
    why = damage(run)

    rc, _, err = _report(capsys, run)
    assert rc == 0, err
    text = (run / "report.md").read_text()
    missing = text.split("## Missing results")[1].split("\n## ")[0]
    assert "TensorFlow (graph) (CPU) process 1:" in missing and why in missing, missing
    row = next(l for l in text.splitlines() if l.startswith("| train epoch (warm) | TensorFlow (graph)"))
    assert "| 2 x 5 |" in row and "1 of 3 worker result(s) missing (process 1)" in row, row
    frame = rundata.summary(rundata.load_run(run))
    r = frame[(frame.case == "tensorflow:graph@cpu") & (frame.phase == "train_epoch")].iloc[0]
    assert r["processes"] == 2 and "1 of 3 worker result(s) missing" in r["note"]  # results.csv

    rc, _, err = _report(capsys, good, run, "--compare", "--output", tmp_path / "cmp")
    assert rc == 0, err
    assert why in (tmp_path / "cmp" / "report.md").read_text().split("## Missing results")[1]

    rc, out, _ = _report(capsys, "--baseline", good, run)
    assert rc == 1
    assert "MISSING      tensorflow:graph@cpu train_epoch: 1 of 3 worker result(s) missing" in out

    sweep = tmp_path / "sweep"
    (sweep / "points").mkdir(parents=True)
    run.rename(sweep / "points" / "batch_size=150")
    (sweep / "sweep.json").write_text('{"param": "batch_size", "values": [150], "argv": ["sweep"]}')
    sweep_report.write(sweep)
    assert why in (sweep / "report.md").read_text().split("## Missing results")[1]


def test_compare_of_two_runs_whose_folders_share_a_name(tmp_path, capsys):
    """Sweep points share folder names (points/batch_size=64): each column must be its own run."""
    from tests.runfolders import write_run
    data = _run_data()
    a = write_run(tmp_path / "s1" / "points" / "batch_size=64", data)
    slow = {c: {p: [[x * (2.0 if c.startswith("tensorflow") else 1.0001) for x in r] for r in v] for p, v in d.items()}
            for c, d in data.items()}
    b = write_run(tmp_path / "s2" / "points" / "batch_size=64", slow)
    rc, out, err = _report(capsys, a, b, "--compare", "--output", tmp_path / "cmp")
    assert rc == 0, err
    text = (tmp_path / "cmp" / "report.md").read_text()
    assert f"| {a} |" in text and f"| {b} |" in text  # the full paths, not the shared name twice
    row = next(l for l in text.splitlines() if l.startswith("| tensorflow:graph@cpu | train epoch (warm)"))
    assert "2.00x" in row and "1.00x" in row and f"{a}/{b}: 2.00x" in row and row.endswith("| different |"), row
    # the gate names them by full path too: "measured in batch_size=64, not in batch_size=64" says nothing
    rc, out, _ = _report(capsys, "--baseline", a, b)
    assert rc == 1 and f"{b} against baseline {a}" in out, out
    # the same folder twice is not a comparison
    rc, _, err = _report(capsys, a, a, "--compare", "--output", tmp_path / "cmp2")
    assert rc == 2 and "named twice" in _one(err)


def test_dangling_results_latest_is_an_error_not_another_run(tmp_path, capsys, monkeypatch):
    import benchmarks.commands.report as report_cmd
    other = _write(tmp_path / "repo" / "results" / "latest-target")
    (tmp_path / "repo" / "results" / "latest").symlink_to(other.name)  # the checkout's: a good run
    here = tmp_path / "here"
    (here / "results").mkdir(parents=True)
    (here / "results" / "latest").symlink_to("runs/gone")
    monkeypatch.chdir(here)
    monkeypatch.setattr(report_cmd, "REPO", tmp_path / "repo")
    rc, out, err = _report(capsys)
    assert rc == 2
    assert "results/latest points to runs/gone, which does not exist" in _one(err)
    assert not (other / "report.md").exists()


def test_overlapping_runs_are_warned_in_both_reports(tmp_path, capsys):
    import json
    runs = tmp_path / "results" / "runs"
    first, second = _write(runs / "20260101T000000Z-h"), _write(runs / "20260101T000500Z-h")
    _manifest(second, lambda d: d.update(started_utc="2026-01-01T00:05:00Z", finished_utc="2026-01-01T00:15:00Z"))
    third = _write(runs / "20260101T002000Z-h")  # after both: not warned
    _manifest(third, lambda d: d.update(started_utc="2026-01-01T00:20:00Z", finished_utc="2026-01-01T00:30:00Z"))
    for run, other in ((first, second), (second, first)):
        assert _report(capsys, run)[0] == 0
        warn = (run / "report.md").read_text().split("## Warnings")[1].split("\n## ")[0]
        assert f"run {other} was timing on this machine at the same time" in warn, warn
        assert str(third) not in warn
    assert _report(capsys, third)[0] == 0
    assert "at the same time" not in (third / "report.md").read_text()
    del json


def test_markdown_cannot_be_injected_through_labels_or_the_command(tmp_path, capsys):
    run = _write(tmp_path / "run")
    def edit(d):
        d["label"] = "x\n# Injected heading"
        d["command"] = "fwbench run ```\n# after the fence\n```"
        for c in d["cases"]:
            if c["id"] == "tensorflow:graph@cpu":
                c["label"] = "TF\n## Injected | cell <script>"
    _manifest(run, edit)
    assert _report(capsys, run)[0] == 0
    text = (run / "report.md").read_text()
    fence = re.search(r"^(`{4,})\n(.*?)\n\1$", text, re.S | re.M)  # a fence longer than the command's
    assert fence and "# after the fence" in fence.group(2)
    outside = text.replace(fence.group(0), "")
    headings = [l for l in outside.splitlines() if l.startswith("#")]
    assert not any("Injected" in h or "after the fence" in h for h in headings), headings
    assert re.search(r"(?<!\\)<script>", text) is None and "TF ## Injected \\| cell \\<script>" in text
    assert "Run: x # Injected heading." in text


# =========================================================================== hostile archives (issue 17)

def test_oversized_member_is_refused_from_its_header(tmp_path):
    """A 3 GiB post in a small archive: refused before any of it is read or written. The archive
    holds only the header and a few bytes (the stream is cut there), so extracting would fail
    with 'truncated' instead: the size check has to come first."""
    import gzip
    good = make_tiny_archive(tmp_path / "good.tar.gz")
    raw = gzip.decompress(good.read_bytes())
    raw = raw[: raw.rfind(b"\0" * 1024)].rstrip(b"\0")
    raw += b"\0" * (-len(raw) % 512)
    huge = tarfile.TarInfo("20news-bydate-train/sci.space/99999")
    huge.size = 3 * 1024 ** 3
    bad = tmp_path / "bomb.tar.gz"
    bad.write_bytes(gzip.compress(raw + huge.tobuf(format=tarfile.GNU_FORMAT) + b"x" * 4096))
    proc = fwbench("data", "--archive", str(bad), cache=tmp_path / "c")
    assert_user_error(proc, "archive member '20news-bydate-train/sci.space/99999' is 3,221,225,472 bytes",
                      "16 MiB", "--archive")
    assert_nothing_extracted(tmp_path / "c")


def test_a_post_stored_twice_is_refused(tmp_path):
    dup = tarfile.TarInfo("20news-bydate-train/sci.space/51400")  # make_tiny_archive's first sci.space post
    dup.size = 5
    bad = make_tiny_archive(tmp_path / "dup.tar.gz", extra_members=[dup])
    with tarfile.open(bad) as tar:
        assert tar.getnames().count(dup.name) == 2
    proc = fwbench("data", "--archive", str(bad), cache=tmp_path / "c")
    assert_user_error(proc, f"holds the post {dup.name} twice", "--archive")
    assert_nothing_extracted(tmp_path / "c")


# =========================================================================== fwbench check (issue 17)

@pytest.fixture
def no_training(monkeypatch):
    """Bad check input must be refused before any data is prepared or model trained."""
    import shared.dataset

    def trained(*a, **k):
        raise AssertionError("the check started preparing data before refusing its bad input")
    monkeypatch.setattr(shared.dataset, "prepare", trained)


def _check(capsys, *args):
    from benchmarks.cli import main_entry
    rc = main_entry(["check", "--archive", "/nonexistent.tar.gz", *map(str, args)])
    return rc, capsys.readouterr().err


def test_check_json_never_writes_two_outputs_to_one_path(tmp_path, capsys, no_training):
    dest = tmp_path / "parity.md"
    dest.write_text("an earlier record\n")
    rc, err = _check(capsys, "--json", dest)
    assert rc == 2
    assert f"--json {dest} would be overwritten by the Markdown record" in _one(err) and ".json" in err
    assert dest.read_text() == "an earlier record\n"


@pytest.mark.parametrize("make", ["file as folder", "md is a folder", "read-only folder"])
def test_check_json_refuses_an_unwritable_destination_before_training(tmp_path, capsys, no_training, make):
    if make == "file as folder":
        (tmp_path / "afile").write_text("x")
        dest, needle = tmp_path / "afile" / "sub" / "parity.json", "is not a folder"
    elif make == "md is a folder":
        (tmp_path / "parity.md").mkdir()
        dest, needle = tmp_path / "parity.json", "is a directory"
    else:
        if os.geteuid() == 0:
            pytest.skip("root writes into a read-only folder anyway")
        (tmp_path / "ro").mkdir()
        (tmp_path / "ro").chmod(0o500)
        dest, needle = tmp_path / "ro" / "parity.json", "is not writable"
    rc, err = _check(capsys, "--json", dest)
    assert rc == 2
    line = _one(err)
    assert f"--json {dest}" in line and needle in line, line


@pytest.mark.parametrize("cases, needle", [
    ("torch@gpu,tensorflow", "names a device or settings"),
    ("torch[batch_size=300],tensorflow", "names a device or settings"),
    ("torch:warp,tensorflow", "torch has no variant 'warp'"),  # the run's parser, the run's words
])
def test_check_cases_go_through_the_run_parser(capsys, no_training, cases, needle):
    rc, err = _check(capsys, "--cases", cases)
    assert rc == 2 and needle in _one(err)


# =========================================================================== fwbench sweep (issue 17)

def _sweep_request(*argv):
    from benchmarks.cli import build_parser
    from benchmarks.commands.sweep import request_from_args
    return request_from_args(build_parser("sweep").parse_args(["sweep", *argv]))


def test_sweep_preset_never_overrides_explicit_options():
    req = _sweep_request("--preset", "batch", "--values", "32,64", "--frameworks", "torch", "--phases", "train_epoch",
                         "--processes", "1")
    assert (req["values"], req["frameworks"], req["phases"], req["processes"]) == ([32, 64], "torch", "train_epoch", 1)
    assert req["explicit"] == ["--values", "--frameworks", "--phases", "--processes"]
    req = _sweep_request("--preset", "batch")  # nothing explicit: the preset's own
    assert (req["values"], req["frameworks"], req["phases"], req["processes"]) == (
        [32, 64, 150, 512, 1024], "torch,tensorflow", "train_epoch,predict_one", 2)
    assert _sweep_request("batch_size", "--values", "8")["frameworks"] == "torch,tensorflow"


def _resume_with(tmp_path, edit):
    import json
    folder = tmp_path / "sweep"
    folder.mkdir()
    req = {"param": "batch_size", "values": [4, 8], "preset": None, "frameworks": "torch", "phases": "train_epoch",
           "processes": 2, "rounds": {}, "argv": ["sweep", "batch_size", "--values", "4,8"]}
    out = edit(req)
    (folder / "sweep.json").write_text(out if isinstance(out, str) else json.dumps(req))
    return folder


@pytest.mark.parametrize("edit, needle", [
    (lambda r: "{not json", "cannot be read"),
    (lambda r: r.update(values="4,8"), "'values'"),
    (lambda r: r.update(values=[4, 4]), "'values'"),
    (lambda r: r.update(param="colour"), "'param'"),
    (lambda r: r.pop("argv") and None, "'argv'"),
    (lambda r: r.update(argv=["sweep", "--bogus"]), "not a valid sweep command line"),
    (lambda r: r.pop("frameworks") and None, "'frameworks'"),
    (lambda r: r.update(processes="two"), "'processes'"),
    (lambda r: r.update(rounds={"train_epoch": {"rounds": 0, "warmup": 1}}), "rounds of 'train_epoch'"),
    (lambda r: "[1, 2]", "not a JSON object"),
], ids=["not json", "values a string", "values repeated", "unknown param", "no argv", "bad argv", "no frameworks",
        "processes a string", "zero rounds", "a list"])
def test_sweep_resume_of_an_edited_sweep_json_is_one_line(tmp_path, capsys, edit, needle):
    from benchmarks.cli import main_entry
    folder = _resume_with(tmp_path, edit)
    before = (folder / "sweep.json").read_bytes()
    assert main_entry(["sweep", "--resume", str(folder)]) == 2
    line = _one(capsys.readouterr().err)
    assert needle in line and str(folder) in line, line
    assert (folder / "sweep.json").read_bytes() == before and not (folder / "points").exists()


def test_a_sweep_where_no_point_can_run_fails(tmp_path, good_archive):
    proc = fwbench("sweep", "batch_size", "--values", "1000,2000", "--archive", str(good_archive), "--quick",
                   "--devices", "cpu", "--frameworks", "torch", "--output", str(tmp_path / "o"), cache=tmp_path / "c")
    assert_user_error(proc, "no point of this sweep can run (2 of 2 impossible", "choose other --values")
    assert not (tmp_path / "o").exists()


def test_messages_name_the_path_the_user_gave(tmp_path, capsys):
    run = _write(tmp_path / "runs" / "20260101T000000Z-h")
    latest = tmp_path / "latest"
    latest.symlink_to(run)
    _worker(run, "torch-eager-cpu.p1.json", _extra("train_to_accuracy", accuracy=5.0))
    rc, _, err = _report(capsys, latest)
    assert rc == 2
    assert str(latest / "workers" / "torch-eager-cpu.p1.json") in _one(err)


# =========================================================================== fwbench run options (issue 17)

def _plan(*argv):
    from benchmarks.cli import build_parser
    from benchmarks.commands.run import plan_from_args
    return plan_from_args(build_parser("run").parse_args(["run", "--devices", "cpu", *argv]))


@pytest.mark.parametrize("argv, needle", [
    (["--phases", "train_epoch", "--rounds", "train_epoch=2,train_epoch=5"], "--rounds names train_epoch twice"),
    (["--baseline", "tensorflow:graph@gpu"], "which this run does not measure"),
    # --aa: its cases must parse; it names its own cases and baselines, so it takes no others
    (["--aa", "torch:warp"], "torch has no variant 'warp'"),
    (["--aa", "mxnet"], "unknown framework 'mxnet'"),
    (["--aa", ""], "--aa is empty"),
    (["--aa", "torch,torch:eager"], "case torch:eager@cpu is named twice in --aa"),
    (["--aa", "torch@gpu"], "--aa case torch@gpu is on gpu, which --devices does not include"),
    (["--aa", "torch", "--matrix"], "--aa names its own cases and compares each with its copy: drop --matrix"),
    (["--aa", "torch", "--frameworks", "tensorflow"], "drop --frameworks"),
    (["--aa", "torch", "--baseline", "torch"], "drop --baseline"),
    # --pilot: it chooses processes and rounds itself, from a positive budget, towards a positive width
    (["--pilot", "600", "--processes", "3"], "--pilot chooses the processes and rounds itself: drop --processes"),
    (["--pilot", "600", "--quick"], "drop --quick"),
    (["--pilot", "600", "--phases", "train_epoch", "--rounds", "train_epoch=2"], "drop --rounds"),
    (["--pilot", "0"], "--pilot takes the seconds the whole run may take, a positive number, got 0"),
    (["--pilot", "nan"], "a positive number, got nan"),
    (["--pilot", "600", "--target-width", "0"], "--target-width must be a positive percentage, got 0"),
    (["--target-width", "5"], "--target-width sizes a run from a pilot: add --pilot SECONDS"),
])
def test_repeated_or_impossible_run_options_are_refused(argv, needle):
    with pytest.raises(UserError, match=re.escape(needle)):
        _plan(*argv)


# =========================================================================== execution options: --pin, --gc, --duet

@pytest.mark.parametrize("argv, cores, needle", [
    (["--duet", "torch"], [0, 1], "--duet takes exactly two cases, got 1"),
    (["--duet", "torch:eager,torch:fused,tensorflow"], [0, 1], "--duet takes exactly two cases, got 3"),
    (["--duet", "torch:eager,torch:fused"], [0], "--duet runs its two cases on two cores at once, and this process "
                                                 "may use 1"),
    (["--duet", "torch:eager,torch:fused", "--threads", "2"], [0, 1], "--duet measures one thread per case"),
    (["--duet", "torch:eager,torch:fused", "--pin"], [0, 1], "leave out --pin"),
    (["--duet", "torch:eager,torch:fused", "--matrix"], [0, 1], "leave out --matrix"),
    (["--duet", "torch:eager,torch:fused", "--frameworks", "torch"], [0, 1], "leave out --frameworks"),
    (["--duet", "torch:eager,torch:fused", "--baseline", "torch"], [0, 1], "leave out --baseline"),
    (["--duet", "torch:eager,torch:eager"], [0, 1], "--duet names torch:eager@cpu twice"),
    (["--duet", "torch@gpu,torch:fused"], [0, 1], "torch:eager@gpu cannot be in a duet"),
    (["--duet", "torch:eager,torch:warp"], [0, 1], "has no variant 'warp'"),
    (["--duet", "torch:eager,torch:fused", "--phases", "data_load"], [0, 1], "--duet times framework phases"),
    (["--pin", "--threads", "2", "--force"], [0], "--pin gives each of the 2 threads its own core"),
    (["--duet"], [0, 1], "--duet without cases is an A/A duet and needs --aa with exactly one case"),
    (["--aa", "torch,tensorflow", "--duet"], [0, 1], "needs --aa with exactly one case"),
    (["--aa", "torch", "--duet", "torch,tensorflow"], [0, 1], "--duet with its own cases and --aa contradict"),
    (["--aa", "torch", "--duet"], [0], "--duet runs its two cases on two cores at once"),
], ids=["one case", "three cases", "one core", "threads 2", "with --pin", "with --matrix", "with --frameworks",
        "with --baseline", "the same case twice", "a gpu case", "unknown variant", "no framework phase",
        "pin beyond the cores", "bare --duet", "A/A duet of two cases", "duet cases and --aa", "A/A duet, one core"])
def test_bad_execution_options_are_refused(monkeypatch, argv, cores, needle):
    monkeypatch.setattr("shared.environment.usable_core_ids", lambda: list(cores))
    with pytest.raises(UserError, match=re.escape(needle)):
        _plan(*argv)


def test_execution_options_resolve_into_the_plan(monkeypatch):
    monkeypatch.setattr("shared.environment.usable_core_ids", lambda: [2, 5, 7])
    plan = _plan("--duet", "torch:fused,torch:eager", "--processes", "4", "--gc", "off")
    assert [c.id for c in plan.cases] == ["torch:fused@cpu", "torch:eager@cpu"]  # A and B as given
    assert (plan.duet_cores, plan.cfg.threads, plan.processes, plan.gc, plan.affinity) == ([2, 5], 1, 4, "off", None)
    assert plan.kind == "duet" and plan.label == "duet torch:fused@cpu vs torch:eager@cpu"
    assert plan.baseline == "torch:eager@cpu" and "data_load" not in plan.phases
    plan = _plan("--pin", "--threads", "2")
    assert (plan.affinity, plan.gc, plan.duet_cores) == ([2, 5], "on", None)
    assert _plan().affinity is None


def test_a_bad_gc_value_or_duet_is_one_line_and_nothing_written(tmp_path):
    for argv, needle in ((["--gc", "maybe"], "argument --gc: invalid choice: 'maybe'"),
                         (["--duet", "torch"], "--duet takes exactly two cases")):
        proc = fwbench("run", "--devices", "cpu", "--output", str(tmp_path / "out"), *argv, cache=tmp_path / "c")
        assert_user_error(proc, needle)
        assert not (tmp_path / "out").exists()


def test_an_aa_duet_resolves_into_a_case_and_its_copy(monkeypatch):
    monkeypatch.setattr("shared.environment.usable_core_ids", lambda: [0, 1])
    plan = _plan("--aa", "tensorflow", "--duet")
    assert [c.id for c in plan.cases] == ["tensorflow:graph@cpu", "tensorflow:graph@cpu~aa"]
    assert plan.pairs == {"tensorflow:graph@cpu~aa": "tensorflow:graph@cpu"}
    assert (plan.kind, plan.duet_cores, plan.cfg.threads) == ("aa", [0, 1], 1)
    assert plan.label == "A/A duet tensorflow:graph@cpu vs tensorflow:graph@cpu~aa"


def test_a_pilot_budget_too_small_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    """The pilot's refusal comes after the pilot ran (only it knows the costs): still one line,
    exit 2, and no output folder left behind."""
    from benchmarks.analysis.pilot import PhaseEstimate, choose
    from benchmarks.cli import main_entry
    from benchmarks.commands import pilot

    def measured_then_refused(plan, args, clock):  # what the pilot measured: a 10 s process start
        return choose([PhaseEstimate("predict_one", 0.01, 0.01, 0.002, 20)], 10.0, [["predict_one"]] * 2,
                      args.pilot - 25.0)
    monkeypatch.setattr(pilot, "size_plan", measured_then_refused)
    rc = main_entry(["run", "--devices", "cpu", "--pilot", "30", "--phases", "predict_one", "--output",
                     str(tmp_path / "out")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--pilot budget too small: two processes per case need about" in err[0]
    assert not (tmp_path / "out").exists()
