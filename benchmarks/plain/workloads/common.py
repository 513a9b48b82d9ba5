"""What every workload's plain scripts share beyond benchmarks/plain/common.py (whose timing and
JSON they reuse): the same command line with the workload's own defaults, the workload's prepared
data, and initial weights as a list of named arrays. Framework-neutral (numpy only)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path


from benchmarks.plain.common import load_arrays, save_arrays  # noqa: F401  (the one weights file, re-exported)
from shared.errors import UserError


def arguments(prog: str, variants: tuple[str, ...], about: str) -> argparse.Namespace:
    """benchmarks/plain/common.arguments' command line (the same flags), for any workload."""
    p = argparse.ArgumentParser(prog=prog, description=f"A plain training script of {about}.")
    p.add_argument("--variant", choices=variants, default=variants[0])
    p.add_argument("--threads", type=int, required=True, help="intra-op threads (inter-op: 1)")
    p.add_argument("--epochs", type=int, default=7, help="epochs to time, the first one included")
    p.add_argument("--weights", type=Path, default=None,
                   help="initial weights (.npz written by save_arrays: the workload's parameters in its shared "
                        "order and layout); default: the framework's own initialisation")
    p.add_argument("--config-json", type=Path, default=None,
                   help="the configuration (ExperimentConfig.to_dict; default: the workload's defaults)")
    p.add_argument("--archive", default=None)
    p.add_argument("--json", type=Path, default=None, help="write the result here (default: stdout)")
    return p.parse_args()


def load_data(args, workload: str):
    """(cfg, PreparedData): the project's prepared input for `workload`, what its twins train on.
    A configuration of another workload is refused (the script builds only its own network)."""
    from shared.config import ExperimentConfig
    from shared.dataset import prepare
    cfg = (ExperimentConfig.from_dict(json.loads(args.config_json.read_text())) if args.config_json
           else ExperimentConfig(workload=workload))
    if cfg.workload != workload:
        raise UserError(f"{args.config_json} configures workload {cfg.workload}; this script trains {workload}: "
                        f"run {cfg.workload}'s plain script instead")
    return cfg, prepare(cfg, args.archive)
