/**
 * The prices task's view: truth against the model's one-step prediction on the held-out months,
 * persistence ("next month equals this month") as a third line, a roll-out continuing from the
 * last training month, and under the chart each one's error and an honest verdict.
 */

import type uPlot from "uplot";
import { h, setText, show } from "../../dom";
import { formatFixed, t, type MessageKey } from "../../i18n";
import { LineChart, type LineSeries } from "../lineChart";
import type { PriceForecast, Verdict } from "./pricesData";

export const PRICE_COLORS = {
  truth: "#1f2430",
  prediction: "#2f6fde",
  persistence: "#df5a2c",
  rollout: "#12804a",
} as const;

const VERDICT_COLORS: Record<Verdict, string> = {
  beats: "var(--ok)",
  ties: "var(--warn)",
  loses: "var(--danger)",
};

const ERROR_ROWS: { key: keyof PriceForecast["errors"]; label: MessageKey }[] = [
  { key: "model", label: "prices.row.model" },
  { key: "persistence", label: "prices.row.persistence" },
  { key: "same_change", label: "prices.row.sameChange" },
  { key: "mean_change", label: "prices.row.meanChange" },
];

/** Wrangled: the chart's aligned columns (x = month index) and the figures under it. */
interface PricesPicture {
  series: LineSeries[];
  data: uPlot.AlignedData;
  errors: { label: MessageKey; pct: number }[];
  verdict: MessageKey;
  rollout: string | null;
}

function pct(v: number): string {
  return `${formatFixed(v, 1)} %`;
}

/** Reshape a forecast: predictions only on held-out months, the roll-out past the data's end. */
export function wranglePrices(forecast: PriceForecast): PricesPicture {
  const { first, holdout_start: held, rollout } = forecast;
  const last = Math.max(
    first + forecast.truth.length - 1,
    rollout ? rollout.start + rollout.prices.length : 0,
  );
  const x: number[] = [];
  const truth: (number | null)[] = [];
  const prediction: (number | null)[] = [];
  const persistence: (number | null)[] = [];
  const roll: (number | null)[] = [];
  for (let month = first; month <= last; month++) {
    const i = month - first;
    const heldOut = month >= held && i < forecast.truth.length;
    x.push(month);
    truth.push(forecast.truth[i] ?? null);
    prediction.push(heldOut ? forecast.prediction[i]! : null);
    persistence.push(heldOut ? forecast.persistence[i]! : null);
    // The roll-out starts at the last known price, so its line joins the truth.
    const r = rollout ? month - rollout.start : -1;
    roll.push(!rollout || r < 0 ? null : r === 0 ? forecast.truth[i]! : rollout.prices[r - 1]!);
  }
  const series: LineSeries[] = [
    { label: t("prices.truth"), color: PRICE_COLORS.truth, width: 2 },
    { label: t("prices.prediction"), color: PRICE_COLORS.prediction, width: 2 },
    { label: t("prices.persistence"), color: PRICE_COLORS.persistence, width: 2, dash: [6, 4] },
  ];
  const data: (number | null)[][] = [x, truth, prediction, persistence];
  if (rollout) {
    series.push({
      label: t("prices.rollout"),
      color: PRICE_COLORS.rollout,
      width: 2,
      dash: [2, 3],
    });
    data.push(roll);
  }
  // The roll-out's error is measured only over the months whose truth is known.
  const known = rollout
    ? Math.min(rollout.prices.length, forecast.truth.length - (rollout.start - first) - 1)
    : 0;
  const rolloutText =
    rollout?.model_pct != null && rollout.persistence_pct != null
      ? t("prices.rolloutError", {
          n: known,
          model: pct(rollout.model_pct),
          persistence: pct(rollout.persistence_pct),
        })
      : null;
  return {
    series,
    data: data as uPlot.AlignedData,
    errors: ERROR_ROWS.map((row) => ({ label: row.label, pct: forecast.errors[row.key] })),
    verdict: `prices.verdict.${forecast.verdict}`,
    rollout: rolloutText,
  };
}

export class PricesView {
  readonly el: HTMLElement;
  private readonly chart = new LineChart({
    testid: "prices-chart",
    xLabel: () => t("prices.month"),
    yLabel: () => t("prices.price"),
    yFormat: (v) => formatFixed(v, v < 10 ? 2 : 0),
    height: 16,
  });
  private readonly errors = h("dl", {
    class: "prices-errors",
    testid: "prices-errors",
  });
  private readonly verdict = h("p", { class: "prices-verdict", testid: "prices-verdict" });
  private readonly rollout = h("p", { class: "muted", testid: "prices-rollout" });
  private readonly empty = h("p", { class: "predict-empty", i18n: "prices.empty" });
  private readonly figures: HTMLElement;
  private drawn: PriceForecast | null | undefined = undefined;

  constructor() {
    this.figures = h(
      "div",
      {},
      h("h3", { class: "subhead", i18n: "prices.error" }),
      this.errors,
      this.verdict,
      this.rollout,
    );
    this.el = h(
      "section",
      { class: "card", testid: "prices-view", attrs: { "data-panel": "prices" } },
      h("div", { class: "card-head" }, h("h2", { class: "card-title", i18n: "prices.title" })),
      h("p", { class: "muted", i18n: "prices.intro" }),
      this.chart.el,
      this.empty,
      this.figures,
    );
    show(this.figures, false);
  }

  /** Draw a new forecast (null: none yet); the same forecast twice draws once. */
  update(forecast: PriceForecast | null): void {
    if (forecast === this.drawn) return;
    this.drawn = forecast;
    show(this.figures, forecast !== null);
    show(this.empty, forecast === null);
    if (forecast === null) return;
    const picture = wranglePrices(forecast);
    this.chart.setData(picture.series, picture.data);
    // A hidden chart (another tab) draws nothing yet: draw again on the next update.
    if (!this.chart.el.querySelector("canvas")) this.drawn = undefined;
    this.errors.replaceChildren(
      ...picture.errors.flatMap((row) => [
        h("dt", { i18n: row.label }),
        h("dd", { attrs: { "data-pct": String(row.pct) } }, pct(row.pct)),
      ]),
    );
    this.verdict.dataset.verdict = forecast.verdict;
    this.verdict.style.color = VERDICT_COLORS[forecast.verdict];
    setText(this.verdict, t(picture.verdict));
    show(this.rollout, picture.rollout !== null);
    setText(this.rollout, picture.rollout ?? "");
  }

  reset(): void {
    this.chart.reset();
    this.drawn = undefined;
  }
}
