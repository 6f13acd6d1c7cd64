"""The committed stubs must equal what scripts/gen_protos.py generates from protos/."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _load_generator():
    spec = importlib.util.spec_from_file_location("gen_protos", ROOT / "scripts" / "gen_protos.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_stubs_have_no_drift(tmp_path):
    _load_generator().generate(tmp_path)
    fresh = {p.relative_to(tmp_path / "genleak" / "v1"): p.read_bytes() for p in (tmp_path / "genleak" / "v1").iterdir()}
    committed_dir = ROOT / "services" / "genleak" / "v1"
    committed = {p.relative_to(committed_dir): p.read_bytes() for p in committed_dir.iterdir() if p.is_file()}
    assert set(fresh) == set(committed), "stub files differ: run python scripts/gen_protos.py"
    for name, data in fresh.items():
        assert committed[name] == data, f"{name} is stale: run python scripts/gen_protos.py"


def test_stubs_import_as_package():
    from genleak.v1 import attacker_pb2_grpc, controller_pb2, finetuner_pb2, generator_pb2

    assert controller_pb2.DESCRIPTOR.package == "genleak.v1"
    assert "StartExtraction" in attacker_pb2_grpc.AttackerServiceServicer.__dict__
    assert generator_pb2.StartGenerationRequest().HasField("params") is False
    assert finetuner_pb2.StartFineTuneRequest().HasField("params") is False
