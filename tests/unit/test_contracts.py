"""Job contracts: one definition per job setting and result, carried as Structs on the wire."""

from __future__ import annotations

import pytest

from genleak.contracts.finetune import FineTuneJobResult, FineTuneParams, TrainConfig
from genleak.controller.spec import load_spec_text
from genleak.core.errors import InvalidSpec
from genleak.rpc.convert import dict_to_struct, params_from_struct, params_to_struct, result_from_job
from genleak.v1 import common_pb2


def test_params_survive_the_struct_round_trip_with_their_types():
    params = FineTuneParams(method="dora", method_config={"r": 8}, train=TrainConfig(epochs=3, seed=2**40))
    back = params_from_struct(FineTuneParams, params_to_struct(params))
    assert back == params and isinstance(back.train.epochs, int)
    assert back.spec_hash() == params.spec_hash()


def test_bad_params_name_the_field_under_params():
    struct = dict_to_struct({"train": {"epochs": 0}})
    with pytest.raises(InvalidSpec) as err:
        params_from_struct(FineTuneParams, struct)
    assert err.value.field == "params.train.epochs"
    with pytest.raises(InvalidSpec) as err:
        params_from_struct(FineTuneParams, dict_to_struct({"trian": {}}))
    assert err.value.field == "params.trian"


def test_results_arrive_typed():
    epoch = {"epoch": 1, "steps": 2, "mean_loss": 1.5, "step_losses": [1.6, 1.4], "useful_tokens": 10,
             "padded_tokens": 12, "train_s": 0.1, "resumed": False, "tokens_per_s": 100.0}
    summary = {"epochs_trained": 1, "epochs_resumed": 0, "final_loss": 1.5, "useful_tokens": 10, "padded_tokens": 12,
               "useful_fraction": 0.83, "pad_to_max_tokens": 20, "useful_fraction_if_pad_to_max": 0.5,
               "useful_tokens_per_s": 100.0, "padded_tokens_per_s": 120.0, "train_s": 0.1, "wall_s": 0.2}
    job = common_pb2.Job(result=dict_to_struct({"summary": summary, "epochs": [epoch], "n_examples": 5,
                                                "n_truncated": 0, "max_length": 64}))
    result = result_from_job(FineTuneJobResult, job)
    assert result.n_examples == 5 and type(result.n_examples) is int and result.epochs[0].steps == 2


def test_the_controller_composes_the_training_contract():
    """Every training knob of the job is a knob of the experiment spec, with the job's default."""
    spec = load_spec_text("finetune: {warmup_ratio: 0.1, learning_rate: [1.0e-4, 1.0e-3]}")
    params = spec.finetune.params(spec.finetune.settings()[1], "prompt_continuation")
    assert params.train.warmup_ratio == 0.1 and params.train.learning_rate == 1e-3
    assert params.train.model_dump(exclude={"warmup_ratio", "learning_rate"}) == \
        TrainConfig().model_dump(exclude={"warmup_ratio", "learning_rate"})
    with pytest.raises(InvalidSpec, match="save_merged"):
        load_spec_text("finetune: {save_merged: false}")


def test_schema_command_prints_a_jobs_params_and_result(capsys):
    import json

    from genleak.cli import _parser

    def schema(*argv: str) -> int:  # the command itself, without main()'s logging set-up
        args = _parser().parse_args(["schema", *argv])
        return args.func(args)

    assert schema("extraction") == 0
    params = json.loads(capsys.readouterr().out)
    assert {"engine", "attack", "perplexity_samples", "perplexity_fields"} <= set(params["properties"])
    assert params["additionalProperties"] is False  # unknown keys are refused, as the service refuses them
    assert schema("membership", "--result") == 0
    assert "attacks" in json.loads(capsys.readouterr().out)["properties"]


def test_every_job_contract_imports_without_torch():
    import subprocess
    import sys

    code = ("import sys, genleak.contracts.catalog, genleak.rpc.convert; "
            "sys.exit(1 if {'torch', 'transformers', 'vllm'} & set(sys.modules) else 0)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
