"""What the MLP's plain scripts share (one per framework), kept out of the scripts themselves so
each reads as a user's script: the command line, the data and the JSON they print (the timing and
the JSON every workload's scripts reuse). Framework-neutral (numpy only)."""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np


def arguments(prog: str, variants: tuple[str, ...]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=prog, description="A plain training script of the tutorial's MLP.")
    p.add_argument("--variant", choices=variants, default=variants[0])
    p.add_argument("--threads", type=int, required=True, help="intra-op threads (inter-op: 1)")
    p.add_argument("--epochs", type=int, default=7, help="epochs to time, the first one included")
    p.add_argument("--weights", type=Path, default=None,
                   help="initial weights (.npz with a0, a1, ...: W0, b0, W1, b1, ...; kernels (in, out)); default: "
                        "the framework's own initialisation")
    p.add_argument("--config-json", type=Path, default=None, help="the data configuration (default: the tutorial's)")
    p.add_argument("--archive", default=None)
    p.add_argument("--json", type=Path, default=None, help="write the result here (default: stdout)")
    return p.parse_args()


def load_data(args):
    """The project's prepared counts (CSR float32), exactly what the twins train on."""
    from shared.config import ExperimentConfig
    from shared.dataset import prepare
    cfg = (ExperimentConfig.from_dict(json.loads(args.config_json.read_text())) if args.config_json
           else ExperimentConfig())
    return cfg, prepare(cfg, args.archive)


def save_arrays(path: Path, arrays) -> None:
    """A workload's initial weights, flattened (shared/workloads/base.flatten), as a0, a1, ... in
    order: the one weights file every plain script reads."""
    np.savez(path, **{f"a{i}": np.asarray(a) for i, a in enumerate(arrays)})


def load_arrays(path: Path | None) -> list[np.ndarray] | None:
    """save_arrays' list, in its order (None: no file given)."""
    if path is None:
        return None
    with np.load(path) as z:
        return [z[f"a{i}"] for i in range(len(z.files))]


def load_weights(path: Path | None) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """The MLP's (W (in, out), b) per layer, from save_arrays' file."""
    arrays = load_arrays(path)
    return None if arrays is None else list(zip(arrays[0::2], arrays[1::2]))


def timed_epochs(run_epoch, epochs: int) -> tuple[list[float], list[list[float]]]:
    """Each epoch timed with perf_counter around it; run_epoch returns the step losses read
    back to the host (so the epoch's work is done when the clock stops)."""
    times, losses = [], []
    for _ in range(epochs):
        t0 = time.perf_counter()
        ls = run_epoch()
        times.append(time.perf_counter() - t0)
        losses.append([float(x) for x in ls])
    return times, losses


def emit(args, framework: str, times, losses, read_back: dict) -> None:
    out = {"kind": "plain", "framework": framework, "variant": args.variant, "epoch_seconds": times,
           "epoch_losses": losses, "read_back": read_back, "weights": "shared" if args.weights else "own"}
    text = json.dumps(out)
    if args.json:
        args.json.write_text(text)
    else:
        print(text)
    sys.stdout.flush()
