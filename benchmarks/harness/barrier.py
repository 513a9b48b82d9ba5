"""The duet barrier: two worker processes meet before every round, so both time it at once.

Duet benchmarking (Bulej et al., ICPE 2020) runs two cases at the same time on two cores; the
machine's interference (a neighbour, frequency, memory bandwidth) then hits both rounds alike and
cancels in their ratio. That holds only if the rounds overlap, so each side waits here until its
partner has reached the same (phase, round).

The protocol is files in a folder the plan names, one per arrival: a side touches
`<side>.<phase>.<round>` and polls for `<partner>.<phase>.<round>` with short sleeps. Files,
not a socket or a multiprocessing primitive, because the two sides are unrelated pytest
processes started by the runner, and a file left behind says how far each got. The folder
also holds the way out: `<side>.<phase>.end` (the side left the phase, passed, skipped or failed)
and `<side>.exit` (the side's process is gone; the runner writes it too, for a killed worker), so
a partner that will never arrive fails the phase at once with its reason instead of at the timeout.
"""
from __future__ import annotations

import time
from pathlib import Path

TIMEOUT_S = 300.0  # longer than any round of the default phases, so only a dead partner reaches it
POLL_S = 0.0002  # the sides start their round at most about this far apart


class PartnerGone(RuntimeError):
    """The partner will not reach this round: the phase fails with this reason."""


class Barrier:
    def __init__(self, folder: str | Path, side: str, partner: str, timeout: float = TIMEOUT_S):
        self.folder, self.side, self.partner, self.timeout = Path(folder), side, partner, timeout

    def _mark(self, name: str) -> None:
        try:
            (self.folder / f"{self.side}.{name}").touch()
        except FileNotFoundError:  # the runner removes it after the pair: e.g. a duet worker rerun by hand
            raise PartnerGone(f"the duet's barrier folder {self.folder} is gone: a duet worker runs only beside its "
                              f"partner, under `fwbench run --duet`") from None

    def wait(self, phase: str, index: int) -> None:
        """Arrive at round `index` of `phase`; return when the partner has arrived there too."""
        self._mark(f"{phase}.{index}")
        theirs = self.folder / f"{self.partner}.{phase}.{index}"
        left = self.folder / f"{self.partner}.{phase}.end"
        gone = self.folder / f"{self.partner}.exit"
        deadline = time.monotonic() + self.timeout
        while not theirs.exists():
            # the partner may have arrived, timed its round and left since the check above
            if (left.exists() or gone.exists()) and not theirs.exists():
                raise PartnerGone(f"duet partner {self.partner} {'left' if left.exists() else 'ended'} "
                                  f"before round {index} of {phase}: the rounds cannot be timed together")
            if time.monotonic() > deadline:
                raise PartnerGone(f"duet partner {self.partner} did not reach round {index} of {phase} within "
                                  f"{self.timeout:.0f} s: it hangs or died")
            time.sleep(POLL_S)

    def leave(self, phase: str) -> None:
        """This side is done with `phase` (however it ended)."""
        self._mark(f"{phase}.end")

    def exit(self) -> None:
        self._mark("exit")


def mark_exit(folder: str | Path, side: str) -> None:
    """The runner's word that `side`'s process has ended (it may have died without saying so)."""
    Barrier(folder, side, side).exit()
