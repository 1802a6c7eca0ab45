"""Messages between the web process and the workers are declared types that pickle as they are."""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import pickle
import typing

import pytest

from backend.engine import messages
from backend.engine.messages import Command, Event, Query

SAMPLE_VALUES = {
    "session": "s",
    "gen": 3,
    "task": "text",
    "source": {"corpus": "upload", "text": "the cat sat on the mat"},
    "config": {"model": "lstm", "hidden_size": 8},
    "checkpoint": "/tmp/s.safetensors",
    "op": "predict",
    "client": "c",
    "seq": 7,
    "fields": {"text": "the ca", "k": 3},
    "pid": 1234,
    "device": "cpu",
    "params": 100,
    "input_size": 30,
    "output_size": 30,
    "describe": {"vocab": ["a", "b"]},
    "step": 12,
    "items_seen": 384,
    "items_per_sec": 51.5,
    "resumed": True,
    "batched": 1,
    "train": [[11, 2.5], [12, None]],
    "grad": [[11, 0.8, 0], [12, 1.7, 1]],
    "val": [[12, 2.4]],
    "temperature": 0.8,
    "payload": {"text": "a sample"},
    "seq_len": 8,
    "h_norms": [[0.1, 0.2]],
    "c_norms": None,
    "ratio": 0.5,
    "clip_rate": 0.25,
    "grad_norm": 1.5,
    "clip_threshold": 1.0,
    "clip": True,
    "result": {"top": [{"char": "t", "p": 0.5}]},
    "error": {"code": "invalid", "message": "no", "field": "text"},
    "message": "something happened",
    "code": "worker_restarted",
}


def every(base: type) -> list[type]:
    found = [
        cls
        for cls in vars(messages).values()
        if isinstance(cls, type) and issubclass(cls, base) and cls is not base
    ]
    assert found, base
    return found


def build(cls: type) -> object:
    """An instance of a message type with a plausible value in every required field."""
    hints = typing.get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING:
            continue
        if f.name == "query":
            values[f.name] = Query("s", "predict", "c", 1, {"text": "the"})
        else:
            assert f.name in SAMPLE_VALUES, f"no sample value for {cls.__name__}.{f.name}"
            values[f.name] = SAMPLE_VALUES[f.name]
    assert set(values) <= set(hints)
    return cls(**values)


@pytest.mark.parametrize("cls", every(Command) + every(Event), ids=lambda c: c.__name__)
def test_every_message_round_trips_through_pickle(cls: type) -> None:
    message = build(cls)
    again = pickle.loads(pickle.dumps(message))
    assert again == message and type(again) is cls


def test_messages_cross_a_real_process_queue_unchanged() -> None:
    ctx = mp.get_context("spawn")
    channel = ctx.Queue()
    sent = [build(cls) for cls in every(Command) + every(Event)]
    for message in sent:
        channel.put(message)
    received = [channel.get(timeout=10) for _ in sent]
    assert received == sent
    channel.close()


def test_every_command_has_a_worker_handler_and_every_event_a_reader() -> None:
    from backend.engine.worker import Worker
    from backend.sessions.registry import Sessions

    worker = Worker(None, None, None, device="cpu", checkpoint_s=60)
    handled = set(worker.handlers) | {Query, messages.Shutdown}  # queries: the query thread
    assert set(every(Command)) == handled
    session_layer = set(Sessions(storage=None, publisher=None).handlers)
    engine_own = {messages.Ready, messages.HandedOff, messages.Misrouted}  # the engine's
    assert set(every(Event)) == session_layer | engine_own


def test_messages_are_immutable() -> None:
    start = messages.Start("s")
    with pytest.raises(dataclasses.FrozenInstanceError):
        start.session = "t"  # type: ignore[misc]


@pytest.mark.parametrize("cls", every(Command) + every(Event), ids=lambda c: c.__name__)
def test_every_message_round_trips_through_its_json_encoding(cls: type) -> None:
    message = build(cls)
    again = messages.decode(messages.encode(message).encode())  # as Redis hands it back: bytes
    assert again == message and type(again) is cls


def test_bytes_in_an_answer_travel_as_they_are() -> None:
    packed = bytes(range(256)) * 3  # an inspect answer's packed gate traces
    answer = messages.Answered("s", 1, "c", "inspect", 2, {"data": packed, "n": [1, 2]})
    assert messages.decode(messages.encode(answer)) == answer


def test_a_field_json_cannot_carry_is_refused_when_encoding() -> None:
    with pytest.raises(TypeError, match="set"):
        messages.encode(messages.Answered("s", 1, "c", "inspect", 2, {"odd": {1, 2}}))


@pytest.mark.parametrize(
    "data",
    [
        '{"type": "PosixPath", "fields": {}}',  # a class, but not a message
        '{"type": "system", "fields": {"command": "true"}}',
        '{"type": "Start", "fields": {"session": "s", "shell": "rm -rf /"}}',  # unknown field
        '{"type": "Open", "fields": {"session": "s"}}',  # missing fields
        '{"type": "Misrouted", "fields": {"session": "s", "gen": 1, "query": "predict"}}',
        '{"fields": {"session": "s"}}',
        "[1, 2]",
        "not json",
        '{"type": "Answered", "fields": {"session": "s", "gen": 1, "client": "c", "op": "x", '
        '"seq": 1, "result": {"__bytes__": "not base64!"}}}',
    ],
)
def test_decoding_refuses_anything_but_an_encoded_message(data: str) -> None:
    with pytest.raises(ValueError):
        messages.decode(data)
