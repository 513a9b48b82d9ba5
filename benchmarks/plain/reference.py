"""An external training script as a timed side of `fwbench plain` (--reference) and of the bisection
(benchmarks/plain/bisect.py): how it is named, started and read.

The protocol, all a script has to speak (README, "Your own script as a reference"):

- fwbench starts it as one fresh process per measurement, with the thread budget in its environment
  (the variables every fwbench worker gets, OMP_NUM_THREADS etc., plus FWBENCH_THREADS) and in the
  command line where it names the placeholder {threads};
- it trains and prints, on stdout, exactly one line `RESULT {json}` whose object holds
  `epoch_times_s`: every epoch's wall time in seconds, the first (warm-up) epoch first, as many as it
  was asked for ({epochs}) or more;
- it may report its intra-op thread count read back from its framework as `threads` (also read:
  `intra_op_threads`, `intra`); a count other than the budget fails the column (the comparison
  would not be like for like); none reported is recorded as "not reported".

Placeholders in the command: {python} (this interpreter), {epochs}, {threads}, {seed} and, with
--init shared, {weights} (an .npz of the suite's initial weights, benchmarks/plain/common.py).
"""
from __future__ import annotations

import json
import math
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from shared.errors import UserError

RESULT_PREFIX = "RESULT "
TIMES_KEY = "epoch_times_s"
THREAD_KEYS = ("threads", "intra_op_threads", "intra")  # the read-back, first found wins
THREADS_ENV = "FWBENCH_THREADS"
PLACEHOLDERS = ("python", "epochs", "threads", "seed", "weights")


class ReferenceFailed(Exception):
    """One run of a reference script gave no usable epoch times; the text says why, in one line."""


@dataclass(frozen=True)
class Reference:
    case: str  # the case id it stands beside (torch:eager@cpu)
    template: str  # the command as the user gave it, placeholders unfilled

    def argv(self, *, epochs: int, threads: int, seed: int = 0, weights: Path | None = None) -> list[str]:
        values = {"python": sys.executable, "epochs": str(epochs), "threads": str(threads), "seed": str(seed),
                  "weights": str(weights) if weights is not None else None}
        out = []
        for token in shlex.split(self.template):
            if "{weights}" in token and weights is None:
                raise UserError(f"reference for {self.case}: {{weights}} needs --init shared (the suite's "
                                f"initial weights); drop it or the --init own option")
            out.append(token.format(**values))
        return out

    def to_dict(self) -> dict:
        return {"case": self.case, "command": self.template}


def parse_spec(text: str, case_ids: list[str]) -> Reference:
    """`CASE=COMMAND` -> Reference, CASE one of the check's case ids (torch, torch:eager and
    torch:eager@cpu all name the same); the command is checked here, before anything is timed."""
    case_text, sep, command = text.partition("=")
    case_text, command = case_text.strip(), command.strip()
    if not sep or not case_text or not command:
        raise UserError(f"--reference {text!r}: write CASE=COMMAND, e.g. "
                        f"--reference 'torch={{python}} my_train.py --epochs {{epochs}}'")
    from benchmarks.model.cases import parse_case
    case_id = parse_case(case_text, "cpu").id
    if case_id not in case_ids:
        raise UserError(f"--reference {case_text}=...: {case_id} is not one of the --cases ({', '.join(case_ids)})")
    try:
        tokens = shlex.split(command)
        for token in tokens:
            token.format(**{k: "" for k in PLACEHOLDERS})
    except KeyError as e:
        raise UserError(f"--reference for {case_text}: unknown placeholder {{{e.args[0]}}}: use "
                        f"{', '.join('{' + p + '}' for p in PLACEHOLDERS)} (double a brace to keep it)") from None
    except (ValueError, IndexError) as e:
        raise UserError(f"--reference for {case_text}: cannot read the command ({e}): quote it as one "
                        f"argument, braces doubled where they are not placeholders") from None
    program = tokens[0]
    if program != "{python}" and shutil.which(program) is None:
        raise UserError(f"--reference for {case_text}: program {program!r} not found: give a path or "
                        f"{{python}} for this interpreter")
    for token in tokens[1:]:
        # a script named by its path: refuse a missing one now rather than after minutes of timing
        if token.endswith(".py") and not token.startswith("-") and "{" not in token and not Path(token).is_file():
            raise UserError(f"--reference for {case_text}: script {token} does not exist: check the path "
                            f"(relative paths start from {Path.cwd()})")
    return Reference(case_id, command)


def read_result(stdout: str, epochs: int) -> dict:
    """The RESULT object of a run's stdout, checked: exactly one such line, a JSON object, at least
    `epochs` epoch times, each finite and positive. ReferenceFailed otherwise."""
    lines = [l for l in stdout.splitlines() if l.startswith(RESULT_PREFIX)]
    if not lines:
        raise ReferenceFailed(f"printed no line starting with {RESULT_PREFIX.strip()!r}")
    if len(lines) > 1:
        raise ReferenceFailed(f"printed {len(lines)} {RESULT_PREFIX.strip()} lines; print exactly one per process")
    try:
        rec = json.loads(lines[0][len(RESULT_PREFIX):])
    except ValueError as e:
        raise ReferenceFailed(f"its RESULT line is not JSON ({e})") from None
    if not isinstance(rec, dict):
        raise ReferenceFailed("its RESULT line is not a JSON object")
    times = rec.get(TIMES_KEY)
    if not isinstance(times, list) or not times:
        raise ReferenceFailed(f"its RESULT object has no {TIMES_KEY} list")
    if not all(isinstance(t, (int, float)) and not isinstance(t, bool) and math.isfinite(t) and t > 0
               for t in times):
        raise ReferenceFailed(f"{TIMES_KEY} holds a value that is not a finite positive number of seconds: {times}")
    if len(times) < epochs:
        raise ReferenceFailed(f"printed {len(times)} epoch times, {epochs} are needed: let it run {{epochs}} epochs")
    return rec


def side_record(rec: dict, epochs: int, threads: int) -> dict:
    """A RESULT object as a side of a plain check (the shape the plain scripts write): its first
    `epochs` epoch times (so its warm epochs are epochs 2..E, like the other sides'), and the thread
    count it read back. A count other than `threads` fails it."""
    read = next((rec[k] for k in THREAD_KEYS if k in rec), None)
    if read is not None and read != threads:
        raise ReferenceFailed(f"it reports {read} intra-op threads, the budget is {threads}: let it set "
                              f"{{threads}} (or ${THREADS_ENV}) threads, so the sides compare like for like")
    return {"kind": "reference", "epoch_seconds": [float(t) for t in rec[TIMES_KEY][:epochs]],
            "epochs_reported": len(rec[TIMES_KEY]),
            # the last step's loss per epoch where the script gives it (the reference scripts do): the bisection
            # checks with it that a re-expression of a script trains what the script trains
            "epoch_last_loss": rec.get("epoch_last_loss"),
            "read_back": {"intra_op_threads": read, "threads_reported": read is not None}}


def run(argv: list[str], env: dict, epochs: int, threads: int, timeout: float | None = None) -> dict:
    """One process of a reference script -> its side record, or ReferenceFailed (one line)."""
    try:
        p = subprocess.run(argv, env={**env, THREADS_ENV: str(threads)}, capture_output=True, text=True,
                           timeout=timeout)
    except FileNotFoundError as e:
        raise ReferenceFailed(f"cannot start {argv[0]}: {e.strerror}") from None
    except subprocess.TimeoutExpired:
        raise ReferenceFailed(f"did not finish within {timeout:.0f} s") from None
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or p.stdout.strip().splitlines() or ["no output"])[-1]
        raise ReferenceFailed(f"exit {p.returncode}: {tail.strip()[:300]}")
    return side_record(read_result(p.stdout, epochs), epochs, threads)
