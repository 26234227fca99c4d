#!/usr/bin/env bash
# Wheels for benchmarks/device_check.sh, built here (with PyPI) for the GPU machine, which has
# torch 2.11 in Python 3.12 on x86-64 and no package registry: asdlab's dependencies other than
# torch/torchaudio that its torch environment lacks, with their own dependencies, into the
# gitignored wheelhouse/ at the repository root.
#
#   bash benchmarks/make_wheelhouse.sh                  # what `asdlab run`, `asdlab synth` and
#                                                       # benchmarks/gpu.py import: soundfile (+ cffi)
#   ALL=1 bash benchmarks/make_wheelhouse.sh            # every dependency in pyproject.toml
#   PYVER=3.11 bash benchmarks/make_wheelhouse.sh       # for another CPython (to test the CPU path here)
#
# Wheels of packages the GPU image already has (ON_DEVICE, its package list as read in 2026-11)
# are dropped. The default wheelhouse is about 1.6 MiB; ALL=1 is about 59 MiB (jupyterlab, plotly,
# babel, ...), too much to travel beside the working tree (64 MiB in all), and needed only for the
# notebooks and reports. Checked by running every method's smoke run with those packages blocked.
set -euo pipefail
cd "$(dirname "$0")/.."
PYVER=${PYVER:-3.12}
PYTHON=${PYTHON:-.venv/bin/python}  # the Python that runs pip here (any version)
PIP=${PIP:-$PYTHON -m pip}
DEST=wheelhouse
ON_DEVICE="absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build
certifi charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core
cuda-pathfinder cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock
flatbuffers flax fonttools formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx
huggingface-hub humanize hypothesis idna imageio iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin
jaxlib jaxtyping jinja2 joblib kiwisolver lazy-loader lightning lightning-utilities linear-operator lineax
llvmlite lxml markdown markdown-it-py markupsafe matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack
multidict multipledispatch mypy-extensions nanobind narwhals networkx ninja numba numba-cuda numpy numpyro
nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc nvidia-cuda-runtime nvidia-cudnn-cu13 nvidia-cufft
nvidia-cufile nvidia-curand nvidia-cusolver nvidia-cusparse nvidia-cusparselt-cu13 nvidia-ml-py
nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx onnx-ir onnxruntime onnxscript
opencv-python-headless opt-einsum opt-einsum-fx optax optimistix orbax-checkpoint packaging pandas pathspec
patsy peft pillow pip pluggy portalocker prometheus-client propcache protobuf psutil py-cpuinfo pyarrow
pybind11 pygments pyparsing pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock
pytest-timeout pytest-xdist python-dateutil pytorch-lightning pyyaml regex requests rich sacrebleu
safetensors scikit-build-core scikit-image scikit-learn scipy seaborn sentence-transformers sentencepiece
setuptools shellingham simplejson six sortedcontainers statsmodels sympy tabulate tensorboard
tensorboard-data-server tensorstore threadpoolctl tifffile tiktoken timm tokenizers toolz torch
torch-geometric torchaudio torchdiffeq torchmetrics torchvision tqdm transformers treescope triton typer
typing-extensions typing-inspect urllib3 uvloop wadler-lindig werkzeug wheel wrapt xarray xxhash yarl zipp"
[ "$PYVER" = 3.12 ] || ON_DEVICE=""  # another Python: a test environment, keep every wheel

# the requirement strings, from pyproject.toml (torch and torchaudio come with the GPU machine)
REQS=$($PYTHON - "${ALL:-0}" <<'EOF'
import re, sys, tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
name = lambda r: re.split(r"[<>=!~ \[;]", r, maxsplit=1)[0].lower()
keep = [r for r in deps if name(r) not in ("torch", "torchaudio")]
if sys.argv[1] != "1":
    keep = [r for r in keep if name(r) == "soundfile"]
print("\n".join(keep))
EOF
)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mapfile -t reqs <<<"$REQS"
abi="cp${PYVER/./}"
$PIP download --quiet --disable-pip-version-check -d "$tmp" --only-binary=:all: \
    --python-version "$PYVER" --implementation cp --abi "$abi" --abi abi3 --abi none \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux1_x86_64 \
    --platform any "${reqs[@]}"
mkdir -p "$DEST"
rm -f "$DEST"/*.whl "$DEST"/ALL
for whl in "$tmp"/*.whl; do
    project=$(basename "$whl" | cut -d- -f1 | tr '_.' '--' | tr 'A-Z' 'a-z')
    if [[ " $(echo $ON_DEVICE) " == *" $project "* ]]; then
        echo "on the GPU machine already: $(basename "$whl")"
    else
        mv "$whl" "$DEST/"
    fi
done
[ "${ALL:-0}" = 1 ] && touch "$DEST/ALL"  # device_check.sh then installs every dependency
echo "wheelhouse/ for CPython $PYVER: $(ls "$DEST"/*.whl | wc -l) wheels, $(du -sh "$DEST" | cut -f1)"
ls "$DEST"
