"""Data-parallel runs: which share of the work this process does, and waiting for the others.

Launched with ``torchrun`` (or ``accelerate launch``, or under SLURM through either), every
process reads RANK / WORLD_SIZE / LOCAL_RANK from its environment. Work is shared by
generation batch (batch k goes to rank k mod world size), so a batch holds the same examples,
padded the same way, whatever the number of processes: a run on N GPUs writes the same
numbers as a run on one. Every rank writes its own examples' files into the same run
directory, which must be on a filesystem all ranks see; rank 0 writes the dataset summaries
and the manifest once every rank has finished.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Shard:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def owns_batch(self, index: int) -> bool:
        return index % self.world == self.rank


def shard_from_environment() -> Shard:
    """This process's share, from the launcher's environment (one process: rank 0 of 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Shard()
    return Shard(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def start(shard: Shard, device: str) -> None:
    """Join the process group (NCCL between GPUs, gloo on CPUs); nothing to do for one process."""
    if shard.world <= 1:
        return
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.startswith("cuda") else "gloo")


def wait_for_all(shard: Shard) -> None:
    if shard.world > 1:
        import torch.distributed as dist

        dist.barrier()


def finish(shard: Shard) -> None:
    if shard.world > 1:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
