"""The "Twin against plain script" section: a plain-check document (benchmarks/plain/check.py)
as Markdown, for its own report.md and for a run report that holds a plain.json."""
from __future__ import annotations

import json
from pathlib import Path

from benchmarks.analysis.rundata import fmt_interval, fmt_ratio, fmt_time, md_code, md_escape, md_table
from shared.errors import UserError

PLAIN_FILE = "plain.json"


def section_for(folder: Path) -> str | None:
    """The section for a run folder holding a plain.json (`fwbench plain --into`), else None."""
    path = Path(folder) / PLAIN_FILE
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text())
        check_doc(doc, path)
        return render(doc)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise UserError(f"{path}: unreadable plain-script check ({e}): rerun `fwbench plain --into {folder}` "
                        f"or remove the file") from None


def check_doc(doc, path: Path) -> dict:
    """A plain-check document's figures in their domain (benchmarks/analysis/rundata.DOMAIN, the one
    table): a 1e-300 s epoch or a zero loss would print an absurd ratio or divide by zero."""
    from benchmarks.analysis.rundata import in_domain

    def bad(what: str):
        raise UserError(f"{path}: {what}: not a plain-script check fwbench wrote; rerun `fwbench plain` or "
                        f"remove the file")

    def number(value, kind: str, what: str):
        if not in_domain(value, kind):
            bad(f"{what} {str(value)[:60]!r} is outside its domain")

    if not isinstance(doc, dict) or doc.get("kind") != "plain-check" or not isinstance(doc.get("results"), list):
        bad("not a plain-check document")
    for key in ("processes", "epochs", "threads"):
        number(doc.get(key), "count", key)
        if doc[key] < 1:
            bad(f"{key} {doc[key]} is not at least 1")
    number(doc.get("tolerance"), "fraction", "tolerance")
    if doc.get("init") not in ("shared", "own"):
        bad(f"init {str(doc.get('init'))[:60]!r} is neither shared nor own")
    pairs = doc.get("pairs") or {}
    if not isinstance(pairs, dict):
        bad("'pairs' is not an object")
    for case, got in pairs.items():
        if not isinstance(got, list):
            bad(f"the pairs of {case[:60]!r} are not a list")
        for p in got:
            for side in ("plain", "twin"):
                rec = p.get(side) if isinstance(p, dict) else None
                if not isinstance(rec, dict) or not isinstance(rec.get("epoch_seconds"), list) \
                        or len(rec["epoch_seconds"]) < 2 or not isinstance(rec.get("read_back"), dict):
                    bad(f"a {side} side of {case[:60]!r} lacks its epoch_seconds (2 or more) or read_back")
                for t in rec["epoch_seconds"]:
                    number(t, "round time", f"a {side} epoch time of {case[:60]!r}")
                losses = rec.get("epoch_losses")
                if not (isinstance(losses, list) and losses and isinstance(losses[0], list) and losses[0]):
                    bad(f"a {side} side of {case[:60]!r} lacks its first epoch's step losses")
                for x in losses[0]:
                    if not (in_domain(x, "loss") and x > 0):  # the relative difference divides by it
                        bad(f"a {side} step loss of {case[:60]!r} {str(x)[:60]!r} is not a loss > 0")
            ref = p.get("reference")
            if ref is not None:  # `--reference`: its epochs are figures too (no losses: it is a user's script)
                if not (isinstance(ref, dict) and isinstance(ref.get("epoch_seconds"), list)
                        and len(ref["epoch_seconds"]) >= 2 and isinstance(ref.get("read_back"), dict)):
                    bad(f"a reference side of {case[:60]!r} lacks its epoch_seconds (2 or more) or read_back")
                for t in ref["epoch_seconds"]:
                    number(t, "round time", f"a reference epoch time of {case[:60]!r}")
            if len(p.get("plain", {}).get("epoch_losses", [[]])[0]) != len(p.get("twin", {}).get("epoch_losses", [[]])[0]):
                bad(f"the two sides of a pair of {case[:60]!r} hold different numbers of step losses")
    seen = set()
    for r in doc["results"]:
        if not isinstance(r, dict) or not isinstance(r.get("case"), str) or len(r["case"]) > 200:
            bad("a result without its case")
        if r["case"] in seen:  # one case's evidence shown twice
            bad(f"case {r['case']!r} has two results")
        seen.add(r["case"])
        case_label(r["case"])  # a case this version can read (UserError otherwise)
        if not pairs.get(r["case"]):
            ratio = r.get("ratio")
            if not isinstance(ratio, dict):
                bad(f"case {r['case']!r} has neither pairs nor a ratio")
            for key in ("value", "low", "high"):
                if ratio.get(key) is not None:
                    number(ratio[key], "ratio", f"case {r['case']!r}'s ratio {key}")
    extra = sorted(set(pairs) - seen)
    if extra:
        bad(f"pairs of {extra[0][:60]!r}, a case without a result")
    return doc


def case_label(case_id: str) -> str:
    from benchmarks.model.cases import parse_case
    return parse_case(case_id).label


def results(doc: dict) -> list[dict]:
    """Each case's figures, recomputed from the recorded process pairs when the document has them
    (so a report regenerated by code carries today's verdict rule, not the one the check ran
    with), else the stored ones."""
    from benchmarks.plain.summary import summarise
    pairs = doc.get("pairs") or {}
    refs = {r["case"]: r for r in doc.get("references") or []}
    return [summarise(r["case"], pairs[r["case"]], refs.get(r["case"])) if pairs.get(r["case"]) else r
            for r in doc["results"]]


def render(doc: dict, standalone: bool = False) -> str:
    env = doc.get("environment") or {}
    head = ["# Twin against plain script", ""] if standalone else ["## Twin against plain script", ""]
    head += [f"Each twin's warm training epoch against a plain training script of the same model "
             f"(`benchmarks/plain/`), {doc['processes']} interleaved process pairs per case, "
             f"{doc['epochs'] - 1} warm epochs per process after one left out, {doc['threads']} intra-op threads "
             f"on both sides; initial weights: "
             + ("the suite's shared weights on both sides (one training trajectory)." if doc["init"] == "shared" else
                "each plain script's own framework initialisation (a different trajectory from the twin's).")
             + f" Machine: {md_escape(env.get('cpu', '?'))}; {md_escape(doc.get('started', '?'))}, "
               f"{md_escape(doc.get('seconds', '?'))} s; {md_code(doc.get('command', ''))}.", "",
             f"twin / plain above 1: the twin is slower. Verdicts are the suite's (benchmarks/analysis/stats.py) with "
             f"the tolerance {doc['tolerance']:.0%} as the minimum effect: equivalent (as fast as the plain script) when "
             f"the 90% interval lies within {1 / (1 + doc['tolerance']):.3f}-{1 + doc['tolerance']:.2f}; slower or "
             f"faster when the 95% interval excludes 1 and the ratio is beyond the tolerance; otherwise "
             f"inconclusive.", ""]
    rows = []
    rs = results(doc)
    for r in rs:
        ratio = r["ratio"]
        rows.append([case_label(r["case"]), md_code(r["case"]), fmt_time(r["plain_s"]["value"]), fmt_time(r["twin_s"]["value"]),
                     f"{fmt_ratio(ratio['value'])} ({fmt_interval(ratio['low'], ratio['high'])})", r["verdict"],
                     f"{r['first_epoch_loss_max_rel_diff']:.1e}",
                     f"{r['plain_read_back'].get('flush_denormal')} / {r['twin_read_back'].get('flush_denormal')}"])
    table = md_table(["case", "id", "plain script (warm epoch)", "twin (warm epoch)", "twin / plain (95% CI)",
                      "verdict", "first-epoch step loss, max rel. difference",
                      "denormals flushed (plain / twin, measured)"], rows)
    return ("\n".join(head) + "\n" + table + "\n" + ("\n" + overall_line(doc) + "\n" if doc.get("pairs") else "")
            + reference_section(doc, rs))


def overall_line(doc: dict) -> str:
    """All cases' pairs together (benchmarks/plain/check.overall), from the recorded pairs."""
    from benchmarks.plain.summary import overall
    o = overall(doc["pairs"])
    cases = f"{o['cases']} case{'s' if o['cases'] != 1 else ''}"
    return (f"All cases together ({cases}, {o['pairs']} process pairs; per pair, twin's median warm epoch over "
            f"the plain script's; one-sample t interval over the pairs): twin / plain "
            f"{fmt_ratio(o['ratio']) if o['ratio'] is not None else 'none'} "
            f"({fmt_interval(o['low'], o['high'])}): {md_escape(o['verdict'])}.")


def summary_lines(doc: dict, link: str) -> list[str]:
    """The README's generated lines: one per case, the ratio with its interval and the verdict,
    and where the evidence is."""
    env = doc.get("environment") or {}
    out = [f"Twin against plain script, `fwbench plain` ({doc['processes']} interleaved process pairs per case, "
           f"{'shared' if doc['init'] == 'shared' else 'own'} initial weights, {md_escape(env.get('cpu', '?'))}, "
           f"{md_escape(doc.get('started', '?'))}; evidence: [{md_escape(link)}]({link}):", ""]
    rows = [[case_label(r["case"]), md_code(r["case"]),
             f"{fmt_ratio(r['ratio']['value'])} ({fmt_interval(r['ratio']['low'], r['ratio']['high'])})", r["verdict"]]
            for r in results(doc)]
    out.append(md_table(["case", "id", "twin / plain (95% CI)", "verdict"], rows))
    return out + (["", overall_line(doc)] if doc.get("pairs") else [])


def reference_section(doc: dict, rs: list[dict]) -> str:
    """The reference scripts' column (`fwbench plain --reference`), '' when the check had none."""
    cols = [(r, r["reference"]) for r in rs if r.get("reference")]
    if not cols:
        return ""
    e = doc["epochs"]
    lines = ["", f"Against a reference script (`--reference`): each script below ran as a third process beside every "
                 f"pair, the three in rotating order, with the same thread budget ({doc['threads']} intra-op threads, "
                 f"in its environment and in {{threads}}) and its own initial weights unless its command takes "
                 f"{{weights}}. Like with like: every side's warm epochs are epochs 2-{e} of the first {e} it ran "
                 f"(the reference's first {e} printed epoch times). Ratios above 1: the reference is faster; "
                 f"verdicts as above, against the reference script.", ""]
    rows = []
    for r, c in cols:
        if c.get("failed"):
            rows.append([case_label(r["case"]), md_code(c["command"]), f"failed: {c['failed']}", "", "", "", "", ""])
            continue
        tr, pr = c["twin_over_reference"], c["plain_over_reference"]
        threads = ", ".join("not reported" if t is None else str(t) for t in c["threads_read_back"])
        rows.append([case_label(r["case"]), md_code(c["command"]), fmt_time(c["reference_s"]["value"]),
                     f"{fmt_ratio(tr['value'])} ({fmt_interval(tr['low'], tr['high'])})", c["twin_verdict"],
                     f"{fmt_ratio(pr['value'])} ({fmt_interval(pr['low'], pr['high'])})", c["plain_verdict"], threads])
    return "\n".join(lines) + "\n" + md_table(
        ["case", "reference command", "reference (warm epoch)", "twin / reference (95% CI)", "verdict",
         "plain script / reference (95% CI)", "verdict", "reference's intra-op threads (read back)"], rows) + "\n"
