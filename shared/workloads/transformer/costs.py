"""Work per training step of the Transformer encoder classifier, counted exactly from its shapes
under the conventions below, in shared/costs.py's types. A step is: forward, backward, one Adam
update. Notation: B posts of L tokens (seq_len), width d (d_model), H heads of dh = d / H, d_ff F,
N encoder layers, C classes, V rows of the token table (n_ids). The network (see the workload's
module): x = E[ids] + P; per layer (pre-LN) x += Wo(attention(LN1(x))) and x += W2(relu(W1(LN2(x))));
then LNf, the mean over non-padding tokens, and the linear head.

The step is listed as kernels (one per op of the written-out forward), each with its FLOPs, the
share of them that is matrix multiply-adds, the elements it reads (tagged with whether a gradient
flows to them) and the elements it writes; the backward is derived from the same list by one rule,
so forward and backward cannot drift apart.

FLOPs (what is counted, exactly)
--------------------------------
- A multiply-add counts as 2 FLOPs: (m x k) @ (k x n) is 2*m*k*n (the Q/K/V/output projections,
  the two attention products per head, the feed-forward pair, the head).
- Elementwise: 1 FLOP per output element for add, multiply, ReLU, the attention scale and the
  mask add. Softmax over the last axis: SOFTMAX_FLOPS = 5 per element (max, subtract, exp, sum,
  divide; exp counted as 1, a convention). LayerNorm over d: LAYERNORM_FLOPS = 7 per element
  (mean's sum, subtract, square, variance's sum, divide by the deviation, gamma, beta) plus
  LAYERNORM_ROW_FLOPS = 4 per row (the two divisions by d, eps's add, the square root as 1). Masked mean pooling: multiply by the mask and sum (2 per token element)
  plus the division (1 per pooled element); the mask itself (ids != 0, its count) is B*L
  comparisons and B*L adds (2 per token).
- Embedding lookup: no FLOPs (a gather); adding the positions: 1 per element.
- Backward: every matmul costs its forward FLOPs once per operand that gets a gradient (weights
  always; activations always; the token ids never, so the embedding's backward is a scatter-add:
  B*L*d adds into the table's gradient, and the positions' gradient is the sum over the batch,
  B*L*d adds). Every other kernel costs BACKWARD_ELEMENTWISE = 2 times its forward FLOPs (the
  derivative and the chain-rule product: a convention, as any count of a fused backward is).
- NOT counted: the loss (softmax cross-entropy over B*C logits) and its gradient, Adam's
  per-step scalar bias corrections, reshapes and transposes (data movement, no arithmetic).
- Adam: shared.costs.adam_part over every parameter (dense moments, the token table included:
  torch.optim.Adam, keras Adam and optax.adam all keep dense state for it).

Bytes (a lower bound on memory traffic; float32 = 4 bytes, int32 ids 4 bytes)
--------------------------------------------------------------------------------
Each kernel reads each of its inputs once and writes its output once (no fusion across kernels:
the written-out ops are separate kernels in eager execution). Backward of a kernel reads its
inputs and its output's gradient and writes the gradient of every input that gets one.
The embedding gather reads only the B*L looked-up rows (B*L*d) and the ids (B*L); its backward
reads the output gradient and the ids and writes B*L*d values into the table's gradient
(taken as touching B*L rows; the table's gradient being dense in some frameworks, zeroing it is
NOT counted). Adam: shared.costs.adam_part (7 float32 per parameter).

Sanity figure (tests/test_workload_transformer.py checks it): seq_len 128, d_model 64, heads 4,
layers 2, d_ff 128, V = 20,002, C = 3, B = 32: 1,355,587 parameters (1,280,128 of them the token
table); forward matmul FLOPs per layer 3 x 134,217,728 (projections, attention, feed-forward),
805,318,656 with the head's 12,288. A full count by hand on a tiny shape is in the test.
"""
from __future__ import annotations

from dataclasses import dataclass

from shared.costs import FLOAT_BYTES, Cost, Part, adam_part

SOFTMAX_FLOPS = 5
LAYERNORM_FLOPS = 7
LAYERNORM_ROW_FLOPS = 4
BACKWARD_ELEMENTWISE = 2
ID_BYTES = 4  # int32 token ids


@dataclass(frozen=True)
class Shape:
    batch: int
    seq_len: int
    d_model: int
    heads: int
    layers: int
    d_ff: int
    n_ids: int
    n_classes: int

    def __post_init__(self):
        for name in self.__dataclass_fields__:
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be positive; got {getattr(self, name)}")
        if self.d_model % self.heads:
            raise ValueError(f"d_model {self.d_model} is not a multiple of heads {self.heads}")


@dataclass(frozen=True)
class Kernel:
    """One op of the forward pass. reads: (elements, gets_gradient) per input; writes: elements
    of the output; matmul: True for a matrix product (its backward is a product per operand)."""
    name: str
    flops: int
    reads: tuple[tuple[int, bool], ...]
    writes: int
    matmul: bool = False
    first_read_bytes: int = FLOAT_BYTES  # bytes per element of the first input (ids: ID_BYTES)


def parameter_count(s: Shape) -> int:
    d, F = s.d_model, s.d_ff
    per_layer = 2 * d + 4 * (d * d + d) + 2 * d + (d * F + F) + (F * d + d)
    return s.n_ids * d + s.seq_len * d + s.layers * per_layer + 2 * d + d * s.n_classes + s.n_classes


def _layernorm(rows: int, d: int, name: str) -> Kernel:
    return Kernel(name, LAYERNORM_FLOPS * rows * d + LAYERNORM_ROW_FLOPS * rows, ((rows * d, True), (d, True), (d, True)),
                  rows * d)


def _linear(rows: int, n_in: int, n_out: int, name: str) -> list[Kernel]:
    return [Kernel(name, 2 * rows * n_in * n_out, ((rows * n_in, True), (n_in * n_out, True)), rows * n_out, True),
            Kernel(name + " bias", rows * n_out, ((rows * n_out, True), (n_out, True)), rows * n_out)]


def kernels(s: Shape) -> list[Kernel]:
    """The forward pass, op by op, as every twin writes it."""
    B, L, d, H, F, C = s.batch, s.seq_len, s.d_model, s.heads, s.d_ff, s.n_classes
    dh, T = d // H, B * L  # T: token rows
    ks = [Kernel("mask", 2 * T, ((T, False),), T + B, first_read_bytes=ID_BYTES),
          Kernel("embedding gather", 0, ((T, False), (T * d, True)), T * d, first_read_bytes=ID_BYTES),
          Kernel("add positions", T * d, ((T * d, True), (L * d, True)), T * d)]
    for l in range(s.layers):
        ks.append(_layernorm(T, d, f"layer {l} ln1"))
        for proj in ("q", "k", "v"):
            ks += _linear(T, d, d, f"layer {l} {proj}")
        scores = B * H * L * L
        ks += [Kernel(f"layer {l} scores", 2 * scores * dh, ((T * d, True), (T * d, True)), scores, True),
               Kernel(f"layer {l} scale", scores, ((scores, True),), scores),
               Kernel(f"layer {l} mask add", scores, ((scores, True), (T, False)), scores),
               Kernel(f"layer {l} softmax", SOFTMAX_FLOPS * scores, ((scores, True),), scores),
               Kernel(f"layer {l} context", 2 * scores * dh, ((scores, True), (T * d, True)), T * d, True)]
        ks += _linear(T, d, d, f"layer {l} out")
        ks.append(Kernel(f"layer {l} residual 1", T * d, ((T * d, True), (T * d, True)), T * d))
        ks.append(_layernorm(T, d, f"layer {l} ln2"))
        ks += _linear(T, d, F, f"layer {l} ff1")
        ks.append(Kernel(f"layer {l} relu", T * F, ((T * F, True),), T * F))
        ks += _linear(T, F, d, f"layer {l} ff2")
        ks.append(Kernel(f"layer {l} residual 2", T * d, ((T * d, True), (T * d, True)), T * d))
    ks.append(_layernorm(T, d, "final ln"))
    ks += [Kernel("pool: mask multiply", T * d, ((T * d, True), (T, False)), T * d),
           Kernel("pool: sum", T * d, ((T * d, True),), B * d),
           Kernel("pool: divide", B * d, ((B * d, True), (B, False)), B * d)]
    ks += _linear(B, d, C, "head")
    return ks


def _forward(ks: list[Kernel]) -> Part:
    flops = sum(k.flops for k in ks)
    mm = sum(k.flops for k in ks if k.matmul)
    read = sum(n * (k.first_read_bytes if i == 0 else FLOAT_BYTES) for k in ks for i, (n, _) in enumerate(k.reads))
    return Part(flops, read + FLOAT_BYTES * sum(k.writes for k in ks), mm)


def _backward(ks: list[Kernel]) -> Part:
    flops = mm = nbytes = 0
    for k in ks:
        graded = [n for n, g in k.reads if g]
        if not graded:
            continue  # the mask: nothing to differentiate
        if k.name == "embedding gather":
            # scatter-add of the output gradient into the table's gradient: read dOut and ids, write rows
            flops += k.writes
            nbytes += FLOAT_BYTES * k.writes + ID_BYTES * k.reads[0][0] + FLOAT_BYTES * k.reads[1][0]
            continue
        if k.matmul:
            f = k.flops * len(graded)
            flops += f
            mm += f
        else:
            flops += BACKWARD_ELEMENTWISE * k.flops
        # read every input and the output's gradient; write a gradient per graded input
        nbytes += FLOAT_BYTES * (sum(n for n, _ in k.reads) + k.writes + sum(graded))
    return Part(flops, nbytes, mm)


def step_cost(s: Shape) -> Cost:
    ks = kernels(s)
    return Cost(_forward(ks), _backward(ks), adam_part(parameter_count(s)))


def inference_cost(s: Shape) -> Cost:
    return Cost(_forward(kernels(s)), Part(0, 0), Part(0, 0))
