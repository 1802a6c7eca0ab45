"""The ball view in Debian's headless Chromium: the ball moves, its ghost and imagined path are
drawn where the data says, a drag throws a ball, and the answer to that throw is played.

The view is bundled on its own (rolldown, from node_modules) and mounted on a bare page, so
these tests check the component itself; the payloads come from the real ball task."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import torch
from torch import nn

from tests.browser import _contexts, require_chromium
from tests.conftest import ROOT

require_chromium()

from playwright.sync_api import Page  # noqa: E402

from backend.tasks.ball import physics  # noqa: E402
from backend.tasks.ball.spec import SPEC  # noqa: E402
from backend.tasks.ball.task import BallTask  # noqa: E402

pytestmark = pytest.mark.browser

ROLLDOWN = ROOT / "node_modules" / ".bin" / "rolldown"
BALL_RGB = (47, 111, 222)  # PALETTE[0]
MODEL_RGB = (223, 90, 44)  # PALETTE[1]
MARGIN = 8  # css px around the box (ballView.ts)
SIDE = 400  # css px of the box's container
DPR = 2


class TinyRecurrent(nn.Module):
    def __init__(self, input_size: int) -> None:
        super().__init__()
        self.rnn = nn.LSTM(input_size, 8, batch_first=True)
        self.head = nn.Linear(8, 2)

    def forward(self, x, state=None):
        h, state = self.rnn(x, state)
        return self.head(h), state


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> str:
    """ballView.ts and what it imports, as one script defining the global `BallLib`."""
    if not ROLLDOWN.exists():
        pytest.skip("node_modules is not installed")
    out = tmp_path_factory.mktemp("ball") / "ball.js"
    entry = ROOT / "frontend" / "src" / "components" / "tasks" / "ballView.ts"
    subprocess.run(
        [str(ROLLDOWN), str(entry), "--format", "iife", "--name", "BallLib", "--file", str(out)],
        check=True,
        capture_output=True,
        cwd=ROOT,
    )
    return out.read_text()


@pytest.fixture
def page(browser, bundle) -> Page:
    """A bare page at devicePixelRatio 2 holding one BallView; throws are kept in `thrown`."""
    context = browser.new_context(viewport={"width": 900, "height": 900}, device_scale_factor=DPR)
    _contexts.append(context)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.set_content(f'<body style="margin:0"><div id="root" style="width:{SIDE}px"></div></body>')
    page.add_script_tag(content=bundle)
    page.evaluate(
        """() => {
            window.thrown = [];
            window.view = new BallLib.BallView((q) => window.thrown.push(q));
            document.getElementById('root').append(window.view.el);
        }"""
    )
    return page


def task_and_model() -> tuple[BallTask, nn.Module]:
    task = BallTask.build(SPEC.parse_source({"input": "image"}), seed=0)
    torch.manual_seed(0)
    return task, TinyRecurrent(task.input_size)


def trajectory_with_a_far_ghost() -> dict:
    """A real throw whose "model" guesses 0.2 box widths left and imagines a straight line up,
    so ball, ghost and path never overlap and each can be found by its colour."""
    truth = physics.simulate(np.array([[0.6, 0.8]]), np.array([[0.4, 0.0]]), 45, physics.World())
    truth = np.round(truth[0], 4)
    ghost = truth + [-0.2, 0.0]
    ahead = [[[p[0] - 0.2, min(0.94, p[1] + 0.05 * (k + 2))] for k in range(5)] for p in truth]
    return {
        "truth": truth.tolist(),
        "predicted": ghost.tolist(),
        "ahead": ahead,
        "error_px": 4.8,
        "baselines": {"stay": 1.8, "constant_velocity": 1.5},
        "dt": physics.DT,
    }


def update(page: Page, task: BallTask, sample=None, thrown=None, val_px=None) -> None:
    data = {"task": task.describe(), "sample": sample, "thrown": thrown, "valPx": val_px}
    page.evaluate("data => window.view.update(data)", json.loads(json.dumps(data)))


READ_PIXELS = """(margin) => {
    const c = document.querySelector('[data-testid=ball-canvas]');
    const step = Number(c.dataset.step);
    const dpr = c.width / c.getBoundingClientRect().width;
    const inner = c.getBoundingClientRect().width - 2 * margin;
    const ctx = c.getContext('2d');
    const read = (p) => {
        const x = Math.round((margin + p[0] * inner) * dpr);
        const y = Math.round((margin + (1 - p[1]) * inner) * dpr);
        return Array.from(ctx.getImageData(x, y, 1, 1).data.slice(0, 3));
    };
    return {step, pixels: POINTS(step).map(read)};
}"""


def pixels_at(page: Page, points_js: str) -> dict:
    """The canvas's colour at box points computed (by `points_js`) from the step drawn, read in
    the same JS task as the step, so no animation frame can come between them."""
    return page.evaluate(READ_PIXELS.replace("POINTS", f"({points_js})"), MARGIN)


def close(rgb, expected, tol=30) -> bool:
    return all(abs(a - b) <= tol for a, b in zip(rgb, expected, strict=True))


def test_the_ball_moves_with_its_ghost_and_imagined_path(page: Page):
    task, _ = task_and_model()
    sample = trajectory_with_a_far_ghost()
    update(page, task, sample=sample, val_px=0.7)
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=ball-canvas]').dataset.step) >= 3"
    )
    page.evaluate("s => { window.sample = s; }", sample)
    got = pixels_at(
        page,
        "s => [sample.truth[s], sample.predicted[s], sample.ahead[s][2], sample.truth[0]]",
    )
    ball, ghost, dot, start = got["pixels"]
    assert got["step"] >= 3
    assert close(ball, BALL_RGB), ball
    assert ghost[0] - ghost[2] > 40 and not close(ghost, BALL_RGB), ghost  # translucent orange
    assert close(dot, MODEL_RGB, tol=40), dot
    assert not close(start, BALL_RGB), "the ball is still where it started"
    # Drawn for a device pixel ratio of 2: the backing store has twice the css pixels.
    size = page.get_by_test_id("ball-canvas").evaluate("c => [c.width, c.clientWidth]")
    assert size == [DPR * SIDE, SIDE]
    verdict = page.get_by_test_id("ball-verdict")
    assert verdict.get_attribute("data-beats") == "true"
    held_out_cv = task.describe()["baselines"]["constant_velocity"]  # not this throw's 1.5
    assert f"{held_out_cv:.2f} px" in verdict.inner_text()


def test_the_eye_shows_the_frame_the_model_is_fed(page: Page):
    task, _ = task_and_model()
    update(page, task, sample=trajectory_with_a_far_ghost())
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=ball-canvas]').dataset.step) >= 1"
    )
    seen = page.evaluate(
        """() => {
            const c = document.querySelector('[data-testid=ball-canvas]');
            const step = Number(c.dataset.step);
            const eye = document.querySelector('[data-testid=ball-eye]');
            const d = eye.getContext('2d').getImageData(0, 0, eye.width, eye.height).data;
            const frame = [];
            for (let i = 0; i < d.length; i += 4) frame.push(d[i] / 255);
            return {step, size: eye.width, frame};
        }"""
    )
    S = task.describe()["frame"]
    assert seen["size"] == S
    truth = trajectory_with_a_far_ghost()["truth"][seen["step"]]
    expected = physics.render(np.array(truth), S).ravel()
    np.testing.assert_allclose(seen["frame"], expected, atol=1 / 255 + 1e-6)


def box_to_client(page: Page):
    """A function from box coordinates (y up) to the page's client pixels over the canvas."""
    canvas = page.get_by_test_id("ball-canvas").bounding_box()
    inner = canvas["width"] - 2 * MARGIN

    def at(x: float, y: float) -> tuple[float, float]:
        return canvas["x"] + MARGIN + x * inner, canvas["y"] + MARGIN + (1 - y) * inner

    return at


def test_a_drag_with_the_mouse_throws_a_ball_and_the_answer_is_played(page: Page):
    task, model = task_and_model()
    update(page, task)
    at = box_to_client(page)
    page.mouse.move(*at(0.3, 0.4))
    page.mouse.down()
    for k in range(1, 6):  # a flick up and to the right
        page.mouse.move(*at(0.3 + 0.04 * k, 0.4 + 0.03 * k))
    page.mouse.up()
    thrown = page.evaluate("() => window.thrown")
    assert len(thrown) == 1
    query = SPEC.parse_query("throw", thrown[0])  # the server accepts what the view sends
    assert query["position"] == pytest.approx([0.5, 0.55], abs=0.01)
    # How fast depends on how quickly this (shared) machine delivered the moves; the direction
    # must not: never down or to the left. The speed itself is checked by the timed flick below.
    assert query["velocity"][0] >= 0 and query["velocity"][1] >= 0
    assert page.get_by_test_id("ball-status").is_visible()
    # The real task answers; the view plays it from the release point on.
    answer = task.answer(model, "throw", query)
    update(page, task, thrown=answer)
    page.evaluate("a => { window.sample = a; }", answer)
    page.wait_for_function(
        "() => Number(document.querySelector('[data-testid=ball-canvas]').dataset.step) >= 2"
    )
    got = pixels_at(page, "s => [sample.truth[s]]")
    assert close(got["pixels"][0], BALL_RGB), got
    assert page.get_by_test_id("ball-status").is_hidden()
    assert page.get_by_test_id("ball-throw").is_visible()


def test_a_flick_gives_the_velocity_of_its_last_tenth_of_a_second(page: Page):
    """Pointer events timed inside the page: a finger moving 0.02 box widths to the left and
    down every 16 ms (1.25 box/s per axis when the machine keeps time). The throw's velocity
    must be the displacement over the last 100 ms of events, by their own time stamps."""
    task, _ = task_and_model()
    update(page, task)
    start = box_to_client(page)(0.7, 0.7)
    per_px = box_to_client(page)(0.72, 0.7)[0] - start[0]  # css px for 0.02 box widths
    events = page.evaluate(
        """([x0, y0, d]) => new Promise((done) => {
            const c = document.querySelector('[data-testid=ball-canvas]');
            const log = [];
            const fire = (type, k) => {
                const e = new PointerEvent(type, {
                    pointerId: 7, pointerType: 'touch', isPrimary: true, bubbles: true,
                    clientX: x0 - d * k, clientY: y0 + d * k});
                log.push([e.timeStamp, k]);
                c.dispatchEvent(e);
            };
            fire('pointerdown', 0);
            let k = 0;
            const timer = setInterval(() => {
                k += 1;
                fire('pointermove', k);
                if (k === 12) { clearInterval(timer); fire('pointerup', k); done(log); }
            }, 16);
        })""",
        [start[0], start[1], per_px],
    )
    thrown = page.evaluate("() => window.thrown")
    assert len(thrown) == 1
    # The rule: from the last event at or before 100 ms before the release, to the release.
    t_end, k_end = events[-1]
    t0, k0 = [e for e in events if e[0] <= t_end - 100][-1]
    expected = 0.02 * (k_end - k0) / ((t_end - t0) / 1000)  # box widths per second, per axis
    vx, vy = thrown[0]["velocity"]
    assert vx == pytest.approx(-expected, rel=0.02) and vy == pytest.approx(-expected, rel=0.02)
    assert expected > 0.3  # a flick, not a drop, even on a slow machine


def test_the_button_throws_a_ball_without_a_pointer(page: Page):
    task, _ = task_and_model()
    update(page, task)
    page.get_by_test_id("ball-throw-random").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    thrown = page.evaluate("() => window.thrown")
    assert len(thrown) == 2 and thrown[0] != thrown[1]
    for query in thrown:
        SPEC.parse_query("throw", query)  # the server accepts it
    assert page.get_by_test_id("ball-status").is_visible()


def test_the_view_follows_its_container_when_resized(page: Page):
    task, _ = task_and_model()
    update(page, task, sample=trajectory_with_a_far_ghost())
    page.evaluate("() => { document.getElementById('root').style.width = '300px'; }")
    page.wait_for_function(
        "() => document.querySelector('[data-testid=ball-canvas]').width === 600"
    )


def short_throw(x: float) -> dict:
    """A ball dropped at `x`, followed for 10 steps (two thirds of a second), guessed exactly."""
    truth = physics.simulate(np.array([[x, 0.5]]), np.zeros((1, 2)), 10, physics.World())[0]
    truth = np.round(truth, 4).tolist()
    return {
        "truth": truth,
        "predicted": truth[1:] + truth[-1:],
        "ahead": [[] for _ in truth],
        "error_px": 0.0,
        "baselines": {"stay": 1.0, "constant_velocity": 1.0},
        "dt": physics.DT,
    }


def ball_at(page: Page, name: str) -> bool:
    """Whether the ball is drawn where window[name] says it is at the step drawn."""
    got = pixels_at(page, f"s => [window.{name}.truth[s]]")
    return close(got["pixels"][0], BALL_RGB)


def wait_for_ball(page: Page, name: str) -> None:
    """Wait until the ball is drawn where window[name] says it is at the step drawn."""
    read = READ_PIXELS.replace("POINTS", f"(s => [window.{name}.truth[s]])")
    near = " && ".join(f"Math.abs(d[{i}] - {v}) < 30" for i, v in enumerate(BALL_RGB))
    check = f"(m) => {{ const d = ({read})(m).pixels[0]; return {near}; }}"
    page.wait_for_function(check, arg=MARGIN)


def test_a_newer_sample_waits_for_the_one_playing_to_end(page: Page):
    task, _ = task_and_model()
    first, second = short_throw(0.2), short_throw(0.8)
    page.evaluate("([a, b]) => { window.first = a; window.second = b; }", [first, second])
    update(page, task, sample=first)
    update(page, task, sample=second)
    wait_for_ball(page, "first")
    assert not ball_at(page, "second")
    # Ten steps and a pause later, the second sample plays.
    wait_for_ball(page, "second")
    assert not ball_at(page, "first")
