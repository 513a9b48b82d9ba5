"""The Transformer encoder classifier in plain PyTorch, as a user writes it: nn.Embedding,
nn.Linear and nn.LayerNorm modules, attention written with matmul and softmax (the twins' formula),
CrossEntropyLoss, torch.optim.Adam, a for-loop over batches in dataset order. Variants as a user
would switch them on: fused Adam, torch.compile of the model, denormals flushed."""
import math

import numpy as np
import torch
from torch import nn

from benchmarks.plain.common import emit, load_arrays, timed_epochs
from benchmarks.plain.workloads.common import arguments, load_data

VARIANTS = ("eager", "fused", "compile", "ftz")


class Block(nn.Module):
    def __init__(self, d, heads, d_ff, eps):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d, eps=eps)
        self.q, self.k, self.v, self.out = (nn.Linear(d, d) for _ in range(4))
        self.ln2 = nn.LayerNorm(d, eps=eps)
        self.ff1, self.ff2 = nn.Linear(d, d_ff), nn.Linear(d_ff, d)

    def forward(self, x, mask_add):
        B, L, d = x.shape
        dh = d // self.heads
        h = self.ln1(x)
        q, k, v = (f(h).view(B, L, self.heads, dh).transpose(1, 2) for f in (self.q, self.k, self.v))
        scores = q @ k.transpose(2, 3) * (1.0 / math.sqrt(dh)) + mask_add[:, None, None, :]
        x = x + self.out((torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(B, L, d))
        return x + self.ff2(torch.relu(self.ff1(self.ln2(x))))


class Classifier(nn.Module):
    def __init__(self, n_ids, n_classes, s):
        super().__init__()
        self.embedding = nn.Embedding(n_ids, s.d_model)
        self.position = nn.Embedding(s.seq_len, s.d_model)
        self.blocks = nn.ModuleList(Block(s.d_model, s.heads, s.d_ff, s.ln_eps) for _ in range(s.layers))
        self.ln = nn.LayerNorm(s.d_model, eps=s.ln_eps)
        self.head = nn.Linear(s.d_model, n_classes)

    def forward(self, ids):
        keep = (ids != 0).float()
        mask_add = (1.0 - keep) * -1e9  # padding keys get no attention
        x = self.embedding(ids) + self.position.weight[:ids.shape[1]]
        for block in self.blocks:
            x = block(x, mask_add)
        x = self.ln(x)
        pooled = (x * keep[:, :, None]).sum(1) / keep.sum(1, keepdim=True).clamp(min=1.0)
        return self.head(pooled)

    def load(self, arrays):
        """The suite's weights: its order, kernels (in, out) (nn.Linear holds (out, in))."""
        def linear(lin):
            return [(lin.weight, True), (lin.bias, False)]

        def norm(ln):
            return [(ln.weight, False), (ln.bias, False)]

        params = [(self.embedding.weight, False), (self.position.weight, False)]
        for b in self.blocks:
            params += norm(b.ln1) + linear(b.q) + linear(b.k) + linear(b.v) + linear(b.out)
            params += norm(b.ln2) + linear(b.ff1) + linear(b.ff2)
        params += norm(self.ln) + linear(self.head)
        with torch.no_grad():
            for (p, transposed), a in zip(params, arrays, strict=True):
                p.copy_(torch.from_numpy(a.T.copy() if transposed else a))


def main():
    args = arguments("plain-torch-transformer", VARIANTS, "the Transformer encoder classifier")
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    if args.variant == "ftz":
        torch.set_flush_denormal(True)
    cfg, data = load_data(args, "transformer")
    X, y, bs = data.x_train, data.y_train, cfg.batch_size
    model = Classifier(data.vocab_size, data.n_classes, cfg.settings)
    weights = load_arrays(args.weights)
    if weights:
        model.load(weights)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate, betas=(cfg.beta1, cfg.beta2), eps=cfg.adam_eps,
                           fused=True if args.variant == "fused" else None)
    loss_fn = nn.CrossEntropyLoss()
    forward = torch.compile(model) if args.variant == "compile" else model
    batches = [(torch.from_numpy(X[i:i + bs].astype(np.int64)), torch.from_numpy(y[i:i + bs].astype(np.int64)))
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
