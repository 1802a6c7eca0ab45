/**
 * The ball view: a box where a ball moves along a trajectory, the model's guess of its next
 * position drawn as a ghost, and the path the model imagines ahead as a dotted line. Dragging
 * the ball and letting go throws it; the view asks for the model's answer through `onThrow`.
 *
 * `update(data)` first picks what to play (wrangle), then the animation draws it (render).
 */

import { h, setText, show } from "../../dom";
import { formatFixed, t } from "../../i18n";
import { PALETTE } from "../charts";
import { ThrowTracker } from "./ballThrow";
import type { BallTrajectory, BallViewData, Point, ThrowQuery } from "./ballTypes";

const BALL = PALETTE[0]!;
const MODEL = PALETTE[1]!;
const BOX_FILL = "#f4f7fb";
const BOX_EDGE = "#7d879a";
const TRAIL = "#b7c5dc";
const MARGIN = 8; // css px around the box
const MAX_SIDE = 520; // css px: the box never grows past this
const HOLD_MS = 1000; // a finished trajectory stays on screen this long before the next
const THROW_STEPS = 45; // three seconds of a thrown ball, as long as a live sample
const DEFAULT_RADIUS = 0.06;
const DEFAULT_DT = 1 / 15;

export class BallView {
  readonly el: HTMLElement;
  private readonly canvas = h("canvas", {
    class: "ball-canvas",
    testid: "ball-canvas",
    i18nAriaLabel: "ball.aria",
    attrs: { role: "img" },
  });
  private readonly eye = h("canvas", { class: "ball-eye", testid: "ball-eye" });
  private readonly eyeBox: HTMLElement;
  private readonly coordsNote = h("p", { class: "muted small", i18n: "ball.eyeCoords" });
  private readonly status = h("p", { class: "muted", testid: "ball-status" });
  private readonly throwReadout = h("p", { testid: "ball-throw" });
  private readonly verdict = h("p", { class: "ball-verdict", testid: "ball-verdict" });
  private readonly randomThrow = h("button", {
    class: "btn",
    testid: "ball-throw-random",
    i18n: "ball.throwRandom",
    attrs: { type: "button" },
  });
  private readonly tracker = new ThrowTracker();
  private data: BallViewData = { task: null, sample: null, thrown: null, valPx: null };
  private playing: BallTrajectory | null = null;
  private next: BallTrajectory | null = null; // a newer sample, played when this one ends
  private startedAt = 0;
  private step = 0;
  private frame = 0; // requestAnimationFrame id; 0 when the loop is stopped
  private waitingForThrow = false;
  private released: Point | null = null; // where the ball was let go, until the answer comes
  private side = 0; // css px of the canvas
  private dpr = 1; // device pixels per css px the canvas was sized for

  constructor(private readonly onThrow: (query: ThrowQuery) => void) {
    Object.assign(this.canvas.style, { width: "100%", touchAction: "none", cursor: "grab" });
    Object.assign(this.eye.style, { width: "96px", height: "96px", imageRendering: "pixelated" });
    this.eyeBox = h(
      "figure",
      { class: "ball-eye-box" },
      this.eye,
      h("figcaption", { class: "muted small", i18n: "ball.eye" }),
    );
    this.el = h(
      "section",
      { class: "card ball-card", testid: "ball-view", attrs: { "data-panel": "ball" } },
      h("div", { class: "card-head" }, h("h2", { class: "card-title", i18n: "ball.title" })),
      h("p", { class: "muted", i18n: "ball.intro" }),
      this.canvas,
      legend(),
      h(
        "div",
        { class: "button-row" },
        h("p", { class: "muted small", i18n: "ball.throwHint" }),
        this.randomThrow,
      ),
      this.status,
      this.throwReadout,
      this.verdict,
      this.eyeBox,
      this.coordsNote,
    );
    this.listen();
    new ResizeObserver(() => this.resize()).observe(this.el);
  }

  /** Take the latest task description, sample, throw answer and held-out error. */
  update(data: BallViewData): void {
    const previous = this.data;
    this.data = data;
    // 1. Wrangle: a new throw answer plays at once; a new sample waits for its turn.
    if (data.thrown && data.thrown !== previous.thrown) {
      this.waitingForThrow = false;
      this.released = null;
      this.play(data.thrown);
    } else if (data.sample && data.sample !== previous.sample) {
      if (this.playing) this.next = data.sample;
      else this.play(data.sample);
    }
    // 2. Render the words; the canvas is drawn by the animation loop.
    this.renderText();
    this.ensureLoop();
  }

  /** Forget the drawn size and text (language or text-size switch); redraw at once. */
  reset(): void {
    this.side = 0;
    this.resize();
    this.renderText();
  }

  // ------------------------------------------------------------------- wrangle

  private play(trajectory: BallTrajectory): void {
    this.playing = trajectory;
    if (this.next === trajectory) this.next = null;
    this.startedAt = performance.now();
    this.step = 0;
  }

  private duration(trajectory: BallTrajectory): number {
    return trajectory.truth.length * (trajectory.dt || DEFAULT_DT) * 1000;
  }

  private get radius(): number {
    return this.data.task?.radius ?? DEFAULT_RADIUS;
  }

  // -------------------------------------------------------------------- render

  private renderText(): void {
    const task = this.data.task;
    const shown = this.playing;
    setText(
      this.status,
      this.waitingForThrow ? t("ball.thinking") : shown ? "" : t("ball.waiting"),
    );
    show(this.status, this.waitingForThrow || !shown);
    if (shown) {
      setText(
        this.throwReadout,
        t("ball.thisThrow", {
          model: formatFixed(shown.error_px, 2),
          cv: formatFixed(shown.baselines.constant_velocity, 2),
          stay: formatFixed(shown.baselines.stay, 2),
        }),
      );
    }
    show(this.throwReadout, shown !== null);
    const valPx = this.data.valPx;
    if (task && valPx !== null && Number.isFinite(valPx)) {
      const cv = task.baselines.constant_velocity;
      const vars = { n: task.val_throws, model: formatFixed(valPx, 2), cv: formatFixed(cv, 2) };
      setText(this.verdict, t(valPx < cv ? "ball.beats" : "ball.notYet", vars));
      this.verdict.dataset.beats = String(valPx < cv);
    }
    show(this.verdict, task !== null && valPx !== null);
    show(this.eyeBox, task?.input !== "coords");
    show(this.coordsNote, task?.input === "coords");
  }

  private ensureLoop(): void {
    if (this.frame === 0) this.frame = requestAnimationFrame((now) => this.tick(now));
  }

  /** One animation frame: advance the step with the clock, draw, and go on while visible. */
  private tick(now: number): void {
    this.frame = 0;
    if (!this.el.isConnected || this.el.clientWidth === 0) return; // update() restarts it
    if (window.devicePixelRatio !== this.dpr) this.resize(); // moved to another screen, zoomed
    const current = this.playing;
    // After its last frame and a pause: the next sample if one came, else a sample replays
    // and the user's throw stays on its last frame.
    if (current && now - this.startedAt > this.duration(current) + HOLD_MS) {
      if (this.next) this.play(this.next);
      else if (current !== this.data.thrown) this.startedAt = now;
    }
    const shown = this.playing;
    if (shown) {
      const ms = (shown.dt || DEFAULT_DT) * 1000;
      const step = Math.floor(Math.max(0, now - this.startedAt) / ms);
      this.step = Math.min(shown.truth.length - 1, step);
    }
    this.draw();
    this.ensureLoop();
  }

  private resize(): void {
    const style = getComputedStyle(this.el); // the box fits inside the card's padding
    const inner =
      this.el.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
    const side = Math.min(MAX_SIDE, Math.floor(inner));
    const dpr = window.devicePixelRatio || 1;
    if (side === 0 || (side === this.side && dpr === this.dpr)) return;
    this.side = side;
    this.dpr = dpr;
    this.canvas.style.width = `${side}px`;
    this.canvas.style.height = `${side}px`;
    this.canvas.width = Math.round(side * dpr);
    this.canvas.height = Math.round(side * dpr);
    this.draw();
  }

  /** Box coordinates (y up) to css pixels on the canvas. */
  private toCanvas(p: Point): [number, number] {
    const inner = this.side - 2 * MARGIN;
    return [MARGIN + p[0] * inner, MARGIN + (1 - p[1]) * inner];
  }

  private draw(): void {
    const ctx = this.canvas.getContext("2d");
    if (!ctx || this.side === 0) return;
    const dpr = this.canvas.width / this.side;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.side, this.side);
    this.drawBox(ctx);
    const held = this.tracker.held ?? (this.waitingForThrow ? this.released : null);
    const shown = this.playing;
    const step = this.step;
    this.canvas.dataset.step = String(step);
    if (held) {
      this.drawBall(ctx, held, BALL, 1);
      this.drawEye(held);
      return;
    }
    const ball = shown?.truth[step];
    if (!shown || !ball) return;
    this.drawTrail(ctx, shown.truth.slice(0, step + 1));
    this.drawAhead(ctx, ball, shown.ahead[step] ?? []);
    const ghost = shown.predicted[step];
    if (ghost) this.drawBall(ctx, ghost, MODEL, 0.35, true);
    this.drawBall(ctx, ball, BALL, 1);
    this.drawEye(ball);
  }

  private drawBox(ctx: CanvasRenderingContext2D): void {
    const inner = this.side - 2 * MARGIN;
    ctx.fillStyle = BOX_FILL;
    ctx.fillRect(MARGIN, MARGIN, inner, inner);
    ctx.strokeStyle = BOX_EDGE;
    ctx.lineWidth = 1;
    ctx.setLineDash([]);
    ctx.strokeRect(MARGIN, MARGIN, inner, inner);
    ctx.lineWidth = 3; // the floor, where friction acts
    ctx.beginPath();
    ctx.moveTo(MARGIN, MARGIN + inner);
    ctx.lineTo(MARGIN + inner, MARGIN + inner);
    ctx.stroke();
  }

  private drawBall(
    ctx: CanvasRenderingContext2D,
    p: Point,
    color: string,
    alpha: number,
    dashed = false,
  ): void {
    const [x, y] = this.toCanvas(p);
    const r = this.radius * (this.side - 2 * MARGIN);
    ctx.beginPath();
    ctx.arc(x, y, r, 0, 2 * Math.PI);
    ctx.globalAlpha = alpha;
    ctx.fillStyle = color;
    ctx.fill();
    ctx.globalAlpha = 1;
    ctx.setLineDash(dashed ? [3, 3] : []);
    ctx.strokeStyle = color;
    ctx.lineWidth = 1.5;
    ctx.stroke();
    ctx.setLineDash([]);
  }

  private drawTrail(ctx: CanvasRenderingContext2D, points: Point[]): void {
    ctx.fillStyle = TRAIL;
    for (const p of points) {
      const [x, y] = this.toCanvas(p);
      ctx.fillRect(x - 1, y - 1, 2, 2);
    }
  }

  /** The imagined path: a dotted line from the ball through each imagined step, a dot on each. */
  private drawAhead(ctx: CanvasRenderingContext2D, from: Point, path: Point[]): void {
    if (path.length === 0) return;
    ctx.strokeStyle = MODEL;
    ctx.lineWidth = 1.5;
    ctx.setLineDash([2, 4]);
    ctx.beginPath();
    ctx.moveTo(...this.toCanvas(from));
    for (const p of path) ctx.lineTo(...this.toCanvas(p));
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = MODEL;
    for (const p of path) {
      const [x, y] = this.toCanvas(p);
      ctx.beginPath();
      ctx.arc(x, y, 2.5, 0, 2 * Math.PI);
      ctx.fill();
    }
  }

  /** The frame the model is fed, drawn with the server's formula: clip(R + 1/2 - d, 0, 1). */
  private drawEye(p: Point): void {
    const task = this.data.task;
    if (task?.input !== "image") return;
    const S = task.frame;
    if (this.eye.width !== S) {
      this.eye.width = S;
      this.eye.height = S;
    }
    const ctx = this.eye.getContext("2d");
    if (!ctx) return;
    const image = ctx.createImageData(S, S);
    const [cx, cy] = [p[0] * S, (1 - p[1]) * S];
    const R = task.radius * S;
    for (let row = 0; row < S; row++) {
      for (let col = 0; col < S; col++) {
        const d = Math.hypot(col + 0.5 - cx, row + 0.5 - cy);
        const v = Math.round(255 * Math.min(1, Math.max(0, R + 0.5 - d)));
        const i = 4 * (row * S + col);
        image.data.set([v, v, v, 255], i);
      }
    }
    ctx.putImageData(image, 0, 0);
  }

  // -------------------------------------------------------------------- throws

  private listen(): void {
    const at = (e: PointerEvent): Point => {
      const rect = this.canvas.getBoundingClientRect();
      const inner = rect.width - 2 * MARGIN;
      const r = this.radius;
      const clamp = (v: number) => Math.min(1 - r, Math.max(r, v));
      const x = clamp((e.clientX - rect.left - MARGIN) / inner);
      const y = clamp(1 - (e.clientY - rect.top - MARGIN) / inner);
      return [round4(x), round4(y)];
    };
    this.canvas.addEventListener("pointerdown", (e) => {
      try {
        this.canvas.setPointerCapture(e.pointerId); // keep the drag when it leaves the box
      } catch {
        // A pointer the browser no longer tracks: the drag still works inside the canvas.
      }
      this.tracker.start(at(e), e.timeStamp);
      this.canvas.style.cursor = "grabbing";
      this.ensureLoop();
    });
    this.canvas.addEventListener("pointermove", (e) => this.tracker.move(at(e), e.timeStamp));
    this.canvas.addEventListener("pointerup", (e) => {
      this.tracker.move(at(e), e.timeStamp);
      const release = this.tracker.release();
      this.canvas.style.cursor = "grab";
      if (!release) return;
      const velocity: Point = [round4(release.velocity[0]), round4(release.velocity[1])];
      this.release(release.position, velocity);
    });
    this.canvas.addEventListener("pointercancel", () => this.tracker.cancel());
    // Without a pointer (keyboard, projector remote): a throw from the upper half, any direction.
    this.randomThrow.addEventListener("click", () => {
      const angle = Math.random() * 2 * Math.PI;
      const speed = 0.5 + Math.random() * 2.5; // box widths per second, as training's throws
      const position: Point = [
        round4(0.15 + 0.7 * Math.random()),
        round4(0.5 + 0.4 * Math.random()),
      ];
      const velocity: Point = [round4(speed * Math.cos(angle)), round4(speed * Math.sin(angle))];
      this.release(position, velocity);
    });
  }

  /** Ask for the model's answer to a ball thrown from `position` at `velocity`. */
  private release(position: Point, velocity: Point): void {
    this.waitingForThrow = true;
    this.released = position;
    this.renderText();
    this.ensureLoop();
    this.onThrow({ position, velocity, steps: THROW_STEPS });
  }
}

function legend(): HTMLElement {
  const item = (
    color: string,
    key: "ball.legend.ball" | "ball.legend.ghost" | "ball.legend.ahead",
  ) => h("span", { class: "ball-legend-item" }, swatch(color), h("span", { i18n: key }));
  return h(
    "p",
    { class: "ball-legend small" },
    item(BALL, "ball.legend.ball"),
    " ",
    item(MODEL, "ball.legend.ghost"),
    " ",
    item(MODEL, "ball.legend.ahead"),
  );
}

function swatch(color: string): HTMLElement {
  const el = h("span", { class: "ball-swatch", attrs: { "aria-hidden": "true" } });
  Object.assign(el.style, {
    display: "inline-block",
    width: "0.8em",
    height: "0.8em",
    borderRadius: "50%",
    background: color,
    marginRight: "0.3em",
    verticalAlign: "middle",
  });
  return el;
}

function round4(v: number): number {
  return Math.round(v * 1e4) / 1e4;
}
