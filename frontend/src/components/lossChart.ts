/**
 * Train and validation loss against step, in the task's unit (bits/char for text, pixels for
 * a ball…), streamed into a uPlot line chart. A task with a score of its own (`task.score`:
 * valid tunes, exact translations) gets it as a percentage on a second axis, on the right.
 */

import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { h, setText, show } from "../dom";
import { formatFixed, formatInt, isMessageKey, t } from "../i18n";
import type { AppState, HistoryBuffer } from "../store";
import { axisStyle, cssVar, remPx, xTickSpace } from "./charts";
import type { Component } from "./component";

/** Weight of the past in the smoothed train curve (TensorBoard-style debiased EMA). */
const SMOOTHING = 0.9;

type Series = (number | null)[];

/** The score's curve: a green apart from the loss curves' colours. */
const SCORE_COLOR = "#12804a";

/**
 * Wrangle: put train, validation and score points on one shared x axis (uPlot wants aligned
 * data). The step lists are sorted, so a merge with one pointer per list does it in one pass.
 * The score (a share) comes out in percent, as a fifth column.
 */
export function alignHistory(history: HistoryBuffer): [number[], Series, Series, Series, Series] {
  const { step, train, val_step: valStep, val, score_step: scoreStep, score } = history;
  const x: number[] = [];
  const raw: Series = [];
  const smooth: Series = [];
  const valid: Series = [];
  const scored: Series = [];
  let ema = 0;
  let weight = 0;
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < step.length || j < valStep.length || k < scoreStep.length) {
    const s = Math.min(step[i] ?? Infinity, valStep[j] ?? Infinity, scoreStep[k] ?? Infinity);
    let trainValue: number | null = null;
    let valValue: number | null = null;
    if (step[i] === s) {
      trainValue = train[i]!;
      ema = SMOOTHING * ema + (1 - SMOOTHING) * trainValue;
      weight = SMOOTHING * weight + (1 - SMOOTHING);
      i++;
    }
    if (valStep[j] === s) valValue = val[j++]!;
    let share: number | null = null;
    if (scoreStep[k] === s) share = score[k++] ?? null;
    x.push(s);
    raw.push(trainValue);
    smooth.push(trainValue === null ? null : ema / weight);
    valid.push(valValue);
    scored.push(share === null ? null : 100 * share);
  }
  return [x, raw, smooth, valid, scored];
}

/** The score's name on the chart ("validTunes" → "valid tunes"). */
export function scoreLabel(name: string): string {
  const key = `score.${name}`;
  return isMessageKey(key) ? t(key) : name;
}

/** Decimals that tell ticks `incr` apart: 0.5 → 1, 0.05 → 2, 2 → 0. */
function decimals(incr: number): number {
  return Math.max(0, Math.min(4, -Math.floor(Math.log10(incr) + 1e-9)));
}

/** The loss axis' label for a task's unit ("bits/char" → "bits per character"). */
export function unitLabel(unit: string): string {
  const key = `unit.${unit}`;
  return isMessageKey(key) ? t(key) : unit;
}

/** Legend readout: blank until the cursor is over the chart, then 3 decimals. */
function bitsValue(_u: uPlot, v: number | null): string {
  return v == null ? "" : formatFixed(v, 3);
}

export class LossChart implements Component {
  readonly el: HTMLElement;
  private readonly box = h("div", { class: "chart-box", testid: "loss-chart" });
  private readonly empty = h("div", { class: "chart-empty", i18n: "chart.empty" });
  private readonly baseline = h("p", { class: "muted small chart-note" });
  private chart: uPlot | null = null;
  private rem = 0;
  private drawn = { version: -1, revision: -1 };
  private last: Readonly<AppState> | null = null;
  private unit = "bits/char";
  private score: string | null = null;

  constructor() {
    this.el = h(
      "section",
      { class: "card chart-card", attrs: { "data-panel": "chart" } },
      h("h2", { class: "card-title", i18n: "chart.title" }),
      h("div", { class: "chart-wrap" }, this.box, this.empty),
      this.baseline,
    );
    new ResizeObserver(() => this.resize()).observe(this.box);
  }

  update(state: Readonly<AppState>): void {
    this.last = state;
    const history = state.history;
    show(
      this.empty,
      history.step.length === 0 && history.val_step.length === 0 && history.score.length === 0,
    );
    const unit = state.session?.task?.unit ?? "bits/char";
    const score = state.session?.task?.score ?? null;
    if (unit !== this.unit || score !== this.score) {
      this.unit = unit; // the axes are labelled when the chart is built
      this.score = score;
      this.reset();
    }
    this.box.dataset.score = score ? scoreLabel(score) : "";
    this.box.dataset.unit = unitLabel(unit);
    // Uniform guessing scores log2(V) bits: a baseline for the tasks measured in bits.
    const vocab = unit.startsWith("bits/") ? state.session?.text?.vocab_size : undefined;
    setText(
      this.baseline,
      vocab
        ? t("chart.baseline", { n: formatInt(vocab), bits: formatFixed(Math.log2(vocab), 2) })
        : "",
    );
    if (!this.chart) this.build();
    if (!this.chart) return;
    if (history.version === this.drawn.version && history.revision === this.drawn.revision) return;
    this.drawn = { version: history.version, revision: history.revision };
    const [x, raw, smooth, valid, scored] = alignHistory(history);
    this.chart.setData(this.score ? [x, raw, smooth, valid, scored] : [x, raw, smooth, valid]);
  }

  private size(): { width: number; height: number } {
    const legend = this.chart?.root.querySelector<HTMLElement>(".u-legend")?.offsetHeight ?? 32;
    return { width: this.box.clientWidth, height: Math.max(120, this.box.clientHeight - legend) };
  }

  private build(): void {
    if (this.box.clientWidth === 0) return;
    this.rem = remPx();
    const axis = axisStyle(this.rem);
    const train = cssVar("--train");
    const val = cssVar("--val");
    const { width, height } = this.size();
    const axes: uPlot.Axis[] = [
      { ...axis, label: t("chart.x"), size: this.rem * 2.6, space: xTickSpace(this.rem) },
      {
        ...axis,
        label: unitLabel(this.unit),
        size: this.rem * 3.4,
        values: (_u, ticks, _axis, _space, incr) =>
          ticks.map((v) => formatFixed(v, decimals(incr))),
      },
    ];
    const series: uPlot.Series[] = [
      { label: t("chart.x"), value: (_u, v) => (v == null ? "" : formatInt(v)) },
      {
        label: t("chart.train"),
        value: bitsValue,
        stroke: cssVar("--train-faint"),
        width: 1,
        spanGaps: true,
        points: { show: false },
      },
      {
        label: t("chart.trainSmooth"),
        value: bitsValue,
        stroke: train,
        width: 2.5,
        spanGaps: true,
        points: { show: false },
      },
      {
        label: t("chart.val"),
        value: bitsValue,
        stroke: val,
        width: 2,
        spanGaps: true,
        points: { show: true, size: 7, fill: val, stroke: val },
      },
    ];
    if (this.score) {
      // The task's own score, a percentage on its own axis at the right, 0 to 100.
      const color = SCORE_COLOR;
      axes.push({
        ...axis,
        scale: "score",
        side: 1,
        grid: { show: false },
        label: t("chart.score", { name: scoreLabel(this.score) }),
        size: this.rem * 3.4,
        values: (_u, ticks) => ticks.map((v) => formatInt(v)),
      });
      series.push({
        label: scoreLabel(this.score),
        scale: "score",
        value: (_u, v) => (v == null ? "" : `${formatInt(v)} %`),
        stroke: color,
        width: 2,
        dash: [6, 4],
        spanGaps: true,
        points: { show: true, size: 7, fill: color, stroke: color },
      });
    }
    this.chart = new uPlot(
      {
        width,
        height,
        scales: { x: { time: false }, score: { range: [0, 100] } },
        cursor: { drag: { x: false, y: false } },
        legend: { live: true },
        axes,
        series,
      },
      this.score ? [[], [], [], [], []] : [[], [], [], []],
      this.box,
    );
    this.drawn = { version: -1, revision: -1 };
    this.fit();
  }

  /**
   * The legend's height is known only once drawn at the new width: fit the plot under it now,
   * and again on the next frame, when a font or layout change has settled.
   */
  private fit(): void {
    this.chart?.setSize(this.size());
    this.chart?.setSize(this.size());
    requestAnimationFrame(() => this.chart?.setSize(this.size()));
  }

  private resize(): void {
    // A hidden tab has no size: keep the chart as it was until it shows again.
    if (this.box.clientWidth === 0) return;
    if (!this.chart) {
      if (this.last) this.update(this.last);
      return;
    }
    if (remPx() !== this.rem) {
      this.reset();
      if (this.last) this.update(this.last);
      return;
    }
    this.fit();
  }

  reset(): void {
    this.chart?.destroy();
    this.chart = null;
    this.drawn = { version: -1, revision: -1 };
  }
}
