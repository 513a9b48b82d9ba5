"""Reader trust, round 3 (issue 24): no wrong figure from a duplicated, extreme or hostile input,
and no traceback. One section per class of damage; every test builds its damage itself, and the
figure tests use shaped inputs (three or more runs, workers listed out of order, asymmetric
values) so that a swapped, inverted or mis-paired figure fails.

    1 evidence counted twice      2 values outside physics     3 writes out of place
    4 plug-ins                    5 size                       6 options honoured or refused
    7 figures from shaped inputs
"""
from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats as sst

from benchmarks.analysis import pool, rundata, stats
from benchmarks.cli import main_entry
from shared.errors import UserError
from tests.runfolders import write_run

TORCH, TF, FUSED = "torch:eager@cpu", "tensorflow:graph@cpu", "torch:fused@cpu"
REPO = Path(__file__).resolve().parents[1]


def _data(scale: float = 1.0, seed: int = 0) -> dict:
    """Three processes a side, asymmetric: TensorFlow about half torch's time, each process its own."""
    rng = np.random.default_rng(seed)
    def procs(m):
        return [[float(m * scale * f * x) for x in (1.0, 1.02, 0.99)] for f in np.exp(rng.normal(0, 0.03, 3))]
    return {TORCH: {"train_epoch": procs(0.2), "predict_all": procs(0.01)},
            TF: {"train_epoch": procs(0.1), "predict_all": procs(0.02)}}


def _cli(capsys, *args) -> tuple[int, str, str]:
    rc = main_entry([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def _one_line(err: str) -> str:
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def _edit(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# =========================================================================== 1 evidence counted twice

def _copy_worker_as_new_process(run: Path) -> None:
    """A worker file copied under a new process index, with every index inside it edited to match."""
    src = run / "workers" / "torch-eager-cpu.p0.json"
    dst = run / "workers" / "torch-eager-cpu.p3.json"
    doc = json.loads(src.read_text())
    doc["machine_info"]["fwbench"]["process_index"] = 3
    for b in doc["benchmarks"]:
        b["extra_info"]["process_index"] = 3
    dst.write_text(json.dumps(doc))
    m = json.loads((run / "manifest.json").read_text())
    rec = next(w for w in m["workers"] if w["case"] == TORCH and w["index"] == 0)
    m["workers"].append(dict(rec, index=3, json="workers/torch-eager-cpu.p3.json"))
    (run / "manifest.json").write_text(json.dumps(m))


def test_a_worker_file_copied_under_another_index_is_one_measurement(tmp_path, capsys):
    run = write_run(tmp_path / "run", _data())
    _copy_worker_as_new_process(run)
    rc, _, err = _cli(capsys, "report", run)
    assert rc == 2 and "processes 0 and 3 hold the same" in _one_line(err)
    assert not (run / "report.md").exists()


@pytest.mark.parametrize("mode", ["pool", "compare", "gate"])
def test_a_run_and_its_copy_are_one_run_in_every_mode(tmp_path, capsys, mode):
    a = write_run(tmp_path / "runs" / "a", _data(seed=1))
    b = write_run(tmp_path / "runs" / "b", _data(seed=2))
    shutil.copytree(a, tmp_path / "runs" / "c")  # the copy, under another name
    args = {"pool": ["report", "--pool", a, b, tmp_path / "runs" / "c", "--output", tmp_path / "out"],
            "compare": ["report", a, b, tmp_path / "runs" / "c", "--compare", "--output", tmp_path / "out"],
            "gate": ["report", "--baseline", a, tmp_path / "runs" / "c"]}[mode]
    rc, _, err = _cli(capsys, *args)
    assert rc == 2 and "copy of the other" in _one_line(err)  # exit 2 (bad input), never the gate's 1
    assert not (tmp_path / "out").exists()


def test_the_gate_refuses_one_folder_as_both_sides(tmp_path, capsys):
    a = write_run(tmp_path / "a", _data())
    rc, _, err = _cli(capsys, "report", "--baseline", a, a)
    assert rc == 2 and "both the baseline and the run to check" in _one_line(err)


@pytest.mark.parametrize("damage, needle", [
    (lambda m: m["cases"].append(dict(m["cases"][-1])), "is listed twice"),
    (lambda m: m["workers"].append(dict(m["workers"][-1])), "recorded twice"),
])
def test_a_record_listed_twice_is_refused(tmp_path, capsys, damage, needle):
    run = write_run(tmp_path / "run", _data())
    _edit(run / "manifest.json", damage)
    rc, _, err = _cli(capsys, "report", run)
    assert rc == 2 and needle in _one_line(err)


# =========================================================================== 2 values outside physics

def _round(value):
    def change(doc):
        b = doc["benchmarks"][0]
        b["stats"]["data"] = [value] * len(b["stats"]["data"])
        b["stats"].update(median=value, min=value, max=value)
    return change


def _extra(**kv):
    def change(doc):
        doc["benchmarks"][0]["extra_info"].update(kv)
    return change


WORKER = "workers/tensorflow-graph-cpu.p1.json"
EXTREMES = [
    ("round time 1e-300", WORKER, _round(1e-300)),
    ("round time 1e300", WORKER, _round(1e300)),
    ("round time a bool", WORKER, _round(True)),
    ("stats disagree with rounds", WORKER, lambda d: d["benchmarks"][0]["stats"].update(median=99.0)),
    ("peak RSS 1e300", WORKER, _extra(peak_rss_mb=1e300)),
    ("device memory negative", WORKER, _extra(peak_device_mem_mb=-1.0)),
    ("trace count a string", WORKER, _extra(trace_count="many")),
    ("trace count fractional", WORKER, _extra(trace_count=1.5)),
    ("machine wall 1e300", WORKER, _extra(machine={"wall_s": 1e300})),
    ("epoch loss NaN", WORKER, _extra(epoch_mean_loss=[1.0, float("nan")])),
    ("processes negative", "manifest.json", lambda m: m.update(processes=-3)),
    ("duration infinite", "manifest.json", lambda m: m.update(duration_s=float("inf"))),
    ("rounds fractional", "manifest.json", lambda m: m["rounds"]["train_epoch"].update(rounds=2.5)),
    ("anatomy part 1e300", "manifest.json",
     lambda m: m["workers"][0].update(anatomy={"breakdown": {"forward": 1e300}})),
    ("probe rate negative", "manifest.json", lambda m: m["workers"][0].update(
        anatomy={"probe": {"matmul": {"gflops_best": -1.0}, "copy": {"gbs_best": 1.0}}})),
    ("pilot c_r 1e300", "manifest.json", lambda m: m.update(
        pilot={"text": "t", "estimates": [{"sigma2_p": 0.01, "sigma2_r": 0.01, "c_r": 1e300}]})),
]


@pytest.mark.parametrize("where, change", [(w, c) for _, w, c in EXTREMES], ids=[i for i, _, _ in EXTREMES])
def test_a_value_outside_its_domain_is_one_line_in_report_compare_and_gate(tmp_path, capsys, where, change):
    good = write_run(tmp_path / "good", _data(seed=3))
    run = write_run(tmp_path / "run", _data(seed=4))
    _edit(run / where, change)
    for args in (["report", run], ["report", good, run, "--compare", "--output", tmp_path / "cmp"],
                 ["report", "--baseline", good, run], ["report", "--baseline", run, good]):
        rc, _, err = _cli(capsys, *args)
        assert rc == 2, (args, err)  # the gate's exit 1 would say the code regressed
        line = _one_line(err)
        assert where.split("/")[-1] in line and ("domain" in line or "disagrees" in line), line


def test_every_figure_kind_has_one_domain():
    # the table the reader, the plain check and the answer all use: each kind, its bounds in order
    for kind, (lo, hi, _, whole) in rundata.DOMAIN.items():
        assert lo < hi and rundata.in_domain(lo, kind) and rundata.in_domain(hi, kind), kind
        assert not rundata.in_domain(hi * 10 + 1, kind) and not rundata.in_domain(float("nan"), kind)
        assert not rundata.in_domain(True, kind) and not rundata.in_domain("1", kind)
    # inside the domain no speedup can overflow: the widest ratio of two round times is finite
    lo, hi = rundata.DOMAIN["round time"][:2]
    assert math.isfinite(math.exp(math.log(hi / lo) * 3))


# =========================================================================== 3 writes out of place

def test_pool_output_never_overwrites_a_run(tmp_path, capsys):
    a = write_run(tmp_path / "runs" / "a", _data(seed=5))
    b = write_run(tmp_path / "runs" / "b", _data(seed=6))
    other = write_run(tmp_path / "other", _data(seed=7))
    (a / "report.md").write_text("a's own report")
    before = {p: _snapshot(p) for p in (a, b, other)}
    for out, needle in ((a, "inside the run folder"), (a / "sub", "inside the run folder"),
                        (other, "holds manifest.json")):
        rc, _, err = _cli(capsys, "report", "--pool", a, b, "--output", out)
        assert rc == 2 and needle in _one_line(err)
    rc, _, err = _cli(capsys, "report", a, b, "--compare", "--output", b)
    assert rc == 2 and "inside the run folder" in _one_line(err)
    assert {p: _snapshot(p) for p in (a, b, other)} == before


def test_output_holding_foreign_files_is_refused_and_an_own_one_rewritten(tmp_path, capsys):
    a = write_run(tmp_path / "runs" / "a", _data(seed=5))
    b = write_run(tmp_path / "runs" / "b", _data(seed=6))
    foreign = tmp_path / "notes"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("mine")
    rc, _, err = _cli(capsys, "report", "--pool", a, b, "--output", foreign)
    assert rc == 2 and "did not write" in _one_line(err) and (foreign / "thesis.tex").read_text() == "mine"
    sweep = tmp_path / "sweep"
    sweep.mkdir()
    (sweep / "sweep.json").write_text("{}")
    rc, _, err = _cli(capsys, "report", a, b, "--compare", "--output", sweep)
    assert rc == 2 and "holds sweep.json" in _one_line(err)


@pytest.mark.parametrize("device", ["../../escape", "cpu/../../x", "CPU", ""])
def test_a_device_string_never_names_a_file(tmp_path, capsys, device):
    run = write_run(tmp_path / "run", _data())
    def change(m):
        for c in m["cases"]:
            if c["id"] == TF:
                c["device"] = device
        m["baselines"] = {"cpu": TORCH}
    _edit(run / "manifest.json", change)
    rc, _, err = _cli(capsys, "report", run)
    assert rc == 2 and "device" in _one_line(err)
    assert not list(tmp_path.rglob("*.png"))


# =========================================================================== 4 plug-ins

@pytest.fixture
def registry_with(monkeypatch, tmp_path):
    """The registry as FWBENCH_FRAMEWORKS=`text` would make it, with plug-in packages written
    under tmp_path (each {package: ALIASES})."""
    from shared import registry

    def make(text: str, packages: dict[str, tuple] | None = None):
        for pkg, aliases in (packages or {}).items():
            (tmp_path / pkg).mkdir()
            (tmp_path / pkg / "__init__.py").write_text("")
            src = (REPO / "impl_jax" / "variants.py").read_text()
            (tmp_path / pkg / "variants.py").write_text(src + f"\nALIASES = {aliases!r}\nLABEL = 'Plug'\n")
        monkeypatch.syspath_prepend(str(tmp_path))
        monkeypatch.setattr(registry, "FRAMEWORKS", dict(registry.BUILTIN))
        monkeypatch.setattr(registry, "REFUSED", {})
        registry._register(text)
        return registry
    return make


def test_a_broken_plug_in_breaks_only_commands_that_name_it(registry_with):
    from benchmarks.model.cases import parse_case
    reg = registry_with("bogus, np=no_such_package_xyz, ok=plug_ok", {"plug_ok": ("okay",)})
    assert parse_case("torch", "cpu").framework == "torch"  # the default run still parses
    assert reg.canonical("okay") == "ok"
    assert "torch" in reg.usable() and "np" not in reg.usable() and "ok" in reg.usable()
    assert "TF_NUM_INTRAOP_THREADS" in reg.thread_env(2, 1)
    with pytest.raises(UserError, match="cannot import no_such_package_xyz.variants"):
        parse_case("np", "cpu")
    with pytest.raises(UserError, match="'bogus': write name=package"):
        parse_case("bogus", "cpu")
    with pytest.raises(UserError, match="unknown framework 'mxnet'.*items refused: .*'bogus'"):
        parse_case("mxnet", "cpu")


@pytest.mark.parametrize("text, packages, name, needle", [
    ("torch=plug_t", {"plug_t": ()}, "torch", "torch is a built-in framework"),
    ("TensorFlow=plug_u", {"plug_u": ()}, "tf", "tensorflow is a built-in framework"),
    ("evil=plug_e", {"plug_e": ("torch", "x")}, "evil", "its aliases torch belong to a built-in"),
    ("evil=plug_f", {"plug_f": ("pt",)}, "evil", "its aliases pt belong to a built-in"),
    ("np=plug_a,np=plug_b", {"plug_a": (), "plug_b": ()}, "np", "names np twice"),
])
def test_a_plug_in_never_takes_a_built_in_name(registry_with, text, packages, name, needle):
    reg = registry_with(text, packages)
    with pytest.raises(UserError, match=needle):
        reg.canonical(name)
    if name == "evil":  # its aliases never reach the built-ins' users
        assert reg.canonical("torch") == "torch" and reg.canonical("pt") == "torch"


def test_a_bad_plug_in_item_leaves_report_working(tmp_path):
    run = write_run(tmp_path / "run", _data())
    env = {**__import__("os").environ, "FWBENCH_FRAMEWORKS": "bogus,np=no_such_package_xyz,torch=x",
           "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    p = subprocess.run([sys.executable, "-c", "from benchmarks.analysis.rundata import load_run, summary; import sys;"
                        "print(len(summary(load_run(sys.argv[1]))))", str(run)],
                       capture_output=True, text=True, env=env, cwd=REPO, timeout=120)
    assert p.returncode == 0 and p.stdout.strip() == "4", p.stderr


# =========================================================================== 5 size

def test_a_huge_label_is_refused_at_once(tmp_path, capsys):
    run = write_run(tmp_path / "run", _data())
    _edit(run / "manifest.json", lambda m: m["cases"][1].update(label="x" * 200_000))
    rc, _, err = _cli(capsys, "report", run)
    line = _one_line(err)
    assert rc == 2 and "200,000 characters" in line and len(line) < 400


def test_a_huge_reason_is_refused(tmp_path, capsys):
    run = write_run(tmp_path / "run", _data(), failed={FUSED: "boom"})
    _edit(run / "manifest.json", lambda m: [w.update(reason="y" * 50_000) for w in m["workers"]
                                            if w["case"] == FUSED])
    rc, _, err = _cli(capsys, "report", run)
    assert rc == 2 and "50,000 characters" in _one_line(err)


def test_an_archive_beyond_the_total_limit_is_refused(tmp_path, monkeypatch):
    from shared import archive
    from tests.conftest import make_tiny_archive
    path = make_tiny_archive(tmp_path / "a.tar.gz")
    monkeypatch.setattr(archive, "MAX_TOTAL_BYTES", 2000)  # every member far below the per-member cap
    with pytest.raises(UserError, match="unpacks to more than"):
        archive._stream(path, tmp_path / "staging", None, tmp_path / "cache")
    monkeypatch.setattr(archive, "MAX_TOTAL_BYTES", 10 ** 9)
    monkeypatch.setattr(archive, "MAX_MEMBERS", 5)
    with pytest.raises(UserError, match="5 members"):
        archive._stream(path, tmp_path / "staging2", None, tmp_path / "cache")


# =========================================================================== 6 options honoured or refused

def test_a_setting_given_twice_in_a_case_is_refused():
    from benchmarks.model.cases import parse_case
    with pytest.raises(UserError, match="'batch_size' is given twice"):
        parse_case("torch:eager@cpu[batch_size=10,batch_size=20]")
    assert dict(parse_case("torch:eager@cpu[batch_size=10,learning_rate=0.1]").overrides) == \
        {"batch_size": 10, "learning_rate": 0.1}


def test_a_cases_own_threads_meet_the_cores_check(monkeypatch):
    from benchmarks.cli import build_parser
    from benchmarks.commands.run import plan_from_args
    monkeypatch.setattr("shared.environment.usable_cores", lambda: 2)
    parse = lambda *a: build_parser("run").parse_args(["run", "--devices", "cpu", *a])
    with pytest.raises(UserError, match="sets threads=99, more than the 2 usable cores"):
        plan_from_args(parse("--frameworks", "torch[threads=99]"))
    plan = plan_from_args(parse("--frameworks", "torch[threads=99]", "--force"))
    assert dict(plan.cases[0].overrides)["threads"] == 99


@pytest.mark.parametrize("argv, needle", [
    (["--threads", "99"], "--threads 99 is more than the 2 usable cores"),
    (["--into", "RUN", "--output", "elsewhere"], "give one"),
    (["--report", "RUN", "--output", "elsewhere"], "drop --output"),
])
def test_plain_options_are_honoured_or_refused(tmp_path, capsys, monkeypatch, argv, needle):
    monkeypatch.setattr("shared.environment.usable_cores", lambda: 2)
    run = write_run(tmp_path / "run", _data())
    rc, _, err = _cli(capsys, "plain", *[str(run) if a == "RUN" else a for a in argv])
    assert rc == 2 and needle in _one_line(err)


def test_a_baseline_naming_an_unknown_case_is_refused(tmp_path, capsys):
    run = write_run(tmp_path / "run", _data())
    _edit(run / "manifest.json", lambda m: m.update(baselines={"cpu": "torch:warp@cpu"}))
    rc, _, err = _cli(capsys, "report", run)
    assert rc == 2 and "not a framework case of the run" in _one_line(err)


@pytest.mark.parametrize("field, name", [("json", "/etc/passwd"), ("json", "../other/workers/x.json"),
                                         ("result", "../../etc/passwd"), ("result", "/etc/hosts")])
def test_a_file_named_outside_the_run_folder_is_refused(tmp_path, capsys, field, name):
    run = write_run(tmp_path / "run", _data())
    _edit(run / "manifest.json", lambda m: m["workers"][1].update({field: name}))
    rc, _, err = _cli(capsys, "report", run)
    assert rc == 2 and "outside the run folder" in _one_line(err)


def test_a_result_json_that_disagrees_with_the_record_is_refused(tmp_path, capsys):
    run = write_run(tmp_path / "run", _data())
    def add_result(m):
        for w in m["workers"]:
            name = f"workers/{w['case'].split('@')[0].replace(':', '-')}-cpu.p{w['index']}.result.json"
            (run / name).write_text(json.dumps({"case": w["case"], "process_index": w["index"],
                                                "outcomes": w["outcomes"]}))
            w["result"] = name
    _edit(run / "manifest.json", add_result)
    assert main_entry(["report", str(run)]) == 0  # agreeing result files are read and pass
    capsys.readouterr()
    bad = run / "workers" / "torch-eager-cpu.p2.result.json"
    _edit(bad, lambda d: d["outcomes"]["train_epoch"].update(outcome="skipped"))
    before = (run / "report.md").read_text()
    rc, _, err = _cli(capsys, "report", run)
    assert rc == 2 and "torch-eager-cpu.p2.result.json" in _one_line(err) and "outcomes" in err
    assert (run / "report.md").read_text() == before


def test_the_gate_names_a_baseline_lacking_a_process(tmp_path, capsys):
    old = write_run(tmp_path / "old", _data(seed=8))
    new = write_run(tmp_path / "new", _data(seed=9))
    _edit(old / "manifest.json", lambda m: next(w for w in m["workers"] if w["case"] == TF).update(json=None))
    rc, out, _ = _cli(capsys, "report", "--baseline", old, new)
    assert "note: the baseline old lacks results for tensorflow:graph@cpu train_epoch: 1 of 3" in out


# =========================================================================== 7 figures from shaped inputs

def _welch(base: list, case: list) -> tuple[float, float, float]:
    lb, lc = np.log([np.median(p) for p in base]), np.log([np.median(p) for p in case])
    va, vb = lb.var(ddof=1) / lb.size, lc.var(ddof=1) / lc.size
    df = (va + vb) ** 2 / (va ** 2 / (lb.size - 1) + vb ** 2 / (lc.size - 1))
    h = float(sst.t.ppf(0.975, df)) * math.sqrt(va + vb)
    d = lb.mean() - lc.mean()
    return math.exp(d), math.exp(d - h), math.exp(d + h)


def test_three_runs_pool_into_all_their_processes(tmp_path, capsys):
    # unequal process counts (3, 2, 4) so a collision of renumbered indices would lose one
    runs = []
    for i, n in enumerate((3, 2, 4)):
        d = _data(seed=20 + i)
        d = {c: {p: v[:n] if n <= 3 else v + [[x * 1.01 for x in v[0]]] for p, v in ph.items()} for c, ph in d.items()}
        runs.append((write_run(tmp_path / "runs" / f"r{i}", d), d))
    out = tmp_path / "pooled"
    assert main_entry(["report", "--pool", str(tmp_path / "runs"), "--output", str(out)]) == 0
    capsys.readouterr()
    run = pool.load_pooled(out)
    pd_ = run.cases[TF].phases["train_epoch"]
    assert sorted(p.index for p in pd_.processes) == list(range(9))
    assert pool.run_counts(run, TF, "train_epoch") == (3, 9)
    row = rundata.summary(run).set_index(["case", "phase"]).loc[(TF, "train_epoch")]
    want = _welch([p for _, d in runs for p in d[TORCH]["train_epoch"]], [p for _, d in runs for p in d[TF]["train_epoch"]])
    assert (row.speedup, row.speedup_low, row.speedup_high) == pytest.approx(want, rel=1e-9)
    assert row.speedup > 1.5  # TensorFlow about twice as fast: an inverted ratio would read about 0.5


def test_derived_cost_pairs_by_process_not_by_file_order(tmp_path):
    # each process's first epoch and steady epoch differ by its own amount: 1, 2, 4 s
    first = [[11.0], [2.0 + 10.0], [4.0 + 30.0]]
    steady = [[10.0, 10.0, 10.0], [10.0, 10.0, 10.0], [30.0, 30.0, 30.0]]
    steady = [[x * (1 + 1e-6 * k) for x in r] for k, r in enumerate(steady)]
    run = write_run(tmp_path / "run", {TORCH: {"train_epoch": steady, "first_epoch": first}})
    _edit(run / "manifest.json", lambda m: m["workers"].reverse())  # files read in another order
    r = rundata.load_run(run)
    d = rundata.derived(r)
    row = d[d.figure == "warm-up cost"].iloc[0]
    diffs = np.array([1.0, 2.0 - 10e-6, 4.0 - 60e-6])
    assert row.value_s == pytest.approx(diffs.mean(), rel=1e-6)
    half = float(sst.t.ppf(0.975, 2)) * diffs.std(ddof=1) / math.sqrt(3)
    assert (row.low_s, row.high_s) == pytest.approx((diffs.mean() - half, diffs.mean() + half), rel=1e-6)


def test_matrix_memory_ratio_is_case_over_baseline(tmp_path):
    from benchmarks.reports.report import matrix_section
    data = {c: {"train_epoch": [[m * (1 + 0.01 * k), m] for k in range(3)]}
            for c, m in ((TORCH, 0.2), (TF, 0.1), (FUSED, 0.15))}
    extra = {TORCH: {"train_epoch": {"peak_rss_mb": 250.0}}, TF: {"train_epoch": {"peak_rss_mb": 1000.0}},
             FUSED: {"train_epoch": {"peak_rss_mb": 125.0}}}
    run = rundata.load_run(write_run(tmp_path / "run", data, extra_info=extra))
    text = matrix_section(run, rundata.summary(run), "cpu")
    assert "1000 MB (4.00x)" in text and "125 MB (0.50x)" in text and "250 MB (1.00x)" in text


def test_the_baseline_faster_sentence_names_the_baseline(tmp_path):
    from benchmarks.reports.report import sentence
    data = {TORCH: {"train_epoch": [[0.1 * f, 0.1 * f] for f in (1.0, 1.01, 0.99)]},
            TF: {"train_epoch": [[0.3 * f, 0.3 * f] for f in (1.0, 1.02, 0.97)]}}
    run = rundata.load_run(write_run(tmp_path / "run", data))
    row = rundata.summary(run).set_index("case").loc[TF]
    assert row.verdict == stats.SLOWER
    text = sentence(row, "PyTorch (eager)")
    assert text.startswith("On CPU, PyTorch (eager) ") and f"{rundata.fmt_ratio(1 / row.speedup)}x faster than " \
        "TensorFlow (graph)" in text and 1 / row.speedup > 2.5
    lo, hi = 1 / row.speedup_high, 1 / row.speedup_low
    assert f"95% CI {rundata.fmt_interval(lo, hi)}x" in text and lo > 1


def test_answer_default_finding_says_who_is_faster(tmp_path, capsys):
    from benchmarks.reports import answer
    results = tmp_path / "results"
    folder = results / answer.POOLED
    for i in range(3):  # three runs: TF's train epoch 3x slower, its predict 2x faster
        d = {TORCH: {"train_epoch": [[0.1 * (1 + 0.01 * k + 0.003 * i)] * 2 for k in range(3)],
                     "predict_all": [[0.02 * (1 + 0.01 * k + 0.003 * i)] * 2 for k in range(3)]},
             TF: {"train_epoch": [[0.3 * (1 + 0.012 * k + 0.002 * i)] * 2 for k in range(3)],
                  "predict_all": [[0.01 * (1 + 0.011 * k + 0.004 * i)] * 2 for k in range(3)]}}
        write_run(folder.parent / "runs" / f"r{i}", d)
    assert main_entry(["report", "--pool", str(folder.parent / "runs"), "--output", str(folder)]) == 0
    capsys.readouterr()
    (f,) = answer.default_findings(results)
    assert "train epoch (warm): PyTorch (eager) 3.00x faster; predict all (test set): TensorFlow (graph) 2.00x " \
           "faster." in f.text
    assert "(3 runs pooled, 9 processes a side)" in f.text


def _cmp_runs(tmp_path, factors: list[float], spreads: list[float]) -> list:
    """Runs whose TF/torch speedup is `factor`, each process spread by `spread`."""
    out = []
    for i, (f, s) in enumerate(zip(factors, spreads)):
        d = {TORCH: {"train_epoch": [[0.2 * (1 + s * k) * (1 + 1e-4 * i)] * 2 for k in (-1, 0, 1)]},
             TF: {"train_epoch": [[0.2 / f * (1 + s * k * 0.9) * (1 + 1e-4 * i)] * 2 for k in (-1, 0, 1)]}}
        out.append(rundata.load_run(write_run(tmp_path / f"r{i}", d)))
    return out


def test_across_runs_consistent_only_when_every_pair_is(tmp_path):
    from benchmarks.reports import compare
    runs = _cmp_runs(tmp_path, [2.0, 2.0, 2.01], [0.001, 0.001, 0.3])  # the third too noisy to tell
    keys, cells, _ = compare._cells(runs)
    pairs = compare.pairs_of(runs, cells, (TF, "train_epoch"))
    words = [compare.RUN_WORDS[v.word] for *_, v in pairs]
    assert words[0] == compare.CONSISTENT and stats.INCONCLUSIVE in words[1:]
    assert compare.across(pairs) == stats.INCONCLUSIVE
    runs = _cmp_runs(tmp_path / "b", [2.0, 2.0, 3.0], [0.001, 0.001, 0.001])  # the third differs
    keys, cells, _ = compare._cells(runs)
    assert compare.across(compare.pairs_of(runs, cells, (TF, "train_epoch"))) == compare.DIFFERENT


def test_the_gate_fails_a_slowdown_without_an_interval(tmp_path):
    from benchmarks.reports import compare
    old = rundata.load_run(write_run(tmp_path / "old", {TORCH: {"train_epoch": [[1.0, 1.0]]}}))
    slow = rundata.load_run(write_run(tmp_path / "slow", {TORCH: {"train_epoch": [[1.5, 1.5]]}}))
    near = rundata.load_run(write_run(tmp_path / "near", {TORCH: {"train_epoch": [[1.05, 1.05]]}}))
    fails, _ = compare.gate(old, slow, 10.0)
    assert len(fails) == 1 and fails[0].startswith("SLOWER") and "+50.0%" in fails[0]
    fails, other = compare.gate(old, near, 10.0)
    assert not fails and other[0].startswith(stats.NO_INTERVAL)
    fails, other = compare.gate(slow, old, 10.0)  # faster: passes
    assert not fails and "-33.3%" in other[0]


def test_plain_alternates_sides_and_rotates_cases():
    from benchmarks.plain.check import rotation, side_order
    cases = ["a", "b", "c"]
    assert [rotation(cases, k) for k in range(4)] == [["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"],
                                                      ["a", "b", "c"]]
    for case in cases:  # the check's loop: side_order(k + the case's index)
        sides = [side_order(k + cases.index(case), False) for k in range(4)]
        assert all(sides[k] != sides[k + 1] for k in range(3))  # alternates pair by pair
        assert sorted(s[0] for s in sides) == ["plain", "plain", "twin", "twin"]
    assert side_order(0, False) != side_order(1, False)  # neighbouring cases start on opposite sides
    firsts = [side_order(k, True)[0] for k in range(3)]  # with a reference each side runs first once
    assert sorted(firsts) == ["plain", "reference", "twin"]
    assert all(sorted(side_order(k, True)) == ["plain", "reference", "twin"] for k in range(3))


def test_plain_report_figures_from_asymmetric_pairs(tmp_path):
    from benchmarks.plain.report import render, results
    def side(epochs, loss):
        return {"epoch_seconds": epochs, "epoch_losses": [[loss, loss * 0.9]], "read_back": {"flush_denormal": False}}
    # the first (left out) epoch is slow, and each process's two warm epochs differ, so keeping the
    # first epoch would move every median
    pairs = {"torch:eager@cpu": [{"plain": side([9.0, 1.0, 1.1], 2.0), "twin": side([9.0, 1.2, 1.3], 2.0002)},
                                 {"plain": side([9.0, 2.0, 2.1], 2.0), "twin": side([9.0, 2.2, 2.4], 2.0)},
                                 {"plain": side([9.0, 1.5, 1.6], 2.0), "twin": side([9.0, 1.8, 1.9], 2.0)}]}
    doc = {"kind": "plain-check", "processes": 3, "epochs": 3, "threads": 2, "tolerance": 0.05, "init": "shared",
           "results": [{"case": "torch:eager@cpu"}], "pairs": pairs}
    (r,) = results(doc)
    twin, plain = [1.25, 2.3, 1.85], [1.05, 2.05, 1.55]  # medians of the warm epochs
    assert r["ratio"]["value"] == pytest.approx(math.exp(np.mean(np.log(twin)) - np.mean(np.log(plain))))
    assert r["first_epoch_loss_max_rel_diff"] == pytest.approx(1e-4)
    assert f"| {rundata.fmt_ratio(r['ratio']['value'])} (" in render(doc) and r["ratio"]["value"] > 1.1


@pytest.mark.parametrize("damage, needle", [
    (lambda d: d["pairs"]["torch:eager@cpu"][0]["twin"].update(epoch_seconds=[1.0, 1e-300]), "outside its domain"),
    (lambda d: d["pairs"]["torch:eager@cpu"][0]["plain"].update(epoch_losses=[[0.0, 1.0]]), "not a loss > 0"),
    (lambda d: d.update(processes=-1), "processes"),
    (lambda d: d["pairs"]["torch:eager@cpu"][0].update(
        reference={"epoch_seconds": [1.0, 1e300], "read_back": {}}), "reference epoch time"),
    (lambda d: d["results"].append(dict(d["results"][0])), "has two results"),
    (lambda d: d["pairs"].update({"torch:fused@cpu": d["pairs"]["torch:eager@cpu"]}), "a case without a result"),
])
def test_a_damaged_plain_json_is_one_line(tmp_path, capsys, damage, needle):
    def side(epochs):
        return {"epoch_seconds": epochs, "epoch_losses": [[2.0, 1.9]], "read_back": {}}
    doc = {"kind": "plain-check", "processes": 2, "epochs": 3, "threads": 2, "tolerance": 0.05, "init": "own",
           "results": [{"case": "torch:eager@cpu"}],
           "pairs": {"torch:eager@cpu": [{"plain": side([2.0, 1.0, 1.1]), "twin": side([2.0, 1.1, 1.2])}] * 2}}
    damage(doc)
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "plain.json").write_text(json.dumps(doc))
    rc, _, err = _cli(capsys, "plain", "--report", folder)
    assert rc == 2 and needle in _one_line(err) and not (folder / "report.md").exists()


@pytest.mark.parametrize("damage, needle", [
    (lambda m: m["duet"].update(cases=[TORCH]), "not two cases of the run"),
    (lambda m: m["duet"].update(cores=[0, "one"]), "duet core"),
    (lambda m: m["duet"]["pairs"].append(dict(m["duet"]["pairs"][0])), "pair index twice"),
    (lambda m: m["duet"]["pairs"][0].update(cores={TORCH: 0}), "not to the duet's cases"),
])
def test_a_damaged_duet_record_is_one_line(tmp_path, capsys, damage, needle):
    run = write_run(tmp_path / "run", {TORCH: {"predict_one": [[1.0, 3.0], [4.0, 8.0]]},
                                       FUSED: {"predict_one": [[2.0, 1.0], [1.0, 2.0]]}}, baselines={"cpu": FUSED},
                    kind="duet")
    _edit(run / "manifest.json", lambda m: m.update(duet={"cases": [TORCH, FUSED], "cores": [0, 1], "pairs": [
        {"index": 0, "cores": {TORCH: 0, FUSED: 1}}, {"index": 1, "cores": {TORCH: 1, FUSED: 0}}]}))
    rundata.load_run(run)  # the undamaged record reads
    _edit(run / "manifest.json", damage)
    rc, _, err = _cli(capsys, "report", run)
    assert rc == 2 and needle in _one_line(err)


def test_an_accuracy_check_that_disagrees_with_itself_is_refused(tmp_path):
    from benchmarks.reports.answer import read_seed_check
    doc = {"seeds": [0, 1, 2], "cases": ["a", "b"], "labels": {},
           "accuracy": {"a": {"mean": 0.9, "sd": 0.01, "values": [0.89, 0.9, 0.91]},
                        "b": {"mean": 0.8, "sd": 0.01, "values": [0.79, 0.8, 0.81]}},
           "difference_of_means": {"difference": 0.1, "low": 0.08, "high": 0.12}}
    p = tmp_path / "seeds.json"
    p.write_text(json.dumps(doc))
    assert read_seed_check(p)["mean"] == {"a": 0.9, "b": 0.8}
    for change, needle in ((lambda d: d["accuracy"]["a"].update(mean=0.95), "not the mean of its values"),
                           (lambda d: d["accuracy"]["b"].update(values=[0.79, 80.0, 0.81], mean=26.9), "domain"),
                           (lambda d: d.update(seeds=[0, 0, 2]), "distinct"),
                           (lambda d: d["difference_of_means"].update(low=0.11), "inside its interval")):
        bad = json.loads(json.dumps(doc))
        change(bad)
        p.write_text(json.dumps(bad))
        with pytest.raises(UserError, match=needle):
            read_seed_check(p)
