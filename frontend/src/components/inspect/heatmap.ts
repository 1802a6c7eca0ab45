/**
 * Gates and states as a heatmap: one row per character typed, one column per unit, for the
 * chosen layer and quantity (LSTM i f g o c h, GRU r z n h, RNN a h), under the equation that
 * computes it. Each row is labelled with the text read so far, so time reads like the text.
 * Units can be sorted by their mean value, which gathers units that behave alike. Canvas 2D:
 * the matrix is blitted from one pixel per cell, labels drawn on top. Hover reads a value,
 * click picks a unit.
 */

import type { Actions } from "../../actions";
import { byteColors, scaleFor } from "../../colors";
import { h, setAttr, setText } from "../../dom";
import { charName, visibleChar } from "../../format";
import { formatFixed, formatInt, t } from "../../i18n";
import { quantitiesOf, stepName, type InspectData } from "../../inspectData";
import type { AppState } from "../../store";
import { valueAt, type Matrix } from "../../tensors";
import type { Component } from "../component";
import { Legend } from "./legend";
import {
  quantityEquation,
  quantityHelp,
  quantityName,
  quantitySymbol,
  renderMath,
} from "./quantities";
import { Tooltip } from "./tooltip";

const ROW_H = 16;
const LABEL_W = 72; // the current character and up to CONTEXT before it
const CONTEXT = 6;
const HEADER_H = 18;

interface Geometry {
  rows: number;
  cols: number;
  cellW: number;
  width: number;
  height: number;
  /** order[display column] = unit shown there (the identity unless sorted). */
  order: number[];
}

/** Units by descending mean over the text, so units that behave alike sit side by side. */
function sortedUnits(m: Matrix): number[] {
  const mean = new Float32Array(m.cols);
  for (let r = 0; r < m.rows; r++) {
    for (let c = 0; c < m.cols; c++) mean[c]! += valueAt(m, r, c) / m.rows;
  }
  return Array.from({ length: m.cols }, (_, c) => c).sort((a, b) => mean[b]! - mean[a]!);
}

/** Wrangle: the matrix to draw and what it is, or null when the result lacks it. */
function pick(
  data: InspectData,
  layer: number,
  wanted: string | null,
): { quantity: string; m: Matrix } | null {
  const names = quantitiesOf(data, layer);
  const quantity = wanted && names.includes(wanted) ? wanted : names[0];
  const m = quantity ? data.layers[layer]?.[quantity] : undefined;
  return quantity && m ? { quantity, m } : null;
}

export class Heatmap implements Component {
  readonly el: HTMLElement;
  private readonly buttons = h("div", {
    class: "segmented",
    testid: "heatmap-quantities",
    attrs: { role: "group" },
  });
  private readonly equation = h("p", { class: "equation", testid: "heatmap-equation" });
  private readonly meaning = h("p", { class: "muted small quantity-help" });
  private readonly sortButton = h("button", {
    class: "btn btn-ghost btn-small",
    testid: "heatmap-sort",
    i18n: "heatmap.sort",
    attrs: { type: "button", "aria-pressed": "false" },
  });
  private sorted = false;
  private readonly canvas = h("canvas", { class: "heatmap-canvas", testid: "heatmap-canvas" });
  private readonly scroll = h("div", { class: "heatmap-scroll" }, this.canvas);
  private readonly tooltip = new Tooltip();
  private readonly legend = new Legend();
  private readonly selected = h("p", { class: "muted small", testid: "heatmap-selected" });
  private drawnKey = "";
  private last: Readonly<AppState> | null = null;
  private shown: { data: InspectData; quantity: string; m: Matrix; geo: Geometry } | null = null;

  constructor(private readonly actions: Actions) {
    this.el = h(
      "div",
      { class: "inspect-view heatmap-view" },
      h("div", { class: "heatmap-head" }, this.buttons, this.sortButton),
      this.equation,
      this.meaning,
      h("div", { class: "heatmap-frame" }, this.scroll, this.tooltip.el),
      h("div", { class: "view-foot" }, this.legend.el, this.selected),
    );
    this.canvas.addEventListener("pointermove", (e) => this.hover(e));
    this.canvas.addEventListener("pointerleave", () => this.tooltip.hide());
    this.canvas.addEventListener("click", (e) => {
      const cell = this.cellAt(e);
      if (cell) this.actions.look({ unit: cell.unit });
    });
    this.sortButton.addEventListener("click", () => {
      this.sorted = !this.sorted;
      setAttr(this.sortButton, "aria-pressed", String(this.sorted));
      this.drawnKey = "";
      if (this.last) this.update(this.last);
    });
    new ResizeObserver(() => {
      this.drawnKey = "";
      if (this.last) this.update(this.last);
    }).observe(this.scroll);
  }

  update(state: Readonly<AppState>): void {
    this.last = state;
    const data = state.inspect.result;
    const { layer, quantity: wanted, unit } = state.ui;
    const width = this.scroll.clientWidth;
    const key = [data?.seq, layer, wanted, unit, width, this.sorted].join();
    if (!data || key === this.drawnKey || width === 0) return;
    this.drawnKey = key;
    const picked = pick(data, Math.min(layer, data.layers.length - 1), wanted);
    if (!picked) return;
    this.renderButtons(data, layer, picked.quantity);
    this.equation.replaceChildren(
      ...renderMath(quantityEquation(data.kind, picked.quantity, data.activation)),
    );
    this.meaning.replaceChildren(...renderMath(quantityHelp(picked.quantity)));
    const geo = this.draw(data, picked.m, unit);
    this.shown = { data, ...picked, geo };
    const scale = scaleFor(picked.m.lo, picked.m.hi);
    this.legend.render(scale, quantityName(picked.quantity));
    setText(
      this.selected,
      unit === null ? t("heatmap.clickUnit") : t("heatmap.selected", { unit: formatInt(unit) }),
    );
    for (const [name, value] of Object.entries({
      kind: data.kind,
      length: String(picked.m.rows),
      units: String(picked.m.cols),
      layer: String(layer),
      quantity: picked.quantity,
      step: String(data.step),
      unit: unit === null ? null : String(unit),
      sorted: String(this.sorted),
      "label-width": String(LABEL_W),
    })) {
      setAttr(this.canvas, `data-${name}`, value);
    }
  }

  private renderButtons(data: InspectData, layer: number, current: string): void {
    const names = quantitiesOf(data, layer);
    const signature = names.join() + current;
    if (this.buttons.dataset.signature === signature) return;
    this.buttons.dataset.signature = signature;
    this.buttons.replaceChildren(
      ...names.map((name) => {
        const button = h(
          "button",
          {
            class: "segment",
            testid: `heatmap-q-${name}`,
            attrs: { type: "button", "aria-pressed": String(name === current) },
          },
          h("strong", {}, ...renderMath(quantitySymbol(name))),
          ` ${quantityName(name)}`,
        );
        button.title = quantityHelp(name);
        button.addEventListener("click", () => this.actions.look({ quantity: name }));
        return button;
      }),
    );
  }

  /** Render: blit the matrix (one pixel per cell, scaled up), then labels and the chosen unit. */
  private draw(data: InspectData, m: Matrix, unit: number | null): Geometry {
    const width = this.scroll.clientWidth;
    const cellW = Math.max(1, (width - LABEL_W) / m.cols);
    const order = this.sorted ? sortedUnits(m) : Array.from({ length: m.cols }, (_, c) => c);
    const height = HEADER_H + m.rows * ROW_H;
    const geo = { rows: m.rows, cols: m.cols, cellW, width, height, order };
    // Follow the newest characters (at the bottom) unless the reader scrolled up to look.
    const scroll = this.scroll;
    const follow =
      geo.rows !== this.shown?.geo.rows ||
      scroll.scrollTop + scroll.clientHeight >= scroll.scrollHeight - ROW_H;
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(width * dpr);
    this.canvas.height = Math.round(geo.height * dpr);
    this.canvas.style.width = `${width}px`;
    this.canvas.style.height = `${geo.height}px`;
    const ctx = this.canvas.getContext("2d");
    if (!ctx) return geo;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, geo.height);

    const cells = new OffscreenCanvas(m.cols, m.rows);
    const image = new ImageData(m.cols, m.rows);
    const colors = byteColors(m, scaleFor(m.lo, m.hi));
    for (let r = 0; r < m.rows; r++) {
      for (let col = 0; col < m.cols; col++) {
        const i = r * m.cols + col; // where it is drawn
        const c = m.bytes[r * m.cols + order[col]!]! * 3; // which unit's value
        image.data[i * 4] = colors[c]!;
        image.data[i * 4 + 1] = colors[c + 1]!;
        image.data[i * 4 + 2] = colors[c + 2]!;
        image.data[i * 4 + 3] = 255;
      }
    }
    cells.getContext("2d")?.putImageData(image, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(cells, LABEL_W, HEADER_H, m.cols * cellW, m.rows * ROW_H);

    this.drawLabels(ctx, data, geo);
    if (unit !== null && unit < m.cols) {
      const at = order.indexOf(unit);
      ctx.strokeStyle = "#162033";
      ctx.lineWidth = 2;
      ctx.strokeRect(LABEL_W + at * cellW - 1, HEADER_H - 3, cellW + 2, m.rows * ROW_H + 4);
    }
    if (follow) scroll.scrollTop = scroll.scrollHeight;
    return geo;
  }

  private drawLabels(ctx: CanvasRenderingContext2D, data: InspectData, geo: Geometry): void {
    const style = getComputedStyle(this.el);
    ctx.fillStyle = style.getPropertyValue("--muted").trim() || "#5a6478";
    ctx.font = "11px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    ctx.textAlign = "center";
    // Unit numbers every 8, 16, 32… units, at least 28 px apart.
    let every = 8;
    while (every * geo.cellW < 28) every *= 2;
    for (let col = 0; col < geo.cols; col += every) {
      ctx.fillText(String(geo.order[col]), LABEL_W + (col + 0.5) * geo.cellW, HEADER_H / 2);
    }
    // Each row: the text read so far (muted), ending with this row's character (bold).
    const muted = ctx.fillStyle;
    const text = style.getPropertyValue("--text").trim() || "#162033";
    ctx.textAlign = "right";
    data.chars.forEach((char, r) => {
      const y = HEADER_H + (r + 0.5) * ROW_H;
      const right = LABEL_W - 6;
      ctx.font = "bold 12px ui-monospace, Menlo, Consolas, monospace";
      ctx.fillStyle = text;
      // A task's own steps carry their label ("12", "2004-03"): no text to read before it.
      const current = data.labelled ? char : visibleChar(char);
      ctx.fillText(current, right, y);
      if (data.labelled) return;
      const before = data.chars
        .slice(Math.max(0, r - CONTEXT), r)
        .map(visibleChar)
        .join("");
      ctx.font = "12px ui-monospace, Menlo, Consolas, monospace";
      ctx.fillStyle = muted;
      ctx.fillText(before, right - ctx.measureText(current).width, y);
    });
  }

  private cellAt(e: MouseEvent): { row: number; unit: number } | null {
    const geo = this.shown?.geo;
    if (!geo) return null;
    const col = Math.floor((e.offsetX - LABEL_W) / geo.cellW);
    const row = Math.floor((e.offsetY - HEADER_H) / ROW_H);
    if (col < 0 || col >= geo.cols || row < 0 || row >= geo.rows) return null;
    return { row, unit: geo.order[col]! };
  }

  private hover(e: PointerEvent): void {
    const cell = this.cellAt(e);
    const shown = this.shown;
    if (!cell || !shown) {
      this.tooltip.hide();
      return;
    }
    const char = shown.data.chars[cell.row] ?? "";
    const at = {
      unit: formatInt(cell.unit),
      q: quantitySymbol(shown.quantity),
      value: formatFixed(valueAt(shown.m, cell.row, cell.unit), 3),
    };
    const text = shown.data.labelled
      ? t("heatmap.tooltipStep", { step: stepName(shown.data, cell.row), ...at })
      : t("heatmap.tooltip", {
          char: visibleChar(char),
          name: charName(char) === char ? "" : ` (${charName(char)})`,
          pos: formatInt(cell.row + 1),
          ...at,
        });
    const frame = this.scroll.parentElement!;
    const box = this.canvas.getBoundingClientRect();
    const outer = frame.getBoundingClientRect();
    this.tooltip.show(
      text,
      box.left - outer.left + e.offsetX,
      box.top - outer.top + e.offsetY,
      frame,
    );
  }

  reset(): void {
    this.drawnKey = "";
    this.buttons.dataset.signature = "";
  }
}
