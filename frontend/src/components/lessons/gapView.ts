/**
 * Accuracy against the gap: for each run, how often it predicts the dependent character after
 * that many characters of noise, with chance as a dashed line. A window is perfect up to its
 * width and at chance beyond; a tanh RNN fades; the gated cells stay flat.
 */

import type { Actions } from "../../actions";
import { h, setAttr, setText, show } from "../../dom";
import { formatPercent } from "../../format";
import { formatInt, getLang, t } from "../../i18n";
import { training } from "../../gapMeter";
import { currentLesson, type AppState, type GapsState } from "../../store";
import type { GapsResult, Lesson } from "../../types";
import { cssVar } from "../charts";
import type { Component } from "../component";
import { LineChart, type LineSeries } from "../lineChart";
import { runColor, runName } from "./runColors";

export class GapView implements Component {
  readonly el: HTMLElement;
  private readonly measure = h("button", {
    class: "btn btn-primary",
    testid: "gap-measure",
    attrs: { type: "button" },
  });
  private readonly status = h("p", { class: "muted small", testid: "gap-status" });
  private readonly auto = h("p", { class: "muted small", i18n: "gap.auto" });
  private readonly empty = h("p", { class: "muted gap-empty", i18n: "gap.empty" });
  private readonly error = h("p", { class: "field-error", testid: "gap-error" });
  private readonly chart = new LineChart({
    testid: "gap-chart",
    xLabel: () => t("gap.x"),
    yLabel: () => t("gap.y"),
    yRange: [0, 1],
    yFormat: (v) => formatPercent(v, 0),
    height: 12.5,
  });
  private drawn: { gaps: GapsState; lesson: Lesson | null; width: number } | null = null;
  private measuredAt = "";

  constructor(actions: Actions) {
    this.measure.addEventListener("click", () => actions.measureGaps());
    this.el = h(
      "section",
      { class: "card gap-card", testid: "gap-panel" },
      h("h2", { class: "card-title", i18n: "gap.title" }),
      h("p", { class: "gap-intro", i18n: "gap.intro" }),
      h(
        "div",
        { class: "button-row" },
        this.measure,
        h("div", { class: "gap-status" }, this.status, this.auto),
      ),
      this.error,
      this.empty,
      this.chart.el,
    );
  }

  update(state: Readonly<AppState>): void {
    const gaps = state.gaps;
    this.measure.disabled = gaps.busy;
    setText(this.measure, t(gaps.busy ? "gap.measuring" : "gap.measure"));
    show(this.auto, training(state));
    show(this.error, gaps.error !== null);
    setText(this.error, gaps.error ? t("gap.error", { message: gaps.error }) : "");
    show(this.empty, gaps.result === null);
    const lesson = currentLesson(state);
    const width = this.chart.el.clientWidth;
    if (this.drawn?.gaps.result === gaps.result && this.drawn.lesson === lesson) {
      if (this.drawn.width === width) return;
    } else if (gaps.result) {
      this.measuredAt = new Date().toLocaleTimeString(getLang(), {
        hour: "2-digit",
        minute: "2-digit",
        second: "2-digit",
      });
    }
    this.drawn = { gaps, lesson, width };
    const result = gaps.result;
    setText(this.status, result ? this.statusText(result) : "");
    if (!result) return;
    setAttr(this.chart.el, "data-runs", String(result.runs.length));
    setAttr(this.chart.el, "data-result", JSON.stringify(result));
    if (width > 0) this.draw(result, lesson);
  }

  private statusText(result: GapsResult): string {
    const steps = result.runs.map((r) => r.step);
    const lo = Math.min(...steps);
    const hi = Math.max(...steps);
    const range = lo === hi ? formatInt(lo) : `${formatInt(lo)}–${formatInt(hi)}`;
    return t("gap.measured", { time: this.measuredAt, steps: range });
  }

  private draw(result: GapsResult, lesson: Lesson | null): void {
    const series: LineSeries[] = result.runs.map((run, i) => ({
      label: runName(lesson, run.label),
      color: runColor(lesson, run.label, i),
      width: 2.5,
      points: true,
    }));
    series.push({
      label: `${t("gap.chance")} (${formatPercent(result.chance)})`,
      color: cssVar("--muted"),
      width: 1.5,
      dash: [6, 5],
    });
    this.chart.setData(series, [
      result.gaps,
      ...result.runs.map((run) => run.accuracy),
      result.gaps.map(() => result.chance),
    ]);
  }

  reset(): void {
    this.chart.reset();
    this.drawn = null;
  }
}
