#!/usr/bin/env bash
# The GPU lane: the `gpu` tests and the CUDA timings, on a machine with a GPU.
#
#   bash benchmarks/gpu_lane.sh prepare   # here, with the registries: wheels the GPU machine lacks -> .gpu-wheels/
#   bash benchmarks/gpu_lane.sh run       # there (the device tool: carry .gpu-wheels), about 5 minutes
#
# The device machine has Python 3.12, torch (CUDA), pytest, click, rich, safetensors,
# tokenizers and transformers, and no network: `prepare` downloads the rest of what
# pyproject.toml needs as wheels for it, `run` installs them offline and the kit without
# dependencies, then prints: the gpu tests' verdicts, `grade exercise softmax --device cuda`
# against `import torch`, and a 15-student whole-course batch on CUDA.
set -euo pipefail
cd "$(dirname "$0")/.."
WHEELS=.gpu-wheels
# What the device machine lacks (its README lists what it has).
MISSING="nbformat watchfiles pyseccomp psutil"

case "${1:-run}" in
prepare)
    rm -rf "$WHEELS"
    python -m pip download --quiet --dest "$WHEELS" --only-binary=:all: \
        --python-version 3.12 --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux_2_28_x86_64 --platform any $MISSING
    du -sh "$WHEELS"
    ;;
run)
    start=$SECONDS
    python -m pip install --quiet --no-index --find-links "$WHEELS" $MISSING
    python -m pip install --quiet --no-deps --no-build-isolation -e .
    python - <<'PY'
import torch
print("torch", torch.__version__, "cuda", torch.version.cuda, "device", torch.cuda.get_device_name(0))
PY
    echo "== gpu tests"
    timeout 240 python -m pytest -m gpu tests/test_gpu.py -q -p no:cacheprovider -rA 2>&1 | tail -45 || true
    echo "== grade exercise softmax --device cuda vs import torch"
    timeout 90 python benchmarks/startup_benchmark.py --runs 3 --device cuda || true
    echo "== grade batch, 15 students, whole course, --device cuda"
    timeout 150 python benchmarks/batch_benchmark.py --course --students 15 --workers 4 --baseline 0 --device cuda || true
    echo "== lane took $((SECONDS - start)) s"
    ;;
*)
    echo "usage: bash benchmarks/gpu_lane.sh prepare|run" >&2
    exit 2
    ;;
esac
