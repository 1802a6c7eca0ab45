/**
 * The class board (owner only): every fork of this session, its settings (what differs from
 * yours highlighted), status, step and best validation loss, and all validation curves overlaid.
 * The class becomes a hyperparameter sweep.
 */

import { h, setAttr, setText } from "../dom";
import { formatBits, formatSettingNumber } from "../format";
import { formatInt, settingLabel, t, tn, type MessageKey } from "../i18n";
import type { AppState } from "../store";
import type { Config, ForkRow, SettingValue } from "../types";
import { alignCurves, cssVar, paletteColor } from "./charts";
import type { Component } from "./component";
import { LineChart, type LineSeries } from "./lineChart";

/** Settings always shown for a fork; any other one is shown only when it differs from yours. */
const KEY_SETTINGS = ["model", "hidden_size", "num_layers", "learning_rate", "seq_len"];
/** Settings that say nothing about the sweep. */
const IGNORED = new Set(["temperature", "seed"]);

function show(value: SettingValue | undefined): string {
  if (typeof value === "number") return formatSettingNumber(value, Number.isInteger(value));
  return String(value ?? "—");
}

export class ClassBoard implements Component {
  readonly el: HTMLElement;
  private readonly summary = h("p", { class: "muted", testid: "board-summary" });
  private readonly head = h("tr");
  private readonly body = h("tbody");
  private readonly chart = new LineChart({
    testid: "board-chart",
    xLabel: () => t("chart.x"),
    yLabel: () => t("board.y"),
    height: 14,
  });
  private drawn: { forks: ForkRow[] | null; revision: number; width: number } = {
    forks: null,
    revision: -1,
    width: -1,
  };

  constructor() {
    this.el = h(
      "section",
      { class: "card board-card", testid: "class-board" },
      h("h2", { class: "card-title", i18n: "board.title" }),
      this.summary,
      this.chart.el,
      h(
        "div",
        { class: "table-scroll" },
        h(
          "table",
          { class: "board-table", testid: "board-table" },
          h("thead", {}, this.head),
          this.body,
        ),
      ),
    );
  }

  update(state: Readonly<AppState>): void {
    const forks = state.forks;
    const session = state.session;
    const width = this.chart.el.clientWidth;
    if (!forks || !session) return;
    if (
      forks === this.drawn.forks &&
      state.history.revision === this.drawn.revision &&
      width === this.drawn.width
    )
      return;
    this.drawn = { forks, revision: state.history.revision, width };
    setText(this.summary, tn("board.summary", forks.length));
    this.renderTable(forks, session.config);
    const series: LineSeries[] = [
      { label: t("board.yours"), color: cssVar("--text"), width: 3 },
      ...forks.map((_f, i) => ({
        label: t("board.forkN", { n: i + 1 }),
        color: paletteColor(i),
        width: 1.75,
      })),
    ];
    const curves = [
      { step: state.history.val_step, val: state.history.val },
      ...forks.map((f) => ({ step: f.val_step, val: f.val })),
    ];
    if (width > 0) this.chart.setData(series, alignCurves(curves));
  }

  private renderTable(forks: ForkRow[], mine: Config): void {
    const heads: MessageKey[] = [
      "board.fork",
      "board.settings",
      "board.status",
      "board.step",
      "board.best",
    ];
    this.head.replaceChildren(...heads.map((key) => h("th", { attrs: { scope: "col" } }, t(key))));
    this.body.replaceChildren(...forks.map((fork, i) => this.row(fork, i, mine)));
  }

  /** One fork: its colour, its settings (changed ones highlighted), status, step, best loss. */
  private row(fork: ForkRow, i: number, mine: Config): HTMLElement {
    const swatch = h("span", { class: "swatch" });
    swatch.style.background = paletteColor(i);
    const changed = (name: string): boolean => fork.config[name] !== mine[name];
    const names = [
      ...KEY_SETTINGS,
      ...Object.keys(fork.config).filter(
        (name) => !IGNORED.has(name) && !KEY_SETTINGS.includes(name) && changed(name),
      ),
    ];
    const chips = names.map((name) => {
      const chip = h(
        "span",
        { class: `chip chip-setting${changed(name) ? " is-changed" : ""}` },
        `${settingLabel({ name })} ${show(fork.config[name])}`,
      );
      if (changed(name)) chip.title = t("board.was", { value: show(mine[name]) });
      return chip;
    });
    const row = h(
      "tr",
      {
        testid: "board-row",
        attrs: { "data-id": fork.id, "data-step": fork.step, "data-status": fork.status },
      },
      h("td", { class: "board-fork" }, swatch, t("board.forkN", { n: i + 1 })),
      h("td", { class: "board-settings" }, ...chips),
      h("td", {}, h("span", { class: `status-dot is-${fork.status}` }), t(`status.${fork.status}`)),
      h("td", { class: "num" }, formatInt(fork.step)),
      h("td", { class: "num" }, formatBits(fork.best_val ?? undefined)),
    );
    row.title = fork.id;
    setAttr(row, "data-best", fork.best_val === null ? null : String(fork.best_val));
    return row;
  }

  reset(): void {
    this.chart.reset();
    this.drawn = { forks: null, revision: -1, width: -1 };
  }
}
