"""Training speed: one playground session against a plain PyTorch loop, and against plain JS.

`train_ratio_vs_plain_torch` is the playground's overhead as a ratio: characters/s of one
session trained through the server (its owner's socket client joined, so progress streams)
divided by characters/s of the plainest loop that trains the same model the same way, in
this process. The server runs with one training worker, so the session has one core like the
loop (which uses one torch thread, as the workers do).

`vs_browser_js` divides the same session's characters/s by the JavaScript reference's
(`browser_js`), which runs in the same rounds.

Each round runs the plain loop, then the playground, then the JS reference; medians over
the rounds are compared, so load from other users of the machine falls on every side alike.
The CPU share each side got (CPU seconds / wall seconds) is reported with it: on a shared
machine it tells how much of a core each side actually had.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from benchmarks import browser_js
from benchmarks.common import (
    BENCH_MODEL,
    CLIP_NORM,
    CORPUS_FILE,
    LEARNING_RATE,
    Mode,
    log,
    median,
    rounded,
)
from benchmarks.server import (
    Server,
    TrainingSession,
    open_session,
    running_server,
    steady_window,
    warm_up,
)


class PlainLoop:
    """The reference: one-hot input, nn.LSTM, a linear head, Adam, gradient clipping.

    On CUDA (`device`), batches are cut on the host and copied over, as the playground does.
    """

    def __init__(
        self, text: str, cfg: dict = BENCH_MODEL, seed: int = 0, device: str = "cpu"
    ) -> None:
        chars = sorted(set(text))
        stoi = {ch: i for i, ch in enumerate(chars)}
        ids = torch.tensor([stoi[ch] for ch in text], dtype=torch.long)
        self.train = ids[: len(ids) - len(ids) // 10]  # the playground holds out the last 10%
        self.vocab = len(chars)
        self.batch, self.seq = cfg["batch_size"], cfg["seq_len"]
        torch.manual_seed(seed)
        hidden = cfg["hidden_size"]
        self.device = device
        self.rnn = nn.LSTM(self.vocab, hidden, cfg["num_layers"], batch_first=True).to(device)
        self.head = nn.Linear(hidden, self.vocab).to(device)
        self.params = [*self.rnn.parameters(), *self.head.parameters()]
        self.optimizer = torch.optim.Adam(self.params, lr=LEARNING_RATE)
        self.generator = torch.Generator().manual_seed(seed)

    def step(self) -> float:
        """One optimisation step on a batch of random windows; returns the loss (nats/char)."""
        high = len(self.train) - self.seq
        starts = torch.randint(0, high, (self.batch,), generator=self.generator)
        chunk = self.train[starts[:, None] + torch.arange(self.seq + 1)]  # (B, T+1)
        chunk = chunk.to(self.device)
        x, y = chunk[:, :-1], chunk[:, 1:]
        h, _ = self.rnn(F.one_hot(x, self.vocab).float())
        loss = F.cross_entropy(self.head(h).flatten(0, 1), y.flatten())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(self.params, CLIP_NORM)
        self.optimizer.step()
        return loss.item()

    def rate(self, seconds: float, warmup_steps: int = 1) -> tuple[float, float]:
        """Characters/s over whole steps taking at least `seconds`, and the CPU share it got."""
        for _ in range(warmup_steps):
            self.step()
        steps, start, cpu = 0, time.perf_counter(), time.process_time()
        while (elapsed := time.perf_counter() - start) < seconds or steps < 3:
            self.step()
            steps += 1
        return steps * self.batch * self.seq / elapsed, (time.process_time() - cpu) / elapsed


@dataclass
class Side:
    """One side of a comparison: characters/s and CPU share, one entry per round."""

    rates: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def add(self, rate: float, cpu_share: float) -> None:
        self.rates.append(rate)
        self.cpu.append(cpu_share)

    @property
    def rate(self) -> float:
        return median(self.rates)

    @property
    def per_cpu_s(self) -> float:
        """Characters per CPU second: the rate the side would have with a core to itself."""
        return median([r / c for r, c in zip(self.rates, self.cpu, strict=True) if c > 0])


@dataclass
class TrainResult:
    plain: Side = field(default_factory=Side)
    playground: Side = field(default_factory=Side)
    js: Side = field(default_factory=Side)
    js_check: dict = field(default_factory=dict)
    js_batch: int = 0

    def to_dict(self) -> dict:
        plain, play, js = self.plain, self.playground, self.js
        out = {
            "train_ratio_vs_plain_torch": round(play.rate / plain.rate, 4),
            "train_ratio_per_cpu_second": round(play.per_cpu_s / plain.per_cpu_s, 4),
            "plain_torch_chars_per_s": rounded(plain.rate),
            "playground_chars_per_s": rounded(play.rate),
            "plain_torch_cpu_share": round(median(plain.cpu), 3),
            "playground_worker_cpu_share": round(median(play.cpu), 3),
            "train_rounds": {
                "plain_torch": [rounded(r) for r in plain.rates],
                "playground": [rounded(r) for r in play.rates],
                "js": [round(r, 1) for r in js.rates],
            },
        }
        if js.rates:
            out |= {
                "vs_browser_js": round(play.rate / js.rate, 1),
                "vs_browser_js_per_cpu_second": round(play.per_cpu_s / js.per_cpu_s, 1),
                "js_chars_per_s": round(js.rate, 1),
                "js_cpu_share": round(median(js.cpu), 3),
                "js_batch_size": self.js_batch,
                "js_gradient_check": self.js_check,
            }
        else:
            out |= {"vs_browser_js": None, "js_note": "skipped: node is not installed"}
        return out


def playground_rate(server: Server, session: TrainingSession, mode: Mode) -> tuple[float, float]:
    """Characters/s of one session over a steady window and its worker's CPU share."""
    session.start()
    window = steady_window(server, [session], mode.resume_s, mode.window_s)
    session.pause()
    return window.rates[0], window.cpu_share


def measure_training(mode: Mode) -> TrainResult:
    """Rounds of plain loop, playground (one-worker server) and JS reference; keep every round."""
    torch.set_num_threads(1)
    loop = PlainLoop(CORPUS_FILE.read_text(encoding="utf-8"))
    loop.rate(0.0)  # warm-up: first steps allocate and pick kernels
    result = TrainResult(js_batch=mode.js_batch)
    if browser_js.node():
        result.js_check = browser_js.gradient_check()
        log(
            f"JS LSTM gradient check: max relative error {result.js_check['max_rel_error']:.1e} "
            f"over {result.js_check['parameters']} parameters"
        )
    with running_server(workers=1) as server:
        session = open_session(server, BENCH_MODEL)
        try:
            warm_up([session], mode.warmup_s)
            for round_ in range(1, mode.rounds + 1):
                result.plain.add(*loop.rate(mode.window_s))
                result.playground.add(*playground_rate(server, session, mode))
                if browser_js.node():
                    js = browser_js.js_rate(mode.js_seconds, mode.js_batch)
                    result.js.add(js["chars_per_s"], js["cpu_share"])
                log(
                    f"training round {round_}: plain torch {result.plain.rates[-1]:,.0f} chars/s, "
                    f"playground {result.playground.rates[-1]:,.0f} chars/s, "
                    f"JS {result.js.rates[-1] if result.js.rates else float('nan'):,.0f} chars/s"
                )
        finally:
            session.close()
    return result
