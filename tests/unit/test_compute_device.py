"""genleak.compute.device: where compute runs (accelerate's choice or an override) and the job's record of it."""

from __future__ import annotations

import mmap

import pytest
import torch

from genleak.compute.device import (
    ENGINE_DEVICE_KEY, ComputeMeter, compute_versions, device_record, peak_memory, pick_device, precision_name,
    reset_peak_memory,
)
from genleak.contracts.compute import ComputeRecord
from genleak.core.errors import InvalidSpec
from genleak.core.platform_info import cpu_info

needs_no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the CPU fallback")


@needs_no_gpu
def test_without_a_gpu_compute_runs_on_the_cpu():
    assert pick_device() == torch.device("cpu")


def test_an_explicit_device_wins_and_a_missing_gpu_is_a_spec_error():
    assert pick_device("cpu") == torch.device("cpu")
    assert pick_device(torch.device("cpu")) == torch.device("cpu")
    with pytest.raises(InvalidSpec) as err:
        pick_device(f"cuda:{torch.cuda.device_count()}")
    assert err.value.field == "device"


def test_the_cpu_record_names_the_cpu_model_and_the_machine_memory():
    record = device_record("cpu")
    assert record["device_type"] == "cpu" and record["device_name"] == cpu_info()["model"]
    assert record["device_count"] == 1 and record["total_memory_bytes"] > 2**28


def test_peak_memory_is_the_process_peak_rss_and_a_reset_starts_over():
    reset_peak_memory("cpu")
    before = peak_memory("cpu")
    # fresh anonymous pages, every one touched: an allocator may hand out memory the process already holds
    # (after a long test session it often does), a new mapping cannot
    ballast = mmap.mmap(-1, 64 * 2**20)
    ballast.write(b"\1" * (64 * 2**20))
    grown = peak_memory("cpu")
    assert before > 0 and grown >= before + 32 * 2**20
    ballast.close()
    reset_peak_memory("cpu")  # the peak drops back to what the process holds now (Linux)
    assert peak_memory("cpu") <= grown


def test_versions_name_the_libraries_that_compute():
    versions = compute_versions()
    assert {"torch", "transformers", "peft", "accelerate"} <= set(versions)
    assert versions["torch"] == torch.__version__


def test_a_meter_records_the_job_on_its_device():
    with ComputeMeter(pick_device("cpu")) as meter:
        ballast = torch.ones(16 * 2**20 // 4)
        record = meter.record(precision_name(ballast.dtype), tokens_per_second=1234.56)
    assert isinstance(record, ComputeRecord)
    assert record.device_type == "cpu" and record.device_name and record.device_count == 1
    assert record.precision == "float32" and record.tokens_per_second == 1234.6
    assert record.peak_memory_bytes > 16 * 2**20 and "transformers" in record.versions
    assert meter.record(None).peak_memory_bytes == meter.peak()  # after the block: the block's peak
    assert ComputeRecord.model_validate(record.model_dump(mode="json")) == record  # JSON and back


def test_an_engine_in_another_process_gets_no_peak_of_this_one():
    with ComputeMeter("cpu") as meter:
        pass
    in_process = meter.engine_record({"engine": "hf", "dtype": "float32", "device": "cpu",
                                      ENGINE_DEVICE_KEY: device_record("cpu")}, tokens_per_second=10.0)
    assert in_process.peak_memory_bytes is not None and in_process.tokens_per_second == 10.0
    elsewhere = meter.engine_record({"engine": "vllm", "dtype": "bfloat16", "device": "cpu"})
    assert elsewhere.peak_memory_bytes is None and elsewhere.precision == "bfloat16"
    assert elsewhere.device_type == "cpu" and elsewhere.device_name == cpu_info()["model"]
    on_a_gpu = meter.engine_record({"engine": "vllm", "dtype": "auto", "device": "cuda"})
    assert on_a_gpu.device_type == "cuda" and on_a_gpu.device_name is None  # this process never touched the GPU


def test_side_by_side_jobs_do_not_reset_each_others_peak():
    with ComputeMeter("cpu") as first:
        ballast = torch.ones(64 * 2**20 // 4)
        high = first.peak()
        del ballast
        with ComputeMeter("cpu"):  # a second job starting now must not lower the first one's peak
            pass
        # a reset would drop it by the 64 MiB freed; the kernel's RSS counters are per-CPU and may lag by a
        # few hundred KiB, so allow 4 MiB of counter noise
        assert first.peak() >= high - 4 * 2**20


def test_weights_load_straight_onto_a_gpu_and_on_the_host_for_the_cpu():
    from genleak.compute.device import load_placement

    assert load_placement("cuda:1") == {"device_map": {"": "cuda:1"}}  # transformers places each tensor there
    assert load_placement("cpu") == {}  # the CPU path loads exactly as before
