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
        if doc.get("kind") != "plain-check" or not isinstance(doc.get("results"), list):
            raise ValueError("not a plain-check document")
        return render(doc)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise UserError(f"{path}: unreadable plain-script check ({e}): rerun `fwbench plain --into {folder}` "
                        f"or remove the file") from None


def _case_label(case_id: str) -> str:
    from benchmarks.model.cases import parse_case
    return parse_case(case_id).label


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
             f"twin / plain above 1: the twin is slower. A twin passes when the 95% interval's upper end is below "
             f"{1 + doc['tolerance']:.2f}.", ""]
    rows = []
    for r in doc["results"]:
        ratio = r["ratio"]
        rows.append([_case_label(r["case"]), md_code(r["case"]), fmt_time(r["plain_s"]["value"]), fmt_time(r["twin_s"]["value"]),
                     f"{fmt_ratio(ratio['value'])} ({fmt_interval(ratio['low'], ratio['high'])})", r["verdict"],
                     f"{r['first_epoch_loss_max_rel_diff']:.1e}",
                     f"{r['plain_read_back'].get('flush_denormal')} / {r['twin_read_back'].get('flush_denormal')}"])
    table = md_table(["case", "id", "plain script (warm epoch)", "twin (warm epoch)", "twin / plain (95% CI)",
                      "verdict", "first-epoch step loss, max rel. difference",
                      "denormals flushed (plain / twin, measured)"], rows)
    return "\n".join(head) + "\n" + table + "\n" + ("\n" + overall_line(doc) + "\n" if doc.get("pairs") else "")


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
    rows = [[_case_label(r["case"]), md_code(r["case"]),
             f"{fmt_ratio(r['ratio']['value'])} ({fmt_interval(r['ratio']['low'], r['ratio']['high'])})", r["verdict"]]
            for r in doc["results"]]
    out.append(md_table(["case", "id", "twin / plain (95% CI)", "verdict"], rows))
    return out + (["", overall_line(doc)] if doc.get("pairs") else [])
