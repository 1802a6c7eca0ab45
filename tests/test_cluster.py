"""Cluster mode for real: two gunicorn web processes, Redis, PostgreSQL and a two-node Ray cluster.

Every service is started here (tests/services.py); the module takes a few minutes, most of
it starting them, so its tests share one cluster and run in the order a class would meet
the faults: the flows first, then a web process killed, then a trainer node killed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests import services
from tests.conftest import Client, Server, kill_server, start_server, stop_server

pytestmark = pytest.mark.cluster

CHECKPOINT_S = 1.0
MAX_RUNNING = 3  # the cluster's training slots, over both web processes
TINY = {"hidden_size": 8, "seq_len": 8, "batch_size": 8, "learning_rate": 0.01}


@dataclass
class Cluster:
    redis: services.Redis
    postgres: services.Postgres
    ray: services.RayCluster
    data: Path  # the checkpoint directory every node reads
    env: dict[str, str]
    web: list[Server]

    def start_web(self) -> Server:
        return start_server(self.data, **self.env)

    def placement(self, session: str) -> str:
        """The name of the trainer actor holding `session` (`trainer-<node name>-…`)."""
        import redis

        name = redis.Redis.from_url(self.redis.url).hget("playground:placement", session)
        assert name is not None, "the session was never placed on a trainer"
        return name.decode()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    folder = tmp_path_factory.mktemp("cluster")
    started = time.monotonic()
    stack = contextlib.ExitStack()
    with stack:
        redis = services.start_redis(folder)
        stack.callback(redis.stop)
        postgres = services.start_postgres(folder / "postgres.log")
        stack.callback(postgres.stop)
        ray = services.start_ray(folder)
        stack.callback(ray.stop)
        data = folder / "shared"
        data.mkdir()
        env = {
            "RAY_ADDRESS": ray.address,
            "MESSAGE_QUEUE": redis.url,
            "DATABASE_URL": postgres.url,
            "CHECKPOINT_S": str(CHECKPOINT_S),
            "MAX_RUNNING": str(MAX_RUNNING),
        }
        found = Cluster(redis, postgres, ray, data, env, [])
        stack.callback(lambda: [stop_server(web) for web in found.web])
        for _ in range(2):
            found.web.append(found.start_web())
        print(f"\ncluster services and two web processes up in {time.monotonic() - started:.0f}s")
        yield found
        # Every test pauses or deletes what it started: each slot and place must be given back.
        services.wait_until(
            lambda: not taken_slots(found), "every training slot given back", timeout=60
        )


def stored_in_postgres(cluster: Cluster, session: str) -> dict:
    """The session's run state as PostgreSQL holds it."""
    import json

    import psycopg

    url = cluster.postgres.url.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT state FROM sessions WHERE id = %s", (session,)).fetchone()
    assert row is not None, "the session is not in PostgreSQL"
    return json.loads(row[0])


def create(web: Server) -> dict:
    response = requests.post(f"{web.url}/api/sessions", json={"config": TINY}, timeout=30)
    response.raise_for_status()
    return response.json()


def test_a_partial_cluster_configuration_is_refused_naming_what_is_missing() -> None:
    from backend import cluster

    assert not cluster.clustered({}) and not cluster.clustered({"DATABASE_URL": "sqlite://"})
    with pytest.raises(ValueError, match="PLAYGROUND_DATABASE_URL"):
        cluster.clustered({"RAY_ADDRESS": "head:6379", "MESSAGE_QUEUE": "redis://r"})
    with pytest.raises(ValueError, match="PLAYGROUND_RAY_ADDRESS"):
        cluster.clustered({"MESSAGE_QUEUE": "redis://r"})


class Boom:
    """A pickle that makes a folder when unpickled: what a hostile Redis client could send."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple:
        import os

        return (os.mkdir, (str(self.path),))


def test_a_web_process_takes_only_encoded_messages_off_redis(tmp_path: Path) -> None:
    """Events for its builds come through as its own copy's build; anything else is dropped."""
    import json
    import pickle

    from backend.engine.messages import Opened, Progress, Start, encode
    from backend.engine.ray_pool import CHANGES, EVENTS, RayEngine

    got: list = []
    changed: list = []
    engine = RayEngine(
        got.append,
        address="unused",
        redis_url="redis://127.0.0.1:1/0",  # never connected to: nothing here needs Redis
        on_changed=lambda session, run: changed.append((session, run)),
    )
    engine.local_gen["s"], engine.global_gen["s"] = 2, 40
    progress = {"step": 9, "items_seen": 72, "items_per_sec": 1.0, "batched": 1}
    progress |= {"train": [[9, 3.1]], "grad": [[9, 0.5, 0]], "val": []}
    events, changes = EVENTS.encode(), CHANGES.encode()
    engine._receive(events, pickle.dumps(Boom(tmp_path / "unpickled")))
    engine._receive(events, b'{"type": "Progress", "fields": {"session": "s"}}')
    engine._receive(events, encode(Start("s")).encode())  # a command is no event
    engine._receive(events, encode(Progress(session="t", gen=40, **progress)).encode())
    engine._receive(events, encode(Progress(session="s", gen=39, **progress)).encode())
    assert got == [] and not (tmp_path / "unpickled").exists()

    engine._receive(events, encode(Progress(session="s", gen=40, **progress)).encode())
    opened = {"params": 10, "input_size": 3, "output_size": 3, "describe": {}}
    opened |= {"step": 0, "items_seen": 0, "resumed": False}
    engine._receive(events, encode(Opened(session="s", gen=41, **opened)).encode())  # elsewhere
    assert got == [Progress(session="s", gen=2, **progress), Opened(session="s", gen=2, **opened)]
    assert engine.global_gen["s"] == 41

    run = {"status": "paused", "pause_reason": "user"}
    engine._receive(changes, json.dumps({"session": "s", "origin": "web-b", "run": run}))
    engine._receive(changes, json.dumps({"session": "s", "origin": engine.origin, "run": None}))
    engine._receive(changes, pickle.dumps(Boom(tmp_path / "unpickled")))
    assert changed == [("s", run)] and not (tmp_path / "unpickled").exists()


def test_an_answer_json_cannot_carry_reaches_its_client_as_a_refusal() -> None:
    from backend.engine.messages import Answered, Rejected, decode
    from backend.engine.ray_pool import RedisEvents

    odd = Answered("s", 3, "c", "inspect", 7, {"gates": {1.0, 2.0}})
    refused = decode(RedisEvents.encoded(odd))
    assert isinstance(refused, Rejected) and refused.error["code"] == "internal"
    assert (refused.session, refused.gen, refused.client, refused.seq) == ("s", 3, "c", 7)


def test_a_gpu_node_gets_a_batching_trainer_per_gpu_and_a_cpu_node_one_per_core() -> None:
    """How trainers are laid out and what they train on, without a GPU to run them."""
    from backend.engine.ray_pool import node_trainers, trainer_device

    gpu = {"NodeName": "gpu1", "NodeID": "ab" * 28, "Resources": {"CPU": 32.0, "GPU": 2.0}}
    cpu = {"NodeName": "cpu1", "NodeID": "cd" * 28, "Resources": {"CPU": 3.0}}
    assert [r for _, r in node_trainers(gpu)] == [{"num_cpus": 0, "num_gpus": 1}] * 2
    assert [r for _, r in node_trainers(cpu)] == [{"num_cpus": 1, "num_gpus": 0}] * 3
    assert [n for n, _ in node_trainers(cpu)][-1] == "trainer-cpu1-cdcdcdcdcdcd-2"
    assert trainer_device("auto", "auto", cuda=True) == ("cuda", True)  # the cohort path
    assert trainer_device("auto", "auto", cuda=False) == ("cpu", False)
    assert trainer_device("auto", "off", cuda=True) == ("cuda", False)
    assert trainer_device("cpu", "on", cuda=True) == ("cpu", True)


def test_the_slot_scripts_hold_the_cap_and_keep_the_queue_in_order(tmp_path: Path) -> None:
    """Claims and promotions in Redis itself: never more running than the cap, first come
    first served, a second claim of a queued session keeps its place."""
    import redis

    from backend.cluster import CLAIM, HALT, PROMOTE, QUEUE, agrees
    from backend.engine.ray_pool import RUNNING

    server = services.start_redis(tmp_path)
    try:
        r = redis.Redis.from_url(server.url)
        keys = (2, RUNNING, QUEUE)
        places = [r.eval(CLAIM, *keys, s, 2) for s in ("s1", "s2", "s3", "s4", "s3", "s1")]
        assert places == [0, 0, 1, 2, 1, 0]
        assert r.smembers(RUNNING) == {b"s1", b"s2"} and r.lrange(QUEUE, 0, -1) == [b"s3", b"s4"]
        assert r.eval(PROMOTE, 2, RUNNING, QUEUE, 2) == []  # no slot free
        r.srem(RUNNING, "s1")
        assert r.eval(PROMOTE, 2, RUNNING, QUEUE, 2) == [b"s3"]
        assert r.eval(CLAIM, *keys, "s4", 2) == 1  # now first in line
        assert r.eval(PROMOTE, 2, RUNNING, QUEUE, 4) == [b"s4"]  # a larger cap: all in
        assert r.smembers(RUNNING) == {b"s2", b"s3", b"s4"} and not r.exists(QUEUE)
        # A pause gives its slot or place back once, however often it is sent.
        assert r.eval(CLAIM, *keys, "s5", 3) == 1 and r.eval(CLAIM, *keys, "s6", 3) == 2
        halts = [r.eval(HALT, *keys, s) for s in ("s3", "s3", "s5", "s5", "never")]
        assert halts == [2, 0, 1, 0, 0]
        assert r.smembers(RUNNING) == {b"s2", b"s4"} and r.lrange(QUEUE, 0, -1) == [b"s6"]
        assert agrees("running", "running") and agrees("paused", "") and agrees("idle", "")
        assert not agrees("running", "") and not agrees("paused", "running")
        assert not agrees("queued", "running") and agrees("queued", "queued")
    finally:
        server.stop()


def test_a_session_made_on_one_web_process_is_watched_and_paused_through_another(
    cluster: Cluster,
) -> None:
    a, b = cluster.web
    links = create(a)
    owner, viewer = Client(a.url), Client(b.url)
    try:
        owner.join(links["id"], links["owner_token"])
        assert viewer.join(links["id"], links["view_token"])["role"] == "viewer"
        owner.wait("session:viewers", lambda d: d["viewers"] == 2)  # counted over both processes
        owner.emit("train:start")
        progress = viewer.wait("train:progress", lambda d: d["step"] >= 5, timeout=60)
        assert progress["train"], "the viewer on B sees the loss curve"
        assert cluster.placement(links["id"]).startswith("trainer-")

        viewer.emit("predict:query", {"seq": 1, "text": "the "})
        result = viewer.wait("predict:result", timeout=30)
        assert result["seq"] == 1 and len(result["top"]) > 1
        viewer.emit("inspect:query", {"seq": 2, "text": "the cat", "saliency": False})
        looked = viewer.wait("inspect:result", timeout=30)  # packed bytes cross Redis too
        assert looked["seq"] == 2 and isinstance(looked["data"], bytes) and looked["data"]

        owner.emit("train:pause")
        paused = viewer.wait("session:state", lambda d: d["status"] == "paused", timeout=30)
        assert paused["pause_reason"] == "user"
        health = requests.get(f"{b.url}/api/health", timeout=10).json()
        assert health["ok"] and health["workers"] == 2  # a trainer on each Ray node
        assert stored_in_postgres(cluster, links["id"])["status"] == "paused"
    finally:
        owner.close()
        viewer.close()


def running_sessions(cluster: Cluster) -> set[str]:
    import redis

    running = redis.Redis.from_url(cluster.redis.url).smembers("playground:running")
    return {s.decode() for s in running}


def taken_slots(cluster: Cluster) -> list[str]:
    """The sessions holding a training slot or a place in the queue."""
    import redis

    queue = redis.Redis.from_url(cluster.redis.url).lrange("playground:queue", 0, -1)
    return sorted(running_sessions(cluster)) + [s.decode() for s in queue]


def test_the_training_slots_are_the_clusters_and_a_freed_one_goes_to_the_queues_head(
    cluster: Cluster,
) -> None:
    """MAX_RUNNING counts over both web processes: past it a start queues, through either,
    and a pause through A starts the session queued through B, which B's owner sees."""
    assert not running_sessions(cluster), "an earlier test left sessions training"
    a, b = cluster.web
    webs = [a, b, a, b, a]
    made = [create(web) for web in webs]
    owners = [Client(web.url) for web in webs]
    try:
        for owner, links in zip(owners, made, strict=True):
            owner.join(links["id"], links["owner_token"])
        for owner in owners[:MAX_RUNNING]:
            owner.emit("train:start")
            owner.wait("session:state", lambda d: d["status"] == "running", timeout=30)
        for place, owner in enumerate(owners[MAX_RUNNING:], start=1):  # through B, then A
            owner.emit("train:start")
            queued = owner.wait("session:state", lambda d: d["status"] == "queued", timeout=30)
            assert queued["queue_position"] == place
        assert running_sessions(cluster) == {s["id"] for s in made[:MAX_RUNNING]}

        owners[0].emit("train:pause")  # through A; the queue's head was started through B
        head, behind = owners[MAX_RUNNING], owners[MAX_RUNNING + 1]
        head.wait("session:state", lambda d: d["status"] == "running", timeout=30)
        head.wait("train:progress", lambda d: d["step"] > 0, timeout=60)
        moved_up = behind.wait("session:state", lambda d: d["queue_position"] == 1, timeout=30)
        assert moved_up["status"] == "queued"
        assert stored_in_postgres(cluster, made[MAX_RUNNING]["id"])["status"] == "running"
        assert made[0]["id"] not in running_sessions(cluster)
        assert len(running_sessions(cluster)) == MAX_RUNNING

        behind.emit("train:pause")  # leaving the queue frees nothing and starts nothing
        behind.wait("session:state", lambda d: d["status"] == "paused", timeout=30)
        for owner in owners[1 : MAX_RUNNING + 1]:
            owner.emit("train:pause")
            owner.wait("session:state", lambda d: d["status"] == "paused", timeout=30)
        services.wait_until(lambda: not running_sessions(cluster), "every slot free", timeout=30)
        for web, links in zip(webs, made, strict=True):  # less for a lost trainer to reopen later
            url = f"{web.url}/api/sessions/{links['id']}"
            headers = {"X-Session-Token": links["owner_token"]}
            assert requests.delete(url, headers=headers, timeout=30).status_code == 204
    finally:
        for owner in owners:
            owner.close()


def held_at(cluster: Cluster, point: str) -> bool:
    """Whether a web process started with TEST_HOLDS waits at `point` (`ClusterSessions._hold`)."""
    import redis

    held = redis.Redis.from_url(cluster.redis.url).get(f"playground:test:hold:{point}")
    return held == b"waiting"


def let_go(cluster: Cluster, point: str) -> None:
    import redis

    services.wait_until(lambda: held_at(cluster, point), f"the web process held at {point}", 60)
    redis.Redis.from_url(cluster.redis.url).set(f"playground:test:hold:{point}", "go")


def start(owner: Client, links: dict, status: str) -> dict:
    owner.join(links["id"], links["owner_token"])
    owner.emit("train:start")
    return owner.wait("session:state", lambda d: d["status"] == status, timeout=30)


@pytest.mark.parametrize("window", ["promoted:start", "promoted:save"])
def test_a_pause_racing_the_start_of_its_queued_session_wins_in_either_order(
    cluster: Cluster, window: str
) -> None:
    """Web process C starts the queue's head (a slot freed) while its owner pauses it
    through A. C is held in the race window (before it tells the trainer to start, or
    before it stores the start) while the pause goes through: the pause, the later
    action, must win everywhere: no training, paused in every process and in PostgreSQL."""
    assert not running_sessions(cluster), "an earlier test left sessions training"
    a, b = cluster.web
    c = start_server(cluster.data, **cluster.env, TEST_HOLDS="1")
    webs = [c, a, a, a]  # three runners (the first paused through C), then the queued one
    made = [create(web) for web in webs]
    owners = [Client(web.url) for web in webs]
    watcher, late = Client(c.url), Client(b.url)
    fresh = {web.url: Client(web.url) for web in (a, c)}  # each joins at the end: its copy now
    queued = made[MAX_RUNNING]
    try:
        for owner, links in zip(owners[:MAX_RUNNING], made[:MAX_RUNNING], strict=True):
            start(owner, links, "running")
        watcher.join(queued["id"], queued["view_token"])  # C holds a copy of the queued one
        assert start(owners[MAX_RUNNING], queued, "queued")["queue_position"] == 1

        owners[0].emit("train:pause")  # through C: its slot goes to the queue's head
        if window == "promoted:save":
            let_go(cluster, "promoted:start")
        services.wait_until(lambda: held_at(cluster, window), f"C held at {window}", 60)
        owner = owners[MAX_RUNNING]  # on A, pausing while C is between its steps
        owner.emit("train:pause")
        paused = owner.wait("session:state", lambda d: d["status"] == "paused", timeout=30)
        assert paused["pause_reason"] == "user"
        let_go(cluster, window)
        if window == "promoted:start":
            let_go(cluster, "promoted:save")
        owners[0].wait("session:state", lambda d: d["status"] == "paused", timeout=60)  # C done

        services.wait_until(
            lambda: stored_in_postgres(cluster, queued["id"])["status"] == "paused",
            "the pause stored, not the start C made before it",
            timeout=15,
        )
        assert queued["id"] not in running_sessions(cluster)
        assert running_sessions(cluster) == {s["id"] for s in made[1:MAX_RUNNING]}
        for url, client in fresh.items():
            state = client.join(queued["id"], queued["view_token"])
            assert (state["status"], state["pause_reason"]) == ("paused", "user"), url
        seen = late.join(queued["id"], queued["view_token"])
        # The trainer may take a few steps between the last progress the pausing process
        # heard of and the pause reaching it (more on a loaded machine); then it stops.
        assert seen["status"] == "paused"
        with pytest.raises(AssertionError, match="no train:progress"):  # its trainer stopped
            late.wait("train:progress", lambda d: d["step"] > seen["step"], timeout=8)
        for owner in owners[1:MAX_RUNNING]:
            owner.emit("train:pause")
            owner.wait("session:state", lambda d: d["status"] == "paused", timeout=30)
    finally:
        for owner in owners:  # whatever this test started, its slot back for the tests after
            owner.emit("train:pause")
        try:  # before the clients close, or their pauses may never leave
            services.wait_until(lambda: not running_sessions(cluster), "every slot free", 30)
        finally:
            for client in (*owners, watcher, late, *fresh.values()):
                client.close()
            stop_server(c)


def test_a_setting_that_rebuilds_a_running_model_keeps_it_training_in_its_slot(
    cluster: Cluster,
) -> None:
    """A new hidden size while it trains: the new model trains on, seen through B, and the
    session keeps its slot (the rebuild is no pause: the slots, not the engine, say so)."""
    a, b = cluster.web
    links = create(a)
    owner, viewer = Client(a.url), Client(b.url)
    try:
        small = owner.join(links["id"], links["owner_token"])
        viewer.join(links["id"], links["view_token"])
        owner.emit("train:start")
        viewer.wait("train:progress", lambda d: d["step"] > 0, timeout=60)
        owner.emit("train:config", {"config": {"hidden_size": 12}})
        for client in (owner, viewer):  # the rebuilt model's state, once its trainer opened it
            rebuilt = client.wait("session:state", lambda d: d["params"] != small["params"])
            assert rebuilt["status"] == "running" and rebuilt["config"]["hidden_size"] == 12
        for client in (owner, viewer):  # every progress after it is the new model's
            client.wait("train:progress", lambda d: d["step"] > 5, timeout=60)
        assert links["id"] in running_sessions(cluster)
        owner.emit("train:pause")  # its slot back for the tests after
        viewer.wait("session:state", lambda d: d["status"] == "paused", timeout=30)
    finally:
        owner.close()
        viewer.close()


def test_another_task_trains_through_both_processes_and_a_new_source_reaches_both(
    cluster: Cluster,
) -> None:
    """The cluster names no task: a words session trains, answers and takes a new source."""
    a, b = cluster.web
    text = "the cat sat on the mat . the dog ran to the park . " * 40
    source = {"corpus": "upload", "text": text, "max_vocab": 50}
    body = {"task": "words", "source": source, "config": TINY}
    response = requests.post(f"{a.url}/api/sessions", json=body, timeout=30)
    response.raise_for_status()
    links = response.json()
    owner, viewer = Client(a.url), Client(b.url)
    try:
        owner.join(links["id"], links["owner_token"])
        state = viewer.join(links["id"], links["view_token"])
        assert state["task"]["name"] == "words" and state["source"]["words"] == 560
        owner.emit("train:start")
        progress = viewer.wait("train:progress", lambda d: d["step"] >= 5, timeout=60)
        assert progress["unit"] == "bits/word" and progress["train"]
        viewer.emit("predict:query", {"seq": 1, "text": "the cat sat on the", "k": 3})
        result = viewer.wait("predict:result", timeout=30)
        assert len(result["top"]) == 3 and {"word", "p"} <= set(result["top"][0])

        # Through A, a new text of other words: B's copy reloads it and sees the new model.
        other = "one two three four five six seven eight nine ten . " * 40
        headers = {"X-Session-Token": links["owner_token"], "Content-Type": "text/plain"}
        url = f"{a.url}/api/sessions/{links['id']}/text"
        requests.put(url, data=other, headers=headers, timeout=30).raise_for_status()
        owned = owner.wait("session:state", lambda d: d["source"]["words"] == 440, timeout=30)
        assert owned["status"] == "idle" and owned["step"] == 0

        def rebuilt(d: dict) -> bool:
            """B has the new record, its run state and its trainer's new model: in any order."""
            new = d["source"]["words"] == 440 and d["params"] == owned["params"]
            return new and d["status"] == "idle" and d["step"] == 0

        seen = viewer.wait("session:state", rebuilt, timeout=30)
        assert not seen["history"]["step"] and owned["params"] != state["params"]
    finally:
        owner.close()
        viewer.close()


def test_sessions_spread_evenly_over_both_trainer_nodes(cluster: Cluster) -> None:
    a, b = cluster.web
    for web in (a, b, a, b):
        create(web)
    import redis

    placed = redis.Redis.from_url(cluster.redis.url).hvals("playground:placement")
    nodes = [name.decode().split("-")[1] for name in placed]
    assert len(nodes) >= 4 and abs(nodes.count("head") - nodes.count("n1")) <= 1, nodes


def running_by_trainer(cluster: Cluster) -> dict[str, list[str]]:
    """The running sessions each trainer holds, as placed in Redis."""
    import redis

    r = redis.Redis.from_url(cluster.redis.url)
    running = {s.decode() for s in r.smembers("playground:running")}
    load: dict[str, list[str]] = {n.decode(): [] for n in r.hkeys("playground:trainers")}
    for session, name in r.hgetall("playground:placement").items():
        if session.decode() in running:
            load.setdefault(name.decode(), []).append(session.decode())
    return load


def test_running_sessions_move_to_even_the_load_and_train_on_from_where_they_were(
    cluster: Cluster,
) -> None:
    """Two sessions started on one trainer: one moves to the other, keeping its steps."""
    a, b = cluster.web
    made = [create(a) for _ in range(4)]  # placed two and two
    load = running_by_trainer(cluster)
    busy = max(sorted(load), key=lambda n: len(load[n]))  # start two more where most run
    pair = [s for s in made if cluster.placement(s["id"]) == busy][:2]
    if len(pair) < 2:  # the fewest-sessions rule put these elsewhere: take the other trainer
        busy = cluster.placement(made[0]["id"])
        pair = [s for s in made if cluster.placement(s["id"]) == busy][:2]
    assert len(pair) == 2, [cluster.placement(s["id"]) for s in made]
    owners, watcher = [Client(a.url), Client(a.url)], Client(b.url)
    notices: list[dict] = []  # a move is nobody's business: no owner is told anything
    for owner in owners:
        owner.sio.on("session:notice", notices.append)
    try:
        for owner, links in zip(owners, pair, strict=True):
            owner.join(links["id"], links["owner_token"])
            owner.emit("train:start")
        watcher.join(pair[1]["id"], pair[1]["view_token"])
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            load = running_by_trainer(cluster)
            counts = [len(v) for v in load.values()]
            moved = [s for s in pair if cluster.placement(s["id"]) != busy]
            if moved and max(counts) - min(counts) <= 1:
                break
            time.sleep(0.5)
        assert moved and max(counts) - min(counts) <= 1, load
        # The one that moved trains on from its step on the other trainer, and nobody was told.
        index = pair.index(moved[0])
        owner = owners[index]
        before = owner.wait("train:progress", timeout=30)["step"]
        after = owner.wait("train:progress", lambda d: d["step"] > before + 5, timeout=60)
        assert after["train"][0][0] > before and after["status"] == "running"
        assert not notices, notices
        for client in (owner, watcher):  # queries reach it where it is now, from both processes
            client.emit("predict:query", {"seq": 7, "text": "the "})
            assert client.wait("predict:result", timeout=30)["seq"] == 7
        for owner in owners:  # their slots back for the tests after
            owner.emit("train:pause")
            owner.wait("session:state", lambda d: d["status"] == "paused", timeout=30)
    finally:
        for client in (*owners, watcher):
            client.close()


def test_postgres_briefly_away_gives_clear_errors_and_no_wrong_state(cluster: Cluster) -> None:
    a, b = cluster.web
    links = create(a)
    owner, viewer = Client(a.url), Client(b.url)
    try:
        owner.join(links["id"], links["owner_token"])
        viewer.join(links["id"], links["view_token"])
        owner.emit("train:start")
        viewer.wait("train:progress", lambda d: d["step"] > 0, timeout=60)
        cluster.postgres.pause()
        try:
            owner.emit("train:config", {"config": {"learning_rate": 0.02}})
            error = owner.wait("error", timeout=30)
            assert error["code"] == "storage_failed" and "nothing was changed" in error["message"]
            # A pause still pauses, says it was not stored, and reaches the other process.
            owner.emit("train:pause")
            notice = owner.wait("session:notice", timeout=30)
            assert notice["code"] == "storage_failed"
            viewer.wait("session:state", lambda d: d["status"] == "paused", timeout=30)
        finally:
            cluster.postgres.resume()
        owner.emit("train:config", {"config": {"learning_rate": 0.02}})
        changed = viewer.wait("session:state", lambda d: d["config"]["learning_rate"] == 0.02)
        assert changed["status"] == "paused"
        # The record's note can reach B before A has stored the run state: wait for that write.
        services.wait_until(
            lambda: stored_in_postgres(cluster, links["id"]).get("status") == "paused",
            "the paused status stored once the database is back",
            timeout=15,
        )
    finally:
        owner.close()
        viewer.close()


def test_redis_briefly_away_gives_clear_errors_then_recovers(cluster: Cluster) -> None:
    a, b = cluster.web
    links = create(a)
    owner, viewer = Client(a.url), Client(b.url)
    try:
        owner.join(links["id"], links["owner_token"])
        viewer.join(links["id"], links["view_token"])
        owner.emit("train:start")
        viewer.wait("train:progress", lambda d: d["step"] > 0, timeout=60)
        cluster.redis.stop()  # kill -9
        try:
            owner.emit("train:pause")
            assert owner.wait("error", timeout=30)["code"] == "busy"
        finally:
            cluster.redis.resume()
        # Every process reconnects by itself: training streams to B and a pause reaches it.
        step = owner.wait("train:progress", timeout=60)["step"]
        viewer.drain()
        viewer.wait("train:progress", lambda d: d["step"] > step, timeout=60)
        owner.emit("train:pause")
        viewer.wait("session:state", lambda d: d["status"] == "paused", timeout=30)
    finally:
        owner.close()
        viewer.close()


def record_steps(client: Client) -> list[tuple[int, list[int]]]:
    """Every progress message the client is sent, as its latest step and the training steps
    it carries (its events still reach `wait`)."""
    messages: list[tuple[int, list[int]]] = []

    def on_progress(data: dict) -> None:
        messages.append((data["step"], [step for step, _ in data["train"]]))
        client.inbox.put(("train:progress", data))

    client.sio.on("train:progress", on_progress)
    return messages


def steps_as_sent(messages: list[tuple[int, list[int]]]) -> list[int]:
    """The training steps in the order the server sent them. The Socket.IO client runs each
    message's handler on a thread of its own, so two can be recorded swapped under load (a
    browser handles them in order): each message's latest step puts them back in order."""
    return [step for _, steps in sorted(messages) for step in steps]


def test_a_web_process_killed_and_restarted_loses_nothing(cluster: Cluster) -> None:
    a, b = cluster.web
    links = create(a)
    owner, viewer = Client(a.url), Client(b.url)
    messages = record_steps(viewer)
    owner.join(links["id"], links["owner_token"])
    viewer.join(links["id"], links["view_token"])
    owner.emit("train:start")
    before = viewer.wait("train:progress", lambda d: d["step"] >= 5, timeout=60)["step"]
    owner.sio.disconnect()
    kill_server(a)
    try:
        # Training goes on without web process A: its trainer belongs to the cluster.
        during = viewer.wait("train:progress", lambda d: d["step"] > before + 5, timeout=60)
        cluster.web[0] = a = cluster.start_web()
        owner = Client(a.url)
        state = owner.join(links["id"], links["owner_token"])
        assert state["status"] == "running" and state["history"]["step"]
        owner.wait("train:progress", lambda d: d["step"] > during["step"], timeout=60)
        owner.emit("train:pause")
        viewer.wait("session:state", lambda d: d["status"] == "paused", timeout=30)
        # Never rewound to a checkpoint: the viewer saw every step once, in order.
        steps = steps_as_sent(messages)
        assert steps == list(range(1, len(steps) + 1)) and len(steps) > during["step"]
    finally:
        owner.close()
        viewer.close()


def train_a_while(owner: Client) -> list[tuple[float, int]]:
    """Wait for a few checkpoint intervals of training; return (time, step) as it went."""
    seen: list[tuple[float, int]] = []

    def note(update: dict) -> bool:
        seen.append((time.monotonic(), update["step"]))
        return time.monotonic() - seen[0][0] > 3 * CHECKPOINT_S and update["step"] > 20

    owner.wait("train:progress", note, timeout=60)
    return seen


def checkpointed_by(seen: list[tuple[float, int]], killed_at: float) -> int:
    """A step surely checkpointed before `killed_at`: one interval earlier, and a second for
    the step and the save in progress. Resuming from it loses at most one interval."""
    return max(step for at, step in seen if at <= killed_at - CHECKPOINT_S - 1.0)


def test_a_lost_trainer_node_resumes_its_sessions_on_the_other_from_their_checkpoints(
    cluster: Cluster,
) -> None:
    import redis

    # Hold the balancing lock, so no session moves off the node this test kills (a move is
    # tested on its own above).
    redis.Redis.from_url(cluster.redis.url).set("playground:balance", "test", ex=600)
    a, b = cluster.web
    made = []  # new sessions go to the trainer holding fewest: soon one is on the second node
    while len(made) < 6 and not any(cluster.placement(s["id"]).split("-")[1] == "n1" for s in made):
        made.append(create(a))
    links = next(s for s in made if cluster.placement(s["id"]).split("-")[1] == "n1")
    owner, viewer = Client(a.url), Client(b.url)
    try:
        owner.join(links["id"], links["owner_token"])
        viewer.join(links["id"], links["view_token"])
        owner.emit("train:start")
        seen = train_a_while(owner)
        killed_at = time.monotonic()
        services.kill_group(cluster.ray.nodes[1])

        notice = owner.wait("session:notice", timeout=60)
        assert notice["code"] == "worker_restarted"
        assert cluster.placement(links["id"]).split("-")[1] == "head"
        # What comes after the notice is the other node's training, from the checkpoint on.
        resumed = owner.wait("train:progress", lambda d: bool(d["train"]), timeout=60)
        resumed_from = resumed["train"][0][0] - 1
        assert resumed_from >= checkpointed_by(seen, killed_at) > 0
        assert resumed["status"] == "running"
        viewer.drain()
        later = viewer.wait("train:progress", lambda d: d["step"] > resumed["step"], timeout=60)
        assert later["train"], "the viewer on the other web process sees it train on"
        owner.emit("train:pause")  # its slot back for the tests after
        owner.wait("session:state", lambda d: d["status"] == "paused", timeout=30)
    finally:
        owner.close()
        viewer.close()


def test_a_killed_trainer_is_started_again_and_its_sessions_resume(cluster: Cluster) -> None:
    import json
    import os
    import signal

    import redis

    a, b = cluster.web
    links = create(b)
    owner, viewer = Client(b.url), Client(a.url)
    try:
        owner.join(links["id"], links["owner_token"])
        viewer.join(links["id"], links["view_token"])
        owner.emit("train:start")
        seen = train_a_while(owner)
        killed_at = time.monotonic()
        name = cluster.placement(links["id"])
        trainer = redis.Redis.from_url(cluster.redis.url).hget("playground:trainers", name)
        os.kill(json.loads(trainer)["pid"], signal.SIGKILL)  # as the out-of-memory killer would

        assert owner.wait("session:notice", timeout=60)["code"] == "worker_restarted"
        # A new trainer process starts and reopens every session the dead one held: on a
        # loaded machine, with the module's twenty-odd sessions, that took over a minute.
        resumed = owner.wait("train:progress", lambda d: bool(d["train"]), timeout=180)
        assert resumed["train"][0][0] - 1 >= checkpointed_by(seen, killed_at) > 0
        viewer.drain()
        viewer.wait("train:progress", lambda d: d["step"] > resumed["step"], timeout=60)
        owner.emit("train:pause")  # its slot back for the tests after
        owner.wait("session:state", lambda d: d["status"] == "paused", timeout=30)
    finally:
        owner.close()
        viewer.close()


def test_sessions_no_web_process_holds_any_more_pause_when_idle(cluster: Cluster) -> None:
    """All web processes stopped (a new version deployed): trainers do not train on for ever."""
    a, b = cluster.web
    links = create(a)
    owner = Client(a.url)
    owner.join(links["id"], links["owner_token"])
    owner.emit("train:start")
    started = owner.wait("session:state", lambda d: d["status"] != "idle", timeout=30)
    running = running_sessions(cluster)  # a slot must be free: each earlier test pauses
    assert started["status"] == "running", f"queued behind {running}"
    # The only trainer left may still be reopening the sessions of the one killed above.
    owner.wait("train:progress", lambda d: d["step"] > 0, timeout=180)
    owner.sio.disconnect()
    for web in (a, b):
        kill_server(web)
    idle = {"IDLE_PAUSE_S": "1", "HOUSEKEEPING_S": "0.5"}
    cluster.web = [start_server(cluster.data, **cluster.env, **idle)]
    services.wait_until(  # the dead processes' marks expire after 15 s, then 1 s idle
        lambda: stored_in_postgres(cluster, links["id"])["status"] == "paused",
        "the pause of a session no web process holds",
    )
    viewer = Client(cluster.web[0].url)
    try:
        state = viewer.join(links["id"], links["view_token"])
        assert state["status"] == "paused" and state["pause_reason"] == "idle"
    finally:
        viewer.close()
