/**
 * A throw from a drag: the pointer's recent path gives the release position and velocity.
 * The velocity is the displacement over (about) the last RECENT_MS of the drag, so a flick
 * counts and a drag that stops before release gives a drop, as with a real ball.
 */

import type { Point } from "./ballTypes";

const RECENT_MS = 100;
/** The server refuses faster throws (backend/tasks/ball/spec.py MAX_SPEED). */
export const MAX_THROW_SPEED = 10;

interface Sample {
  time: number; // milliseconds
  at: Point;
}

export class ThrowTracker {
  private samples: Sample[] = [];

  start(at: Point, time: number): void {
    this.samples = [{ time, at }];
  }

  get active(): boolean {
    return this.samples.length > 0;
  }

  /** The last point of the drag (where the ball is held), or null when not dragging. */
  get held(): Point | null {
    return this.samples.at(-1)?.at ?? null;
  }

  move(at: Point, time: number): void {
    if (!this.active) return;
    this.samples.push({ time, at });
    // Keep a little more than the window the velocity is measured over.
    while (this.samples.length > 2 && this.samples[1]!.time < time - 3 * RECENT_MS)
      this.samples.shift();
  }

  /** The release: where and how fast (box widths per second, y up), capped at MAX_THROW_SPEED. */
  release(): { position: Point; velocity: Point } | null {
    const last = this.samples.at(-1);
    if (!last) return null;
    // From the last sample at or before the window's start: a drag slower than the pointer's
    // event rate still measures its last movement, and a pointer held still gives a drop.
    const before = this.samples.filter((s) => s.time <= last.time - RECENT_MS).at(-1);
    const first = before ?? this.samples[0]!;
    this.samples = [];
    const seconds = (last.time - first.time) / 1000;
    let velocity: Point = [0, 0];
    if (seconds > 0.005) {
      velocity = [(last.at[0] - first.at[0]) / seconds, (last.at[1] - first.at[1]) / seconds];
      const speed = Math.hypot(velocity[0], velocity[1]);
      if (speed > MAX_THROW_SPEED) velocity = scale(velocity, MAX_THROW_SPEED / speed);
    }
    return { position: last.at, velocity };
  }

  cancel(): void {
    this.samples = [];
  }
}

function scale(p: Point, k: number): Point {
  // Rounded a little under the cap, so the server's bound is never crossed by rounding.
  return [p[0] * k * 0.999, p[1] * k * 0.999];
}
