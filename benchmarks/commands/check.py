"""`fwbench check`: train two cases (FRAMEWORK[:VARIANT]) from the same start and say whether they agree.

The training and the figures live in shared/parity.py (the tests use them too); this module
parses the options, runs it and prints the verdict.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from benchmarks.model.cases import split_items
from benchmarks.model.options import add_config_arguments, config_from_args
from benchmarks.commands.run import command_line
from shared import environment
from shared.atomic import write_atomic
from shared.errors import UserError
from shared.metrics import PARITY_INCONCLUSIVE, AccuracyParity
from shared.parity import accuracy_floor, judge, run_check

# strict: the median over 3 seeds tolerates the one chaotic seed in three that the issue
# warns of, at ~40 s a seed. native: the frameworks differ, so we compare two samples of
# accuracies; 5 a side is the fewest that gives Welch's interval a usable width (t_0.975 ~ 2.3).
DEFAULT_SEEDS = {"strict": 3, "native": 5, "sgd": 3}


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_config_arguments(p)
    p.add_argument("--optimizer", choices=["strict", "native"], default="strict",
                   help="strict (default): both apply PyTorch's Adam formula, the equivalence proof; "
                        "native: each framework's own Adam, compared statistically")
    p.add_argument("--seeds", type=int, default=None,
                   help="number of seeds, run as --seed, --seed+1, ... (default 3 for strict, 5 for native)")
    p.add_argument("--cases", default=None, metavar="A,B",
                   help="the two cases to compare, each FRAMEWORK[:VARIANT], e.g. torch:eager,torch:fused or "
                        "tensorflow:graph,tensorflow:xla (default torch,tensorflow: each framework's default variant)")
    p.add_argument("--frameworks", default=None,
                   help="older form of --cases: two different frameworks, their variants from --variant")
    p.add_argument("--variant", action="append", default=[], metavar="FRAMEWORK=NAME",
                   help="with --frameworks: execution variant of one framework, e.g. tensorflow=xla (repeatable)")
    p.add_argument("--device", choices=["cpu", "gpu"], default=None,
                   help="where both twins train (default cpu); gpu fails with one line when a framework sees none")
    p.add_argument("--rewrite", metavar="JSON", type=Path, default=None,
                   help="train nothing: judge a check that `--json` stored by the rules in force and rewrite its "
                        "JSON and .md (a committed record after a rule changed)")
    p.add_argument("--json", dest="json_path", metavar="PATH",
                   help="also write every figure to PATH as JSON, with the machine, versions and threads, "
                        "and the printed report beside it as PATH with the suffix .md")


def parse_frameworks(text: str) -> tuple[str, str]:
    from shared.registry import canonical
    names = tuple(canonical(n.strip()) for n in text.split(",") if n.strip())
    if len(names) != 2 or names[0] == names[1]:
        raise UserError(f"--frameworks needs two different frameworks, got {text!r}: e.g. --frameworks torch,tensorflow "
                        f"(two variants of one framework: --cases torch:eager,torch:fused)")
    return names


def parse_variants(items: list[str], frameworks: tuple[str, ...]) -> dict[str, str | None]:
    from shared.registry import canonical
    variants: dict[str, str | None] = {fw: None for fw in frameworks}
    for item in items:
        fw, sep, name = item.partition("=")
        if not sep or not name:
            raise UserError(f"--variant takes FRAMEWORK=NAME, got {item!r}: e.g. --variant tensorflow=xla")
        fw = canonical(fw)
        if fw not in variants:
            raise UserError(f"--variant names {fw}, which is not among --frameworks {','.join(frameworks)}")
        variants[fw] = name
    return variants


def _framework_variant(text: str) -> str:
    """One --cases item read by the parser `run` and `sweep` use (benchmarks/cases.parse_case),
    so a case is spelled and checked the same way everywhere. A parity check trains both cases
    on --device with the configuration options: a device or settings in the item are refused,
    not ignored."""
    from benchmarks.model.cases import parse_case
    case = parse_case(text, "cpu")
    if "@" in text or case.overrides:
        raise UserError(f"--cases item {text!r} names a device or settings: a parity check takes FRAMEWORK[:VARIANT] "
                        f"and trains both on --device with the configuration options")
    return f"{case.framework}:{case.variant}"


def cases_from_args(args: argparse.Namespace) -> tuple[str, str]:
    """The two case ids, from --cases or from the older --frameworks/--variant; every name is
    checked here, before any data is prepared or framework imported."""
    from shared.parity import check_cases
    if args.cases is not None:
        if args.frameworks is not None or args.variant:
            raise UserError("--cases names the variants itself: give it alone, without --frameworks or --variant")
        items = split_items(args.cases)
        if len(items) != 2:
            raise UserError(f"--cases takes two cases, FRAMEWORK[:VARIANT] each, got {args.cases!r}: "
                            f"e.g. --cases torch:eager,torch:fused")
        return check_cases([_framework_variant(t) for t in items])
    frameworks = parse_frameworks(args.frameworks or "torch,tensorflow")
    variants = parse_variants(args.variant, frameworks)
    return check_cases([f"{fw}:{variants[fw]}" if variants[fw] else fw for fw in frameworks])


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def format_report(res: dict) -> str:
    a, b = res["cases"]
    w = max(12, len(a), len(b))
    first = res["per_seed"][0]
    labels = res.get("labels", {})
    lines = [f"Parity check, optimizer mode {res['optimizer']!r}: {a} vs {b}, seeds {', '.join(map(str, res['seeds']))}"]
    if labels:
        lines.append(f"  {a} = {labels.get(a, a)}; {b} = {labels.get(b, b)}")
    lines += ["", f"Mean training loss per epoch (seed {first['seed']}; last column: max over all seeds)",
              f"  {'epoch':>5}  {a:>{w}}  {b:>{w}}  {'|diff|':>10}  {'max |diff|':>10}"]
    all_diffs = np.max([s["epoch_loss_abs_diff"] for s in res["per_seed"]], axis=0)
    for e, (la, lb) in enumerate(zip(first["cases"][a]["epoch_mean_loss"], first["cases"][b]["epoch_mean_loss"])):
        lines.append(f"  {e + 1:>5}  {la:>{w}.6g}  {lb:>{w}.6g}  {abs(la - lb):>10.3g}  {all_diffs[e]:>10.3g}")
    lines += ["", "Per seed",
              f"  {'seed':>4}  {'acc ' + a:>{w + 4}}  {'acc ' + b:>{w + 4}}  {'diff (pp)':>9}  {'agree':>7}  "
              f"{'epoch-1 loss rel':>16}  weights rel L2 / max abs per layer"]
    for s in res["per_seed"]:
        wd = "  ".join(f"{d['rel_l2']:.2e}/{d['max_abs']:.2e}" for d in s["weights"])
        lines.append(f"  {s['seed']:>4}  {s['cases'][a]['accuracy']:>{w + 4}.4f}  {s['cases'][b]['accuracy']:>{w + 4}.4f}"
                     f"  {100 * s['accuracy_difference']:>+9.2f}  {_pct(s['agreement']):>7}"
                     f"  {s['first_epoch_step_loss_max_rel']:>16.2e}  {wd}")
    acc = res["accuracy"]
    lines += ["", "Test accuracy over seeds: " + "; ".join(
        f"{c} mean {acc[c]['mean']:.4f} (sd {acc[c]['sd']:.4f})" for c in (a, b))]
    ci = res["difference_of_means"]
    if ci:
        df = "n/a" if ci["df"] is None else f"{ci['df']:.1f}"
        lines.append(f"Difference of means ({a} - {b}): {100 * ci['difference']:+.2f} pp, "
                     f"95% CI [{100 * ci['low']:+.2f}, {100 * ci['high']:+.2f}] pp (Welch, df {df})")
    else:
        lines.append(f"Difference of means ({a} - {b}): {100 * (acc[a]['mean'] - acc[b]['mean']):+.2f} pp "
                     f"(no interval: it needs at least 2 seeds)")
    lines.append(f"Median prediction agreement {_pct(res['median_agreement'])}, "
                 f"median |accuracy difference| {100 * res['median_abs_accuracy_difference']:.2f} pp")
    lines += ["", f"Rules ({res['optimizer']}):"]
    floor = accuracy_floor(res)
    if res["optimizer"] == "native" and floor is None:
        lines.append("  (no accuracy floor: none was measured for this workload and recipe; its accuracy is "
                     "reported as it is, with its spread over seeds)")
    for r in res["rules"]:
        op = "<=" if r["at_most"] else ">="
        lines.append(f"  [{'ok' if r['holds'] else 'FAIL'}] {r['text']}: {r['measured']:.4g} {op} {r['limit']:g}")
    failed = [r["text"] for r in res["rules"] if not r["holds"]]
    eq = res.get("accuracy_parity")
    if eq:  # native: parity is an equivalence shown within a margin, or inconclusive, or a difference
        said = AccuracyParity(**eq).text((a, b))
        floor_failed = [t for t in failed if t.startswith("mean test accuracy")]
        lines += ["", f"Accuracy: {said}."]
        if res["holds"]:
            lines.append("Parity HOLDS: " + ("both cases' own Adams reach the required accuracy and " if
                                             floor is not None else "")
                         + f"their mean accuracies are {eq['word']} within {100 * eq['margin']:g} points.")
        elif eq["word"] == PARITY_INCONCLUSIVE and not floor_failed:
            lines.append(f"Parity INCONCLUSIVE: the interval is too wide to show equivalence within "
                         f"{100 * eq['margin']:g} points"
                         + (f"; about {eq['seeds_needed']} seeds a side would decide it (--seeds {eq['seeds_needed']})."
                            if eq.get("seeds_needed") else "; more seeds would not decide it if the difference is real."))
        else:
            lines.append("Parity does NOT hold: failed " + "; ".join(failed) + ".")
        return "\n".join(lines)
    lines += ["", "Parity HOLDS: the two twins train as the same computation within the rules."
              if res["holds"] else "Parity does NOT hold: failed " + "; ".join(failed) + "."]
    return "\n".join(lines)


def record_markdown(res: dict) -> str:
    """The header of the generated .md: the workload and the record it ran under."""
    from shared import workloads
    from shared.config import ExperimentConfig
    rec, cfg = res["record"], res["config"]
    config = ExperimentConfig.from_dict(cfg)
    workload, floor = workloads.get(config.workload), accuracy_floor(res)
    m, pk = rec["machine"], rec["machine"]["packages"]
    cats = cfg["categories"]
    threads = "; ".join(f"{fw} {r['version']}: {r['intra_op_threads']} intra-op / {r['inter_op_threads']} inter-op "
                        f"threads (read back), {r['device_name']}" for fw, r in rec["runtimes"].items())
    return "\n".join([
        f"# Parity check: {' vs '.join(res['cases'])} ({res['optimizer']} optimizers)", "",
        "Generated by `fwbench check --json`; do not edit.", "",
        f"- command: `{rec['command']}`",
        f"- workload: {workload.label} (`{workload.name}`), "
        f"{', '.join(f'{k} {v}' for k, v in config.settings.__dict__.items())}; "
        f"{'all 20 groups' if cats is None else ', '.join(cats)}; vocabulary mode {cfg['vocab_mode']}"
        f"{'' if cfg['vocab_size'] is None else ', ' + format(cfg['vocab_size'], ',') + ' most frequent tokens'}; "
        f"lr {cfg['learning_rate']}, batch {cfg['batch_size']}, epochs {cfg['epochs']}; "
        f"data {rec['data_source']}",
        f"- machine: {m['cpu']}, {m['cores_usable']} usable cores, {m['ram_gb']} GiB, Python {m['python']}, "
        + ", ".join(f"{k} {v}" for k, v in pk.items() if v),
        f"- frameworks: {threads}",
        f"- wall time {rec['wall_s'] / 60:.1f} min for {len(res['seeds'])} seeds x 2 trainings, one after another in "
        f"one process (not a benchmark: see `fwbench run` for times); peak RSS of that process "
        f"{rec['peak_rss_mb']:,.0f} MB; finished {rec['finished_utc']}",
        f"- accuracy target: {'none (none measured for this workload and recipe): reported as it is' if floor is None else f'the workload floor, {floor:g}'}",
    ])


def write_json_atomic(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(payload, indent=2))


def markdown_path(json_path: Path) -> Path:
    """Where the Markdown record goes: beside the JSON, with the suffix .md."""
    return json_path.with_suffix(".md")


def check_destination(json_path: Path) -> None:
    """--json PATH (and the .md beside it) can be written, and are two different files; said in
    one line before any training, naming the user's path."""
    md = markdown_path(json_path)
    if md == json_path:
        raise UserError(f"--json {json_path} would be overwritten by the Markdown record written beside it "
                        f"({md}): give a path ending in .json")
    for p in (json_path, md):
        if p.is_dir():
            raise UserError(f"--json {json_path}: {p} is a directory: give a file path")
    folder = json_path.parent
    while not folder.exists() and folder != folder.parent:  # the folders the write would create
        folder = folder.parent
    if not folder.is_dir():
        raise UserError(f"--json {json_path}: {folder} is not a folder: give a path in a writable folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UserError(f"--json {json_path}: folder {folder} is not writable: give a path in a writable folder")
    for p in (json_path, md):
        if p.exists() and not os.access(p, os.W_OK):
            raise UserError(f"--json {json_path}: {p} exists and is not writable: give another path")


def rewrite(path: Path) -> int:
    """--rewrite: the stored check judged again and its JSON and Markdown rewritten; nothing trained."""
    try:
        res = json.loads(Path(path).read_text())
        judge(res)
        text = format_report(res)
        head = record_markdown(res)
    except OSError as e:
        raise UserError(f"--rewrite {path}: cannot read it ({e.strerror or e})") from None
    except (ValueError, KeyError, TypeError, IndexError) as e:
        raise UserError(f"--rewrite {path}: not a check that `fwbench check --json` wrote "
                        f"({e.__class__.__name__}: {e})") from None
    print(text)
    write_json_atomic(Path(path), res)
    write_atomic(markdown_path(Path(path)), head + "\n```\n" + text + "\n```\n")
    print(f"\nRewrote {path} and {markdown_path(Path(path))}")
    return 0 if res["holds"] else 1


def main(args: argparse.Namespace) -> int:
    from shared import registry
    from shared.dataset import check_fits, prepare

    if args.rewrite is not None:
        given = [o for o, v in (("--json", args.json_path), ("--seeds", args.seeds), ("--cases", args.cases),
                                ("--frameworks", args.frameworks)) if v]
        if given:
            raise UserError(f"--rewrite trains nothing: {', '.join(given)} cannot apply to it; give --rewrite JSON alone")
        return rewrite(args.rewrite)

    cfg = config_from_args(args, optimizer=args.optimizer)
    seeds = DEFAULT_SEEDS[cfg.optimizer] if args.seeds is None else args.seeds
    if seeds < 1:
        raise UserError(f"--seeds must be at least 1, got {seeds}")
    if cfg.optimizer == "native" and seeds < 2:
        raise UserError(f"native mode compares two samples of accuracies: --seeds must be at least 2, got {seeds}")
    cases = cases_from_args(args)  # before any data or framework: bad names cost nothing
    json_path = Path(args.json_path) if args.json_path else None
    if json_path is not None:
        check_destination(json_path)  # before the training: a bad path costs nothing
    data = prepare(cfg, archive=args.archive)
    check_fits(cfg, data)
    runtimes = {}
    for fw in dict.fromkeys(c.split(":")[0] for c in cases):  # before any tensor; TF fixes its thread pools at its first op
        runtimes[fw] = registry.runtime(fw).configure(cfg.thread_count, cfg.device).to_dict()
    t0 = time.perf_counter()
    res = run_check(cfg, data, cases, seeds, log=lambda m: print(m, file=sys.stderr, flush=True))
    text = format_report(res)
    print(text)
    if json_path is not None:
        # the record a reader needs to trust the figures: where, with what, how (threads read back)
        res["record"] = {"command": command_line(), "machine": environment.capture(), "runtimes": runtimes,
                         "data_source": data.source, "wall_s": time.perf_counter() - t0,
                         "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                         "finished_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
        md = markdown_path(json_path)
        try:
            write_json_atomic(json_path, res)
            write_atomic(md, record_markdown(res) + "\n```\n" + text + "\n```\n")
        except OSError as e:  # the user's path in the message, not the temporary file beside it
            raise UserError(f"--json {json_path}: cannot write the record ({e.strerror or e}): "
                            f"give a path in a writable folder") from None
        print(f"\nWrote {json_path} and {md}")
    return 0 if res["holds"] else 1
