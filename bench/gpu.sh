#!/usr/bin/env bash
# GPU check of the trainer, for a machine with one NVIDIA GPU (H100/H200 class), PyTorch
# preinstalled and no network: (1) the learner's step on CUDA (bf16 autocast) against the
# CPU step on the same batches, within bf16 tolerance; (2) samples/s and model FLOP
# utilisation of configs/gpu.yaml's model at several batch sizes with a 1,000,000-item
# catalogue. Writes bench/results/gpu-<time>.{json,md}. About 2-3 minutes on an H200;
# the timeout keeps it under 8.
#   bash bench/gpu.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
if [ -x .venv/bin/python ] && .venv/bin/python -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
  python=.venv/bin/python
fi
"$python" - <<'PY'
import importlib.util, sys
missing = [m for m in ("torch", "transformers", "safetensors") if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"bench/gpu.sh needs {', '.join(missing)} (pip install torch transformers safetensors)")
import torch
if not torch.cuda.is_available():
    sys.exit("bench/gpu.sh needs a CUDA GPU; torch sees none")
print(f"GPU: {torch.cuda.get_device_name(0)}, torch {torch.__version__}", flush=True)
PY
exec timeout 470 "$python" -m bench.gpu_check --out bench/results "$@"
