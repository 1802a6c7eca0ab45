"""A ball thrown in a box: the physics that makes its trajectories, and the camera that films it.

The box is the unit square, x to the right and y up; the ball is a disc of radius
r whose centre p = (x, y) stays in [r, 1 - r]^2. Time advances in fixed steps of
dt seconds. One step of semi-implicit Euler (velocity first, then position, which
keeps a bouncing ball's energy from creeping up):

  v_y <- v_y - g dt                         gravity g (box heights per second^2)
  p   <- p + v dt                           move
  if p leaves [r, 1 - r] on an axis:        a wall, the floor or the ceiling
      p <- the nearest point inside         (clamped back onto the wall)
      v <- -e v  on that axis               restitution e in [0, 1]: 1 bounces forever, 0 sticks
  if the ball touches the floor (y = r):
      v_x <- v_x - sign(v_x) min(|v_x|, mu g dt)   Coulomb friction mu: rolling slows down

A floor bounce whose rebound is slower than 1.5 g dt ends with v_y = 0: the ball
then rests on the floor. Without this, fixed steps would hop forever, since a ball
resting on the floor falls for one step, gains g dt and bounces back with e g dt.

A throw starts anywhere in the box with a random speed and direction (`throws`),
drawn from a seeded NumPy generator, so the same seed always gives the same
throws. `simulate` runs many throws at once (one row each), so a training batch
of trajectories costs a few vectorised steps, not a Python loop per ball.

The camera (`render`) draws the ball into an S x S frame, row 0 at the top. Each
pixel's value is how much of it the disc covers, approximated from the distance d
between the pixel's centre and the ball's centre, in pixels:

  coverage = clip(R + 1/2 - d, 0, 1)        R = r S, the radius in pixels

so the disc's edge is anti-aliased over one pixel, and moving the ball by a
fraction of a pixel changes the frame: the image alone says where the ball is to
well under a pixel. It does not say where the ball is going; that takes two frames
or more, which is the whole point of a recurrent model here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DT = 1 / 15  # seconds per step: 15 frames a second, fast enough to follow a bounce
RADIUS = 0.06  # the ball's radius, in box widths
FRAME = 24  # frame side in pixels, as in the course's "image of a ball"
REST_STEPS = 1.5  # a floor rebound slower than REST_STEPS * g dt ends in rest
MIN_SPEED, MAX_SPEED = 0.5, 3.0  # a random throw's speed, box widths per second


@dataclass(frozen=True)
class World:
    """The physical constants of one box: every throw in a session shares them."""

    gravity: float = 9.8  # box heights per second squared (a 1 m box on Earth)
    restitution: float = 0.8  # fraction of the speed a bounce keeps
    friction: float = 0.3  # Coulomb coefficient on the floor
    dt: float = DT
    radius: float = RADIUS


def throws(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """`n` random throws: start positions p0 (n, 2) inside the box and velocities v0 (n, 2)."""
    lo, hi = RADIUS, 1 - RADIUS
    p0 = rng.uniform(lo, hi, size=(n, 2))
    speed = rng.uniform(MIN_SPEED, MAX_SPEED, size=n)
    angle = rng.uniform(0, 2 * np.pi, size=n)
    v0 = np.stack([speed * np.cos(angle), speed * np.sin(angle)], axis=1)
    return p0, v0


def step(p: np.ndarray, v: np.ndarray, world: World) -> tuple[np.ndarray, np.ndarray]:
    """One time step for a batch of balls: positions p (n, 2), velocities v (n, 2) -> new p, v."""
    r, dt = world.radius, world.dt
    v = v.copy()
    # 1. Gravity pulls down, then the ball moves with its new velocity.
    v[:, 1] -= world.gravity * dt
    p = p + v * dt
    # 2. Walls, floor and ceiling: clamp back inside and reverse the normal velocity.
    low, high = p < r, p > 1 - r  # (n, 2) which balls crossed which wall
    hit = low | high
    p = np.clip(p, r, 1 - r)
    v = np.where(hit, -world.restitution * v, v)
    # 3. A slow rebound from the floor ends in rest rather than endless tiny hops.
    settle = low[:, 1] & (np.abs(v[:, 1]) < REST_STEPS * world.gravity * dt)
    v[:, 1] = np.where(settle, 0.0, v[:, 1])
    # 4. On the floor, friction takes up to mu g dt off the horizontal speed, never reversing it.
    on_floor = p[:, 1] <= r + 1e-9
    slow = np.minimum(np.abs(v[:, 0]), world.friction * world.gravity * dt)
    v[:, 0] = np.where(on_floor, v[:, 0] - np.sign(v[:, 0]) * slow, v[:, 0])
    return p, v


def simulate(p0: np.ndarray, v0: np.ndarray, steps: int, world: World) -> np.ndarray:
    """Positions of every ball at times 0, dt, ..., (steps - 1) dt: (n, steps, 2), p0 first."""
    p, v = np.asarray(p0, dtype=np.float64), np.asarray(v0, dtype=np.float64)
    out = np.empty((len(p), steps, 2))
    for t in range(steps):
        out[:, t] = p
        p, v = step(p, v, world)
    return out


def trajectories(n: int, steps: int, world: World, rng: np.random.Generator) -> np.ndarray:
    """`n` random throws followed for `steps` steps: positions (n, steps, 2), float32."""
    p0, v0 = throws(n, rng)
    return simulate(p0, v0, steps, world).astype(np.float32)


def disc_coverage(dx, dy, radius_px: float):
    """How much of each pixel a disc covers, from the pixel's offset (dx, dy) to its centre.

    Works on NumPy arrays and torch tensors alike (only arithmetic and `.clip`),
    so the training batches and the pictures the page shows come from one formula.
    """
    d = (dx * dx + dy * dy) ** 0.5
    return (radius_px + 0.5 - d).clip(0.0, 1.0)


def pixel_offsets(positions: np.ndarray, size: int = FRAME) -> tuple[np.ndarray, np.ndarray]:
    """Offsets in pixels from each ball centre (..., 2) to each pixel centre: two (..., S, S)."""
    positions = np.asarray(positions, dtype=np.float64)
    centres = np.arange(size) + 0.5  # pixel centres along one axis, in pixels
    px = positions[..., 0] * size  # ball centre, pixels from the left
    py = (1 - positions[..., 1]) * size  # pixels from the top: rows go down, y goes up
    dx = centres[None, :] - px[..., None, None]  # (..., 1, S) broadcast over rows
    dy = centres[:, None] - py[..., None, None]  # (..., S, 1) broadcast over columns
    return np.broadcast_arrays(dx, dy)


def render(positions: np.ndarray, size: int = FRAME, radius: float = RADIUS) -> np.ndarray:
    """Frames of the ball at `positions` (..., 2): (..., S, S) floats in [0, 1], row 0 on top."""
    dx, dy = pixel_offsets(positions, size)
    return disc_coverage(dx, dy, radius * size).astype(np.float32)


def locate(frames: np.ndarray, size: int = FRAME) -> np.ndarray:
    """The ball's centre read back from frames (..., S, S), as the brightness centroid: (..., 2)."""
    frames = np.asarray(frames, dtype=np.float64)
    centres = (np.arange(size) + 0.5) / size
    mass = frames.sum(axis=(-2, -1))
    x = (frames.sum(axis=-2) * centres).sum(axis=-1) / mass
    y_down = (frames.sum(axis=-1) * centres).sum(axis=-1) / mass
    return np.stack([x, 1 - y_down], axis=-1)
