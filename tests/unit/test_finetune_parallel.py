"""Data-parallel fine-tuning on CPUs: 2 torchrun processes on the gloo backend train what 1 process trains.

The tolerance: the two runs see the same micro-batches and differ only in where gradients are summed
(an all-reduce instead of one process's accumulation), so merged weights may differ by float32
rounding. Stated bound: 1e-6 absolute on every weight, while training moves weights by ~1e-3.
"""

from __future__ import annotations

import json
import shutil

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from test_finetune import build_tiny_model, make_records  # noqa: E402  (tests/unit is on sys.path)

from genleak.core.errors import Cancelled, InvalidSpec  # noqa: E402
from genleak.core.progress import Reporter  # noqa: E402
from genleak.finetuner import FineTuneSpec, finetune  # noqa: E402
from genleak.finetuner.loop import rank_share  # noqa: E402

pytestmark = pytest.mark.slow
WEIGHT_TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory):
    torch.manual_seed(0)
    return build_tiny_model(tmp_path_factory.mktemp("llama"), "llama")


def spec(method: str = "lora", **train) -> FineTuneSpec:
    # no dropout: each rank draws its own dropout masks, so only a dropout-free run is equal step for step
    config = {} if method == "full" else {"r": 8, "lora_dropout": 0.0}
    return FineTuneSpec(method=method, method_config=config, train={
        "epochs": 2, "learning_rate": 1e-3, "batch_size": 4, "max_length": 128, "num_threads": 1, **train})


def weights(result) -> dict[str, torch.Tensor]:
    return transformers.AutoModelForCausalLM.from_pretrained(result.final.merged_dir).state_dict()


def max_difference(a: dict, b: dict) -> float:
    return max((a[name] - b[name]).abs().max().item() for name in a)


@pytest.mark.parametrize("method, train, n_records", [
    ("lora", {"grad_accum": 3}, 40),  # whole micro-batches dealt to the ranks, an uneven last step
    ("full", {"grad_accum": 1}, 41),  # one micro-batch per step: its rows are shared; a 1-row last step
])
def test_two_gloo_processes_train_what_one_process_trains(method, train, n_records, llama_dir, tmp_path):
    steps = []
    single = finetune(llama_dir, make_records(n_records), spec(method, **train), tmp_path / "one", Reporter())
    parallel = finetune(llama_dir, make_records(n_records), spec(method, **train), tmp_path / "two",
                        Reporter(lambda *a: steps.append(a[1:3])), processes=2)
    base = transformers.AutoModelForCausalLM.from_pretrained(llama_dir).state_dict()
    assert max_difference(weights(single), base) > 1e-3  # training moved the weights
    assert max_difference(weights(single), weights(parallel)) < WEIGHT_TOLERANCE
    assert parallel.compute.processes == 2 and single.compute.processes == 1
    for one, two in zip(single.metrics.epochs, parallel.metrics.epochs):
        assert one.useful_tokens == two.useful_tokens and one.steps == two.steps
        assert one.step_losses == pytest.approx(two.step_losses, rel=1e-6)
    assert steps[-1] == (parallel.final.global_step, parallel.final.global_step)  # rank 0's progress arrived
    assert [c.epoch for c in parallel.checkpoints] == [1, 2]
    assert json.loads(parallel.metrics_path.read_text())["compute"]["processes"] == 2


def test_a_parallel_run_resumes_an_interrupted_single_process_run(llama_dir, tmp_path):
    """The checkpoints are the same format: 2 processes continue from the epoch 1 process finished."""
    reporter = Reporter()
    steps_per_epoch = -(-24 // 4)

    def stop_in_epoch_2(stage, done, total, message):
        if done > steps_per_epoch:
            reporter.cancel()

    with pytest.raises(Cancelled):
        finetune(llama_dir, make_records(24), spec(), tmp_path / "run",
                 Reporter(stop_in_epoch_2, cancel_event=reporter._cancel))
    assert [p.name for p in (tmp_path / "run").glob("epoch-*")] == ["epoch-1"]
    resumed = finetune(llama_dir, make_records(24), spec(), tmp_path / "run", Reporter(), processes=2)
    straight = finetune(llama_dir, make_records(24), spec(), tmp_path / "straight", Reporter())
    assert [e.resumed for e in resumed.metrics.epochs] == [True, False]
    assert max_difference(weights(resumed), weights(straight)) < WEIGHT_TOLERANCE


def test_fsdp_shards_a_full_fine_tune_and_trains_what_one_process_trains(llama_dir, tmp_path):
    single = finetune(llama_dir, make_records(41), spec("full", grad_accum=2), tmp_path / "one", Reporter())
    sharded = finetune(llama_dir, make_records(41), spec("full", grad_accum=2, sharding="fsdp"), tmp_path / "fsdp",
                       Reporter(), processes=2)
    assert max_difference(weights(single), weights(sharded)) < WEIGHT_TOLERANCE
    assert sharded.compute.processes == 2
    for one, two in zip(single.metrics.epochs, sharded.metrics.epochs):
        assert one.step_losses == pytest.approx(two.step_losses, rel=1e-6)


def test_a_sharded_run_resumes_from_its_gathered_train_state(llama_dir, tmp_path):
    """Epoch 2 retrained from epoch 1's gathered state (loaded back into the shards) ends where it ended."""
    fsdp = spec("full", sharding="fsdp")
    first = finetune(llama_dir, make_records(24), fsdp, tmp_path / "run", Reporter(), processes=2)
    finished = weights(first)
    shutil.rmtree(first.final.path)  # as if the run had died during epoch 2
    resumed = finetune(llama_dir, make_records(24), fsdp, tmp_path / "run", Reporter(), processes=2)
    assert [e.resumed for e in resumed.metrics.epochs] == [True, False]
    assert max_difference(finished, weights(resumed)) < WEIGHT_TOLERANCE


def test_a_rank_error_is_the_error_a_single_process_raises(llama_dir, tmp_path):
    bad = FineTuneSpec(**{**spec(epochs=1).model_dump(), "data": {"format": "prompt_continuation"}})
    with pytest.raises(InvalidSpec) as err:
        finetune(llama_dir, [{"text": "no prompt"}] * 8, bad, tmp_path / "bad", Reporter(), processes=2)
    assert err.value.field == "records[0].prompt"


def test_cancelling_stops_every_rank_and_keeps_only_complete_epochs(llama_dir, tmp_path):
    psutil = pytest.importorskip("psutil")
    reporter = Reporter()
    epochs = 20

    def cancel_at_first_step(stage, done, total, message):
        reporter.cancel()

    with pytest.raises(Cancelled):
        finetune(llama_dir, make_records(40), spec(epochs=epochs), tmp_path / "out",
                 Reporter(cancel_at_first_step, cancel_event=reporter._cancel), processes=2)
    written = list((tmp_path / "out").glob("epoch-*"))
    assert len(written) < epochs and all((p / "checkpoint.json").is_file() for p in written)
    ranks = [p for p in psutil.Process().children(recursive=True) if "genleak.finetuner.worker" in " ".join(p.cmdline())]
    assert not ranks


@pytest.mark.parametrize("group, world, expected", [
    ([[0, 1], [2, 3], [4]], 2, [[[0, 1], [4]], [[2, 3]]]),
    ([[0, 1, 2]], 2, [[[0, 2]], [[1]]]),
    ([[0]], 2, [[[0]], []]),
    ([[0, 1]], 1, [[[0, 1]]]),
])
def test_each_step_is_shared_out_without_loss_or_duplication(group, world, expected):
    assert [rank_share(group, rank, world) for rank in range(world)] == expected
