"""Job-affine client-side balancing over replicas (two real servers on 127.0.0.1 and 127.0.0.2, one port)."""

from __future__ import annotations

import grpc
import pytest
from genleak.core.jobs import JobManager, JobOutput
from genleak.core.specs import Spec
from genleak.rpc.balancing import JobAffinityChannel, split_dns_target
from genleak.rpc.channels import open_channel, wait_for_job
from genleak.rpc.convert import job_to_proto
from genleak.rpc.jobs_servicer import JobRpcMixin
from genleak.rpc.server import ServiceBinding, start_server
from genleak.v1 import common_pb2

SERVICE = "genleak.test.Jobs"
TOKEN = "balancing-token"


class _EchoSpec(Spec):
    uri: str


class _JobsServicer(JobRpcMixin):
    """Start(ArtifactRef) runs a trivial job; GetJob/WatchJob/CancelJob are the real shared mixin."""

    def __init__(self, name: str):
        self.name, self.jobs = name, JobManager(workers=1)

    def Start(self, request, context):
        return job_to_proto(self.jobs.submit(self.name, _EchoSpec(uri=request.uri), lambda reporter: JobOutput()))


def _binding(servicer: _JobsServicer) -> ServiceBinding:
    def add(_servicer, server: grpc.Server) -> None:
        handlers = {"Start": grpc.unary_unary_rpc_method_handler(servicer.Start, common_pb2.ArtifactRef.FromString,
                                                                  common_pb2.Job.SerializeToString)}
        for name, request in (("GetJob", common_pb2.GetJobRequest), ("CancelJob", common_pb2.CancelJobRequest)):
            handlers[name] = grpc.unary_unary_rpc_method_handler(getattr(servicer, name), request.FromString,
                                                                 common_pb2.Job.SerializeToString)
        handlers["WatchJob"] = grpc.unary_stream_rpc_method_handler(
            servicer.WatchJob, common_pb2.WatchJobRequest.FromString, common_pb2.Job.SerializeToString)
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, handlers),))

    return ServiceBinding(servicer, add, SERVICE, on_stop=servicer.jobs.shutdown)


class _Stub:
    """What a generated stub does: one multi-callable per method on the channel."""

    def __init__(self, channel: grpc.Channel):
        job = common_pb2.Job.FromString
        self.Start = channel.unary_unary(f"/{SERVICE}/Start", common_pb2.ArtifactRef.SerializeToString, job)
        self.GetJob = channel.unary_unary(f"/{SERVICE}/GetJob", common_pb2.GetJobRequest.SerializeToString, job)
        self.CancelJob = channel.unary_unary(f"/{SERVICE}/CancelJob", common_pb2.CancelJobRequest.SerializeToString,
                                             job)
        self.WatchJob = channel.unary_stream(f"/{SERVICE}/WatchJob", common_pb2.WatchJobRequest.SerializeToString, job)


@pytest.fixture(scope="module")
def replicas():
    a = start_server([_binding(_JobsServicer("a"))], host="127.0.0.1", port=0, auth_token=TOKEN)
    try:
        b = start_server([_binding(_JobsServicer("b"))], host="127.0.0.2", port=a.port, auth_token=TOKEN)
    except OSError:
        a.stop(grace=0)
        pytest.skip("127.0.0.2 is not bindable here")
    yield a.port
    a.stop(grace=0)
    b.stop(grace=0)


def _affine(port: int, ips: list[str]) -> JobAffinityChannel:
    def open_replica(address: str, host: str) -> grpc.Channel:
        return open_channel(address, TOKEN)

    return JobAffinityChannel(f"dns:///genleak-test:{port}", open_replica, resolve=lambda host, p: list(ips))


def test_jobs_spread_over_replicas_and_every_follow_up_reaches_the_owner(replicas):
    with _affine(replicas, ["127.0.0.1", "127.0.0.2"]) as channel:
        stub = _Stub(channel)
        jobs = [stub.Start(common_pb2.ArtifactRef(uri=f"s3://b/{i}")) for i in range(12)]
        assert {job.job_id.split("-")[0] for job in jobs} == {"a", "b"}
        for job in jobs:
            assert wait_for_job(stub, job).state == common_pb2.JOB_STATE_SUCCEEDED
            assert stub.GetJob(common_pb2.GetJobRequest(job_id=job.job_id)).job_id == job.job_id
            assert stub.CancelJob(common_pb2.CancelJobRequest(job_id=job.job_id)).job_id == job.job_id


def test_plain_round_robin_loses_jobs_which_is_why_job_affinity_exists(replicas):
    with open_channel(f"ipv4:127.0.0.1:{replicas},127.0.0.2:{replicas}", TOKEN, lb_policy="round_robin") as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        stub = _Stub(channel)
        job = stub.Start(common_pb2.ArtifactRef(uri="s3://b/rr"), wait_for_ready=True)
        codes = set()
        for _ in range(4):
            try:
                stub.GetJob(common_pb2.GetJobRequest(job_id=job.job_id), wait_for_ready=True)
                codes.add(grpc.StatusCode.OK)
            except grpc.RpcError as exc:
                codes.add(exc.code())
    assert codes == {grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND}


def test_the_same_start_request_reaches_the_same_replica(replicas):
    with _affine(replicas, ["127.0.0.1", "127.0.0.2"]) as channel:
        stub = _Stub(channel)
        first = stub.Start(common_pb2.ArtifactRef(uri="s3://b/same"))
        assert all(stub.Start(common_pb2.ArtifactRef(uri="s3://b/same")).job_id == first.job_id for _ in range(5))


def test_a_client_that_did_not_start_the_job_finds_its_owner(replicas):
    with _affine(replicas, ["127.0.0.1", "127.0.0.2"]) as starter:
        jobs = [_Stub(starter).Start(common_pb2.ArtifactRef(uri=f"s3://b/other-{i}")) for i in range(6)]
    with _affine(replicas, ["127.0.0.1", "127.0.0.2"]) as fresh:
        for job in jobs:
            assert wait_for_job(_Stub(fresh), job).job_id == job.job_id
        with pytest.raises(grpc.RpcError) as info:
            _Stub(fresh).GetJob(common_pb2.GetJobRequest(job_id="a-nope"))
        assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_re_resolution_picks_up_new_replicas_and_drops_gone_ones(replicas):
    ips = ["127.0.0.1"]
    channel = JobAffinityChannel(f"dns:///genleak-test:{replicas}", lambda address, host: open_channel(address, TOKEN),
                                 resolve=lambda host, port: list(ips), refresh_s=0.0)
    with channel:
        stub = _Stub(channel)
        assert {stub.Start(common_pb2.ArtifactRef(uri=f"s3://b/r{i}")).job_id[0] for i in range(6)} == {"a"}
        ips.append("127.0.0.2")
        assert {stub.Start(common_pb2.ArtifactRef(uri=f"s3://b/r{i}")).job_id[0] for i in range(6, 18)} == {"a", "b"}
        ips.remove("127.0.0.1")
        assert set(channel.replicas()) == {f"127.0.0.2:{replicas}"}


def test_open_channel_picks_job_affinity_for_dns_targets_only():
    channel = open_channel("dns:///generator:50051")
    assert isinstance(channel, JobAffinityChannel)
    channel.close()
    assert not isinstance(open_channel("generator:50051"), JobAffinityChannel)
    assert not isinstance(open_channel("dns:///generator:50051", lb_policy="round_robin"), JobAffinityChannel)
    assert split_dns_target("dns:///generator:50051") == ("generator", 50051)
    assert split_dns_target("dns://8.8.8.8/generator.genleak.svc:50053") == ("generator.genleak.svc", 50053)
    assert split_dns_target("dns:///[::1]:50051") == ("::1", 50051)
