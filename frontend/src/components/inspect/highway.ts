/**
 * The LSTM's cell-state highway, from `train:gradients`: against steps back from the loss,
 * ‖∂L/∂C_t‖ (every path), the forget gates' path alone ‖∂L/∂C_T ⊙ f_T ⋯ f_{t+1}‖ and
 * ‖∂L/∂h_t‖, on one log scale, under the one line of backpropagation that makes the difference.
 */

import { h, setAttr, setText, show } from "../../dom";
import { formatInt, getLang, t } from "../../i18n";
import type { AppState } from "../../store";
import type { GradientsMessage } from "../../types";
import { cssVar, positive } from "../charts";
import type { Component } from "../component";
import { LineChart, type LineSeries } from "../lineChart";

/** How far back the summary reads the curves: the course's "20 steps and more". */
const BACK = 20;

interface Curves {
  back: number[]; // steps back from the loss: 0 .. T-1
  cell: (number | null)[];
  direct: (number | null)[];
  hidden: (number | null)[];
}

/** The top layer's three curves, reversed so that x counts steps back from the loss. */
function wrangle(g: GradientsMessage): Curves | null {
  const top = g.h_norms.length - 1;
  const cell = g.c_norms?.[top];
  const direct = g.c_direct?.[top];
  if (!cell || !direct) return null;
  const T = g.seq_len;
  const back = Array.from({ length: T }, (_, k) => k);
  const at = (values: (number | null)[]) => back.map((k) => positive(values[T - 1 - k]));
  return { back, cell: at(cell), direct: at(direct), hidden: at(g.h_norms[top] ?? []) };
}

const SUPERSCRIPT = "⁰¹²³⁴⁵⁶⁷⁸⁹";

/** v as a share of `ref`, the value at the loss, in the page's language: "0,45", or "3×10⁻⁵"
 * (which reads as "3 hundred-thousandths") below a hundredth. */
export function share(v: number | null, ref: number | null): string {
  if (v === null || ref === null || ref <= 0) return "—";
  const r = v / ref;
  const digits = new Intl.NumberFormat(getLang(), { maximumSignificantDigits: 2 });
  if (r >= 0.01 || r === 0) return digits.format(r);
  let exponent = Math.floor(Math.log10(r));
  let mantissa = Math.round(r / 10 ** exponent);
  if (mantissa === 10) [mantissa, exponent] = [1, exponent + 1]; // 9.7e-5 reads 1×10⁻⁴
  const power = [...String(-exponent)].map((d) => SUPERSCRIPT[Number(d)]).join("");
  return `${mantissa}×10⁻${power}`;
}

export class HighwayView implements Component {
  readonly el: HTMLElement;
  private readonly chart = new LineChart({
    testid: "highway-chart",
    xLabel: () => t("highway.x"),
    yLabel: () => t("highway.y"),
    log: true,
    height: 14, // at least 200 px at every text size the page uses
  });
  private readonly summary = h("p", { class: "gradients-summary", testid: "highway-summary" });
  private drawn: { g: GradientsMessage | null; width: number } = { g: null, width: -1 };

  constructor() {
    this.el = h(
      "div",
      { class: "highway-view", testid: "highway-view" },
      h("h3", { class: "subhead", i18n: "highway.title" }),
      h("p", { class: "equation", testid: "highway-equation", i18n: "highway.equation" }),
      h("p", { class: "muted small", i18n: "highway.explain" }),
      h("div", { class: "chart-slot" }, this.chart.el),
      this.summary,
    );
    this.el.hidden = true;
  }

  update(state: Readonly<AppState>): void {
    const g = state.gradients;
    const width = this.chart.el.clientWidth;
    if (g === this.drawn.g && width === this.drawn.width) return;
    const curves = g ? wrangle(g) : null;
    show(this.el, curves !== null);
    if (!g || !curves) return;
    this.drawn = { g, width: this.chart.el.clientWidth };
    this.render(g, curves);
  }

  private render(g: GradientsMessage, c: Curves): void {
    const series: LineSeries[] = [
      { label: t("highway.cell"), color: cssVar("--val"), width: 2.5 },
      { label: t("highway.direct"), color: cssVar("--val"), width: 1.5, dash: [6, 4] },
      { label: t("highway.hidden"), color: cssVar("--train"), width: 2 },
    ];
    this.chart.setData(series, [c.back, c.cell, c.direct, c.hidden]);
    const k = Math.min(BACK, c.back.length - 1);
    setText(
      this.summary,
      t("highway.summary", {
        step: formatInt(g.step),
        k: formatInt(k),
        cell: share(c.cell[k] ?? null, c.cell[0] ?? null),
        direct: share(c.direct[k] ?? null, c.direct[0] ?? null),
        hidden: share(c.hidden[k] ?? null, c.hidden[0] ?? null),
      }),
    );
    setAttr(this.el, "data-step", String(g.step));
  }

  reset(): void {
    this.chart.reset();
    this.drawn = { g: null, width: -1 };
  }
}
