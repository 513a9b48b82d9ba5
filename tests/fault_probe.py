"""Fault probe of issue 24 (reader trust, round 3): damage built on purpose, each case checked for
no wrong figure, no lost data, no traceback and no escape.

    python -m tests.fault_probe            (from the repository root; prints a line per case)

Every case starts from fresh synthetic run folders (tests/runfolders.py), applies one damage,
runs the command a user would (in-process, through benchmarks.cli.main_entry) and checks:

- refused: exit 2, exactly one line on stderr, no traceback, the expected words in it, and every
  file under the case's folder byte-for-byte as before (nothing lost, nothing half-written);
- accepted: the expected exit status and text (the figure or the note a reader must see);
- no escape: nothing written outside the case's folder (checked on the paths a damage aims at).

Not collected by pytest (its name does not start with test_): tests/test_reader_trust.py holds a
test per class; this probe is the wider sweep the issue's acceptance asks for. Exit 1 if any case fails.
"""
from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
import tempfile
import traceback
from pathlib import Path

TORCH, TF, FUSED = "torch:eager@cpu", "tensorflow:graph@cpu", "torch:fused@cpu"
WORKER = "workers/tensorflow-graph-cpu.p1.json"


def data(seed: int = 0, scale: float = 1.0) -> dict:
    import numpy as np
    rng = np.random.default_rng(seed)
    def procs(m):
        return [[float(m * scale * f * x) for x in (1.0, 1.02, 0.99)] for f in np.exp(rng.normal(0, 0.03, 3))]
    return {TORCH: {"train_epoch": procs(0.2), "predict_all": procs(0.01)},
            TF: {"train_epoch": procs(0.1), "predict_all": procs(0.02)}}


def run(root: Path, name: str = "run", seed: int = 0, **kw) -> Path:
    from tests.runfolders import write_run
    return write_run(root / name, data(seed), **kw)


def edit(path: Path, change) -> None:
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))


def cli(*args) -> tuple[int, str, str]:
    from benchmarks.cli import main_entry
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main_entry([str(a) for a in args])
        except SystemExit as e:  # argparse
            rc = e.code
        except BaseException:  # a traceback is what the probe looks for
            err.write(traceback.format_exc())
            rc = "traceback"
    return rc, out.getvalue(), err.getvalue()


def snapshot(root: Path) -> dict:
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- damages

def rounds_to(value):
    def change(doc):
        b = doc["benchmarks"][0]
        b["stats"]["data"] = [value] * len(b["stats"]["data"])
        b["stats"].update(median=value, min=value, max=value)
    return change


def extra(**kv):
    return lambda doc: doc["benchmarks"][0]["extra_info"].update(kv)


def on_worker(change, where: str = WORKER):
    def setup(root: Path):
        r = run(root)
        edit(r / where, change)
        return [["report", r], ["report", "--baseline", run(root, "good", seed=1), r]]
    return setup


def on_manifest(change, **kw):
    def setup(root: Path):
        r = run(root, **kw)
        edit(r / "manifest.json", change)
        return [["report", r]]
    return setup


def copy_worker(root: Path):
    r = run(root)
    doc = json.loads((r / "workers/torch-eager-cpu.p0.json").read_text())
    doc["machine_info"]["fwbench"]["process_index"] = 5
    for b in doc["benchmarks"]:
        b["extra_info"]["process_index"] = 5
    (r / "workers/torch-eager-cpu.p5.json").write_text(json.dumps(doc))
    edit(r / "manifest.json", lambda m: m["workers"].append(
        dict(next(w for w in m["workers"] if w["case"] == TORCH), index=5, json="workers/torch-eager-cpu.p5.json")))
    return [["report", r]]


def copies(mode: str):
    def setup(root: Path):
        a, b = run(root / "runs", "a", 1), run(root / "runs", "b", 2)
        shutil.copytree(a, root / "runs" / "c")
        return [{"pool": ["report", "--pool", a, b, root / "runs" / "c", "--output", root / "out"],
                 "folder": ["report", "--pool", root / "runs", "--output", root / "out"],
                 "compare": ["report", a, root / "runs" / "c", "--compare", "--output", root / "out"],
                 "gate": ["report", "--baseline", a, root / "runs" / "c"]}[mode]]
    return setup


def same_path_by_link(root: Path):
    a, b = run(root / "runs", "a", 1), run(root / "runs", "b", 2)
    (root / "alias").symlink_to(a, target_is_directory=True)
    return [["report", "--pool", a, b, root / "alias", "--output", root / "out"]]


def gate_self(root: Path):
    a = run(root)
    return [["report", "--baseline", a, a]]


def duet(change):
    def setup(root: Path):
        from tests.runfolders import write_run
        r = write_run(root / "duet", {TORCH: {"predict_one": [[1.0, 3.0], [4.0, 8.0]]},
                                      FUSED: {"predict_one": [[2.0, 1.0], [1.0, 2.0]]}},
                      baselines={"cpu": FUSED}, kind="duet")
        def rec(m):
            m["duet"] = {"cases": [TORCH, FUSED], "cores": [0, 1], "pairs": [
                {"index": 0, "cores": {TORCH: 0, FUSED: 1}}, {"index": 1, "cores": {TORCH: 1, FUSED: 0}}]}
            change(m)
        edit(r / "manifest.json", rec)
        return [["report", r]]
    return setup


def plain_doc(change):
    def setup(root: Path):
        def side(epochs):
            return {"epoch_seconds": epochs, "epoch_losses": [[2.0, 1.9]], "read_back": {}}
        doc = {"kind": "plain-check", "processes": 2, "epochs": 3, "threads": 2, "tolerance": 0.05, "init": "own",
               "results": [{"case": TORCH}],
               "pairs": {TORCH: [{"plain": side([2.0, 1.0, 1.1]), "twin": side([2.0, 1.1, 1.2])},
                                 {"plain": side([2.0, 1.2, 1.3]), "twin": side([2.0, 1.3, 1.25])}]}}
        change(doc)
        folder = root / "plain"
        folder.mkdir()
        (folder / "plain.json").write_text(json.dumps(doc))
        r = run(root)
        (r / "plain.json").write_text(json.dumps(doc))  # --into's copy: the run's report reads it too
        return [["plain", "--report", folder], ["report", r]]
    return setup


def pool_output(where: str):
    def setup(root: Path):
        a, b = run(root / "runs", "a", 1), run(root / "runs", "b", 2)
        out = {"source": a, "inside": a / "workers", "other run": run(root, "other", 3),
               "file": root / "afile"}.get(where)
        if where == "sweep":
            out = root / "sweep"
            out.mkdir()
            (out / "sweep.json").write_text("{}")
        if where == "plain":
            out = root / "plainout"
            out.mkdir()
            (out / "plain.json").write_text("{}")
        if where == "foreign":
            out = root / "mine"
            out.mkdir()
            (out / "notes.txt").write_text("mine")
        if where == "file":
            out.write_text("a file")
        return [["report", "--pool", a, b, "--output", out]]
    return setup


def compare_output(where: str):
    def setup(root: Path):
        a, b = run(root / "runs", "a", 1), run(root / "runs", "b", 2)
        out = {"source": b, "other run": run(root, "other", 3)}[where]
        return [["report", a, b, "--compare", "--output", out]]
    return setup


def device(value: str):
    def change(m):
        for c in m["cases"]:
            if c["id"] == TF:
                c["device"] = value
        m["baselines"] = {"cpu": TORCH}
    return on_manifest(change)


def result_json(change_doc=None, name=None):
    def setup(root: Path):
        r = run(root)
        def add(m):
            for w in m["workers"]:
                fname = f"workers/{w['case'].split('@')[0].replace(':', '-')}-cpu.p{w['index']}.result.json"
                (r / fname).write_text(json.dumps({"case": w["case"], "process_index": w["index"],
                                                   "outcomes": w["outcomes"]}))
                w["result"] = fname
            if name:
                m["workers"][0]["result"] = name
        edit(r / "manifest.json", add)
        if change_doc:
            edit(r / "workers/torch-eager-cpu.p1.result.json", change_doc)
        return [["report", r]]
    return setup


def seed_check(change):
    def probe(root: Path):
        from benchmarks.reports.answer import read_seed_check
        doc = {"seeds": [0, 1, 2], "cases": ["a", "b"], "labels": {},
               "accuracy": {"a": {"mean": 0.9, "sd": 0.01, "values": [0.89, 0.9, 0.91]},
                            "b": {"mean": 0.8, "sd": 0.01, "values": [0.79, 0.8, 0.81]}},
               "difference_of_means": {"difference": 0.1, "low": 0.08, "high": 0.12}}
        change(doc)
        (root / "seeds.json").write_text(json.dumps(doc))
        read_seed_check(root / "seeds.json")
    return probe


def plugin(text: str, packages: dict, name: str):
    def probe(root: Path):
        from shared import registry
        for pkg, aliases in packages.items():
            (root / pkg).mkdir()
            (root / pkg / "__init__.py").write_text("")
            src = (Path(registry.__file__).parents[1] / "impl_jax" / "variants.py").read_text()
            (root / pkg / "variants.py").write_text(src + f"\nALIASES = {aliases!r}\n")
        sys.path.insert(0, str(root))
        saved = registry.FRAMEWORKS, registry.REFUSED
        registry.FRAMEWORKS, registry.REFUSED = dict(registry.BUILTIN), {}
        try:
            registry._register(text)
            assert registry.canonical("torch") == "torch" or name == "torch"
            assert registry.canonical("pt") == "torch" or name == "torch"
            registry.canonical(name)
        finally:
            registry.FRAMEWORKS, registry.REFUSED = saved
            sys.path.remove(str(root))
    return probe


def plugin_leaves_report(root: Path):
    """With bad plug-in items registered, a report of a run of the built-ins still works."""
    from shared import registry
    saved = registry.FRAMEWORKS, registry.REFUSED
    r = run(root)  # written before the items are registered: the builder parses torch's cases
    registry.FRAMEWORKS, registry.REFUSED = dict(registry.BUILTIN), {}
    try:
        registry._register("bogus,np=no_such_package_q,torch=x")
        rc, out, err = cli("report", r)
        assert rc == 0 and "Traceback" not in err, err
        assert "TensorFlow (graph)" in (r / "report.md").read_text()
    finally:
        registry.FRAMEWORKS, registry.REFUSED = saved


def archive_limit(attr: str, value: int):
    def probe(root: Path):
        from shared import archive
        from tests.conftest import make_tiny_archive
        path = make_tiny_archive(root / "a.tar.gz")
        saved = getattr(archive, attr)
        setattr(archive, attr, value)
        try:
            archive._stream(path, root / "staging", None, root / "cache")
        finally:
            setattr(archive, attr, saved)
    return probe


def case_text(text: str):
    def probe(root: Path):
        from benchmarks.model.cases import parse_case
        parse_case(text, "cpu")
    return probe


def run_option(*argv):
    def probe(root: Path):
        from benchmarks.cli import build_parser
        from benchmarks.commands.run import plan_from_args
        import shared.environment as env
        saved = env.usable_cores
        env.usable_cores = lambda: 2
        try:
            plan_from_args(build_parser("run").parse_args(["run", "--devices", "cpu", *argv]))
        finally:
            env.usable_cores = saved
    return probe


def plain_option(*argv):
    def setup(root: Path):
        import shared.environment as env
        env.usable_cores = lambda: 2  # restored by the probe loop
        r = run(root)
        return [["plain", *[r if a == "RUN" else a for a in argv]]]
    return setup


def baseline_lacks_process(root: Path):
    old, new = run(root, "old", 1), run(root, "new", 2)
    edit(old / "manifest.json", lambda m: next(w for w in m["workers"] if w["case"] == TF).update(json=None))
    return old, new


# --------------------------------------------------------------------------- the cases
# (class, name, setup, words the one line must hold) for refusals through the command line;
# (class, name, probe, words) where probe raises the UserError itself (a library-level refusal).

REFUSED = [
    # 1 evidence counted twice
    ("twice", "worker copied under a new index", copy_worker, "hold the same"),
    ("twice", "worker record duplicated", on_manifest(lambda m: m["workers"].append(dict(m["workers"][-1]))),
     "recorded twice"),
    ("twice", "case listed twice", on_manifest(lambda m: m["cases"].append(dict(m["cases"][-1]))), "listed twice"),
    ("twice", "pool a run with its copy", copies("pool"), "copy of the other"),
    ("twice", "pool a folder holding a run and its copy", copies("folder"), "copy of the other"),
    ("twice", "compare a run with its copy", copies("compare"), "copy of the other"),
    ("twice", "gate a run against its copy", copies("gate"), "copy of the other"),
    ("twice", "gate one folder as both sides", gate_self, "both the baseline and the run"),
    ("twice", "pool one run twice through a symlink", same_path_by_link, "named twice"),
    ("twice", "duet pair index twice", duet(lambda m: m["duet"]["pairs"].append(dict(m["duet"]["pairs"][0]))),
     "pair index twice"),
    ("twice", "plain result listed twice", plain_doc(lambda d: d["results"].append(dict(d["results"][0]))),
     "two results"),
    # 2 values outside physics
    ("physics", "round time 1e-300", on_worker(rounds_to(1e-300)), "domain"),
    ("physics", "round time 1e300", on_worker(rounds_to(1e300)), "domain"),
    ("physics", "round time -0.0", on_worker(rounds_to(-0.0)), "domain"),
    ("physics", "round time true", on_worker(rounds_to(True)), "domain"),
    ("physics", "round time a string", on_worker(rounds_to("1")), "domain"),
    ("physics", "round time null", on_worker(rounds_to(None)), "domain"),
    ("physics", "no rounds at all", on_worker(lambda d: d["benchmarks"][0]["stats"].update(data=[])), "no round"),
    ("physics", "median disagrees with rounds", on_worker(lambda d: d["benchmarks"][0]["stats"].update(median=9.0)),
     "disagrees"),
    ("physics", "min disagrees with rounds", on_worker(lambda d: d["benchmarks"][0]["stats"].update(min=1e-5)),
     "disagrees"),
    ("physics", "peak RSS 1e300", on_worker(extra(peak_rss_mb=1e300)), "domain"),
    ("physics", "device memory -1", on_worker(extra(peak_device_mem_mb=-1)), "domain"),
    ("physics", "trace count a word", on_worker(extra(trace_count="x")), "domain"),
    ("physics", "trace count 1.5", on_worker(extra(trace_count=1.5)), "domain"),
    ("physics", "trace count -1", on_worker(extra(trace_count=-1)), "domain"),
    ("physics", "machine wall 1e300", on_worker(extra(machine={"wall_s": 1e300})), "domain"),
    ("physics", "machine steal -1", on_worker(extra(machine={"steal_s": -1.0})), "domain"),
    ("physics", "accuracy 1.0000001", on_worker(extra(accuracy=1.0000001)), "domain"),
    ("physics", "epoch loss infinite", on_worker(extra(epoch_mean_loss=[float("inf")])), "domain"),
    ("physics", "processes -3", on_manifest(lambda m: m.update(processes=-3)), "domain"),
    ("physics", "duration infinite", on_manifest(lambda m: m.update(duration_s=float("inf"))), "domain"),
    ("physics", "rounds 2.5", on_manifest(lambda m: m["rounds"]["train_epoch"].update(rounds=2.5)), "domain"),
    ("physics", "warm-up -1", on_manifest(lambda m: m["rounds"]["train_epoch"].update(warmup=-1)), "domain"),
    ("physics", "anatomy forward 1e300", on_manifest(
        lambda m: m["workers"][0].update(anatomy={"breakdown": {"forward": 1e300}})), "domain"),
    ("physics", "steps per epoch -5", on_manifest(
        lambda m: m["workers"][0].update(anatomy={"steps_per_epoch": -5})), "domain"),
    ("physics", "probe rate -1", on_manifest(lambda m: m["workers"][0].update(
        anatomy={"probe": {"matmul": {"gflops_best": -1.0}, "copy": {"gbs_best": 1.0}}})), "domain"),
    ("physics", "pilot c_r 1e300", on_manifest(lambda m: m.update(
        pilot={"text": "t", "estimates": [{"sigma2_p": 0.01, "sigma2_r": 0.01, "c_r": 1e300}]})), "domain"),
    ("physics", "pilot variance 1e9", on_manifest(lambda m: m.update(
        pilot={"text": "t", "estimates": [{"sigma2_p": 1e9, "sigma2_r": 0.01, "c_r": 1.0}]})), "domain"),
    ("physics", "min effect 1.0", on_manifest(lambda m: m.update(min_effect=1.0)), "min_effect"),
    ("physics", "duet core -1", duet(lambda m: m["duet"].update(cores=[-1, 1])), "domain"),
    ("physics", "plain epoch 1e-300", plain_doc(
        lambda d: d["pairs"][TORCH][0]["twin"].update(epoch_seconds=[1.0, 1e-300, 1.0])), "domain"),
    ("physics", "plain loss zero", plain_doc(
        lambda d: d["pairs"][TORCH][0]["plain"].update(epoch_losses=[[0.0, 1.0]])), "loss > 0"),
    ("physics", "plain reference epoch 1e300", plain_doc(lambda d: d["pairs"][TORCH][1].update(
        reference={"epoch_seconds": [1.0, 1e300], "read_back": {}})), "domain"),
    ("physics", "plain threads 0", plain_doc(lambda d: d.update(threads=0)), "not at least 1"),
    ("physics", "plain tolerance 2", plain_doc(lambda d: d.update(tolerance=2.0)), "domain"),
    # 3 writes out of place
    ("writes", "pool output is a source run", pool_output("source"), "inside the run folder"),
    ("writes", "pool output inside a source run", pool_output("inside"), "inside the run folder"),
    ("writes", "pool output is another run", pool_output("other run"), "holds manifest.json"),
    ("writes", "pool output is a sweep folder", pool_output("sweep"), "holds sweep.json"),
    ("writes", "pool output is a plain folder", pool_output("plain"), "holds plain.json"),
    ("writes", "pool output holds foreign files", pool_output("foreign"), "did not write"),
    ("writes", "pool output is a file", pool_output("file"), "is a file"),
    ("writes", "compare output is a source run", compare_output("source"), "inside the run folder"),
    ("writes", "compare output is another run", compare_output("other run"), "holds manifest.json"),
    ("writes", "device ../../escape", device("../../escape"), "device"),
    ("writes", "device gpu/../../x", device("gpu/../../x"), "device"),
    ("writes", "framework with a slash", on_manifest(lambda m: m["cases"][1].update(framework="../x")), "framework"),
    ("writes", "result file outside the folder", result_json(name="../../etc/passwd"), "outside the run folder"),
    # 5 size
    ("size", "label of 200,000 characters", on_manifest(lambda m: m["cases"][1].update(label="x" * 200_000)),
     "200,000 characters"),
    ("size", "about of 1,000,000 characters", on_manifest(lambda m: m["cases"][1].update(about="y" * 1_000_000)),
     "1,000,000 characters"),
    ("size", "reason of 50,000 characters", on_manifest(
        lambda m: [w.update(reason="z" * 50_000) for w in m["workers"] if w["case"] == FUSED],
        failed={FUSED: "boom"}), "50,000 characters"),
    ("size", "case id of 10,000 characters", on_manifest(lambda m: m["cases"][1].update(id="t" * 10_000)),
     "10,000 characters"),
    # 6 options honoured or refused
    ("options", "plain --threads 99 without --force", plain_option("--threads", "99"), "more than the 2"),
    ("options", "plain --into with --output", plain_option("--into", "RUN", "--output", "x"), "give one"),
    ("options", "plain --report with --output", plain_option("--report", "RUN", "--output", "x"), "drop --output"),
    ("options", "baseline names an unknown case", on_manifest(lambda m: m.update(baselines={"cpu": "torch:warp@cpu"})),
     "not a framework case"),
    ("options", "baseline of another device", on_manifest(lambda m: m.update(baselines={"gpu": TORCH})),
     "not a framework case"),
    ("options", "result.json outcomes disagree", result_json(
        lambda d: d["outcomes"]["train_epoch"].update(outcome="skipped")), "outcomes"),
    ("options", "result.json of another case", result_json(lambda d: d.update(case=TF)), "names case"),
    ("options", "result.json of another process", result_json(lambda d: d.update(process_index=0)),
     "names process index"),
]

LIBRARY_REFUSED = [
    ("twice", "seed list repeats a seed", seed_check(lambda d: d.update(seeds=[0, 0, 2])), "distinct"),
    ("physics", "seed check mean not its values' mean", seed_check(lambda d: d["accuracy"]["a"].update(mean=0.95)),
     "not the mean"),
    ("physics", "seed check accuracy 80", seed_check(
        lambda d: d["accuracy"]["b"].update(values=[0.79, 80.0, 0.81], mean=26.9)), "domain"),
    ("physics", "seed check difference outside its interval", seed_check(
        lambda d: d["difference_of_means"].update(low=0.11)), "inside its interval"),
    ("plug-ins", "torch=... replaces the built-in", plugin("torch=plug_a", {"plug_a": ()}, "torch"), "built-in"),
    ("plug-ins", "TensorFlow=... through its alias", plugin("TensorFlow=plug_b", {"plug_b": ()}, "tf"), "built-in"),
    ("plug-ins", "alias torch taken", plugin("evil=plug_c", {"plug_c": ("torch",)}, "evil"), "belong to a built-in"),
    ("plug-ins", "alias pt taken", plugin("evil=plug_d", {"plug_d": ("pt",)}, "evil"), "belong to a built-in"),
    ("plug-ins", "package missing", plugin("np=no_such_pkg_q", {}, "np"), "cannot import"),
    ("plug-ins", "item without =", plugin("bogus", {}, "bogus"), "write name=package"),
    ("plug-ins", "one name twice", plugin("np=plug_e,np=plug_f", {"plug_e": (), "plug_f": ()}, "np"), "twice"),
    ("size", "archive beyond the total", archive_limit("MAX_TOTAL_BYTES", 2000), "unpacks to more than"),
    ("size", "archive beyond the member count", archive_limit("MAX_MEMBERS", 5), "members"),
    ("options", "a setting twice in a case", case_text("torch[batch_size=10,batch_size=20]"), "given twice"),
    ("options", "a case's threads above the cores", run_option("--frameworks", "torch[threads=99]"),
     "more than the 2"),
]


def accepted() -> list:
    """(class, name, probe) where the command must work and say the right thing."""
    def lacks(root):
        old, new = baseline_lacks_process(root)
        rc, out, err = cli("report", "--baseline", old, new)
        assert "Traceback" not in err and "note: the baseline old lacks results for tensorflow:graph@cpu" in out, out
    def forced(root):
        run_option("--frameworks", "torch[threads=99]", "--force")(root)
    def nudged(root):  # the same figures measured again (not a copy) pass the gate
        from tests.runfolders import write_run
        old = write_run(root / "old", data(4))
        new = write_run(root / "new", {c: {p: [[x * (1 + 1e-9) for x in r] for r in v] for p, v in d.items()}
                                       for c, d in data(4).items()})
        rc, out, err = cli("report", "--baseline", old, new)
        assert rc == 0 and "no regression" in out, out + err
    return [("plug-ins", "bad items leave a built-in report working", plugin_leaves_report),
            ("options", "the gate notes the baseline's missing process", lacks),
            ("options", "threads above the cores with --force", forced),
            ("twice", "the same figures measured again pass the gate", nudged)]


# --------------------------------------------------------------------------- the probe

def probe_refused(setup, words: str, root: Path) -> str | None:
    """None when every command of the case refuses in one clean line and nothing changed."""
    commands = setup(root)
    before = snapshot(root)
    for args in commands:
        rc, out, err = cli(*args)
        if rc == "traceback" or "Traceback" in err:
            return f"traceback: {err.strip().splitlines()[-1] if err.strip() else ''}"
        lines = err.strip().splitlines()
        if rc != 2:
            return f"exit {rc} (wanted 2) for {' '.join(map(str, args[:2]))}: {out.strip()[-200:]} {err.strip()[-200:]}"
        if len(lines) != 1:
            return f"{len(lines)} lines on stderr"
        if words not in lines[0]:
            return f"message lacks {words!r}: {lines[0][:300]}"
        if snapshot(root) != before:
            return "files changed (data lost or half-written)"
    if (root.parent / "escape").exists() or (root.parent / "x").exists():
        return "escape: a file was written outside the case's folder"
    return None


def probe_library(probe, words: str, root: Path) -> str | None:
    from shared.errors import UserError
    try:
        probe(root)
    except UserError as e:
        text = str(e)
        if "\n" in text:
            return "more than one line"
        return None if words in text else f"message lacks {words!r}: {text[:300]}"
    except Exception:  # noqa: BLE001 - the probe reports it
        return "traceback: " + traceback.format_exc().strip().splitlines()[-1]
    return "not refused"


def main() -> int:
    import matplotlib
    matplotlib.use("Agg")
    import shared.environment as env
    cores = env.usable_cores
    results = []
    with tempfile.TemporaryDirectory(prefix="fwbench-probe-") as tmp:
        for i, (cls, name, setup, words) in enumerate(REFUSED):
            root = Path(tmp) / f"case{i}" / "root"
            root.mkdir(parents=True)
            results.append((cls, name, probe_refused(setup, words, root)))
            env.usable_cores = cores
        for i, (cls, name, probe, words) in enumerate(LIBRARY_REFUSED):
            root = Path(tmp) / f"lib{i}"
            root.mkdir()
            results.append((cls, name, probe_library(probe, words, root)))
        for i, (cls, name, probe) in enumerate(accepted()):
            root = Path(tmp) / f"ok{i}"
            root.mkdir()
            try:
                probe(root)
                results.append((cls, name, None))
            except Exception as e:  # noqa: BLE001
                results.append((cls, name, f"{e.__class__.__name__}: {str(e)[:300]}"))
    for cls, name, problem in results:
        print(f"{'ok  ' if problem is None else 'FAIL'} [{cls}] {name}" + (f": {problem}" if problem else ""))
    failed = sum(p is not None for *_, p in results)
    by = {}
    for cls, _, _ in results:
        by[cls] = by.get(cls, 0) + 1
    print(f"{len(results) - failed} of {len(results)} cases pass ("
          + ", ".join(f"{k} {v}" for k, v in by.items()) + ")")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
