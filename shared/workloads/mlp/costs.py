"""Work per training step and per epoch of the MLP, counted exactly from the layer shapes, in
shared/costs.py's types. A step is: forward, backward, one Adam update. Sizes are
[V, h1, ..., C] as shared/weights.layer_sizes gives them; B is the batch size; layer l maps
`in = sizes[l]` to `out = sizes[l + 1]`; the last layer has no ReLU.

FLOPs (what is counted, exactly)
--------------------------------
- A multiply-add counts as 2 FLOPs. Dense matmul (B x in) @ (in x out): 2*B*in*out.
  Sparse first layer (CSR input, nnz stored values in the batch): 2*nnz*h1.
- Bias add: 1 FLOP per output element (B*out). ReLU: 1 FLOP per element (B*out, hidden
  layers only).
- Backward, per layer: weight gradient X^T dZ, 2*B*in*out (sparse first layer: 2*nnz*h1,
  only the touched rows); bias gradient, the column sum of dZ: B*out additions; input
  gradient dZ W^T, 2*B*in*out, for every layer EXCEPT the first (no gradient w.r.t. the
  input), plus the ReLU mask on it: B*in (1 FLOP per element).
- NOT counted: softmax, the loss and its gradient w.r.t. the logits (B*C elements, with
  exp/log whose FLOP price is a convention), Adam's per-step scalar bias corrections.
- Adam: ADAM_FLOPS_PER_PARAM = 13 per parameter, PyTorch's formula written out:
  m = b1*m + (1-b1)*g (3), v = b2*v + (1-b2)*g*g (4), denom = sqrt(v)/sqrt(bc2) + eps (3),
  p = p - (lr/bc1) * m/denom (3); sqrt and division count 1 each.
  Adam updates every parameter every step (dense moments), also with a sparse first layer:
  that is what torch.optim.Adam and keras Adam do for dense variables.

Bytes (a lower bound on memory traffic; float32 = 4 bytes, GB = 1e9 bytes)
---------------------------------------------------------------------------
Each kernel touches each array it needs exactly once (perfect cache reuse inside a matmul;
bias and ReLU fused into the matmul epilogue, the ReLU mask into the input-gradient kernel):
- forward, per layer: read X (B*in), W (in*out), b (out); write the activation (B*out).
- backward, per layer: read X (B*in) and dZ (B*out), write dW (in*out) and db (out); except
  for the first layer also read W (in*out) and write dX (B*in) (the ReLU mask reads the
  activation X, already counted).
- sparse first layer: X is CSR, read as nnz values + nnz column indices (INDEX_BYTES = 4,
  int32 as scipy stores them) + (B + 1) row pointers; W1 is read, and dW1 written, only on
  the touched rows, taken as min(nnz, V) rows of h1 floats (one row per stored value, capped
  at the whole matrix: repeated columns within a batch are not deduplicated).
- Adam: ADAM_ARRAYS_PER_PARAM = 7 float32 per parameter: read p, g, m, v; write p, m, v.
- NOT counted: the logits' gradient kernel (softmax/loss), the labels, framework
  temporaries, allocator traffic.

Sanity figure (the tutorial's shape): V = 119,928, hidden 100,100, C = 3, B = 150, 11 steps:
matmul FLOPs of forward + backward per epoch = 11 * 2*150*(2*12,003,100 + 10,300)
= 79,254,450,000 (79.25 GFLOP); with bias, ReLU and their gradients 79,255,779,900; Adam adds
11 * 13 * 12,003,303 = 1,716,472,329 FLOPs and 11 * 28 * 12,003,303 = 3,697,017,324 bytes.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from shared.costs import (ADAM_ARRAYS_PER_PARAM, ADAM_FLOPS_PER_PARAM, FLOAT_BYTES, INDEX_BYTES, Cost, Part,
                          repeat)


def _check_sizes(sizes: Sequence[int], batch: int) -> list[int]:
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must be at least [in, out], all positive; got {sizes}")
    if int(batch) < 1:
        raise ValueError(f"batch must be positive; got {batch}")
    return sizes


def parameter_count(sizes: Sequence[int]) -> int:
    """Weights and biases of the dense MLP with these layer sizes."""
    sizes = [int(s) for s in sizes]
    return sum(i * o + o for i, o in zip(sizes[:-1], sizes[1:]))


def step_cost(sizes: Sequence[int], batch: int, input_nnz: int | None = None) -> Cost:
    """FLOPs and bytes of one training step (forward, backward, Adam), counted as the module
    docstring says. input_nnz: None for a dense input batch; else the number of stored values
    of the batch's CSR input (the first layer is then a sparse-dense product)."""
    sizes = _check_sizes(sizes, batch)
    B = int(batch)
    if input_nnz is not None and int(input_nnz) < 0:
        raise ValueError(f"input_nnz must be >= 0; got {input_nnz}")
    n_layers = len(sizes) - 1
    f = FLOAT_BYTES
    fwd = bwd = Part(0, 0)
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        relu = l < n_layers - 1
        elementwise = B * n_out + (B * n_out if relu else 0)  # bias add (+ ReLU)
        if l == 0 and input_nnz is not None:
            nnz = int(input_nnz)
            rows = min(nnz, n_in)  # W1 rows touched
            x_bytes = nnz * (f + INDEX_BYTES) + (B + 1) * INDEX_BYTES
            mm = 2 * nnz * n_out
            fwd += Part(mm + elementwise, x_bytes + f * (rows * n_out + n_out + B * n_out), mm)
            bwd += Part(mm + B * n_out, x_bytes + f * (B * n_out + rows * n_out + n_out), mm)
            continue
        mm = 2 * B * n_in * n_out
        fwd += Part(mm + elementwise, f * (B * n_in + n_in * n_out + n_out + B * n_out), mm)
        # weight gradient X^T dZ and bias gradient sum(dZ): read X, dZ; write dW, db
        bwd += Part(mm + B * n_out, f * (B * n_in + B * n_out + n_in * n_out + n_out), mm)
        if l > 0:  # input gradient (dZ W^T) * relu'(X): read W, write dX
            bwd += Part(mm + B * n_in, f * (n_in * n_out + B * n_in), mm)
    p = parameter_count(sizes)
    opt = Part(ADAM_FLOPS_PER_PARAM * p, ADAM_ARRAYS_PER_PARAM * f * p)
    return Cost(fwd, bwd, opt)


def epoch_cost(sizes: Sequence[int], batch: int, steps: int,
               nnz_per_step: int | Sequence[int] | None = None) -> Cost:
    """The sum of `steps` step costs. nnz_per_step: None (dense input), one int (the same
    for every step), or one value per step (len == steps), e.g. the CSR nnz of each batch."""
    steps = int(steps)
    if steps < 1:
        raise ValueError(f"steps must be positive; got {steps}")
    if nnz_per_step is None or np.ndim(nnz_per_step) == 0:
        return repeat(step_cost(sizes, batch, None if nnz_per_step is None else int(nnz_per_step)), steps)
    nnz = [int(n) for n in np.asarray(nnz_per_step).ravel()]
    if len(nnz) != steps:
        raise ValueError(f"nnz_per_step has {len(nnz)} values for {steps} steps")
    total = step_cost(sizes, batch, nnz[0])
    for n in nnz[1:]:
        total = total + step_cost(sizes, batch, n)
    return total
