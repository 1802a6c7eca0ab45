"""The training engine of cluster mode: today's worker loop in Ray actors, one per trainer CPU.

Each trainer node runs `Trainer` actors (one per CPU, or one per GPU with the batched cohort
path). An actor runs the same `Worker` loop as an embedded worker process, on in-process
queues: commands arrive as actor method calls (the typed messages of
`backend.engine.messages`, pickled by Ray between trusted processes), events leave on a
Redis channel that every web process reads, each encoded as JSON naming its type
(`messages.encode`: never pickled, as Redis is shared). `RayEngine` is a web process's
handle on them, with `Engine`'s interface:

- placement is shared by every web process, in Redis: a new session goes to the trainer
  holding the fewest sessions (`HSETNX`, so two processes placing it at once agree);
- a model build's generation is global (`INCR`): each web process maps the trainer's
  generation to that of its own copy of the session, so stale events drop as they do today;
- opening a session a trainer already holds only attaches to it (a second web process, or
  a restarted one, must not rewind a running model to its last checkpoint);
- running sessions spread by load: while one trainer runs two sessions more than another,
  one web process (under a Redis lock) moves one: its trainer checkpoints it and lets it go
  (`Handoff`), the other opens it from that checkpoint and starts it; commands any web
  process sends meanwhile wait in Redis and follow it, so nothing is lost and no one is told;
- a trainer applies a `Start` or `Pause` only while the running set agrees (`overtaken`):
  commands from two web processes may arrive in either order, the set's last change wins;
- a supervisor notices a dead node (Ray marks it dead) or a dead trainer (it stops answering;
  it is started again), and one web process, under a Redis lock, reopens that trainer's
  sessions on the least-loaded live trainer from their last
  checkpoints (on the shared checkpoint directory), starts the running ones again and sends
  their owners a `worker_lost` notice, as the embedded engine does for a dead process.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import queue
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from backend.engine import worker
from backend.engine.messages import (
    Answered,
    Close,
    Command,
    Configure,
    Event,
    HandedOff,
    Handoff,
    Misrouted,
    Open,
    Opened,
    Pause,
    Query,
    Rejected,
    Start,
    WorkerLost,
    decode,
    encode,
)
from backend.errors import Busy

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "playground"
EVENTS = "playground:events"  # the channel trainers publish events on (`messages.encode`)
CHANGES = "playground:changes"  # the channel web processes note changed sessions on (JSON)
PLACEMENT = "playground:placement"  # session -> trainer actor name
OPENED = "playground:opened"  # session -> its latest `Open` (encoded), to reopen it elsewhere
RUNNING = "playground:running"  # sessions the trainers train: the slot scripts of cluster.py
HOLDERS = "playground:holders:"  # + session: web processes holding a copy of it
ALIVE = "playground:alive:"  # + web process id, with a short expiry: that process lives
GEN = "playground:gen"  # global model-build generation counter
RECOVER = "playground:recover:"  # + trainer name: the lock of whoever reopens its sessions
TRAINERS = "playground:trainers"  # trainer actor name -> its pid, node and device (JSON)
MOVING = "playground:moving"  # session -> the trainer it is moving to
WAITING = "playground:waiting:"  # + session: commands sent while it moves (encoded), in order
BALANCE = "playground:balance"  # the lock of whoever moves sessions to even the load
MOVE_TIMEOUT_S = 60.0
ALIVE_S = 15.0  # a web process that stops refreshing its mark is gone after this
SUPERVISE_S = 1.0
PING_EVERY = 5  # supervision rounds between checks that each trainer actor still answers
PING_TIMEOUT_S = 10.0
LOST = "the trainer holding this session stopped; it was reopened from its last checkpoint"


class RedisEvents:
    """The worker's `events` queue, as a Redis channel: `put` publishes (`messages.encode`)."""

    def __init__(self, url: str, channel: str = EVENTS) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.channel = channel
        self.handed: dict[str, threading.Event] = {}  # sessions a `handoff` call waits for
        self.misrouted: Callable[[Query], None] | None = None  # the trainer's `follow`

    def put(self, event: Event) -> None:
        """Publish; while Redis is away, retry for a few seconds, then drop it (logged).

        A move's events stay in the trainer: `HandedOff` wakes the `handoff` call that waits
        for it, and a query that reached the session's old trainer follows the session.
        """
        import redis

        if isinstance(event, HandedOff):
            done = self.handed.pop(event.session or "", None)
            if done is not None:
                done.set()
            return
        if isinstance(event, Misrouted) and self.misrouted is not None:
            self.misrouted(event.query)
            return
        data = self.encoded(event)
        if data is None:
            return
        for attempt in range(20):
            try:
                self.client.publish(self.channel, data)
                return
            except redis.ConnectionError:
                time.sleep(min(0.05 * 2**attempt, 1.0))
        log.error("redis unreachable: dropped a %s event", type(event).__name__)

    @staticmethod
    def encoded(event: Event) -> str | None:
        """The event on the wire; an answer JSON cannot carry is refused to its client instead.

        It never raises: the worker thread that emits must go on answering and training.
        """
        try:
            return encode(event)
        except (TypeError, ValueError) as exc:
            log.error("a %s event cannot be encoded: %s", type(event).__name__, exc)
            if not isinstance(event, Answered):
                return None
            error = {"code": "internal", "message": f"the answer could not be sent: {exc}"}
        return encode(
            Rejected(event.session, event.gen, event.client, event.op, error, seq=event.seq)
        )


class Trainer:
    """A Ray actor running the embedded worker loop; its methods only queue and look up."""

    def __init__(self, redis_url: str, checkpoint_s: float, batching: str, device: str) -> None:
        import torch

        torch.set_num_threads(1)  # as an embedded worker process: see worker.main
        torch.set_num_interop_threads(1)
        sys.setswitchinterval(0.001)  # hand the GIL to a waiting query within a millisecond
        device, batch = trainer_device(device, batching, torch.cuda.is_available())
        self.device = device
        self.commands: queue.Queue = queue.Queue()
        self.queries: queue.Queue = queue.Queue()
        self.gens: dict[str, int] = {}  # the build each held session was last opened with
        self.left: set[str] = set()  # sessions handed to another trainer
        self.events = events = RedisEvents(redis_url)
        events.misrouted = self.follow
        loop = worker.Worker(self.commands, self.queries, events, device, checkpoint_s, batch)
        threading.Thread(target=loop.run, name="training", daemon=True).start()
        import ray

        me = {"pid": os.getpid(), "node": ray.get_runtime_context().get_node_id(), "device": device}
        name = ray.get_runtime_context().get_actor_name()
        events.client.hset(TRAINERS, name, json.dumps(me))  # for operators (and the tests)

    def send(self, message: Command) -> None:
        """Queue a command for the worker loop: a `Query` on its query queue, as `Engine` does."""
        if isinstance(message, Open):
            self.left.discard(message.session)
            self.gens[message.session] = message.gen
        elif message.session in self.left:  # sent just before the move began: follow it
            self.follow(message)
            return
        elif isinstance(message, Close):
            self.gens.pop(message.session, None)
        elif isinstance(message, (Start, Pause)) and self.overtaken(message):
            return
        target = self.queries if isinstance(message, Query) else self.commands
        target.put(message)

    def overtaken(self, message: Start | Pause) -> bool:
        """Whether a later pause or start of the session (from another web process, whose
        command may arrive first) overtook this one: every start and pause changes the running
        set before its command is sent, so the set says which came last."""
        import redis

        try:
            running = bool(self.events.client.sismember(RUNNING, message.session))
        except redis.ConnectionError:
            return False  # no word against it
        if running == isinstance(message, Start):
            return False
        log.info("dropped an overtaken %s of %s", type(message).__name__, message.session)
        return True

    def attach_or_open(self, message: Open) -> int | None:
        """The build this trainer holds of the session; open it (from `message`) if none.

        None if the session just left for another trainer: opening it again here would leave
        two builds of it, the one placement names and this one, which would win the events.
        """
        held = self.gens.get(message.session)
        if held is not None:
            return held
        if message.session in self.left:
            return None
        self.send(message)
        return message.gen

    def handoff(self, session: str, timeout: float = MOVE_TIMEOUT_S) -> str:
        """Checkpoint `session` and let it go: "handed" once its file is written, "late" if
        the worker has not got to it within `timeout` (it will), "absent" if not held here.

        The actor runs one call at a time, so commands other web processes send to this
        trainer meanwhile wait behind this call; they then follow the session (`follow`).
        """
        if session not in self.gens:
            return "absent"
        done = self.events.handed[session] = threading.Event()
        self.gens.pop(session)
        self.left.add(session)
        self.commands.put(Handoff(session))
        return "handed" if done.wait(timeout) else "late"

    def follow(self, message: Command) -> None:
        """A command for a session that left: to the mover's queue, or on to where it went."""
        import ray

        client, session = self.events.client, message.session
        client.rpush(WAITING + session, encode(message))
        if client.hexists(MOVING, session):
            return  # the mover sends it on
        while (data := client.lpop(WAITING + session)) is not None:
            name = client.hget(PLACEMENT, session)
            if name is not None:
                ray.get_actor(name.decode(), namespace=NAMESPACE).send.remote(decode(data))

    def info(self) -> dict:
        import ray

        return {
            "device": self.device,
            "node": ray.get_runtime_context().get_node_id(),
            "pid": os.getpid(),
            "sessions": len(self.gens),
        }


def trainer_device(requested: str, batching: str, cuda: bool) -> tuple[str, bool]:
    """A trainer's device ("auto": CUDA when the node has it) and whether it trains
    compatible sessions as one batched cohort ("auto": on a GPU), as an embedded worker."""
    device = ("cuda" if cuda else "cpu") if requested == "auto" else requested
    return device, batching == "on" or (batching == "auto" and device.startswith("cuda"))


def node_trainers(node: dict) -> list[tuple[str, dict[str, int]]]:
    """The trainers a live node gets, with what each reserves: one per GPU on a GPU node
    (each runs the batched cohort path), else one per CPU (today's scheduler)."""
    gpus = int(node["Resources"].get("GPU", 0))
    cpus = int(node["Resources"].get("CPU", 0))
    reserves = {"num_cpus": 0, "num_gpus": 1} if gpus else {"num_cpus": 1, "num_gpus": 0}
    return [(trainer_name(node, index), reserves) for index in range(gpus or cpus)]


def trainer_name(node: dict, index: int) -> str:
    """A trainer actor's name: its node's name and id, and its index there."""
    return f"trainer-{node['NodeName']}-{node['NodeID'][:12]}-{index}"


def node_of(name: str) -> str:
    """The node id prefix a trainer name carries."""
    return name.split("-")[-2]


class RayEngine:
    """Routes per-session commands to trainer actors, and their events to `on_event`."""

    def __init__(
        self,
        on_event: Callable[[Event], None],
        address: str,
        redis_url: str,
        device: str = "auto",
        checkpoint_s: float = 15.0,
        batching: str = "auto",
        on_changed: Callable[[str, dict | None], None] | None = None,
    ) -> None:
        import redis

        self.on_event = on_event
        self.on_changed = on_changed or (lambda session, run: None)
        self.address, self.redis_url = address, redis_url
        self.requested_device, self.device = device, "cpu"
        self.checkpoint_s, self.batching = checkpoint_s, batching
        self.redis = redis.Redis.from_url(redis_url)
        self.origin = uuid.uuid4().hex  # this web process, in holder sets and change notes
        self.local_gen: dict[str, int] = {}  # session -> the build number of our copy
        self.global_gen: dict[str, int] = {}  # session -> the trainers' build it maps to
        self.actors: dict[str, Any] = {}
        self.count = 0
        self.restarts = 0
        self.moves = 0  # sessions this process moved to even the load
        self.lock = threading.Lock()
        self.stopping = threading.Event()

    # -- start and stop --------------------------------------------------------------------

    def start(self) -> None:
        import ray

        if not ray.is_initialized():
            env = {"PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0"}
            # Ray starts workers at nice 15, and an actor's threads inherit it: a trainer's
            # keystrokes would then wait behind every other process on its node. Trainers run
            # at nice 0 (an embedded worker takes +5 only to leave its web process ahead).
            env["RAY_worker_niceness"] = "0"
            ray.init(
                address=self.address,
                namespace=NAMESPACE,
                log_to_driver=False,
                runtime_env={"env_vars": env},
            )
        self._mark_alive()
        names = self._ensure_trainers()
        if not names:
            raise RuntimeError("the Ray cluster has no node with a CPU or GPU to train on")
        infos = ray.get([self._actor(n).info.remote() for n in names], timeout=300)
        self.device = "cuda" if any(i["device"].startswith("cuda") for i in infos) else "cpu"
        subscribed = threading.Event()
        args = (subscribed,)
        threading.Thread(target=self._listen, args=args, name="cluster-events", daemon=True).start()
        subscribed.wait(10)
        threading.Thread(target=self._supervise, name="cluster-supervisor", daemon=True).start()

    def stop(self) -> None:
        """Leave the trainers running: they belong to the cluster, not to this web process."""
        self.stopping.set()
        self.redis.delete(ALIVE + self.origin)

    def _ensure_trainers(self) -> list[str]:
        """A trainer per CPU (or per GPU) of every live node; returns their names."""
        import ray
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        names = []
        remote = ray.remote(Trainer)
        for node in ray.nodes():
            if not node["Alive"]:
                continue
            for name, reserves in node_trainers(node):
                strategy = NodeAffinitySchedulingStrategy(node["NodeID"], soft=False)
                self.actors[name] = remote.options(
                    name=name,
                    get_if_exists=True,
                    lifetime="detached",
                    max_restarts=0,
                    max_concurrency=1,
                    scheduling_strategy=strategy,
                    **reserves,
                ).remote(self.redis_url, self.checkpoint_s, self.batching, self.requested_device)
                names.append(name)
        self.count = len(names)
        return names

    def _actor(self, name: str) -> Any:
        actor = self.actors.get(name)
        if actor is None:
            import ray

            actor = self.actors[name] = ray.get_actor(name, namespace=NAMESPACE)
        return actor

    # -- commands --------------------------------------------------------------------------

    def send(self, message: Command) -> None:
        """Send a command or query to the trainer holding its session (placing it if new)."""
        import ray
        import redis

        try:
            self._send(message)
        except redis.ConnectionError as exc:
            raise Busy("the training cluster cannot be reached right now; try again") from exc
        except ray.exceptions.RayActorError as exc:  # its trainer died: it is being reopened
            raise Busy("the trainer holding this session stopped; try again shortly") from exc

    def _send(self, message: Command) -> None:
        session = message.session
        if isinstance(message, Query) and self._ask(message):
            return
        if isinstance(message, Open):
            self._open(message)
            return
        if isinstance(message, Close):
            if not self._last_holder(session):
                return  # another web process still shows it: the trainer keeps it
            self._forget(session)
        elif isinstance(message, Configure):
            self._update_opened(session, config=message.config)
        if not self._held_back(message):
            self._deliver(message)

    def _ask(self, query: Query) -> bool:
        """A keystroke's query straight to its session's trainer, with one Redis round trip
        for whether it moves and where it is; False (the general path) if it moves or is new."""
        lookup = self.redis.pipeline(transaction=False)
        moving, name = (
            lookup.hexists(MOVING, query.session).hget(PLACEMENT, query.session).execute()
        )
        if moving or name is None:
            return False
        self._actor(name.decode()).send.remote(query)
        return True

    def _deliver(self, message: Command) -> None:
        """Send a command to the trainer holding its session."""
        self._actor(self._place(message.session)).send.remote(message)
        if isinstance(message, Close):
            self.redis.hdel(PLACEMENT, message.session)

    def _held_back(self, message: Command) -> bool:
        """While the session moves, queue `message` in Redis for its next trainer; True if so.

        The mover sends what waited once the new trainer has the session. A command queued
        just as the move ended is sent on here: whoever sees the move over empties the queue.
        """
        session = message.session
        if not self.redis.hexists(MOVING, session):
            return False
        self.redis.rpush(WAITING + session, encode(message))
        if not self.redis.hexists(MOVING, session):
            self._send_waiting(session)
        return True

    def _send_waiting(self, session: str) -> None:
        """Send on, in order, what waited while `session` moved (each taken once: LPOP)."""
        while (data := self.redis.lpop(WAITING + session)) is not None:
            message = decode(data)
            if isinstance(message, Command):
                self._deliver(message)

    def _open(self, message: Open) -> None:
        """Build the model on its trainer, or attach to the build a trainer already holds."""
        session, local = message.session, message.gen
        message = replace(message, gen=int(self.redis.incr(GEN)))
        self.redis.sadd(HOLDERS + session, self.origin)
        if message.resume:
            held = self._attach(message)
        else:  # a new build (its slot is the session layer's: it halted it first, or trains on)
            held = message.gen
            if not self._held_back(message):
                self._deliver(message)
        if held == message.gen:  # opened now: keep the `open` to reopen it elsewhere
            self.redis.hset(OPENED, session, encode(message))
        with self.lock:
            self.local_gen[session], self.global_gen[session] = local, held

    def _attach(self, message: Open) -> int:
        """The build the session's trainer holds, opened from `message` if none does.

        A session moving is attached to once it arrived; one a trainer let go a moment ago
        (placement not yet changed) is looked for again where it went; a trainer it left long
        ago, which placement names again (it was closed, then reopened), opens it anew.
        """
        import ray

        session, deadline = message.session, time.monotonic() + MOVE_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.redis.hexists(MOVING, session):
                time.sleep(0.05)
                continue
            name = self._place(session)
            held = ray.get(self._actor(name).attach_or_open.remote(message), timeout=60)
            if held is not None:
                return held
            moving = self.redis.hexists(MOVING, session)
            if not moving and self.redis.hget(PLACEMENT, session) == name.encode():
                ray.get(self._actor(name).send.remote(message), timeout=60)
                return message.gen
        raise Busy("the session is moving to another trainer; try again shortly")

    def _opened(self, session: str) -> Open | None:
        """The session's latest `Open`, as stored for whoever reopens it elsewhere."""
        stored = self.redis.hget(OPENED, session)
        if stored is None:
            return None
        opened = decode(stored)
        if not isinstance(opened, Open):
            raise ValueError(f"{OPENED} holds a {type(opened).__name__} for {session}")
        return opened

    def _update_opened(self, session: str, **changes: Any) -> None:
        opened = self._opened(session)
        if opened is not None:
            self.redis.hset(OPENED, session, encode(replace(opened, **changes)))

    def _place(self, session: str) -> str:
        """The trainer holding `session`; a new one goes to the least-loaded trainer."""
        name = self.redis.hget(PLACEMENT, session)
        if name is not None:
            return name.decode()
        self.redis.hsetnx(PLACEMENT, session, self._least_loaded())
        return self.redis.hget(PLACEMENT, session).decode()

    def _least_loaded(self) -> str:
        """The live trainer holding the fewest sessions.

        Trainers on a node Ray counts dead are left out even before this process's supervisor
        has dropped them: another process may already have moved their sessions away, and a
        session placed there now would never be reopened.
        """
        import ray

        dead = {n["NodeID"][:12] for n in ray.nodes() if not n["Alive"]}
        load = {name: 0 for name in self.actors if node_of(name) not in dead}
        for name in self.redis.hvals(PLACEMENT):
            if name.decode() in load:
                load[name.decode()] += 1
        if not load:
            raise RuntimeError("no trainer is alive in the Ray cluster")
        return min(sorted(load), key=lambda n: load[n])

    def _last_holder(self, session: str) -> bool:
        """Drop this process from the session's holders; True if no live process still holds it."""
        self.redis.srem(HOLDERS + session, self.origin)
        with self.lock:
            self.local_gen.pop(session, None)
            self.global_gen.pop(session, None)
        holders = [h.decode() for h in self.redis.smembers(HOLDERS + session)]
        return not any(self.redis.exists(ALIVE + h) for h in holders)

    def _forget(self, session: str) -> None:
        self.redis.hdel(OPENED, session)
        self.redis.srem(RUNNING, session)
        self.redis.delete(HOLDERS + session)

    # -- events ----------------------------------------------------------------------------

    def note_change(self, session: str, run: dict | None = None) -> None:
        """Tell the other web processes that `session` changed (`run`: its status, if known)."""
        note = {"session": session, "origin": self.origin, "run": run}
        self.redis.publish(CHANGES, json.dumps(note))

    def _listen(self, subscribed: threading.Event) -> None:
        """Read the trainers' events; after losing Redis, reconnect and refresh every copy."""
        import redis

        while not self.stopping.is_set():
            try:
                pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(EVENTS, CHANGES)
                subscribed.set()
                for message in pubsub.listen():
                    self._receive(message["channel"], message["data"])
            except redis.ConnectionError:
                log.error("lost the connection to redis; reconnecting")
                time.sleep(1.0)
                with self.lock:
                    held = list(self.local_gen)
                for session in held:  # what changed meanwhile is in the database
                    self._changed(session, None)

    def _changed(self, session: str, run: dict | None) -> None:
        try:
            self.on_changed(session, run)
        except Exception:  # the database away, say: the next change brings it up to date
            log.exception("reloading session %s failed", session)

    def _receive(self, channel: bytes, data: bytes) -> None:
        """One message from Redis: a trainer's event, or another web process's change note.

        Anything malformed is logged and dropped: whatever else writes to a shared Redis
        must not stop this process's updates.
        """
        try:
            if channel.decode() == CHANGES:
                note = json.loads(data)
                if note["origin"] != self.origin:
                    self._changed(str(note["session"]), note.get("run"))
                return
            event = decode(data)
        except (ValueError, KeyError, TypeError):
            log.exception("dropped a malformed message on %s", channel)
            return
        if isinstance(event, Event):
            self._dispatch(event)
        else:
            log.error("dropped a %s on the events channel", type(event).__name__)

    def _dispatch(self, event: Event) -> None:
        """Hand a trainer event on as an event of our copy's build; drop an older build's."""
        session, gen = event.session, event.gen
        with self.lock:
            local, expected = self.local_gen.get(session or ""), self.global_gen.get(session or "")
            if local is None or gen is None or expected is None:
                return  # no copy of it here, or no build's
            if isinstance(event, Opened) and gen > expected:  # rebuilt by another web process
                self.global_gen[session] = expected = gen
            if gen != expected:
                return  # an older build's
        try:
            self.on_event(replace(event, gen=local))
        except Exception:  # one bad event must not stop every session's updates
            log.exception("handling trainer event %s failed", type(event).__name__)

    # -- supervision -----------------------------------------------------------------------

    def _mark_alive(self) -> None:
        self.redis.set(ALIVE + self.origin, "1", ex=int(ALIVE_S))

    def _supervise(self) -> None:
        """Keep this process marked alive; when a trainer dies, reopen its sessions elsewhere."""
        for round_ in itertools.count(1):
            if self.stopping.wait(SUPERVISE_S):
                return
            try:
                self._mark_alive()
                lost = self._dead_trainers(ping=round_ % PING_EVERY == 0)
                handles = {name: self.actors.pop(name) for name in lost}
                if lost or len(self.actors) < self.count:
                    self._ensure_trainers()  # a dead actor on a live node is started again
                for name, handle in handles.items():
                    self._recover(name, handle)
                self._rebalance()
            except Exception:  # Redis or the Ray head briefly away: try again next round
                log.exception("cluster supervision failed; retrying")

    def _dead_trainers(self, ping: bool) -> list[str]:
        """Trainers whose node died; with `ping`, also those that no longer answer (killed)."""
        import ray

        dead = {n["NodeID"][:12] for n in ray.nodes() if not n["Alive"]}
        lost = [name for name in self.actors if node_of(name) in dead]
        if not ping:
            return lost
        asked = {name: a.info.remote() for name, a in self.actors.items() if name not in lost}
        ray.wait(list(asked.values()), num_returns=len(asked), timeout=PING_TIMEOUT_S)
        for name, ref in asked.items():
            try:
                ray.get(ref, timeout=0)
            except ray.exceptions.RayActorError:
                lost.append(name)
            except ray.exceptions.GetTimeoutError:
                pass  # busy, not dead
        return lost

    def _recover(self, dead: str, handle: Any) -> None:
        """Reopen a dead trainer's sessions on live ones (one web process does it)."""
        instance = getattr(handle, "_actor_id", None)  # the same name may come back, restarted
        key = f"{RECOVER}{dead}:{instance.hex() if instance else ''}"
        if not self.redis.set(key, self.origin, nx=True, ex=3600):
            return
        self.restarts += 1
        moved = [
            s.decode() for s, name in self.redis.hgetall(PLACEMENT).items() if name.decode() == dead
        ]
        log.error("trainer %s was lost with %d sessions; reopening them", dead, len(moved))
        for session in moved:
            target = self._least_loaded()
            self.redis.hset(PLACEMENT, session, target)
            opened = self._opened(session)
            if opened is None:
                continue
            actor = self._actor(target)
            weights = opened.weights
            if weights and Path(opened.checkpoint).exists():
                weights = None  # imported weights are in its checkpoint by now
            actor.send.remote(replace(opened, resume=True, weights=weights))
            if self.redis.sismember(RUNNING, session):
                actor.send.remote(Start(session))
            notice = WorkerLost(
                session=session,
                gen=opened.gen,
                code="worker_restarted",
                message=LOST,
                worker=None,
            )
            self.redis.publish(EVENTS, encode(notice))

    # -- moves -----------------------------------------------------------------------------

    def _running_by_trainer(self) -> dict[str, list[str]]:
        """The running sessions of every live trainer (a moving one counts where it goes)."""
        import ray

        dead = {n["NodeID"][:12] for n in ray.nodes() if not n["Alive"]}
        running = {s.decode() for s in self.redis.smembers(RUNNING)}
        moving = {s.decode(): n.decode() for s, n in self.redis.hgetall(MOVING).items()}
        load: dict[str, list[str]] = {n: [] for n in self.actors if node_of(n) not in dead}
        for session, name in self.redis.hgetall(PLACEMENT).items():
            session = session.decode()
            where = moving.get(session, name.decode())
            if session in running and where in load:
                load[where].append(session)
        return load

    def _rebalance(self) -> None:
        """Move a running session off the busiest trainer while it runs 2 or more than another.

        One web process at a time (a Redis lock); one move per supervision round, so the
        load it reads is always what the last move left.
        """
        if not self.redis.set(BALANCE, self.origin, nx=True, ex=int(MOVE_TIMEOUT_S) + 10):
            return
        try:
            load = self._running_by_trainer()
            if len(load) < 2:
                return
            busiest = max(sorted(load), key=lambda n: len(load[n]))
            idlest = min(sorted(load), key=lambda n: len(load[n]))
            if len(load[busiest]) - len(load[idlest]) >= 2:
                self.move(max(load[busiest]), busiest, idlest)
        finally:
            self.redis.delete(BALANCE)

    def move(self, session: str, source: str, target: str) -> None:
        """Move `session` from trainer `source` to `target` through its checkpoint.

        Training stops only for the save: the new trainer resumes from the file just
        written, at the same step, and is started if the session was running.
        """
        import ray

        self.moves += 1
        log.info("moving session %s from %s to %s", session, source, target)
        self.redis.hset(MOVING, session, target)
        try:
            handed = ray.get(self._actor(source).handoff.remote(session), timeout=MOVE_TIMEOUT_S)
            opened = self._opened(session)
            if handed == "absent" or opened is None:
                return  # closed meanwhile, or its trainer was restarted (recovery reopens it)
            if handed == "late":  # it resumes from the newest checkpoint there is
                log.error("%s took too long to let %s go; moving it anyway", source, session)
            self.redis.hset(PLACEMENT, session, target)
            actor = self._actor(target)
            weights = None if Path(opened.checkpoint).exists() else opened.weights
            resumed = replace(opened, resume=True, weights=weights)
            ray.get(actor.send.remote(resumed), timeout=MOVE_TIMEOUT_S)  # held before the end
            if self.redis.sismember(RUNNING, session):
                actor.send.remote(Start(session))
        finally:
            self.redis.hdel(MOVING, session)
            self._send_waiting(session)

    # -- what health reports ---------------------------------------------------------------

    def alive(self) -> bool:
        return not self.stopping.is_set() and bool(self.actors)

    def running_per_worker(self) -> list[int]:
        """Running sessions per trainer, as placed in the cluster."""
        running = {s.decode() for s in self.redis.smembers(RUNNING)}
        load = dict.fromkeys(sorted(self.actors), 0)
        for session, name in self.redis.hgetall(PLACEMENT).items():
            if session.decode() in running and name.decode() in load:
                load[name.decode()] += 1
        return list(load.values())
