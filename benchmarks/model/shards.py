"""Shards: one plan split into N parts, so N machines (CI runners, cluster nodes) each run one.

    --shard 2/3     the second of three parts
    --shard all/3   every part, each its own run folder (with a scheduler: one job per part)

The unit a part holds is always a whole interleaved comparison, never a single case, because a
timing only means something against a baseline measured in the same interleaved schedule on the
same machine:

- a run's (or the matrix's) cases other than the baselines are dealt round-robin into the N
  parts, and every part runs its cases together with their devices' baseline cases;
- a sweep's points are dealt round-robin (each point is a run of its own).

Dealing is deterministic (the plan's own order), so every runner that is given the same command
and its own I computes the same split, with nothing shared between them. The split is recorded
(the run's manifest "shard", the sweep's sweep.json "shard"), so `fwbench collect` can tell which
parts of which plan it holds and name the ones it lacks.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from shared.errors import UserError

ALL = "all"
_SPEC = re.compile(r"^\s*(?P<i>\d+|all)\s*/\s*(?P<n>\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    index: int | None  # 1-based; None: every part (--shard all/N)
    of: int

    @property
    def parts(self) -> list[int]:
        return list(range(1, self.of + 1)) if self.index is None else [self.index]

    def name(self, index: int | None = None) -> str:
        return f"shard {self.index if index is None else index}/{self.of}"


def parse(text: str | None) -> Shard | None:
    """'2/3' -> Shard(2, 3); 'all/3' -> Shard(None, 3); None -> None. Bad specs are one line."""
    if text is None:
        return None
    m = _SPEC.match(text)
    if not m:
        raise UserError(f"--shard {text!r} is not I/N: give the part and the number of parts, e.g. --shard 1/2 "
                        f"(or all/N for every part)")
    n = int(m["n"])
    if n < 1:
        raise UserError(f"--shard {text}: the number of parts must be at least 1, e.g. --shard 1/2")
    if m["i"] == ALL:
        return Shard(None, n)
    i = int(m["i"])
    if not 1 <= i <= n:
        raise UserError(f"--shard {text}: there is no part {i} of {n}: give I/N with 1 <= I <= N, e.g. --shard 1/{n}")
    return Shard(i, n)


def deal(items: list, index: int, of: int) -> list:
    """The items of part `index` (1-based) of `of`: every of-th item, starting at index-1."""
    return list(items)[index - 1::of]


def split_cases(cases: list, baseline_ids: set[str], index: int, of: int, what: str = "the run") -> list:
    """Part `index` of `of` of a run's cases: its dealt share of the non-baseline cases, and the
    baseline case of each device it touches, in the run's order (so the schedule is the run's own)."""
    others = [c for c in cases if c.id not in baseline_ids]
    if of > len(others):
        raise UserError(f"--shard {index}/{of}: {what} has {len(others)} case(s) besides the baseline(s) to split, "
                        f"so at most {len(others)} part(s): use N <= {max(len(others), 1)}")
    mine = {c.id for c in deal(others, index, of)}
    devices = {c.device for c in others if c.id in mine}
    return [c for c in cases if c.id in mine or (c.id in baseline_ids and c.device in devices)]


def split_values(values: list, index: int, of: int) -> list:
    if of > len(values):
        raise UserError(f"--shard {index}/{of}: the sweep has {len(values)} point(s), so at most {len(values)} "
                        f"part(s): use N <= {len(values)}")
    return deal(sorted(values), index, of)
