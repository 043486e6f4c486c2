"""Data-parallel training on torchrun: the process group, each rank's batches, the global batch.

`python src/train.py` and `torchrun --nproc_per_node N src/train.py` run the same code: the
process group exists only when torchrun's variables are set (NCCL on CUDA, gloo on the CPU),
and a world of one process gathers nothing.

Equivalence: N processes with batch b compute what one process computes with batch N·b.
The global batch is the single-process batch, split in rank order (`RankBatches`). Every
rank gathers all embeddings (`gather_batch`) and computes the loss of the whole global batch;
the gather's backward sums each rank's gradient for a row back to the rank that owns it, so
rank r's parameters receive N·∂L/∂θ over its own rows, and DDP's average over ranks gives
∂L/∂θ, exactly the single-process gradient. The temperature's gradient does not pass the
gather: each rank already holds the full ∂L/∂T, and the average keeps it. Dropout masks are
the only difference: each process draws them for its own rows.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator, TypeVar

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.nn.functional import all_gather
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Sampler

from textmotion.errors import DataError

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
T = TypeVar("T")


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (one process: rank 0 of 1)."""
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes outputs (metrics, checkpoints, the model folder) and logs."""
        return self.rank == 0


def _torchrun_world() -> World | None:
    """The world torchrun describes in the environment; None when torchrun did not start us."""
    if not all(name in os.environ for name in TORCHRUN_VARIABLES):
        return None
    return World(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"]))


@contextmanager
def process_group(device_type: str) -> Iterator[World]:
    """This process's world, its process group open while inside (NCCL on CUDA, else gloo);
    a process started without torchrun is a world of one, with no process group."""
    world = _torchrun_world()
    if world is None:
        yield World()
        return
    if device_type == "cuda":
        torch.cuda.set_device(world.local_rank)
    dist.init_process_group("nccl" if device_type == "cuda" else "gloo", rank=world.rank,
                            world_size=world.size)
    try:
        yield world
    finally:
        dist.destroy_process_group()


def data_parallel(module: nn.Module, world: World) -> nn.Module:
    """`module` whose parameter gradients are averaged over the ranks in backward (DDP), or
    `module` itself in a world of one. Frozen parameters are left out; `static_graph` copes
    with trainable ones a step never uses (e.g. a fine-tuned MiniLM's pooler)."""
    if world.size == 1:
        return module
    device = next(module.parameters()).device
    return DistributedDataParallel(module, device_ids=[device.index] if device.type == "cuda" else None,
                                   forward_sync_buffers=False, static_graph=True)


def from_main(value: T, world: World) -> T:
    """Rank 0's `value` on every rank; the other ranks wait for rank 0 to get here."""
    if world.size == 1:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def per_rank_batch(global_batch: int, world: World) -> int:
    """The rows of each global batch one process trains on; DataError unless they divide evenly."""
    if global_batch % world.size:
        raise DataError("params.yaml", f"train.batch_size: the global batch of {global_batch} clips does not "
                                       f"split evenly over {world.size} processes (torchrun --nproc_per_node)")
    return global_batch // world.size


class RankBatches(Sampler[list[int]]):
    """This rank's rows of each global batch of one epoch.

    The epoch's order is `torch.randperm(n, generator=order)`, cut into full global batches
    (a last partial one is dropped). Rank r takes rows [r·b, (r+1)·b) of each, so the ranks'
    rows in rank order are the global batch. Pass the same `order` generator to the
    DataLoader: it draws its workers' base seed from it first, and the permutation that
    follows is then exactly what `DataLoader(shuffle=True, drop_last=True, generator=order)`
    gives one process.
    """

    def __init__(self, n_items: int, global_batch: int, world: World, order: torch.Generator):
        self.n_items, self.global_batch, self.world, self.order = n_items, global_batch, world, order
        self.rank_batch = per_rank_batch(global_batch, world)

    def __len__(self) -> int:
        return self.n_items // self.global_batch

    def __iter__(self) -> Iterator[list[int]]:
        permutation = torch.randperm(self.n_items, generator=self.order).tolist()
        first = self.world.rank * self.rank_batch
        for start in range(0, len(self) * self.global_batch, self.global_batch):
            yield permutation[start + first:start + first + self.rank_batch]


def gather_batch(rows: torch.Tensor, world: World) -> torch.Tensor:
    """Every rank's `rows`, concatenated in rank order; the gradient of each part flows back
    (summed over the ranks) to the rank that owns it."""
    if world.size == 1:
        return rows
    return torch.cat(all_gather(rows))
