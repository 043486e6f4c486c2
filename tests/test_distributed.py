"""Data parallelism: 2 gloo processes with batch b compute what 1 process computes with batch 2b.

The processes are started as torchrun starts them (its environment variables, one process
group); dropout is off so that the two runs draw no different random numbers.
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp
from torch.utils.data import DataLoader

from test_training import write_tiny_dataset
from textmotion.distributed import RankBatches, World, per_rank_batch, process_group
from textmotion.errors import DataError
from textmotion.model_io import load_model
from textmotion.params import Train
from textmotion.retrieval import encode_motions, encode_texts
from textmotion.store import MotionStore
from textmotion.training import TrainingSession, train
from tiny import Killed, killed_after, minilm, tiny_model, tiny_train

WORLD_SIZE = 2
NO_DROPOUT = tiny_model(dropout=0.0)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory) -> Path:
    return write_tiny_dataset(tmp_path_factory.mktemp("data"))


def free_ports(n: int) -> list[int]:
    probes = [socket.socket() for _ in range(n)]
    for probe in probes:
        probe.bind(("127.0.0.1", 0))
    ports = [probe.getsockname()[1] for probe in probes]
    for probe in probes:
        probe.close()
    return ports


def one_step(params: Train, world: World = World()) -> dict:
    """The loss and parameter gradients of the first batch, and that batch's caption rows."""
    session = TrainingSession(NO_DROPOUT, minilm(), params, world=world)
    batch = next(iter(session.loader(0)))
    loss = session.gradients(batch)
    return {"loss": loss, "rows": batch["text"]["feature_rows"], "frames": batch["motions"][batch["mask"]],
            "grads": {name: p.grad.clone() for name, p in session.model.named_parameters() if p.grad is not None}}


def launch(rank: int, port: int) -> None:
    """The environment torchrun gives process `rank` (each process group on its own port: a
    rank may open the next group before another has closed the last)."""
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(WORLD_SIZE),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))


def worker(rank: int, ports: list[int], params: Train, out: Path) -> None:
    """One of the processes torchrun would start: one step, then a killed and resumed run."""
    launch(rank, ports[0])
    with process_group("cpu") as world:
        torch.save(one_step(params, world), out / f"step{rank}.pt")
    launch(rank, ports[1])
    with killed_after(epochs=1):
        try:
            train(NO_DROPOUT, minilm(), params)
        except Killed:
            pass
    assert len(list(Path(params.checkpoint_dir).glob("*/last.pt"))) == 1
    launch(rank, ports[2])
    torch.save({"resumed": train(NO_DROPOUT, minilm(), params)}, out / f"run{rank}.pt")


def test_two_processes_compute_the_single_process_step_and_run(tiny_data, tmp_path):
    single = tiny_train(tmp_path / "single", tiny_data)
    parallel = tiny_train(tmp_path / "parallel", tiny_data)
    mp.spawn(worker, args=(free_ports(3), parallel, tmp_path), nprocs=WORLD_SIZE)

    # one step: the ranks' rows are the global batch, and loss and gradients are the global ones
    expected = one_step(single)
    steps = [torch.load(tmp_path / f"step{rank}.pt") for rank in range(WORLD_SIZE)]
    assert torch.equal(torch.cat([s["rows"] for s in steps]), expected["rows"])
    assert torch.equal(torch.cat([s["frames"] for s in steps]), expected["frames"])
    for step in steps:
        torch.testing.assert_close(step["loss"], expected["loss"], rtol=0, atol=1e-6)
        assert step["grads"].keys() == expected["grads"].keys()
        for name, grad in expected["grads"].items():
            torch.testing.assert_close(step["grads"][name], grad, rtol=0, atol=1e-6, msg=name)

    # a whole run, killed after its first epoch and resumed: rank 0 wrote the model folder,
    # both ranks return its history, and the model computes the single-process model's
    # embeddings (weights are compared through them: Adam turns the rounding noise in the
    # zero gradient of the attention's key bias into steps of the size of the learning rate)
    history = train(NO_DROPOUT, minilm(), single)
    runs = [torch.load(tmp_path / f"run{rank}.pt") for rank in range(WORLD_SIZE)]
    assert runs[0] == runs[1] and len(runs[0]["resumed"]) == 2
    for got, want in zip(runs[0]["resumed"], history):
        assert got["val_R@1"] == want["val_R@1"]
        for key in ("train_loss", "val_loss", "val_score", "temperature", "lr"):
            assert got[key] == pytest.approx(want[key], abs=1e-5), key
    got, want = load_model(parallel.model_dir, "cpu"), load_model(single.model_dir, "cpu")
    store = MotionStore.open(tiny_data / "val")
    motions, texts = [store.motion(i) for i in range(len(store))], [c[0] for c in store.captions]
    np.testing.assert_allclose(encode_motions(got, motions), encode_motions(want, motions), rtol=0, atol=1e-5)
    np.testing.assert_allclose(encode_texts(got, texts), encode_texts(want, texts), rtol=0, atol=1e-5)
    assert not list(Path(parallel.checkpoint_dir).glob("*/last.pt"))


def test_one_process_keeps_the_shuffled_data_loader_order():
    order = torch.Generator().manual_seed(7)
    today = [b.tolist() for b in DataLoader(range(50), batch_size=8, shuffle=True, drop_last=True,
                                            generator=torch.Generator().manual_seed(7))]
    assert [b for b in DataLoader(range(50), batch_sampler=RankBatches(50, 8, World(), order),
                                  generator=order, collate_fn=list)] == today


def test_ranks_split_each_global_batch_in_rank_order():
    def batches(world: World) -> list[list[int]]:
        return list(RankBatches(50, 8, world, torch.Generator().manual_seed(3)))
    single, quarters = batches(World()), [batches(World(rank, 4, rank)) for rank in range(4)]
    assert len(single) == 6 and all(len(q) == 6 for q in quarters)
    assert [sum((q[i] for q in quarters), []) for i in range(6)] == single


def test_a_global_batch_that_does_not_split_evenly_is_refused():
    assert per_rank_batch(64, World(1, 4, 1)) == 16
    with pytest.raises(DataError, match="train.batch_size: the global batch of 64 clips does not split "
                                        "evenly over 3 processes"):
        per_rank_batch(64, World(0, 3, 0))
