/**
 * The network unrolled in time over the last characters typed, as on the course's slides:
 * x_t → h_t → ŷ_t at every step, with the SAME W_xh, W_hh and W_hy everywhere. Each h_t box is
 * a tiny heatmap of the real hidden state; hovering a step shows its numbers.
 */

import type { Actions } from "../../actions";
import { scaleFor } from "../../colors";
import { h, setAttr, setText } from "../../dom";
import { charName, formatPercent, visibleChar } from "../../format";
import { formatFixed, formatInt, t } from "../../i18n";
import { outputText, stepName, type InspectData } from "../../inspectData";
import type { AppState } from "../../store";
import { norm, row, valueAt, type Matrix } from "../../tensors";
import type { Component } from "../component";

const MAX_STEPS = 12;
const MIN_STEPS = 4;
/** Width of one step column plus one W_hh connector, in px, to fit the steps to the panel. */
const STEP_PX = 46;
const LINK_PX = 30;

/** W with a two-letter subscript, as written on the slides. */
function weight(sub: string): HTMLElement {
  return h("span", { class: "w-label", i18nTitle: "unrolled.sameWeights" }, "W", h("sub", {}, sub));
}

/** Paint a hidden-state vector as a grid of `cols` cells a row (default: about square). */
function paintVector(
  canvas: HTMLCanvasElement,
  values: Float32Array,
  m: Matrix,
  width: number,
  cols = Math.ceil(Math.sqrt(values.length)),
  height = (width * Math.ceil(values.length / cols)) / cols,
): void {
  const rows = Math.ceil(values.length / cols);
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d");
  if (!ctx) return;
  const scale = scaleFor(m.lo, m.hi);
  const cw = canvas.width / cols;
  const ch = canvas.height / rows;
  values.forEach((v, i) => {
    const [r, g, b] = scale.color(v);
    ctx.fillStyle = `rgb(${r | 0} ${g | 0} ${b | 0})`;
    ctx.fillRect((i % cols) * cw, Math.floor(i / cols) * ch, Math.ceil(cw), Math.ceil(ch));
  });
}

function quoted(char: string): string {
  return `“${visibleChar(char)}”`;
}

export class Unrolled implements Component {
  readonly el: HTMLElement;
  private readonly grid = h("div", { class: "unrolled", testid: "unrolled" });
  private readonly detail = h("div", { class: "unrolled-detail", testid: "unrolled-detail" });
  private readonly detailText = h("p", {});
  private readonly detailTop = h("p", { class: "muted small" });
  private readonly detailStrip = h("canvas", { class: "detail-strip" });
  private drawnKey = "";
  private data: InspectData | null = null;
  private m: Matrix | null = null;
  private last: Readonly<AppState> | null = null;

  constructor(_actions: Actions) {
    this.detail.append(this.detailText, this.detailStrip, this.detailTop);
    this.el = h(
      "div",
      { class: "inspect-view unrolled-view" },
      h("div", { class: "unrolled-scroll" }, this.grid),
      this.detail,
    );
    new ResizeObserver(() => {
      this.drawnKey = "";
      if (this.last) this.update(this.last);
    }).observe(this.el);
  }

  update(state: Readonly<AppState>): void {
    this.last = state;
    const data = state.inspect.result;
    const layer = Math.min(state.ui.layer, (data?.layers.length ?? 1) - 1);
    const width = this.el.clientWidth;
    const key = [data?.seq, layer, width].join();
    if (!data || key === this.drawnKey || width === 0) return;
    this.drawnKey = key;
    const m = data.layers[layer]?.h;
    if (!m) return;
    this.data = data;
    this.m = m;
    const fit = Math.floor((width - LINK_PX) / (STEP_PX + LINK_PX));
    const n = Math.min(data.chars.length, Math.max(MIN_STEPS, Math.min(MAX_STEPS, fit)));
    this.render(data, m, data.chars.length - n, layer);
    this.showStep(data.chars.length - 1);
  }

  private render(data: InspectData, m: Matrix, first: number, layer: number): void {
    const cells: HTMLElement[] = [];
    // Where the window starts, h_{t-1} comes from earlier steps (or is h_0 = 0).
    const lead = h(
      "div",
      { class: "u-link u-lead" },
      h("span", { class: "u-dots" }, first > 0 ? "…" : "h₀"),
      weight("hh"),
    );
    lead.style.gridColumn = "1";
    cells.push(lead);
    for (let i = first; i < data.chars.length; i++) {
      const col = 2 + (i - first) * 2;
      cells.push(this.step(data, m, i, col, layer));
      if (i < data.chars.length - 1) {
        const link = h("div", { class: "u-link" }, weight("hh"));
        link.style.gridColumn = String(col + 1);
        cells.push(link);
      }
    }
    this.grid.replaceChildren(...cells);
    setAttr(this.grid, "data-steps", String(data.chars.length - first));
  }

  private step(data: InspectData, m: Matrix, i: number, col: number, layer: number): HTMLElement {
    const strip = h("canvas", { class: "u-strip" });
    paintVector(strip, row(m, i), m, 34);
    const y = this.guess(data, i);
    const x = data.labelled
      ? h("div", { class: "u-box u-x u-label", attrs: { title: stepName(data, i) } }, data.chars[i])
      : h("div", { class: "u-box u-x" }, visibleChar(data.chars[i] ?? ""));
    const column = h(
      "div",
      {
        class: "u-step",
        testid: "unrolled-step",
        attrs: { "data-t": i + 1, tabindex: 0, "data-layer": layer },
      },
      h("span", { class: "u-name" }, "ŷ", h("sub", {}, "t")),
      y,
      h("span", { class: "u-arrow" }, weight("hy")),
      h("div", { class: "u-box u-h" }, strip),
      h("span", { class: "u-arrow" }, weight("xh")),
      x,
      h("span", { class: "u-t" }, `t=${i + 1}`),
    );
    column.style.gridColumn = String(col);
    column.addEventListener("pointerenter", () => this.showStep(i));
    column.addEventListener("focus", () => this.showStep(i));
    return column;
  }

  /** ŷ_t's box: the likeliest next character and its probability, or the numbers predicted. */
  private guess(data: InspectData, i: number): HTMLElement {
    if (!data.probs)
      return h(
        "div",
        { class: "u-box u-y u-numbers" },
        outputText(data, i, (v) => formatFixed(v, 2)),
      );
    const predicted = data.top[i] ?? 0;
    const yChar = data.vocab[predicted] ?? "";
    const y = h(
      "div",
      { class: "u-box u-y" },
      h("span", { class: "u-char" }, visibleChar(yChar)),
      h("span", { class: "u-p" }, formatPercent(valueAt(data.probs, i, predicted))),
    );
    const actual = data.chars[i + 1];
    if (actual !== undefined) y.classList.toggle("is-right", actual === yChar);
    return y;
  }

  /** Numbers for one step: the input, ‖h_t‖, the top guesses and whether it was right. */
  private showStep(i: number): void {
    const data = this.data;
    const m = this.m;
    if (!data || !m) return;
    const values = row(m, i);
    const char = data.chars[i] ?? "";
    const named = data.labelled
      ? stepName(data, i)
      : charName(char) === char
        ? quoted(char)
        : charName(char);
    setText(
      this.detailText,
      t("unrolled.detail", {
        t: formatInt(i + 1),
        n: formatInt(data.chars.length),
        char: named,
        norm: formatFixed(norm(values), 2),
        units: formatInt(values.length),
      }),
    );
    // One row, a few pixels per unit: the whole vector at a glance.
    const width = Math.min(this.el.clientWidth - 24, Math.max(values.length * 3, 160));
    paintVector(this.detailStrip, values, m, width, values.length, 14);
    setAttr(this.detail, "data-t", String(i + 1));
    if (!data.probs) {
      const values = outputText(data, i, (v) => formatFixed(v, 3));
      setText(this.detailTop, t("unrolled.outputs", { values }));
      return;
    }
    const probs = Array.from(row(data.probs, i), (p, id) => ({ p, id }))
      .sort((a, b) => b.p - a.p)
      .slice(0, 3)
      .map(({ p, id }) => `${quoted(data.vocab[id] ?? "")} ${formatPercent(p)}`)
      .join(" · ");
    const actual = data.chars[i + 1];
    setText(
      this.detailTop,
      t(actual === undefined ? "unrolled.guessLast" : "unrolled.guess", {
        top: probs,
        actual: actual === undefined ? "" : quoted(actual),
      }),
    );
    setAttr(this.detail, "data-t", String(i + 1));
  }

  reset(): void {
    this.drawnKey = "";
  }
}
