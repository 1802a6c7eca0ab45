"""A worker that batches sessions (as it does on a GPU) trains, samples and answers for each."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import Client, start_server, stop_server


def test_sessions_train_as_one_cohort_and_each_keeps_its_own_controls(tmp_path: Path) -> None:
    # BATCH_SESSIONS=on forces the GPU's batched path on this CPU, with every session on one worker.
    srv = start_server(tmp_path, BATCH_SESSIONS="on", WORKERS="1", CHECKPOINT_S="1")
    try:
        created = [srv.create(corpus="grammar", config={"learning_rate": 0.01}) for _ in range(3)]
        owners = []
        for s in created:
            owner = Client(srv.url)
            owner.join(s["id"], s["owner_token"])
            owner.emit("train:config", {"config": {"temperature": 0.5}})
            owners.append(owner)
        for owner in owners:
            owner.emit("train:start")
        first = [o.wait("train:progress", lambda d: d["batched"] == 3, timeout=60) for o in owners]
        for owner, start in zip(owners, first, strict=True):
            later = owner.wait(
                "train:progress", lambda d, s=start: d["step"] > s["step"] + 20, timeout=60
            )
            assert later["batched"] == 3
            sample = owner.wait("train:sample", timeout=60)
            assert sample["temperature"] == 0.5 and len(sample["text"]) == 200
        # Each session still answers for its own weights while the cohort trains.
        owners[0].emit("predict:query", {"seq": 1, "text": "the ", "k": 3, "length": 10})
        result = owners[0].wait(
            "predict:result", lambda d: d["seq"] == 1 and d["continued"], timeout=30
        )
        assert len(result["top"]) == 3 and len(result["greedy"]) == 10

        # Pausing one session leaves the others training together; it keeps its own step count.
        owners[2].emit("train:pause")
        owners[2].wait("session:state", lambda d: d["status"] == "paused", timeout=30)
        pair = owners[0].wait("train:progress", lambda d: d["batched"] == 2, timeout=60)
        assert pair["step"] > 0
        owners[2].drain()
        owners[2].emit("train:step")  # a paused session steps alone, from its own weights
        alone = owners[2].wait("train:progress", lambda d: d["batched"] == 1 and d["train"])
        assert len(alone["train"]) == 1
        # A live setting changes one member only, and it goes on training with the others.
        owners[1].emit("train:config", {"config": {"learning_rate": 0.02}})
        owners[1].drain()
        again = owners[1].wait("train:progress", lambda d: d["train"], timeout=60)
        assert again["batched"] == 2
        for owner in owners:
            owner.close()
    finally:
        stop_server(srv)
