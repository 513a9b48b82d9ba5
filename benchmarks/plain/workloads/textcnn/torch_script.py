"""Kim (2014)'s text CNN in plain PyTorch, as the common PyTorch ports of it write it: an
nn.Module with nn.Embedding, one nn.Conv1d per width, ReLU, F.max_pool1d over the whole sequence,
torch.cat and nn.Linear; CrossEntropyLoss, torch.optim.Adam and a for-loop over the batches in
dataset order. Variants as a user would switch them on: fused Adam, torch.compile of the model,
denormals flushed."""
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from benchmarks.plain.common import emit, timed_epochs
from benchmarks.plain.workloads.common import arguments, load_arrays, load_data

VARIANTS = ("eager", "fused", "compile", "ftz")


class TextCNN(nn.Module):
    def __init__(self, n_ids, embed_dim, widths, filters, n_classes):
        super().__init__()
        self.embedding = nn.Embedding(n_ids, embed_dim)
        self.convs = nn.ModuleList([nn.Conv1d(embed_dim, filters, w) for w in widths])
        self.fc = nn.Linear(len(widths) * filters, n_classes)

    def forward(self, ids):
        x = self.embedding(ids).transpose(1, 2)  # (batch, embed_dim, seq_len)
        pooled = [F.max_pool1d(F.relu(conv(x)), x.size(2) - conv.kernel_size[0] + 1).squeeze(2) for conv in self.convs]
        return self.fc(torch.cat(pooled, 1))


def main():
    args = arguments("plain-torch-textcnn", VARIANTS, "Kim (2014)'s text CNN")
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    if args.variant == "ftz":
        torch.set_flush_denormal(True)
    cfg, data = load_data(args, "textcnn")
    s, bs = cfg.settings, cfg.batch_size
    model = TextCNN(data.vocab_size, s.embed_dim, s.widths, s.filters, data.n_classes)
    weights = load_arrays(args.weights)
    if weights:  # the shared layout: kernels (w, E, F) and (in, out)
        embedding, *convs, fc_w, fc_b = weights
        with torch.no_grad():
            model.embedding.weight.copy_(torch.from_numpy(embedding))
            for conv, k, b in zip(model.convs, convs[0::2], convs[1::2]):
                conv.weight.copy_(torch.from_numpy(k.transpose(2, 1, 0).copy()))
                conv.bias.copy_(torch.from_numpy(b))
            model.fc.weight.copy_(torch.from_numpy(fc_w.T.copy()))
            model.fc.bias.copy_(torch.from_numpy(fc_b))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.learning_rate, fused=True if args.variant == "fused" else None)
    loss_fn = nn.CrossEntropyLoss()
    forward = torch.compile(model) if args.variant == "compile" else model
    X, y = data.x_train, data.y_train
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
