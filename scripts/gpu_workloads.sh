#!/usr/bin/env bash
# One prepared command for a lent GPU machine: every workload's default and compiled cases for
# PyTorch and JAX (TensorFlow is named too, so that its absence is recorded as an unavailable case
# with the reason: the lent machines have no TensorFlow, and its wheel cannot be carried there).
#
#   bash scripts/gpu_workloads.sh            # on the GPU machine, from the checkout
#
# Sized for 10 minutes on one GPU: --quick rounds (labelled as such in every report), 2 processes
# per case, the training and inference phases. Each workload is its own run folder under
# results/gpu-<gpu>/<workload>/ with the GPU, driver, CUDA build and every package version in its
# manifest and report; commit them as they are. The archive: $FWBENCH_ARCHIVE, else
# .gpu_data/20news-bydate.tar.gz (carry it there: the GPU machine reaches no network).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export FWBENCH_ARCHIVE=${FWBENCH_ARCHIVE:-.gpu_data/20news-bydate.tar.gz}
[ -f "$FWBENCH_ARCHIVE" ] || { echo "gpu_workloads: no archive at $FWBENCH_ARCHIVE: set FWBENCH_ARCHIVE or carry it to .gpu_data/" >&2; exit 2; }
missing=$($PY - <<'PY'
import importlib
need = ["numpy", "scipy", "sklearn", "pandas", "pytest", "pytest_benchmark", "matplotlib", "psutil", "torch", "jax", "optax"]
print(" ".join(m for m in need if importlib.util.find_spec(m) is None))
PY
)
[ -z "$missing" ] || { echo "gpu_workloads: missing Python packages: $missing (pip install them first)" >&2; exit 2; }
gpu=$($PY -c "import torch; n=torch.cuda.get_device_name(0) if torch.cuda.is_available() else ''; print(n.split()[1].lower() if n else '')")
[ -n "$gpu" ] || { echo "gpu_workloads: torch sees no CUDA GPU here" >&2; exit 2; }
OUT=${OUT:-results/gpu-$gpu}
for w in $($PY -m benchmarks.cli workloads --names); do
  echo "== $w: $(date -u +%H:%M:%S)"
  $PY -m benchmarks.cli run --workload "$w" --devices gpu --quick --processes 2 \
      --frameworks torch,torch:compile,torch:fused,jax,tensorflow \
      --phases first_epoch,train_epoch,predict_all,predict_one --output "$OUT/$w" || echo "gpu_workloads: $w run failed (exit $?)" >&2
done
echo "done: $OUT"
