"""Keystroke latency: how long a typed character waits for its next-character predictions.

The headline `keystroke_*` figure is what the issue defines: 100 typed characters, the top-k
next characters and all gate traces, i.e. one `inspect:query` as the gates view sends it
(every gate and state of every layer, top-5; `saliency_*` is the same query with saliency,
which only the saliency view asks for). The page's plain prediction with two 120-character
continuations is reported beside it as `continuation_*`, and without them as
`keystroke_notrace_*`.

A viewer's client, over a real Socket.IO websocket, sends `predict:query` (100 characters
of text, k=5) and waits for the `predict:result` with that seq before sending the next, while
4 sessions (the class's default model) train on the server's default workers; the queried
session is one of the 4. Three kinds of request are interleaved, so all see the same load:

- `length` 120: the continuation length the page asks for (greedy and sampled, 120 each);
- `length` 0: the same query without continuations (what the model's forward pass costs);
- `inspect:query` of the same 100 characters: every gate and state of every layer, with
  saliency (the "look inside" views' keystroke);
- `ping:echo`: a bare round trip through the same socket and server (the floor); also
  measured before training starts (`echo_idle_*`), to separate load from the stack's own cost.

A random think time of up to 60 ms before each request gives it a random phase against the
training steps, as a person typing would.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from benchmarks.common import CORPUS_FILE, UI_DEFAULT_MODEL, Mode, log, percentile
from benchmarks.procs import cpu_seconds, training_workers
from benchmarks.server import Client, Server, close_all, open_session, pause_all, start_all

TRAINING_SESSIONS = 4
QUERY_CHARS = 100
CONTINUATION = 120  # the page's default `length`
THINK_S = 0.06
WARMUP_QUERIES = 3


@dataclass
class Latencies:
    """Round trips in milliseconds per kind of request."""

    keystroke: list[float] = field(default_factory=list)
    notrace: list[float] = field(default_factory=list)
    inspect: list[float] = field(default_factory=list)
    saliency: list[float] = field(default_factory=list)
    echo: list[float] = field(default_factory=list)
    echo_idle: list[float] = field(default_factory=list)  # before any session trains
    workers_cpu_share: float = float("nan")  # cores the training workers got meanwhile

    def to_dict(self) -> dict:
        return {
            "keystroke_p50_ms": round(percentile(self.inspect, 50), 2),
            "keystroke_p99_ms": round(percentile(self.inspect, 99), 2),
            "saliency_p50_ms": round(percentile(self.saliency, 50), 2),
            "saliency_p99_ms": round(percentile(self.saliency, 99), 2),
            "continuation_p50_ms": round(percentile(self.keystroke, 50), 2),
            "continuation_p99_ms": round(percentile(self.keystroke, 99), 2),
            "keystroke_notrace_p50_ms": round(percentile(self.notrace, 50), 2),
            "keystroke_notrace_p99_ms": round(percentile(self.notrace, 99), 2),
            "echo_p50_ms": round(percentile(self.echo, 50), 2),
            "echo_p99_ms": round(percentile(self.echo, 99), 2),
            "echo_idle_p50_ms": round(percentile(self.echo_idle, 50), 2),
            "echo_idle_p99_ms": round(percentile(self.echo_idle, 99), 2),
            "keystroke_samples": len(self.keystroke),
            "keystroke_workers_cpu_share": round(self.workers_cpu_share, 3),
        }


class Typist:
    """A viewer typing against a session: sequential requests, each timed to its own reply."""

    def __init__(self, client: Client, text: str) -> None:
        self.client, self.text, self.seq = client, text, 0

    def timed(self, send: Callable[[], None], event: str, match: Callable[[dict], bool]) -> float:
        time.sleep(random.uniform(0, THINK_S))
        start = time.perf_counter()
        send()
        self.client.wait(event, match, timeout=30)
        return (time.perf_counter() - start) * 1000

    def query(self, length: int) -> float:
        """Round trip of one predict:query of QUERY_CHARS characters, in ms."""
        self.seq += 1
        seq, offset = self.seq, (self.seq * 7) % (len(self.text) - QUERY_CHARS)
        payload = {
            "text": self.text[offset : offset + QUERY_CHARS],
            "seq": seq,
            "k": 5,
            "length": length,
        }
        # The answer that carries the continuations: a client's are made at most once a
        # second, so one asked sooner comes in a second answer with the same seq.
        return self.timed(
            lambda: self.client.emit("predict:query", payload),
            "predict:result",
            lambda r: r["seq"] == seq and r.get("continued", True),
        )

    def inspect(self, saliency: bool = False) -> float:
        """Round trip of one inspect:query (all gate traces) of QUERY_CHARS characters, in ms."""
        self.seq += 1
        seq, offset = self.seq, (self.seq * 7) % (len(self.text) - QUERY_CHARS)
        text = self.text[offset : offset + QUERY_CHARS]
        payload = {"text": text, "seq": seq, "saliency": saliency}
        return self.timed(
            lambda: self.client.emit("inspect:query", payload),
            "inspect:result",
            lambda r: r["seq"] == seq,
        )

    def echo(self) -> float:
        """Round trip of one ping:echo, in ms."""
        self.seq += 1
        payload = {"n": self.seq}
        return self.timed(
            lambda: self.client.emit("ping:echo", payload), "ping:echo", lambda r: r == payload
        )


def measure_keystrokes(server: Server, mode: Mode) -> Latencies:
    """Interleaved length-120, length-0 and echo round trips while 4 sessions train."""
    sessions = [open_session(server, UI_DEFAULT_MODEL) for _ in range(TRAINING_SESSIONS)]
    viewer = Client(server.url)
    sessions[0].extra.append(viewer)
    viewer.join(sessions[0].id, sessions[0].info["view_token"])
    typist = Typist(viewer, CORPUS_FILE.read_text(encoding="utf-8"))
    out = Latencies()
    try:
        out.echo_idle = [typist.echo() for _ in range(mode.keystrokes // 2)]
        start_all(sessions)
        time.sleep(mode.warmup_s)
        for _ in range(WARMUP_QUERIES):  # first calls build kernels for new shapes: not timed
            typist.query(CONTINUATION), typist.query(0), typist.inspect()
        workers = training_workers(server.proc.pid)
        cpu, start = cpu_seconds(workers), time.perf_counter()
        for i in range(mode.keystrokes):
            out.keystroke.append(typist.query(CONTINUATION))
            out.notrace.append(typist.query(0))
            out.inspect.append(typist.inspect())
            out.saliency.append(typist.inspect(saliency=True))
            out.echo.append(typist.echo())
            if (i + 1) % max(1, mode.keystrokes // 3) == 0:
                log(
                    f"keystrokes {i + 1}/{mode.keystrokes}: "
                    f"p50 {percentile(out.keystroke, 50):.1f} ms (length {CONTINUATION}), "
                    f"{percentile(out.notrace, 50):.1f} ms (length 0), "
                    f"echo {percentile(out.echo, 50):.1f} ms"
                )
        out.workers_cpu_share = (cpu_seconds(workers) - cpu) / (time.perf_counter() - start)
        pause_all(sessions)
    finally:
        close_all(sessions)
    return out
