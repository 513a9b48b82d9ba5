"""One training script of the tutorial's MLP in PyTorch whose every difference between an independent
reference script and fwbench's plain script (benchmarks/plain/torch_script.py) is a switch: the
bisection (benchmarks/plain/bisect.py) starts it with all switches on the reference's side, then
turns them to fwbench's side one at a time, each step timed against the previous one.

    python -m benchmarks.plain.walk_torch --threads 2 --reference-dir ../shared/reference [switches]

With --data reference it loads the data through the reference's own module (`common.Workload` of
--reference-dir, imported and run, not copied), so the data, the vocabulary's column order and the
Python objects the process holds are the reference's. Prints one `RESULT {json}` line
(benchmarks/plain/reference.py's protocol) with every epoch's time, the first included.
"""
from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

# What --imports can pull into the process before training, each as an importer would.
IMPORTS = {
    "fwbench": ("shared.config", "shared.dataset", "benchmarks.plain.common"),  # the plain script's data path
    "sklearn": ("sklearn", "sklearn.feature_extraction.text", "sklearn.datasets", "scipy.sparse"),
    "tensorflow": ("tensorflow",),
    "jax": ("jax", "jax.numpy"),
}


def arguments(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.plain.walk_torch", description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, required=True, help="intra-op threads (inter-op: 1)")
    p.add_argument("--epochs", type=int, default=7)
    p.add_argument("--seed", type=int, default=0, help="torch.manual_seed for --init torch")
    p.add_argument("--reference-dir", type=Path, default=None, help="the reference scripts' folder (for --data reference)")
    p.add_argument("--archive", default=None)
    p.add_argument("--weights", type=Path, default=None, help="the suite's initial weights (.npz), for --init shared")
    # the switches, reference's side first
    p.add_argument("--data", choices=["reference", "fwbench"], default="reference",
                   help="reference: its common.Workload (its vocabulary order, its Python objects); fwbench: "
                        "shared.dataset.prepare's cached CSR")
    p.add_argument("--test-dense", choices=["held", "none"], default="held",
                   help="held: a dense float32 copy of the test set lives through training (the reference's)")
    p.add_argument("--batches", choices=["reference", "plain", "twin"], default="reference",
                   help="reference: np.ascontiguousarray(csr[slice].toarray()), labels as views; plain: "
                        "csr[slice].toarray().astype(float32), labels copied; twin: shared.batches.dense_rows over "
                        "index arrays, torch.from_numpy(x).to(cpu)")
    p.add_argument("--order", choices=["reference", "plain"], default="reference",
                   help="reference: dense batches built before the model; plain: model and optimizer first")
    p.add_argument("--init", choices=["torch", "shared"], default="torch",
                   help="torch: torch.manual_seed(seed) and nn.Linear's own init; shared: --weights copied in")
    p.add_argument("--model", choices=["tutorial", "sequential", "twin"], default="tutorial",
                   help="tutorial: a module with layer_1, nn.ReLU, layer_2, output_layer; sequential: nn.Sequential "
                        "(the plain script's); twin: impl_torch.twin.MLP")
    p.add_argument("--loop", choices=["item", "stack"], default="item",
                   help="item: loss.item() once per epoch; stack: every step's loss.detach(), stacked and read as "
                        "numpy per epoch (the plain script and the twin)")
    p.add_argument("--imports", default="", help=f"comma list of {', '.join(IMPORTS)}: imported before training")
    p.add_argument("--zero-grad", choices=["none", "zeros"], default="none",
                   help="none: optimizer.zero_grad() (set_to_none=True, both scripts); zeros: set_to_none=False")
    p.add_argument("--adam", choices=["default", "foreach", "fused"], default="default")
    p.add_argument("--ftz", action="store_true", help="torch.set_flush_denormal(True)")
    p.add_argument("--threads-at", choices=["start", "after-data"], default="start",
                   help="when torch.set_num_threads runs: first thing (both scripts), or after the data")
    return p.parse_args(argv)


class TutorialNet(nn.Module):
    """The tutorial's network as its text gives it: named layers and a ReLU module."""

    def __init__(self, n_in: int, hidden: int, n_out: int):
        super().__init__()
        self.layer_1 = nn.Linear(n_in, hidden, bias=True)
        self.relu = nn.ReLU()
        self.layer_2 = nn.Linear(hidden, hidden, bias=True)
        self.output_layer = nn.Linear(hidden, n_out, bias=True)

    def forward(self, x):
        return self.output_layer(self.relu(self.layer_2(self.relu(self.layer_1(x)))))

    def linears(self):
        return [self.layer_1, self.layer_2, self.output_layer]


def build_model(kind: str, n_in: int, hidden: int, n_out: int):
    if kind == "tutorial":
        m = TutorialNet(n_in, hidden, n_out)
        return m, m.linears()
    if kind == "sequential":
        m = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                          nn.Linear(hidden, n_out))
        return m, [m[0], m[2], m[4]]
    from impl_torch.twin import MLP
    m = MLP([n_in, hidden, hidden, n_out])
    return m, list(m.layers)


def set_threads(n: int) -> None:
    torch.set_num_threads(n)
    torch.set_num_interop_threads(1)


def load(args):
    """(csr_train, y_train, csr_test, batch size, n_batches, hidden, classes)."""
    if args.data == "reference":
        if args.reference_dir is None or not (args.reference_dir / "common.py").is_file():
            sys.exit(f"walk_torch: error: --data reference needs --reference-dir holding common.py "
                     f"(got {args.reference_dir})")
        sys.path.insert(0, str(args.reference_dir.resolve()))
        common = importlib.import_module("common")
        w = common.Workload(dense_train=False, dense_test=False)  # dense arrays built below, by --batches
        load.keep = w  # the reference process holds its texts, vocabulary and counters through training
        return w.train_csr, w.ytrain, w.test_csr, common.BATCH, w.nbatch, common.HIDDEN, common.NCLASS
    from shared.config import ExperimentConfig
    from shared.dataset import prepare
    cfg = ExperimentConfig()
    d = prepare(cfg, args.archive)
    return (d.x_train, d.y_train, d.x_test, cfg.batch_size, d.x_train.shape[0] // cfg.batch_size,
            cfg.settings.hidden[0], d.n_classes)


def dense_batches(kind: str, x, y, bs: int, n: int) -> list:
    """numpy (x, y) pairs of one epoch, built the way `kind` builds them."""
    if kind == "reference":
        return [(np.ascontiguousarray(x[i * bs:(i + 1) * bs].toarray()), np.asarray(y[i * bs:(i + 1) * bs], np.int64))
                for i in range(n)]
    if kind == "plain":
        return [(x[i * bs:(i + 1) * bs].toarray().astype(np.float32), y[i * bs:(i + 1) * bs].astype(np.int64))
                for i in range(n)]
    from shared.batches import dense_rows
    idx = [np.arange(i * bs, (i + 1) * bs) for i in range(n)]
    return [(dense_rows(x, r), np.asarray(y[r], dtype=np.int64)) for r in idx]


def to_tensors(kind: str, arrays: list) -> list:
    if kind == "twin":
        return [(torch.from_numpy(a).to("cpu"), torch.from_numpy(b).to("cpu")) for a, b in arrays]
    return [(torch.from_numpy(a), torch.from_numpy(b)) for a, b in arrays]


def main(argv=None) -> int:
    args = arguments(argv)
    if args.threads_at == "start":
        set_threads(args.threads)
    for name in filter(None, (t.strip() for t in args.imports.split(","))):
        if name not in IMPORTS:
            sys.exit(f"walk_torch: error: --imports {name!r}: choose from {', '.join(IMPORTS)}")
        for module in IMPORTS[name]:
            importlib.import_module(module)
    if args.ftz:
        torch.set_flush_denormal(True)
    x, y, x_test, bs, n, hidden, classes = load(args)
    arrays = dense_batches(args.batches, x, y, bs, n) if args.order == "reference" else None
    held = np.ascontiguousarray(x_test.toarray(), dtype=np.float32) if args.test_dense == "held" else None
    if args.threads_at == "after-data":
        set_threads(args.threads)
    if args.init == "torch":
        torch.manual_seed(args.seed)
    model, linears = build_model(args.model, x.shape[1], hidden, classes)
    if args.init == "shared":
        if args.weights is None:
            sys.exit("walk_torch: error: --init shared needs --weights")
        with np.load(args.weights) as z:  # benchmarks/plain/common.save_arrays: W0, b0, W1, b1, ... as a0, a1, ...
            with torch.no_grad():
                for i, layer in enumerate(linears):
                    layer.weight.copy_(torch.from_numpy(np.ascontiguousarray(z[f"a{2 * i}"].T)))
                    layer.bias.copy_(torch.from_numpy(z[f"a{2 * i + 1}"]))
    adam = {"default": {}, "foreach": {"foreach": True}, "fused": {"fused": True}}[args.adam]
    opt = torch.optim.Adam(model.parameters(), lr=0.01, eps=1e-8, **adam)
    loss_fn = nn.CrossEntropyLoss()
    if arrays is None:
        arrays = dense_batches(args.batches, x, y, bs, n)
    batches = to_tensors(args.batches, arrays)
    set_to_none = args.zero_grad == "none"

    def epoch():
        losses = []
        for xb, yb in batches:
            opt.zero_grad(set_to_none=set_to_none)
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
            if args.loop == "stack":
                losses.append(loss.detach())
        return torch.stack(losses).numpy().tolist() if args.loop == "stack" else [loss.item()]

    times, losses = [], []
    for e in range(args.epochs):
        t0 = time.perf_counter()
        out = epoch()
        times.append(time.perf_counter() - t0)
        losses.append(out)
    rec = {"epoch_times_s": times, "threads": torch.get_num_threads(), "interop": torch.get_num_interop_threads(),
           "V": int(x.shape[1]), "epoch_last_loss": [float(l[-1]) for l in losses], "first_epoch_losses": losses[0],
           "held_test_dense": held is not None,
           "switches": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
           "torch": torch.__version__}
    print("RESULT " + json.dumps(rec), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
