/**
 * The four criteria of a sequence model: one row per lesson run, one column per criterion,
 * each cell the figure the server measured and the verdict the server's threshold gives it
 * (the page never judges on its own). Measured when the tab first opens and on demand.
 */

import "./criteria.css";
import type { Actions } from "../../actions";
import { h, setAttr, setText, show } from "../../dom";
import { formatInt, getLang, t, type MessageKey } from "../../i18n";
import { formatPercent } from "../../format";
import { currentLesson, shownTab, type AppState } from "../../store";
import type { CriteriaResult, Lesson } from "../../types";
import type { Component } from "../component";
import { runColor, runName, swatch } from "./runColors";

type Criterion = "variable_length" | "long_term" | "order" | "sharing";
type Row = CriteriaResult["runs"][number];

/** Each column: its criterion, its heading, and the one word a phone's narrow column shows. */
const COLUMNS: [Criterion, MessageKey, MessageKey][] = [
  ["variable_length", "criteria.variableLength", "criteria.short.variableLength"],
  ["long_term", "criteria.longTerm", "criteria.short.longTerm"],
  ["order", "criteria.order", "criteria.short.order"],
  ["sharing", "criteria.sharing", "criteria.short.sharing"],
];

/** A share of the prediction that moved (total variation): "0" when nothing moved at all. */
export function formatMove(v: number): string {
  if (v === 0) return "0";
  const percent = (x: number): string =>
    new Intl.NumberFormat(getLang(), { style: "percent", maximumSignificantDigits: 2 }).format(x);
  // Above 0 but below what two significant digits of a percent can show well.
  return v < 1e-6 ? `< ${percent(1e-6)}` : percent(v);
}

export class CriteriaView implements Component {
  readonly el: HTMLElement;
  private readonly measure = h("button", {
    class: "btn btn-primary",
    testid: "criteria-measure",
    attrs: { type: "button" },
  });
  private readonly status = h("p", { class: "muted small", testid: "criteria-status" });
  private readonly error = h("p", { class: "field-error", testid: "criteria-error" });
  private readonly empty = h("p", { class: "muted", i18n: "criteria.empty" });
  private readonly head = h("tr");
  private readonly body = h("tbody");
  private readonly table = h(
    "table",
    { class: "criteria-table", testid: "criteria-table" },
    h("thead", {}, this.head),
    this.body,
  );
  private readonly legend = h("ul", { class: "criteria-legend muted small" });
  private result: CriteriaResult | null = null;
  private busy = false;
  private asked = false;
  private drawn: { result: CriteriaResult | null; lesson: Lesson | null } | null = null;

  constructor(private readonly actions: Actions) {
    this.measure.addEventListener("click", () => void this.ask());
    this.el = h(
      "section",
      { class: "card criteria-card", testid: "criteria-panel" },
      h("h2", { class: "card-title", i18n: "criteria.title" }),
      h("p", { i18n: "criteria.intro" }),
      h("div", { class: "button-row" }, this.measure, this.status),
      this.error,
      this.empty,
      this.table,
      this.legend,
    );
  }

  update(state: Readonly<AppState>): void {
    if (!this.asked && shownTab(state) === "criteria") void this.ask();
    this.measure.disabled = this.busy;
    setText(this.measure, t(this.busy ? "criteria.measuring" : "criteria.measure"));
    show(this.empty, this.result === null);
    show(this.table, this.result !== null);
    const lesson = currentLesson(state);
    if (this.drawn?.result === this.result && this.drawn.lesson === lesson) return;
    this.drawn = { result: this.result, lesson };
    if (this.result) this.draw(this.result, lesson);
  }

  private async ask(): Promise<void> {
    if (this.busy) return;
    this.asked = true;
    this.busy = true;
    this.repaint();
    try {
      this.result = await this.actions.askCriteria();
      setText(this.error, "");
    } catch (err) {
      setText(this.error, t("criteria.error", { message: String((err as Error).message ?? err) }));
    } finally {
      this.busy = false;
      this.drawn = null;
      this.repaint();
    }
  }

  private repaint(): void {
    this.measure.disabled = this.busy;
    setText(this.measure, t(this.busy ? "criteria.measuring" : "criteria.measure"));
    show(this.error, this.error.textContent !== "");
    if (this.result && this.drawn === null) this.draw(this.result, null);
  }

  private draw(result: CriteriaResult, lesson: Lesson | null): void {
    show(this.empty, false);
    show(this.table, true);
    this.head.replaceChildren(
      h("th", {}, t("criteria.model")),
      ...COLUMNS.map(([, key, short]) =>
        h(
          "th",
          { attrs: { title: t(key) } },
          h("span", { class: "criteria-long" }, t(key)),
          h("span", { class: "criteria-short" }, t(short)),
        ),
      ),
    );
    this.body.replaceChildren(...result.runs.map((run, i) => this.row(run, lesson, i)));
    const steps = result.runs.map((r) => r.step);
    setText(this.status, t("criteria.measured", { steps: formatInt(Math.min(...steps)) }));
    const limits = result.thresholds;
    const vars = {
      width: formatInt(limits.width),
      gap: formatInt(limits.gap),
      remembers: formatPercent(limits.remembers),
      chance: formatPercent(result.chance),
      small: formatInt(result.widths[0]),
      large: formatInt(result.widths[1]),
    };
    this.legend.replaceChildren(
      ...(
        [
          "criteria.ruleVariable",
          "criteria.ruleLongTerm",
          "criteria.ruleOrder",
          "criteria.ruleSharing",
        ] as MessageKey[]
      ).map((key) => h("li", {}, t(key, vars))),
    );
  }

  private row(run: Row, lesson: Lesson | null, i: number): HTMLElement {
    const f = run.figures;
    const [small, large] = f.params;
    const figures: Record<Criterion, string> = {
      variable_length: formatMove(f.beyond_width),
      long_term: formatPercent(f.long_gap_accuracy),
      order: formatMove(f.order),
      sharing: t("criteria.params", { small: formatInt(small), large: formatInt(large) }),
    };
    const name = h(
      "td",
      { class: "criteria-run" },
      swatch(runColor(lesson, run.label, i)),
      " ",
      runName(lesson, run.label),
    );
    const cells = COLUMNS.map(([criterion]) => {
      const met = run.verdicts[criterion];
      const cell = h(
        "td",
        { class: `criteria-cell ${met ? "is-met" : "is-unmet"}` },
        h("span", { class: "criteria-mark", attrs: { "aria-hidden": "true" } }, met ? "✓" : "✗"),
        h("span", { class: "criteria-figure" }, figures[criterion]),
      );
      setAttr(cell, "data-criterion", criterion);
      setAttr(cell, "data-verdict", met ? "met" : "unmet");
      setAttr(cell, "title", t(met ? "criteria.met" : "criteria.unmet"));
      return cell;
    });
    return h("tr", { attrs: { "data-run": run.label } }, name, ...cells);
  }

  reset(): void {
    this.drawn = null;
  }
}
