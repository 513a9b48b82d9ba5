"""Work per training step (and per forward pass) of the text CNN, counted exactly from its shapes,
in shared/costs.py's types. N = n_ids (the embedding table's rows), L = seq_len, E = embed_dim,
F = filters, C = classes, B = batch; for a width w, T_w = L - w + 1 output positions (valid
convolution); H = len(widths) * F, the head's input.

FLOPs (what is counted, exactly)
--------------------------------
- A multiply-add counts as 2 FLOPs. A convolution of width w is a matmul of B*T_w windows
  (w*E values each) by the (w*E, F) kernel: 2*B*T_w*w*E*F. Head: 2*B*H*C.
- Forward, per width: bias add B*T_w*F, ReLU B*T_w*F, max over time B*F*(T_w - 1) comparisons
  (1 FLOP each). Head bias: B*C. The embedding gather and the concatenation: 0 (data movement).
- Backward: head weight gradient 2*B*H*C, bias gradient B*C, input gradient 2*B*H*C (the
  convolutions below need it). Per width: the pooling and ReLU gradient, routing dP to the
  maximum's position and masking by ReLU, 1 FLOP per element of the activation (B*T_w*F); bias
  gradient B*T_w*F (the sum of dZ over batch and time); weight gradient 2*B*T_w*w*E*F; input
  gradient (the transposed convolution) 2*B*T_w*w*E*F. The widths' input gradients summed into
  one (B, L, E) gradient: (len(widths) - 1)*B*L*E additions. The embedding's gradient, the
  scatter-add of that gradient into a dense (N, E) table: B*L*E additions.
- NOT counted: softmax, the loss and its gradient w.r.t. the logits (B*C elements with exp/log),
  the zero-fill of the dense embedding gradient, Adam's per-step scalar bias corrections.
- Adam: shared.costs.adam_part over every parameter, the whole embedding table included:
  torch.optim.Adam and Keras' Adam update dense moments for every row every step (Keras turns
  the gather's IndexedSlices gradient dense inside its update), so all N*E rows are touched.

Bytes (a lower bound on memory traffic; float32 = 4 bytes; ids int32 = INDEX_BYTES)
-----------------------------------------------------------------------------------
Each kernel touches each array it needs once (perfect reuse inside a convolution; bias, ReLU
fused into its epilogue; the pooled values written straight into the concatenated buffer):
- forward: the gather reads the ids (B*L) and B*L*E table values and writes the (B, L, E)
  embedded batch. Per width: the convolution reads the embedded batch (B*L*E), its kernel
  (w*E*F) and bias (F) and writes the activation (B*T_w*F, kept for backward); the pooling reads
  the activation and writes B*F. Head: reads B*H, H*C, C; writes B*C.
- backward: head as the MLP's last layer (read X, dZ; write dW, db), plus the input gradient
  (read W, write B*H). Per width: the pooling/ReLU gradient reads the activation and dP (B*F),
  writes dZ (B*T_w*F); the weight and bias gradients read the embedded batch and dZ and write
  dK (w*E*F) and db (F); the input gradient reads the kernel and dZ and writes B*L*E (the first
  width writes it, each further one reads and writes it: accumulation). The embedding gradient:
  reads the ids and the (B, L, E) gradient, writes the dense (N, E) table gradient once.
- Adam: 7 float32 per parameter (read p, g, m, v; write p, m, v).
- NOT counted: the labels, the logits' gradient kernel, framework temporaries.

Sanity figure (default settings, 3 groups): N = 20,002, L = 256, E = 64, widths 3, 4, 5, F = 64,
C = 3, B = 50. Convolution matmul FLOPs of a forward pass 2*50*64*64*(254*3 + 253*4 + 252*5)
= 1,242,726,400, the head's 2*50*192*3 = 57,600; a step's matmul FLOPs are three times both
(forward, weight gradient, input gradient): 3,728,352,000. Parameters: 1,280,128 (embedding)
+ 49,344 (convolutions) + 579 (head) = 1,330,051. tests/test_workload_textcnn.py checks these.
"""
from __future__ import annotations

from typing import Sequence

from shared.costs import FLOAT_BYTES, INDEX_BYTES, Cost, Part, adam_part


def _check(n_ids, seq_len, embed_dim, widths, filters, n_classes, batch) -> None:
    values = [n_ids, seq_len, embed_dim, filters, n_classes, batch, *widths]
    if not widths or min(int(v) for v in values) < 1:
        raise ValueError(f"every size must be positive and widths non-empty; got n_ids={n_ids}, seq_len={seq_len}, "
                         f"embed_dim={embed_dim}, widths={widths}, filters={filters}, classes={n_classes}, batch={batch}")
    if max(widths) > seq_len:
        raise ValueError(f"a width {max(widths)} longer than seq_len {seq_len} has no output position")


def parameter_count(n_ids: int, embed_dim: int, widths: Sequence[int], filters: int, n_classes: int) -> int:
    """The embedding table, every convolution's kernel and bias, the head's kernel and bias."""
    h = len(widths) * filters
    return n_ids * embed_dim + sum(w * embed_dim * filters + filters for w in widths) + h * n_classes + n_classes


def _forward(n_ids, L, E, widths, F, C, B) -> Part:
    f = FLOAT_BYTES
    H = len(widths) * F
    part = Part(0, B * L * INDEX_BYTES + f * (2 * B * L * E))  # gather: ids, rows read, batch written
    for w in widths:
        T = L - w + 1
        mm = 2 * B * T * w * E * F
        part += Part(mm + 2 * B * T * F, f * (B * L * E + w * E * F + F + B * T * F), mm)  # conv + bias + ReLU
        part += Part(B * F * (T - 1), f * (B * T * F + B * F))  # max over time
    mm = 2 * B * H * C
    part += Part(mm + B * C, f * (B * H + H * C + C + B * C), mm)  # head
    return part


def step_cost(n_ids: int, seq_len: int, embed_dim: int, widths: Sequence[int], filters: int, n_classes: int,
              batch: int) -> Cost:
    """FLOPs and bytes of one training step (forward, backward, Adam), counted as the module
    docstring says."""
    _check(n_ids, seq_len, embed_dim, widths, filters, n_classes, batch)
    N, L, E, F, C, B = (int(v) for v in (n_ids, seq_len, embed_dim, filters, n_classes, batch))
    widths = [int(w) for w in widths]
    f = FLOAT_BYTES
    H = len(widths) * F
    fwd = _forward(N, L, E, widths, F, C, B)
    mm = 2 * B * H * C
    bwd = Part(mm + B * C, f * (B * H + B * C + H * C + C), mm)  # head dW, db
    bwd += Part(mm, f * (H * C + B * H), mm)  # head input gradient
    for k, w in enumerate(widths):
        T = L - w + 1
        conv = 2 * B * T * w * E * F
        bwd += Part(B * T * F, f * (B * T * F + B * F + B * T * F))  # pooling + ReLU gradient -> dZ
        bwd += Part(conv + B * T * F, f * (B * L * E + B * T * F + w * E * F + F), conv)  # dK, db
        accumulate = B * L * E if k > 0 else 0  # the widths' input gradients summed
        bwd += Part(conv + accumulate, f * (w * E * F + B * T * F + B * L * E + accumulate), conv)  # dX
    bwd += Part(B * L * E, B * L * INDEX_BYTES + f * (B * L * E + N * E))  # embedding scatter-add
    return Cost(fwd, bwd, adam_part(parameter_count(N, E, widths, F, C)))


def inference_cost(n_ids: int, seq_len: int, embed_dim: int, widths: Sequence[int], filters: int, n_classes: int,
                   batch: int) -> Cost:
    """A forward pass on `batch` posts (the logits; no loss), as the forward part of step_cost."""
    _check(n_ids, seq_len, embed_dim, widths, filters, n_classes, batch)
    return Cost(_forward(int(n_ids), int(seq_len), int(embed_dim), [int(w) for w in widths], int(filters),
                         int(n_classes), int(batch)), Part(0, 0), Part(0, 0))
