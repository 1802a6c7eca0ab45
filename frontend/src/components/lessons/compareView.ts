/**
 * Compare runs: the session and its children (a lesson's runs, or forks) side by side — a
 * table of model, parameters (with a bar, so parameter sharing shows at a glance), step, best
 * validation loss, speed and status, and every validation curve overlaid.
 */

import type { Actions } from "../../actions";
import { h, setAttr, setText, show } from "../../dom";
import { formatBits } from "../../format";
import { choiceLabel, formatCompact, formatInt, t, tn, type MessageKey } from "../../i18n";
import { currentLesson, type AppState } from "../../store";
import type { Lesson, RunRow } from "../../types";
import { alignCurves } from "../charts";
import type { Component } from "../component";
import { LineChart, type LineSeries } from "../lineChart";
import { runColor, runName, swatch } from "./runColors";

/** "Fixed window · n = 4 · 64 units": the kind, and what sets its size. */
function modelText(run: RunRow): string {
  const kind = String(run.config.model ?? "");
  const parts = [choiceLabel("model", kind)];
  if (kind === "window" && run.config.window !== undefined) {
    parts.push(t("compare.width", { n: Number(run.config.window) }));
  }
  if (kind !== "bag" && run.config.hidden_size !== undefined) {
    parts.push(t("compare.hidden", { n: Number(run.config.hidden_size) }));
  }
  return parts.join(" · ");
}

const HEADS: [MessageKey, string][] = [
  ["compare.run", ""],
  ["compare.params", "num"],
  ["compare.step", "num"],
  ["compare.best", "num"],
  ["compare.speed", "num"],
  ["compare.status", ""],
];

export class CompareView implements Component {
  readonly el: HTMLElement;
  private readonly summary = h("p", { class: "muted", testid: "compare-summary" });
  private readonly note = h("p", { class: "compare-note", i18n: "compare.paramsNote" });
  private readonly message = h("p", { class: "muted", testid: "compare-message" });
  private readonly chartEmpty = h("p", { class: "muted small", i18n: "compare.chartEmpty" });
  private readonly head = h("tr");
  private readonly body = h("tbody");
  private readonly table = h(
    "table",
    { class: "board-table compare-table", testid: "compare-table" },
    h("thead", {}, this.head),
    this.body,
  );
  private readonly chart = new LineChart({
    testid: "compare-chart",
    xLabel: () => t("chart.x"),
    yLabel: () => t("compare.y"),
    height: 12,
  });
  private drawn: { rows: RunRow[] | null; lesson: Lesson | null; width: number } | null = null;

  constructor(private readonly actions: Actions) {
    this.el = h(
      "section",
      { class: "card compare-card", testid: "compare-panel" },
      h("h2", { class: "card-title", i18n: "compare.title" }),
      this.summary,
      this.message,
      h("div", { class: "table-scroll" }, this.table),
      this.note,
      this.chartEmpty,
      this.chart.el,
    );
  }

  update(state: Readonly<AppState>): void {
    const { rows, error } = state.runs;
    show(this.message, rows === null);
    setText(this.message, error ? t("compare.error", { message: error }) : t("compare.loading"));
    if (!rows) return;
    const lesson = currentLesson(state);
    const width = this.chart.el.clientWidth;
    if (this.drawn?.rows === rows && this.drawn.lesson === lesson && this.drawn.width === width)
      return;
    this.drawn = { rows, lesson, width };
    setText(this.summary, tn("compare.summary", rows.length));
    this.head.replaceChildren(
      ...HEADS.map(([key, cls]) => h("th", { class: cls, attrs: { scope: "col" } }, t(key))),
    );
    const most = Math.max(1, ...rows.map((r) => r.params));
    const me = state.session?.id;
    this.body.replaceChildren(...rows.map((run, i) => this.row(run, i, lesson, most, me)));
    // The note about parameter sharing is for runs of different kinds of model.
    show(this.note, new Set(rows.map((r) => r.config.model)).size > 1);
    this.drawChart(rows, lesson, width);
  }

  private row(
    run: RunRow,
    i: number,
    lesson: Lesson | null,
    most: number,
    me: string | undefined,
  ): HTMLElement {
    const href = this.actions.runHref(run.id);
    const name = href
      ? h(
          "a",
          {
            class: "compare-open",
            attrs: { href, target: "_blank", rel: "noopener", title: t("compare.open") },
          },
          runName(lesson, run.label),
        )
      : h("span", {}, runName(lesson, run.label));
    const bar = h("span", { class: "params-bar" });
    bar.style.width = `${Math.max(1, (100 * run.params) / most).toFixed(1)}%`;
    const row = h(
      "tr",
      {
        class: run.id === me ? "is-me" : "",
        testid: "compare-row",
        attrs: {
          "data-id": run.id,
          "data-label": run.label,
          "data-params": run.params,
          "data-step": run.step,
          "data-status": run.status,
        },
      },
      h(
        "td",
        { class: "compare-label", attrs: { title: modelText(run) } },
        swatch(runColor(lesson, run.label, i)),
        name,
        h(
          "span",
          { class: "compare-model" },
          // "bag of characters / Bag of characters" says the same thing twice.
          modelText(run).toLowerCase() !== runName(lesson, run.label).toLowerCase() &&
            h("span", { class: "compare-model-text" }, modelText(run)),
          run.id === me && h("span", { class: "chip chip-me" }, t("compare.thisPage")),
        ),
      ),
      h(
        "td",
        { class: "num compare-params" },
        h("span", { class: "params-value" }, formatInt(run.params)),
        h("span", { class: "params-track" }, bar),
      ),
      h("td", { class: "num" }, formatInt(run.step)),
      h("td", { class: "num" }, formatBits(run.best_val ?? undefined)),
      h(
        "td",
        { class: "num" },
        run.chars_per_sec && run.status === "running" ? formatCompact(run.chars_per_sec) : "—",
      ),
      h("td", {}, h("span", { class: `status-dot is-${run.status}` }), t(`status.${run.status}`)),
    );
    setAttr(row, "data-best", run.best_val === null ? null : String(run.best_val));
    return row;
  }

  private drawChart(rows: RunRow[], lesson: Lesson | null, width: number): void {
    const anyPoints = rows.some((r) => r.val.length > 0);
    show(this.chartEmpty, !anyPoints);
    if (width === 0 || !anyPoints) return;
    // A handful of evaluations are dots and lines; hundreds are just lines.
    const sparse = Math.max(...rows.map((r) => r.val.length)) <= 20;
    const series: LineSeries[] = rows.map((run, i) => ({
      label: runName(lesson, run.label),
      color: runColor(lesson, run.label, i),
      width: 2,
      points: sparse,
    }));
    this.chart.setData(series, alignCurves(rows.map((r) => ({ step: r.val_step, val: r.val }))));
  }

  reset(): void {
    this.chart.reset();
    this.drawn = null;
  }
}
