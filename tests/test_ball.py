"""The ball task: physics, camera, source and query checks, data, loss, roll-outs, and learning."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn

from backend.errors import InvalidInput
from backend.tasks.ball import physics
from backend.tasks.ball.physics import DT, FRAME, RADIUS, World
from backend.tasks.ball.spec import MAX_AHEAD, MAX_OBSERVED, SPEC
from backend.tasks.ball.task import AHEAD, SAMPLE_STEPS, BallTask, baselines_px

torch.set_num_threads(1)


class TinyRecurrent(nn.Module):
    """An LSTM core and a linear head with the task seam's call: model(inputs, state)."""

    def __init__(self, input_size: int, hidden_size: int = 16) -> None:
        super().__init__()
        self.rnn = nn.LSTM(input_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, 2)

    def forward(self, x, state=None):
        h, state = self.rnn(x, state)
        return self.head(h), state


class OneFrame(nn.Module):
    """Sees the current frame only (a window of one): no state is carried between steps."""

    def __init__(self, input_size: int, hidden_size: int = 16) -> None:
        super().__init__()
        self.hidden = nn.Linear(input_size, hidden_size)
        self.head = nn.Linear(hidden_size, 2)

    def forward(self, x, state=None):
        return self.head(torch.tanh(self.hidden(x))), None


def make_task(seed: int = 0, **source) -> BallTask:
    return BallTask.build(SPEC.parse_source(source), seed)


def held_out_px(task: BallTask, model: nn.Module, first: int = 0) -> float:
    """Error in pixels on the held-out throws, counting steps `first`, `first` + 1, ... of each."""
    x, y = task.dataset.val_windows(16)
    with torch.no_grad():
        out, _ = model(task.encode(x))
    return task.metric(task.loss(out[:, first:], y[:, first:]).item())


def train(
    task: BallTask,
    model: nn.Module,
    seed: int,
    budget: int,
    reached: Callable[[], bool] = lambda: False,
    check_every: int = 50,
) -> int:
    """Adam on fresh throws until `reached()` holds (checked every `check_every` steps) or
    `budget` steps are spent, as the lesson claims are tested (docs/lessons.md); the steps run."""
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    gen = torch.Generator().manual_seed(seed)
    for step in range(1, budget + 1):
        x, y = task.dataset.batch(32, 16, gen)
        out, _ = model(task.encode(x))
        loss = task.loss(out, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % check_every == 0 and reached():
            return step
    return budget


# ------------------------------------------------------------------ physics


def test_free_fall_follows_semi_implicit_euler():
    world = World(gravity=9.8)
    path = physics.simulate(np.array([[0.5, 0.9]]), np.zeros((1, 2)), 5, world)[0]
    n = np.arange(5)
    # v_n = -g n dt, y_n = y_0 - g dt^2 n (n + 1) / 2, x unchanged.
    np.testing.assert_allclose(path[:, 1], 0.9 - 9.8 * DT**2 * n * (n + 1) / 2)
    np.testing.assert_allclose(path[:, 0], 0.5)


def test_balls_stay_in_the_box_and_come_to_rest_on_the_floor():
    world = World(gravity=9.8, restitution=0.8, friction=0.3)
    paths = physics.trajectories(200, 300, world, np.random.default_rng(0))
    assert paths.min() >= RADIUS - 1e-6 and paths.max() <= 1 - RADIUS + 1e-6
    # Twenty seconds later every ball lies still on the floor.
    np.testing.assert_allclose(paths[:, -1, 1], RADIUS, atol=1e-6)
    np.testing.assert_allclose(paths[:, -1], paths[:, -2], atol=1e-6)


def test_a_bounce_keeps_the_restitution_fraction_of_the_speed():
    world = World(gravity=0.0, restitution=0.5)
    p, v = physics.step(np.array([[0.5, RADIUS + 0.01]]), np.array([[0.0, -1.0]]), world)
    assert p[0, 1] == pytest.approx(RADIUS)
    assert v[0, 1] == pytest.approx(0.5)


def test_friction_slows_a_rolling_ball_and_none_lets_it_roll_on():
    start, v0 = np.array([[0.2, RADIUS]]), np.array([[1.0, 0.0]])
    rough = physics.simulate(start, v0, 30, World(friction=0.5))[0]
    smooth = physics.simulate(start, v0, 30, World(friction=0.0, restitution=0.0))[0]
    assert np.ptp(rough[-5:, 0]) < 1e-9  # stopped
    assert np.diff(smooth[:10, 0]) == pytest.approx(np.full(9, DT))  # 1 box/s, unchanged


def test_throws_are_seeded():
    a = physics.trajectories(3, 10, World(), np.random.default_rng(7))
    b = physics.trajectories(3, 10, World(), np.random.default_rng(7))
    c = physics.trajectories(3, 10, World(), np.random.default_rng(8))
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_a_frame_shows_where_the_ball_is_to_a_fraction_of_a_pixel():
    positions = np.random.default_rng(0).uniform(RADIUS, 1 - RADIUS, size=(50, 2))
    frames = physics.render(positions)
    assert frames.shape == (50, FRAME, FRAME)
    assert frames.min() >= 0 and frames.max() <= 1
    err_px = np.abs(physics.locate(frames) - positions).max() * FRAME
    assert err_px < 0.1
    # A tenth of a pixel to the right changes the picture (anti-aliasing).
    nudged = physics.render(positions[:1] + [0.1 / FRAME, 0])
    assert np.abs(nudged - frames[:1]).max() > 0.01


def test_row_zero_is_the_top_of_the_box():
    frame = physics.render(np.array([0.5, 1 - RADIUS]))
    assert frame[:3].sum() > 1 and frame[-3:].sum() == 0


# --------------------------------------------------------------------- spec


def test_spec_fills_defaults_and_checks_every_field():
    assert SPEC.parse_source(None) == SPEC.default_source
    assert SPEC.parse_source({"input": "coords", "gravity": 0})["gravity"] == 0.0
    for bad in (
        {"input": "video"},
        {"gravity": 99},
        {"restitution": -0.1},
        {"friction": "a lot"},
        {"friction": True},
        {"gravity": float("nan")},
        {"wind": 3},
        [1, 2],
    ):
        with pytest.raises(InvalidInput):
            SPEC.parse_source(bad)


def test_spec_checks_queries():
    assert SPEC.parse_query("predict", {"positions": [[0.1, 0.2]]}) == {"positions": [[0.1, 0.2]]}
    assert SPEC.parse_query("rollout", {"positions": [[0.1, 0.2]]})["steps"] > 0
    throw = SPEC.parse_query("throw", {"position": [0.5, 0.5], "velocity": [-2, 1], "steps": 10})
    assert throw == {"position": [0.5, 0.5], "velocity": [-2.0, 1.0], "steps": 10}
    # The client's sequence number is kept for the session layer, which checks it.
    assert SPEC.parse_query("predict", {"positions": [[0.1, 0.2]], "seq": 7})["seq"] == 7
    for op, bad in (
        ("predict", {"positions": []}),
        ("predict", {"positions": [[0.5, 0.5]] * (MAX_OBSERVED + 1)}),
        ("predict", {"positions": [[0.5, 1.5]]}),
        ("predict", {"positions": [[0.5]]}),
        ("predict", {"positions": "here"}),
        ("rollout", {"positions": [[0.5, 0.5]], "steps": MAX_AHEAD + 1}),
        ("rollout", {"positions": [[0.5, 0.5]], "steps": 2.5}),
        ("throw", {"position": [0.5, 0.5], "velocity": [100, 0]}),
        ("throw", {"position": [0.5, 0.5]}),
        ("generate", {}),
        ("predict", "positions"),
    ):
        with pytest.raises(InvalidInput):
            SPEC.parse_query(op, bad)


def test_spec_does_not_import_torch():
    code = (
        "import sys, backend.tasks; before = 'torch' in sys.modules; "
        "import backend.tasks.ball.spec; "
        "assert before or 'torch' not in sys.modules, 'spec imported torch'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_start_form_gets_every_source_field_with_its_bounds():
    fields = SPEC.to_dict()["source_fields"]
    assert set(fields) == set(SPEC.default_source)
    assert fields["input"]["choices"] == ["image", "coords"]
    for name, bounds in fields.items():
        if name == "input":
            continue
        SPEC.parse_source({name: bounds["max"]})  # the ends are allowed, past them is not
        with pytest.raises(InvalidInput):
            SPEC.parse_source({name: bounds["max"] + 0.01})
    json.dumps(SPEC.to_dict())


def test_sizes_follow_the_input():
    assert SPEC.sizes(SPEC.parse_source({"input": "image"})) == (FRAME * FRAME, 2)
    assert SPEC.sizes(SPEC.parse_source({"input": "coords"})) == (2, 2)


# ---------------------------------------------------------------- the task


def test_batches_are_throws_from_release_with_next_steps_in_pixels():
    task = make_task()
    x, y = task.dataset.batch(8, 12, torch.Generator().manual_seed(0))
    assert x.shape == (8, 12, 2) and y.shape == (8, 12, 2)
    # y_t = S (p_{t+1} - p_t): consecutive inputs differ by the previous target.
    torch.testing.assert_close(x[:, 1:] - x[:, :-1], y[:, :-1] / FRAME)
    x2, _ = task.dataset.batch(8, 12, torch.Generator().manual_seed(0))
    assert torch.equal(x, x2)


def test_held_out_throws_are_fixed_and_judged_from_release():
    task = make_task(seed=3)
    x, y = task.dataset.val_windows(8)
    assert x.shape == (64, 8, 2) and y.shape == (64, 8, 2)
    assert torch.equal(x, task.dataset.val_windows(32)[0][:, :8])  # the same throws, longer
    assert torch.equal(x, make_task(seed=3).dataset.val_windows(8)[0])
    assert not torch.equal(x, make_task(seed=4).dataset.val_windows(8)[0])
    # The baselines the page shows are those of the windows the trainer asked for last.
    assert task.baselines == baselines_px(task.dataset.held_out(32))
    assert task.describe()["val_steps"] == 32


def test_encode_draws_the_same_frames_as_the_camera():
    positions = torch.rand(2, 3, 2) * (1 - 2 * RADIUS) + RADIUS
    frames = make_task(input="image").encode(positions)
    assert frames.shape == (2, 3, FRAME * FRAME)
    expected = physics.render(positions.numpy()).reshape(2, 3, -1)
    np.testing.assert_allclose(frames.numpy(), expected, atol=1e-5)
    coords = make_task(input="coords").encode(positions)
    torch.testing.assert_close(coords, 2 * positions - 1)


def test_metric_is_the_root_mean_squared_distance_in_pixels():
    task = make_task()
    y = torch.zeros(1, 2, 2)
    out = torch.tensor([[[3.0, 4.0], [0.0, 5.0]]])  # both guesses 5 px off
    assert task.metric(task.loss(out, y).item()) == pytest.approx(5.0)


def test_baselines_are_exact_where_they_should_be():
    line = np.stack([np.linspace(0.2, 0.6, 9), np.full(9, 0.5)], axis=1)[None]
    errors = baselines_px(line)
    assert errors["constant_velocity"] == pytest.approx(0.4 / 8 * FRAME / np.sqrt(8))  # step 0
    assert errors["stay"] == pytest.approx(0.4 / 8 * FRAME)


def test_answers_have_the_shapes_the_page_draws():
    task = make_task()
    model = TinyRecurrent(task.input_size)
    observed = [[0.2, 0.8], [0.25, 0.78], [0.3, 0.75]]
    predict = task.answer(model, "predict", SPEC.parse_query("predict", {"positions": observed}))
    assert len(predict["predicted"]) == 3 and predict["next"] == predict["predicted"][-1]
    rollout = task.answer(
        model, "rollout", SPEC.parse_query("rollout", {"positions": observed, "steps": 7})
    )
    assert np.array(rollout["ahead"]).shape == (7, 2)
    assert np.array(rollout["ahead"]).min() >= RADIUS - 1e-4
    throw = task.answer(
        model,
        "throw",
        SPEC.parse_query("throw", {"position": [0.3, 0.7], "velocity": [2, 1], "steps": 12}),
    )
    assert np.array(throw["truth"]).shape == (12, 2)
    assert np.array(throw["predicted"]).shape == (12, 2)
    assert np.array(throw["ahead"]).shape == (12, AHEAD, 2)
    assert throw["truth"][0] == [0.3, 0.7]
    json.dumps(throw)


def test_the_path_imagined_from_each_step_is_the_roll_out_of_what_came_before():
    task = make_task(input="coords")
    torch.manual_seed(0)
    model = TinyRecurrent(task.input_size)
    observed = torch.from_numpy(task.dataset.held_out(16)[0, :6])
    batched = task.ahead_from_every_step(model, observed, 4)  # (6, 4, 2), one batch
    for t in range(6):
        alone = task.imagine(model, observed[None, : t + 1], 4)[0]
        torch.testing.assert_close(batched[t], alone, atol=1e-5, rtol=0)


def test_a_restored_task_has_the_same_throws_and_answers():
    """What a checkpoint or an import rebuilds: the same held-out throws, baselines, answers."""
    source = SPEC.parse_source({"input": "image", "gravity": 5.0})
    task = BallTask.build(source, seed=4)
    restored = BallTask.restore(json.loads(json.dumps(source)), 4, task.state())
    assert np.array_equal(task.dataset.held_out(16), restored.dataset.held_out(16))
    assert task.describe() == restored.describe()
    torch.manual_seed(0)
    model = TinyRecurrent(task.input_size)
    query = SPEC.parse_query("throw", {"position": [0.5, 0.5], "velocity": [1, 2], "steps": 9})
    assert task.answer(model, "throw", query) == restored.answer(model, "throw", query)


def test_samples_are_held_out_throws_and_reproducible():
    task = make_task()
    model = TinyRecurrent(task.input_size)
    a = task.sample(model, 200, 1.0, torch.Generator().manual_seed(1))
    b = task.sample(model, 200, 1.0, torch.Generator().manual_seed(1))
    assert a == b
    assert len(a["truth"]) == SAMPLE_STEPS and a["error_px"] > 0
    assert set(a["baselines"]) == {"stay", "constant_velocity"}
    assert set(task.describe()["baselines"]) == {"stay", "constant_velocity"}
    json.dumps(task.describe())
    json.dumps(task.state())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_trained_tiny_lstm_beats_both_baselines_on_held_out_throws(seed: int):
    """Measured on 16-step windows from release: constant velocity 2.21-2.31 px, stay 2.65-2.69;
    the LSTM is below 0.75 x constant velocity within 50-100 steps, at 0.92-1.02 px at 250."""
    task = make_task(seed=seed, input="image")
    torch.manual_seed(seed)
    model = TinyRecurrent(task.input_size)
    base = task.dataset.baselines(16)  # on the windows `train` validates on
    assert base["constant_velocity"] < base["stay"]
    target = 0.75 * base["constant_velocity"]
    steps = train(task, model, seed, budget=600, reached=lambda: held_out_px(task, model) < target)
    assert held_out_px(task, model) < target, (steps, base)


def test_one_frame_cannot_tell_where_the_ball_goes():
    """The lesson: a model that sees only the current frame against the recurrent one, trained
    alike on the same throws. From the second frame on the recurrent model can know the
    velocity; one frame never can. Measured (seeds 0-2, from the second frame): one frame
    2.33-2.36 px, no better than constant velocity; the LSTM 0.64-0.70 px at 250 steps,
    0.45-0.48 at 500 (three times lower by about step 200, five times by step 500)."""
    task = make_task(seed=0, input="image")
    torch.manual_seed(0)
    one_frame = OneFrame(task.input_size)
    train(task, one_frame, seed=0, budget=250)
    one = held_out_px(task, one_frame, first=1)
    assert held_out_px(task, one_frame) > 0.95 * task.dataset.baselines(16)["constant_velocity"]
    torch.manual_seed(0)
    recurrent = TinyRecurrent(task.input_size)
    steps = train(
        task,
        recurrent,
        seed=0,
        budget=1200,
        reached=lambda: held_out_px(task, recurrent, first=1) < one / 3,
        check_every=100,
    )
    assert held_out_px(task, recurrent, first=1) < one / 3, (steps, one)
