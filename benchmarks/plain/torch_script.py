"""The tutorial's MLP in plain PyTorch: nn.Sequential, CrossEntropyLoss, torch.optim.Adam, a
for-loop over batches of 150 in dataset order. Variants as a user would switch them on: fused
Adam, torch.compile of the model, denormals flushed, sparse CSR input."""
import numpy as np
import torch
from torch import nn

from benchmarks.plain.common import arguments, emit, load_data, load_weights, timed_epochs

VARIANTS = ("eager", "fused", "compile", "ftz", "sparse")


class SparseLinear(nn.Module):
    """x @ W + b for a sparse CSR x, W held (in, out) as torch.sparse.mm wants it."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)  # for its initialisation
        self.weight = nn.Parameter(self.linear.weight.detach().T.contiguous())
        self.bias = self.linear.bias
        del self.linear

    def forward(self, x):
        return torch.addmm(self.bias, x, self.weight)


def main():
    args = arguments("plain-torch", VARIANTS)
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    if args.variant == "ftz":
        torch.set_flush_denormal(True)
    cfg, data = load_data(args)
    X, y = data.x_train, data.y_train
    V, bs = X.shape[1], cfg.batch_size
    first = SparseLinear(V, 100) if args.variant == "sparse" else nn.Linear(V, 100)
    model = nn.Sequential(first, nn.ReLU(), nn.Linear(100, 100), nn.ReLU(), nn.Linear(100, data.n_classes))
    weights = load_weights(args.weights)
    if weights:
        with torch.no_grad():
            for layer, (w, b) in zip([model[0], model[2], model[4]], weights):
                layer.weight.copy_(torch.from_numpy(w if isinstance(layer, SparseLinear) else w.T))
                layer.bias.copy_(torch.from_numpy(b))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate, fused=True if args.variant == "fused" else None)
    loss_fn = nn.CrossEntropyLoss()
    forward = torch.compile(model) if args.variant == "compile" else model

    def to_tensor(rows):
        if args.variant == "sparse":
            r = rows.tocsr()
            return torch.sparse_csr_tensor(torch.from_numpy(r.indptr.astype(np.int64)),
                                           torch.from_numpy(r.indices.astype(np.int64)),
                                           torch.from_numpy(r.data.astype(np.float32)), size=r.shape)
        return torch.from_numpy(rows.toarray().astype(np.float32))

    batches = [(to_tensor(X[i:i + bs]), torch.from_numpy(y[i:i + bs].astype(np.int64)))
               for i in range(0, X.shape[0] - bs + 1, bs)]

    def run_epoch():
        losses = []
        for xb, yb in batches:
            opt.zero_grad()
            loss = loss_fn(forward(xb), yb)
            loss.backward()
            opt.step()
            losses.append(loss.detach())
        return torch.stack(losses).numpy()

    times, losses = timed_epochs(run_epoch, args.epochs)
    probe = torch.full((1 << 22,), 1e-39) * 0.5
    emit(args, "torch", times, losses, {"intra_op_threads": torch.get_num_threads(),
                                        "inter_op_threads": torch.get_num_interop_threads(),
                                        "flush_denormal": int(torch.count_nonzero(probe)) == 0,
                                        "version": torch.__version__})


if __name__ == "__main__":
    main()
