"""Safe loading (issue 8): pickle checkpoints are refused and never unpickled, model code shipped in a
checkpoint folder never runs unless `trust_remote_code` is set; proven with payloads that would leave a
marker file if they ever executed, over real gRPC and through every loader."""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from genleak.app import build_service
from genleak.core.errors import UnsafeArtifact
from genleak.core.models import check_model_dir, resolve_model_dir
from genleak.core.progress import NULL_REPORTER
from genleak.core.settings import Settings, StoreSettings
from genleak.core.specs import ModelSpec
from genleak.core.store import ArtifactStore
from genleak.engines.base import EngineConfig
from genleak.engines.probe_model import build_tiny_model
from genleak.rpc.channels import open_channel
from genleak.rpc.server import start_server
from genleak.v1 import attacker_pb2, attacker_pb2_grpc, common_pb2


class _Payload:
    """Unpickling this runs `exec(code)`: the classic malicious-checkpoint gadget."""

    def __init__(self, marker: Path):
        self.code = f"open({str(marker)!r}, 'w').write('pwned')"

    def __reduce__(self):
        return (exec, (self.code,))


def _evil_pickle(path: Path, marker: Path) -> Path:
    path.write_bytes(pickle.dumps({"state_dict": _Payload(marker)}))
    return path


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("safe")
    marker = root / "PWNED"
    tiny = build_tiny_model(root / "tiny", arch="gpt_neox")

    # 1. the payload is live: unpickling it in a separate process writes the marker
    probe = _evil_pickle(root / "probe.bin", root / "probe-marker")
    subprocess.run([sys.executable, "-c", f"import pickle; pickle.load(open({str(probe)!r}, 'rb'))"], check=True)
    assert (root / "probe-marker").read_text() == "pwned"

    # 2. pickle-only checkpoint: config + malicious pytorch_model.bin / .pt, no safetensors
    pickle_only = root / "pickle_only"
    pickle_only.mkdir()
    shutil.copy(tiny / "config.json", pickle_only / "config.json")
    for name in ("pytorch_model.bin", "model.pt", "model.ckpt"):
        _evil_pickle(pickle_only / name, marker)

    # 3. mixed: a good safetensors model with malicious pickles beside it (they must be ignored)
    mixed = root / "mixed"
    shutil.copytree(tiny, mixed)
    for name in ("pytorch_model.bin", "training_args.bin", "optimizer.pt"):
        _evil_pickle(mixed / name, marker)

    # 4. remote code: config.json names a custom class whose module writes the marker on import
    custom = root / "custom_code"
    shutil.copytree(tiny, custom)
    config = json.loads((custom / "config.json").read_text())
    config.update(model_type="evil_custom", auto_map={"AutoConfig": "evil.EvilConfig",
                                                      "AutoModelForCausalLM": "evil.EvilModel"})
    (custom / "config.json").write_text(json.dumps(config))
    (custom / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('pwned')\n")

    settings = Settings(store=StoreSettings(root=f"file://{root}/store", cache_dir=root / "cache"))
    store = ArtifactStore(settings.store)
    published = store.publish(pickle_only, store.uri_for("models", "pickle_only"), kind="model")
    server = start_server([build_service("attacker", settings, store)])
    stub = attacker_pb2_grpc.AttackerServiceStub(open_channel(server.address))
    yield {"root": root, "marker": marker, "tiny": tiny, "pickle_only": pickle_only, "mixed": mixed,
           "custom": custom, "store": store, "published": published, "stub": stub}
    server.stop(grace=0.5)
    assert not marker.exists(), "a malicious payload ran during the module"


def _score(world, uri: str, trust: bool = False):
    return world["stub"].ScoreTexts(attacker_pb2.ScoreTextsRequest(
        model=common_pb2.ModelRef(uri=uri, trust_remote_code=trust), texts=["Hello there", "From: Jane"]),
        timeout=120)


def test_defaults_never_trust_remote_code():
    assert ModelSpec(uri="/m").trust_remote_code is False
    assert EngineConfig().trust_remote_code is False
    from genleak.finetuner.spec import FineTuneSpec

    assert FineTuneSpec.model_fields["trust_remote_code"].default is False


@pytest.mark.parametrize("which", ["pickle_only", "published"])
def test_pickle_only_checkpoint_is_refused_over_grpc_and_never_unpickled(world, which, robustness_tally):
    uri = world["published"].uri if which == "published" else str(world["pickle_only"])
    with pytest.raises(grpc.RpcError) as err:
        _score(world, uri)
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "pickle" in err.value.details() and "safetensors" in err.value.details()
    assert err.value.details().startswith("model.uri: ")
    assert not world["marker"].exists()
    robustness_tally.count("safe loading: malicious checkpoints", "refused, not executed")


def test_pickle_only_checkpoint_is_refused_by_every_loader(world, robustness_tally):
    from genleak.engines.hf import HFEngine
    from genleak.finetuner.train import finetune

    folder = world["pickle_only"]
    loaders = [lambda: check_model_dir(folder), lambda: resolve_model_dir(world["store"], str(folder)),
               lambda: HFEngine(folder, EngineConfig()),
               lambda: finetune(folder, [{"text": "x"}], {}, world["root"] / "ft", NULL_REPORTER)]
    for load in loaders:
        with pytest.raises(UnsafeArtifact, match="pickle"):
            load()
        robustness_tally.count("safe loading: malicious checkpoints", "refused, not executed")
    assert not world["marker"].exists()


def test_pickles_beside_safetensors_are_never_loaded(world, robustness_tally):
    """Every loader reads the safetensors weights; the pickles next to them are never opened."""
    from genleak.engines.hf import HFEngine
    from genleak.finetuner.loading import load_base_model

    scores = _score(world, str(world["mixed"]))
    assert len(scores.texts) == 2 and all(t.n_tokens > 0 for t in scores.texts)
    engine = HFEngine(world["mixed"], EngineConfig())
    engine.close()
    load_base_model(world["mixed"], "float32", trust_remote_code=False)
    assert not world["marker"].exists()
    robustness_tally.count("safe loading: malicious checkpoints", "ignored beside safetensors, not executed", 3)


def test_shipped_model_code_does_not_run_without_trust_remote_code(world, robustness_tally):
    with pytest.raises(grpc.RpcError) as err:
        _score(world, str(world["custom"]))
    assert err.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "trust_remote_code" in err.value.details() and "auto_map" in err.value.details()
    with pytest.raises(UnsafeArtifact, match="trust_remote_code"):
        resolve_model_dir(world["store"], str(world["custom"]), trust_remote_code=False)
    assert resolve_model_dir(world["store"], str(world["custom"]), trust_remote_code=True) == world["custom"]
    assert not world["marker"].exists()
    robustness_tally.count("safe loading: malicious checkpoints", "refused, not executed")
