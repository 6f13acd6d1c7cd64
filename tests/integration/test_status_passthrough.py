"""A service's status travels through the controller unchanged (issue 16, item 6): a worker's
INVALID_ARGUMENT or NOT_FOUND, answered to a nested call, is the experiment job's error code and what
the caller reads, over real gRPC on loopback; and a servicer whose own nested call fails answers that
status, not INTERNAL "internal error (see service log)"."""

from __future__ import annotations

import grpc
import pytest

from genleak.app import build_service
from genleak.controller.clients import ServiceClients
from genleak.controller.service import ControllerCore
from genleak.controller.servicer import binding
from genleak.core.datasets import publish_records
from genleak.core.jobs import JobManager
from genleak.core.settings import Settings, StoreSettings
from genleak.core.store import ArtifactStore
from genleak.rpc.channels import RemoteJobError, open_channel, wait_for_job
from genleak.rpc.server import ServiceBinding, start_server
from genleak.v1 import common_pb2, controller_pb2, controller_pb2_grpc, generator_pb2, generator_pb2_grpc


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The real generator service and a controller whose clients reach it (the other workers are never called:
    generation is the first stage and fails)."""
    root = tmp_path_factory.mktemp("passthrough")
    settings = Settings(store=StoreSettings(root=f"file://{root}/store", cache_dir=root / "cache"))
    store = ArtifactStore(settings.store)
    generator = start_server([build_service("generator", settings, store)])
    clients = ServiceClients.connect(generator.address, generator.address, generator.address)
    jobs = JobManager(workers=2)
    controller = start_server([binding(ControllerCore(store, clients), jobs)])
    channel = open_channel(controller.address)
    prompts = publish_records(store, [{"prompt": f"From: Jane Doe {i}", "continuation": " hi"} for i in range(4)],
                              store.uri_for("inputs", "prompts"))
    people = publish_records(store, [{"name": "Jane Doe", "email": "jane@enron.com"}], store.uri_for("inputs", "people"))
    yield {"controller": controller_pb2_grpc.ControllerServiceStub(channel), "generator": generator,
           "prompts": prompts.uri, "people": people.uri}
    channel.close()
    controller.stop(grace=0.5)
    jobs.shutdown()
    clients.close()
    generator.stop(grace=0.5)


def _spec(stack, generator: str) -> str:
    return (f"name: passthrough\nlab: null\ntarget: /no/such/target\nconditions: [generated]\nleakage: null\n"
            f"data: {{prompts: '{stack['prompts']}', pii_targets: '{stack['people']}', few_shot: paper, people: null}}\n"
            f"attack: {{perplexity_dataset: null}}\ngenerator: {generator}\n")


@pytest.mark.parametrize("generator, code, cause", [
    ("{model: /no/such/model, config: {no_such_knob: 1}}", "INVALID_ARGUMENT", "params.config.no_such_knob"),
    ("{model: /no/such/model}", "NOT_FOUND", "no model at /no/such/model"),
])
def test_a_workers_status_is_the_experiments_status(stack, generator, code, cause):
    stub = stack["controller"]
    job = stub.StartExperiment(controller_pb2.StartExperimentRequest(spec_yaml=_spec(stack, generator)))
    with pytest.raises(RemoteJobError) as err:
        wait_for_job(stub, job)
    assert err.value.code == code and cause in err.value.message, err.value.message
    finished = stub.GetJob(common_pb2.GetJobRequest(job_id=job.job_id))
    assert finished.error.code == code and "internal error" not in finished.error.message


def test_a_servicers_failed_nested_call_answers_its_status(stack):
    """A relay service whose handler calls the generator with a bad request: its caller gets the
    generator's INVALID_ARGUMENT and details through the server's ErrorInterceptor."""
    generator = generator_pb2_grpc.GeneratorServiceStub(open_channel(stack["generator"].address))

    def relay(request: bytes, context) -> bytes:
        bad = generator_pb2.StartGenerationRequest(model=common_pb2.ModelRef(uri="/no/such/model"),
                                                   dataset=common_pb2.ArtifactRef(uri=stack["prompts"]))
        bad.params.update({"task": "continuation", "config": {"temperature": -1.0}})
        generator.StartGeneration(bad)
        return b""

    def add(servicer, server) -> None:
        handler = grpc.unary_unary_rpc_method_handler(relay, request_deserializer=None, response_serializer=None)
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Relay", {"Call": handler}),))

    server = start_server([ServiceBinding(None, add, "test.Relay")])
    try:
        with grpc.insecure_channel(server.address) as channel, pytest.raises(grpc.RpcError) as err:
            channel.unary_unary("/test.Relay/Call")(b"", timeout=30)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "params.config.temperature" in err.value.details()
    finally:
        server.stop(grace=0.5)
