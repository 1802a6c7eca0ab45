/**
 * Gradients through time: ‖∂L/∂h_t‖ for t = 1..seq_len from `train:gradients` (log scale), with
 * up to three pinned profiles overlaid (vanishing tanh RNN, healthy LSTM, exploding large init),
 * and the global gradient norm before clipping over training, against the clipping threshold.
 */

import { h, setAttr, setText, show } from "../../dom";
import { formatPercent, formatScientific } from "../../format";
import { formatFixed, formatInt, t, type MessageKey } from "../../i18n";
import { loadPins, MAX_PINS, pinLabel, savePins, type Pin } from "../../pins";
import type { AppState, HistoryBuffer } from "../../store";
import type { GradientsMessage } from "../../types";
import { cssVar, paletteColor, positive } from "../charts";
import type { Component } from "../component";
import { LineChart, type LineSeries } from "../lineChart";
import { RunGradientsView } from "../lessons/runGradients";
import { HighwayView } from "./highway";

/** ‖∂L/∂h_1‖ / ‖∂L/∂h_T‖ below this: hardly any signal reaches the start of the window. */
const VANISHING = 1e-6;
/** … above this: it grows going back, and only clipping keeps training stable. */
const EXPLODING = 1;
/** Recent steps the clip rate is measured over when computed from the history. */
const CLIP_WINDOW = 200;
/** A training step's gradient norm above this is an explosion, whatever the window's profile. */
const BURST = 100;

type Verdict = "vanishing" | "healthy" | "exploding";

function verdict(ratio: number | null): Verdict {
  if (ratio === null || !Number.isFinite(ratio)) return "exploding";
  if (ratio < VANISHING) return "vanishing";
  return ratio > EXPLODING ? "exploding" : "healthy";
}

function sci(v: number | null): string {
  return v === null ? "∞" : formatScientific(v);
}

/** The largest gradient norm of the latest steps (∞ where one overflowed); null before any. */
function recentPeak(history: HistoryBuffer): number | null {
  const recent = history.grad.slice(-CLIP_WINDOW);
  if (!recent.length) return null;
  return Math.max(...recent.map((v) => (v === null || !Number.isFinite(v) ? Infinity : v)));
}

/** Fraction of the latest steps whose gradient was clipped. */
function recentClipRate(history: HistoryBuffer): number | null {
  const recent = history.clipped.slice(-CLIP_WINDOW);
  return recent.length ? recent.reduce((a, b) => a + b, 0) / recent.length : null;
}

function padded(values: (number | null)[], length: number): (number | null)[] {
  return Array.from({ length }, (_, i) => positive(values[i]));
}

export class GradientsView implements Component {
  readonly el: HTMLElement;
  private readonly profile = new LineChart({
    testid: "gradients-chart",
    xLabel: () => t("gradients.x"),
    yLabel: () => t("gradients.y"),
    log: true,
  });
  private readonly norms = new LineChart({
    testid: "gradnorm-chart",
    xLabel: () => t("chart.x"),
    yLabel: () => t("gradnorm.y"),
    log: true,
    height: 10,
  });
  private readonly empty = h("p", {
    class: "chart-empty-inline",
    testid: "gradients-empty",
    i18n: "gradients.empty",
  });
  private readonly normsEmpty = h("p", { class: "chart-empty-inline", i18n: "gradnorm.empty" });
  private readonly summary = h("p", { class: "gradients-summary", testid: "gradients-summary" });
  private readonly clipRate = h("p", { class: "muted small", testid: "clip-rate" });
  private readonly allLayers = h("input", {
    class: "switch",
    testid: "gradients-all-layers",
    attrs: { type: "checkbox", id: "gradients-all-layers" },
  });
  private readonly cell = h("input", {
    class: "switch",
    testid: "gradients-cell",
    attrs: { type: "checkbox", id: "gradients-cell" },
  });
  private readonly cellField: HTMLElement;
  private readonly pinButton = h("button", {
    class: "btn btn-small",
    testid: "gradients-pin",
    i18n: "gradients.pin",
    attrs: { type: "button" },
  });
  private readonly pinList = h("div", { class: "chips", testid: "gradients-pins" });
  private readonly highway = new HighwayView();
  private readonly runs = new RunGradientsView();
  private peak: number | null = null; // a recent burst above BURST, which the summary names
  private pins: Pin[] = [];
  private pinsSession = "";
  private last: Readonly<AppState> | null = null;
  private drawn = { gradients: null as GradientsMessage | null, revision: -1, key: "", width: -1 };

  constructor() {
    this.allLayers.addEventListener("change", () => this.redraw());
    this.cell.addEventListener("change", () => this.redraw());
    this.pinButton.addEventListener("click", () => this.pin());
    this.cellField = h(
      "label",
      { class: "inline-field", attrs: { for: "gradients-cell" } },
      this.cell,
      h("span", { i18n: "gradients.cell" }),
    );
    this.el = h(
      "div",
      { class: "inspect-view gradients-view" },
      h(
        "div",
        { class: "view-controls" },
        h(
          "label",
          { class: "inline-field", attrs: { for: "gradients-all-layers" } },
          this.allLayers,
          h("span", { i18n: "gradients.allLayers" }),
        ),
        this.cellField,
        h("span", { class: "grow" }),
        this.pinButton,
      ),
      this.pinList,
      h("div", { class: "chart-slot" }, this.profile.el, this.empty),
      this.summary,
      this.highway.el,
      this.runs.el,
      h("h3", { class: "subhead", i18n: "gradnorm.title" }),
      h("div", { class: "chart-slot" }, this.norms.el, this.normsEmpty),
      this.clipRate,
    );
  }

  private redraw(): void {
    this.drawn.key = "";
    if (this.last) this.update(this.last);
  }

  update(state: Readonly<AppState>): void {
    this.last = state;
    const session = state.session;
    if (session && session.id !== this.pinsSession) {
      this.pinsSession = session.id;
      this.pins = loadPins(session.id);
    }
    const g = state.gradients;
    const peak = recentPeak(state.history);
    this.peak = peak !== null && peak >= BURST ? peak : null;
    const key = [
      this.peak,
      this.allLayers.checked,
      this.cell.checked,
      this.pins.length,
      this.profile.el.clientWidth,
    ].join();
    if (g !== this.drawn.gradients || key !== this.drawn.key) {
      this.drawn.gradients = g;
      this.drawn.key = key;
      this.renderProfile(g);
      this.renderPins();
    }
    this.highway.update(state);
    this.runs.update(state);
    const history = state.history;
    const width = this.norms.el.clientWidth;
    if (history.revision !== this.drawn.revision || width !== this.drawn.width) {
      this.drawn.revision = history.revision;
      this.drawn.width = width;
      this.renderNorms(state);
    }
  }

  private renderProfile(g: GradientsMessage | null): void {
    show(this.empty, g === null && this.pins.length === 0);
    show(this.cellField, Boolean(g?.c_norms));
    this.pinButton.disabled = g === null || this.pins.length >= MAX_PINS;
    this.pinButton.title = this.pins.length >= MAX_PINS ? t("gradients.pinsFull") : "";
    const length = Math.max(g?.seq_len ?? 0, ...this.pins.map((p) => p.h.length));
    const x = Array.from({ length }, (_, i) => i + 1);
    const series: LineSeries[] = [];
    const ys: (number | null)[][] = [];
    if (g) {
      const top = g.h_norms.length - 1;
      const layers = this.allLayers.checked ? g.h_norms.map((_, l) => l) : [top];
      for (const l of layers) {
        series.push({
          label: t("gradients.layer", { n: l + 1 }),
          color: l === top ? cssVar("--accent") : paletteColor(5 + l),
          width: l === top ? 2.5 : 1.5,
        });
        ys.push(padded(g.h_norms[l] ?? [], length));
      }
      const c = g.c_norms?.[top];
      if (this.cell.checked && c) {
        series.push({
          label: t("gradients.cellSeries"),
          color: cssVar("--val"),
          width: 1.5,
          dash: [2, 3],
        });
        ys.push(padded(c, length));
      }
    }
    this.pins.forEach((pin, i) => {
      series.push({
        label: t("gradients.pinned", { label: pin.label }),
        color: paletteColor(i + 1),
        width: 2,
        dash: [7, 4],
      });
      ys.push(padded(pin.h, length));
    });
    setAttr(this.profile.el, "data-step", g ? String(g.step) : null);
    setAttr(this.profile.el, "data-seq-len", g ? String(g.seq_len) : null);
    setAttr(this.profile.el, "data-pins", String(this.pins.length));
    if (series.length) this.profile.setData(series, [x, ...ys]);
    this.renderSummary(g);
  }

  private renderSummary(g: GradientsMessage | null): void {
    if (!g) {
      setText(this.summary, "");
      return;
    }
    // A window that fades between bursts still explodes: the ReLU RNN of the exploding lesson.
    const v = this.peak !== null ? "exploding" : verdict(g.ratio);
    // The mean factor each step back applies: ratio^(1 / (T - 1)), a geometric mean.
    const factor =
      g.ratio === null ? null : g.seq_len > 1 ? Math.pow(g.ratio, 1 / (g.seq_len - 1)) : 1;
    const key = this.peak !== null ? "gradients.verdict.bursts" : `gradients.verdict.${v}`;
    setText(
      this.summary,
      t(key as MessageKey, {
        peak: sci(this.peak),
        ratio: sci(g.ratio),
        step: formatInt(g.step),
        T: formatInt(g.seq_len),
        factor: factor === null ? "∞" : `×${formatFixed(factor, 2)}`,
      }),
    );
    setAttr(this.summary, "data-verdict", v);
  }

  private renderPins(): void {
    this.pinList.replaceChildren(
      ...this.pins.map((pin, i) => {
        const remove = h(
          "button",
          { class: "chip-remove", i18nAriaLabel: "gradients.unpin", attrs: { type: "button" } },
          "×",
        );
        remove.addEventListener("click", () => this.unpin(i));
        const swatch = h("span", { class: "swatch" });
        swatch.style.background = paletteColor(i + 1);
        return h(
          "span",
          { class: "chip chip-pin", testid: "gradients-pin-chip" },
          swatch,
          `${pin.label} · ${t("gradients.atStep", { step: formatInt(pin.step) })}`,
          remove,
        );
      }),
    );
  }

  private pin(): void {
    const g = this.last?.gradients;
    const config = this.last?.session?.config;
    if (!g || !config || this.pins.length >= MAX_PINS) return;
    this.pins = [
      ...this.pins,
      { label: pinLabel(config), step: g.step, h: g.h_norms.at(-1) ?? [] },
    ];
    savePins(this.pinsSession, this.pins);
    this.redraw();
  }

  private unpin(index: number): void {
    this.pins = this.pins.filter((_, i) => i !== index);
    savePins(this.pinsSession, this.pins);
    this.redraw();
  }

  private renderNorms(state: Readonly<AppState>): void {
    const history = state.history;
    const config = state.session?.config;
    const clip = config?.clip !== false;
    const threshold = Number(config?.clip_threshold ?? state.gradients?.clip_threshold ?? 1);
    show(this.normsEmpty, history.grad_step.length === 0);
    const series: LineSeries[] = [
      { label: t("gradnorm.series"), color: cssVar("--train"), width: 1.5 },
    ];
    const data: (number | null)[][] = [history.grad.map(positive)];
    if (clip) {
      series.push({
        label: t("gradnorm.threshold"),
        color: cssVar("--danger"),
        width: 1.5,
        dash: [6, 4],
      });
      data.push(history.grad_step.map(() => threshold));
    }
    if (history.grad_step.length) this.norms.setData(series, [history.grad_step, ...data]);
    const rate = state.gradients?.clip_rate ?? recentClipRate(history);
    setText(
      this.clipRate,
      !clip
        ? t("gradnorm.clipOff")
        : rate === null
          ? ""
          : t("gradnorm.clipRate", { rate: formatPercent(rate), threshold: String(threshold) }),
    );
    setAttr(this.clipRate, "data-value", rate === null ? null : String(rate));
  }

  reset(): void {
    this.profile.reset();
    this.norms.reset();
    this.highway.reset();
    this.runs.reset();
    this.drawn = { gradients: null, revision: -1, key: "", width: -1 };
  }
}
