# syntax=docker/dockerfile:1.7
# genleak controller: plans experiments, calls the three workers, writes reports. CPU only (no CUDA base);
# it builds the lab (small CPU-trained models) when a spec asks for one, so it carries CPU torch.
#   docker build -f deploy/docker/controller.Dockerfile -t genleak/controller:0.1.0 .
# The base image is pinned by exact tag. For a production build pin the digest as well, e.g.
#   docker buildx imagetools inspect python:3.11.7-slim-bookworm   ->   FROM python:3.11.7-slim-bookworm@sha256:<digest>
# Python packages: requirements/runtime-cpu.lock alone (pinned, --no-deps; scripts/lock.py): no vLLM, no zoo
# model, none of the test and dev tools of requirements/dev.lock. No model is downloaded.
# Writable at run time: /var/cache/genleak (GENLEAK_CACHE_DIR, the cache volume), /tmp and $HOME; the rest may
# be mounted read-only (Kubernetes: readOnlyRootFilesystem).
FROM python:3.11.7-slim-bookworm AS controller
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/opt/genleak/services GENLEAK_CACHE_DIR=/var/cache/genleak OMP_WAIT_POLICY=PASSIVE
COPY requirements/runtime-cpu.lock /opt/genleak/requirements/
# torch==2.13.0+cpu alone from PyTorch's CPU index (it is not on PyPI); then the lock from PyPI alone, where
# pip finds that torch already installed.
RUN python3 -m pip install --no-cache-dir --no-deps --index-url https://download.pytorch.org/whl/cpu \
        "$(grep '^torch==' /opt/genleak/requirements/runtime-cpu.lock)" \
 && python3 -m pip install --no-cache-dir --no-deps -r /opt/genleak/requirements/runtime-cpu.lock \
 && python3 -m pip check
RUN useradd --uid 10001 --user-group --create-home --home-dir /home/genleak genleak \
 && mkdir -p /var/cache/genleak && chown -R genleak:genleak /var/cache/genleak
COPY --chmod=0755 deploy/docker/genleak.sh /usr/local/bin/genleak
COPY services /opt/genleak/services
COPY examples /opt/genleak/examples
WORKDIR /opt/genleak
USER 10001
EXPOSE 50050
HEALTHCHECK --interval=15s --timeout=10s --start-period=60s --retries=3 \
    CMD ["python3", "-m", "genleak.rpc.health_check", "127.0.0.1:50050", "--timeout", "5"]
ENTRYPOINT ["genleak"]
CMD ["serve", "controller", "--host", "0.0.0.0", "--port", "50050"]
