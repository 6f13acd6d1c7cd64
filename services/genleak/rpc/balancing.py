"""Client-side balancing over the replicas behind one DNS name, with job affinity.

A service's jobs live in the memory of the replica that started them, so plain per-call round-robin
would send `WatchJob`/`GetJob`/`CancelJob` to replicas that never heard of the job (NOT_FOUND). This
channel resolves `dns:///name:port` to every address (one A record per pod behind a headless Service),
keeps one sub-channel per replica, and routes:
  * a request with a `job_id` to the replica that returned that job (found by asking each replica's
    `GetJob` when this client did not start it);
  * a request carrying the `genleak-shard: <group>/<index>` metadata (the controller's shards of one
    big job) to the replicas in the group's rendezvous order, shard i to the i-th (modulo their number):
    N shards over N replicas land on N different replicas, and a repeated shard reaches the same one;
  * any other request by rendezvous hashing of its bytes over the live replicas: different requests
    spread over replicas, and a repeated `Start*` reaches the same replica, so it stays idempotent.
The name is re-resolved every `refresh_s` seconds, so scaling up or down is picked up.
"""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from typing import Any, Callable

import grpc

from genleak.v1 import common_pb2

Resolver = Callable[[str, int], list[str]]
SHARD_METADATA_KEY = "genleak-shard"


def shard_metadata(group: str, index: int) -> tuple[tuple[str, str], ...]:
    """Call metadata placing shard `index` of the shard set `group` (see JobAffinityChannel.route)."""
    return ((SHARD_METADATA_KEY, f"{group}/{index}"),)


def resolve_all(host: str, port: int) -> list[str]:
    """Every address of `host` (sorted, de-duplicated); [] when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return []
    return sorted({info[4][0] for info in infos})


def split_dns_target(target: str) -> tuple[str, int]:
    """`dns:///host:port` or `dns://authority/host:port` -> (host, port)."""
    rest = target.split(":", 1)[1].lstrip("/")
    rest = rest.split("/", 1)[1] if target.startswith("dns://") and not target.startswith("dns:///") else rest
    host, _, port = rest.rpartition(":")
    return host.strip("[]"), int(port)


class JobAffinityChannel(grpc.Channel):
    def __init__(self, target: str, open_one: Callable[[str, str], grpc.Channel], resolve: Resolver | None = None,
                 refresh_s: float = 30.0):
        """`open_one(address, server_name)` opens a channel to one replica (TLS verifies `server_name`);
        `resolve(host, port)` lists the replicas' IPs (default: DNS via getaddrinfo)."""
        self._target, self._open_one, self._resolve, self._refresh_s = target, open_one, resolve, refresh_s
        self._host, self._port = split_dns_target(target)
        self._lock = threading.Lock()
        self._channels: dict[str, grpc.Channel] = {}
        self._owners: dict[str, str] = {}  # job_id -> replica address
        self._resolved_at = float("-inf")

    # -- replicas --

    def replicas(self) -> dict[str, grpc.Channel]:
        with self._lock:
            if time.monotonic() - self._resolved_at >= self._refresh_s or not self._channels:
                self._refresh()
            return dict(self._channels)

    def _refresh(self) -> None:
        ips = (self._resolve or resolve_all)(self._host, self._port)
        wanted = [f"[{ip}]:{self._port}" if ":" in ip else f"{ip}:{self._port}" for ip in ips] or [self._target]
        for address in set(self._channels) - set(wanted):
            self._channels.pop(address).close()
            self._owners = {job: owner for job, owner in self._owners.items() if owner != address}
        for address in wanted:
            if address not in self._channels:
                self._channels[address] = self._open_one(address, self._host)
        self._resolved_at = time.monotonic()

    # -- routing --

    def route(self, method: str, request: Any, metadata: Any = None) -> tuple[str, grpc.Channel]:
        replicas = self.replicas()
        job_id = _job_id(request)
        if job_id:
            owner = self._owners.get(job_id) or self._find_owner(method, job_id, replicas)
            if owner in replicas:
                return owner, replicas[owner]
        shard = _shard(metadata)
        if shard is not None:
            group, index = shard
            order = sorted(replicas, key=lambda a: hashlib.sha256(a.encode() + b"\0" + group.encode()).digest(),
                           reverse=True)
            address = order[index % len(order)]
            return address, replicas[address]
        payload = request.SerializeToString(deterministic=True) if hasattr(request, "SerializeToString") else b""
        address = max(replicas, key=lambda a: hashlib.sha256(a.encode() + b"\0" + payload).digest())
        return address, replicas[address]

    def _find_owner(self, method: str, job_id: str, replicas: dict[str, grpc.Channel]) -> str | None:
        get_job = method.rsplit("/", 1)[0] + "/GetJob"
        for address, channel in replicas.items():
            call = channel.unary_unary(get_job, request_serializer=common_pb2.GetJobRequest.SerializeToString,
                                       response_deserializer=common_pb2.Job.FromString)
            try:
                call(common_pb2.GetJobRequest(job_id=job_id), timeout=10)
            except grpc.RpcError:
                continue
            self.remember(job_id, address)
            return address
        return None

    def remember(self, job_id: str, address: str) -> None:
        with self._lock:
            self._owners[job_id] = address

    # -- grpc.Channel --

    def unary_unary(self, method, request_serializer=None, response_deserializer=None, **kwargs):
        return _UnaryUnary(self, method, dict(request_serializer=request_serializer,
                                              response_deserializer=response_deserializer, **kwargs))

    def unary_stream(self, method, request_serializer=None, response_deserializer=None, **kwargs):
        return _UnaryStream(self, method, dict(request_serializer=request_serializer,
                                               response_deserializer=response_deserializer, **kwargs))

    def stream_unary(self, method, *args, **kwargs):  # genleak has no client-streaming RPCs: any replica
        return next(iter(self.replicas().values())).stream_unary(method, *args, **kwargs)

    def stream_stream(self, method, *args, **kwargs):
        return next(iter(self.replicas().values())).stream_stream(method, *args, **kwargs)

    def subscribe(self, callback, try_to_connect=False):
        next(iter(self.replicas().values())).subscribe(callback, try_to_connect)

    def unsubscribe(self, callback):
        for channel in self.replicas().values():
            channel.unsubscribe(callback)

    def close(self):
        with self._lock:
            for channel in self._channels.values():
                channel.close()
            self._channels.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _shard(metadata: Any) -> tuple[str, int] | None:
    for key, value in metadata or ():
        if key == SHARD_METADATA_KEY:
            group, _, index = str(value).rpartition("/")
            if index.isdigit():
                return group, int(index)
    return None


def _job_id(request: Any) -> str:
    descriptor = getattr(request, "DESCRIPTOR", None)
    return request.job_id if descriptor is not None and "job_id" in descriptor.fields_by_name else ""


class _UnaryUnary(grpc.UnaryUnaryMultiCallable):
    def __init__(self, channel: JobAffinityChannel, method: str, kwargs: dict):
        self._channel, self._method, self._kwargs = channel, method, kwargs

    def _call(self, request, kwargs):
        address, replica = self._channel.route(self._method, request, kwargs.get("metadata"))
        return address, replica.unary_unary(self._method, **self._kwargs)

    def _remember(self, address: str, response: Any) -> None:
        job_id = _job_id(response)
        if job_id:
            self._channel.remember(job_id, address)

    def __call__(self, request, *args, **kwargs):
        address, call = self._call(request, kwargs)
        response = call(request, *args, **kwargs)
        self._remember(address, response)
        return response

    def with_call(self, request, *args, **kwargs):
        address, call = self._call(request, kwargs)
        response, rpc = call.with_call(request, *args, **kwargs)
        self._remember(address, response)
        return response, rpc

    def future(self, request, *args, **kwargs):
        address, call = self._call(request, kwargs)
        future = call.future(request, *args, **kwargs)
        future.add_done_callback(lambda f: f.exception() is None and self._remember(address, f.result()))
        return future


class _UnaryStream(grpc.UnaryStreamMultiCallable):
    def __init__(self, channel: JobAffinityChannel, method: str, kwargs: dict):
        self._channel, self._method, self._kwargs = channel, method, kwargs

    def __call__(self, request, *args, **kwargs):
        _, replica = self._channel.route(self._method, request, kwargs.get("metadata"))
        return replica.unary_stream(self._method, **self._kwargs)(request, *args, **kwargs)
