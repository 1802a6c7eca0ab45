/**
 * Every run of a lesson on one chart: each run's latest ‖∂L/∂h_t‖ (top layer) against steps
 * back from the loss, on one log scale, one colour and one name per run as in every lesson view.
 * The rows come from `GET /runs` (`RunsPoller`), so a student sees the teacher's runs.
 */

import { h, setAttr, setText, show } from "../../dom";
import { formatInt, t } from "../../i18n";
import { currentLesson, type AppState } from "../../store";
import type { Lesson, RunRow } from "../../types";
import { positive } from "../charts";
import type { Component } from "../component";
import { LineChart, type LineSeries } from "../lineChart";
import { runColor, runName } from "./runColors";

interface Curve {
  label: string;
  color: string;
  step: number;
  cell: boolean; // an LSTM's ‖∂L/∂C_t‖ (dashed), beside its ‖∂L/∂h_t‖
  values: (number | null)[]; // by steps back: values[k] = the norm at t = T - k
}

/** Norms by t = 1..T, reversed to count steps back from the loss. */
function back(values: (number | null)[]): (number | null)[] {
  return values.map((_, k) => positive(values[values.length - 1 - k]));
}

/** Each run's curve (and an LSTM's cell-state curve), for the runs measured so far. */
function wrangle(rows: RunRow[], lesson: Lesson | null): Curve[] {
  return rows.flatMap((run, i) => {
    const g = run.gradients;
    if (!g || g.h.length === 0) return [];
    const label = runName(lesson, run.label);
    const color = runColor(lesson, run.label, i);
    const curves = [{ label, color, step: g.step, cell: false, values: back(g.h) }];
    if (g.c) {
      const cell = { label: t("runGradients.cell", { label }), color, step: g.step, cell: true };
      curves.push({ ...cell, values: back(g.c) });
    }
    return curves;
  });
}

export class RunGradientsView implements Component {
  readonly el: HTMLElement;
  private readonly chart = new LineChart({
    testid: "run-gradients-chart",
    xLabel: () => t("runGradients.x"),
    yLabel: () => t("runGradients.y"),
    log: true,
    height: 12,
  });
  private readonly note = h("p", { class: "muted small", testid: "run-gradients-note" });
  private drawn: { rows: RunRow[] | null; lesson: Lesson | null; width: number } | null = null;

  constructor() {
    this.el = h(
      "div",
      { class: "run-gradients", testid: "run-gradients" },
      h("h3", { class: "subhead", i18n: "runGradients.title" }),
      h("div", { class: "chart-slot" }, this.chart.el),
      this.note,
    );
    this.el.hidden = true;
  }

  update(state: Readonly<AppState>): void {
    const lesson = currentLesson(state);
    const rows = state.runs.rows;
    show(this.el, (lesson?.runs.length ?? 0) > 1);
    const width = this.chart.el.clientWidth;
    if (!lesson || !rows) return;
    const d = this.drawn;
    if (d?.rows === rows && d.lesson === lesson && d.width === width) return;
    this.drawn = { rows, lesson, width };
    this.render(wrangle(rows, lesson));
  }

  private render(curves: Curve[]): void {
    const runs = curves.filter((c) => !c.cell);
    setAttr(this.chart.el, "data-runs", String(runs.length));
    const steps = runs.map((c) => formatInt(c.step)).join(" · ");
    const note = curves.some((c) => c.cell) ? "runGradients.noteCell" : "runGradients.note";
    setText(this.note, runs.length ? t(note, { steps }) : t("runGradients.empty"));
    if (!curves.length) return;
    const length = Math.max(...curves.map((c) => c.values.length));
    const back = Array.from({ length }, (_, k) => k);
    const series: LineSeries[] = curves.map((c) =>
      c.cell
        ? { label: c.label, color: c.color, width: 1.5, dash: [6, 4] }
        : { label: c.label, color: c.color, width: 2 },
    );
    const ys = curves.map((c) => back.map((k) => c.values[k] ?? null));
    this.chart.setData(series, [back, ...ys]);
  }

  reset(): void {
    this.chart.reset();
    this.drawn = null;
  }
}
