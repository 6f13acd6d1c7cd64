"""What a job's math ran on: the `compute` record every job result may carry.

A privacy audit's numbers depend on where they were computed (a GPU's kernels, the dtype, the
library versions), and its cost decides whether an audit of a larger model fits a machine. So
each job reports the device, the precision and the peak memory it used, next to its results.
Filled by the services (`genleak.compute.device` measures it); plain data, no torch.
"""

from __future__ import annotations

from pydantic import Field

from genleak.core.specs import Spec


class ComputeRecord(Spec):
    """Where a job computed, in what precision, and what it cost."""

    device_type: str = Field(description="torch device type the model ran on: cpu, cuda, mps, ...")
    device_name: str | None = Field(None, description="The GPU's name or the CPU's model; None where the model ran "
                                                      "in another process that the job does not inspect (vLLM "
                                                      "on a GPU)")
    device_count: int | None = Field(None, description="Devices of this type visible to the process (1 for the "
                                                       "CPU, which torch treats as one device)")
    processes: int = Field(1, ge=1, description="Processes that computed the job together: the data-parallel ranks "
                                                "of a fine-tune (one GPU each on GPUs); 1 otherwise")
    total_memory_bytes: int | None = Field(None, description="Memory of one such device (the machine's RAM for the "
                                                             "CPU)")
    precision: str | None = Field(None, description="The dtype the model's math ran in (float32, bfloat16); None "
                                                    "where no model ran")
    peak_memory_bytes: int | None = Field(None, description="Peak memory during the job: torch's peak allocation "
                                                            "on a GPU, the process's peak RSS on the CPU; None "
                                                            "where the model ran in another process (vLLM)")
    tokens_per_second: float | None = Field(None, description="Tokens the job counts (trained, generated or "
                                                              "scored) per second of that work; None where the "
                                                              "job counts none")
    versions: dict[str, str] = Field(default_factory=dict, description="Installed versions of the libraries "
                                                                       "that compute (torch, transformers, peft, "
                                                                       "accelerate, vLLM)")
