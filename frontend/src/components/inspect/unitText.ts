/**
 * One unit's activation over the typed text, as colour behind each character: the way
 * Karpathy et al. found cells that track quotes, line length or the position in a word.
 * "Interesting units" lists those that vary most over this text.
 */

import type { Actions } from "../../actions";
import { css, inkOn, scaleFor } from "../../colors";
import { h, setAttr, show } from "../../dom";
import { charName, visibleChar } from "../../format";
import { formatFixed, formatInt, t } from "../../i18n";
import { stepName, type InspectData } from "../../inspectData";
import type { AppState } from "../../store";
import { column, unitsByVariance, type Matrix } from "../../tensors";
import type { Component } from "../component";
import { Legend } from "./legend";
import { quantityName } from "./quantities";

const SUGGESTIONS = 8;

export class UnitText implements Component {
  readonly el: HTMLElement;
  private readonly unitInput = h("input", {
    class: "input input-number input-unit",
    testid: "unit-input",
    attrs: { type: "number", min: 0, step: 1, id: "unit-input" },
  });
  private readonly prev = h("button", {
    class: "btn btn-small",
    i18nAriaLabel: "units.prev",
    attrs: { type: "button" },
  });
  private readonly next = h("button", {
    class: "btn btn-small",
    i18nAriaLabel: "units.next",
    attrs: { type: "button" },
  });
  private readonly quantity = h("select", {
    class: "input input-inline",
    testid: "unit-quantity",
    i18nAriaLabel: "units.quantity",
  });
  private readonly text = h("p", { class: "coloured-text", testid: "unit-text" });
  private readonly legend = new Legend();
  private readonly suggestions = h("div", { class: "chips", testid: "unit-suggestions" });
  private drawnKey = "";
  private hiddenSize = 0;

  constructor(private readonly actions: Actions) {
    this.prev.textContent = "−";
    this.next.textContent = "+";
    this.unitInput.addEventListener("change", () => this.pick(this.unitInput.valueAsNumber));
    this.prev.addEventListener("click", () => this.pick(this.unitInput.valueAsNumber - 1));
    this.next.addEventListener("click", () => this.pick(this.unitInput.valueAsNumber + 1));
    this.quantity.addEventListener("change", () =>
      this.actions.look({ unitQuantity: this.quantity.value === "c" ? "c" : "h" }),
    );
    this.el = h(
      "div",
      { class: "inspect-view units-view" },
      h(
        "div",
        { class: "view-controls" },
        h(
          "label",
          { class: "inline-field", attrs: { for: "unit-input" } },
          h("span", { i18n: "units.unit" }),
        ),
        this.prev,
        this.unitInput,
        this.next,
        this.quantity,
      ),
      this.text,
      h("div", { class: "view-foot" }, this.legend.el),
      h("h3", { class: "subhead", i18n: "units.interesting" }),
      h("p", { class: "muted small", i18n: "units.interestingHelp" }),
      this.suggestions,
    );
  }

  private pick(unit: number): void {
    if (!Number.isFinite(unit) || this.hiddenSize === 0) return;
    const wrapped = ((Math.round(unit) % this.hiddenSize) + this.hiddenSize) % this.hiddenSize;
    this.actions.look({ unit: wrapped });
  }

  update(state: Readonly<AppState>): void {
    const data = state.inspect.result;
    const { layer, unit, unitQuantity } = state.ui;
    const key = [data?.seq, layer, unit, unitQuantity].join();
    if (!data || key === this.drawnKey) return;
    this.drawnKey = key;
    const layerData = data.layers[Math.min(layer, data.layers.length - 1)] ?? {};
    const q = unitQuantity === "c" && layerData.c ? "c" : "h";
    const m = layerData[q];
    if (!m) return;
    this.hiddenSize = m.cols;
    this.unitInput.max = String(m.cols - 1);
    this.renderQuantityChoices(Boolean(layerData.c), q);
    const ranked = unitsByVariance(m);
    // Until a unit is picked, show the one that varies most: something is always visible.
    const shownUnit = unit !== null && unit < m.cols ? unit : (ranked[0]?.unit ?? 0);
    if (document.activeElement !== this.unitInput) this.unitInput.value = String(shownUnit);
    this.renderText(data, m, shownUnit, q);
    this.renderSuggestions(ranked.slice(0, SUGGESTIONS), shownUnit);
  }

  private renderQuantityChoices(hasCell: boolean, current: string): void {
    const names = hasCell ? ["h", "c"] : ["h"];
    if (this.quantity.options.length !== names.length) {
      this.quantity.replaceChildren(
        ...names.map((n) => h("option", { attrs: { value: n } }, `${n} · ${quantityName(n)}`)),
      );
    }
    this.quantity.value = current;
    show(this.quantity, hasCell);
  }

  private renderText(data: InspectData, m: Matrix, unit: number, q: string): void {
    const values = column(m, unit);
    const scale = scaleFor(m.lo, m.hi);
    setAttr(this.text, "data-unit", String(unit));
    setAttr(this.text, "data-quantity", q);
    setAttr(this.text, "data-step", String(data.step));
    this.text.replaceChildren(
      ...data.chars.map((char, i) => {
        const v = values[i] ?? 0;
        const rgb = scale.color(v);
        const span = h(
          "span",
          {
            class: data.labelled ? "tchar tstep" : "tchar",
            testid: "unit-char",
            attrs: { "data-value": v.toFixed(3) },
          },
          char === "\n" ? "↵\n" : char,
        );
        span.style.background = css(rgb);
        span.style.color = inkOn(rgb);
        const named = data.labelled
          ? stepName(data, i)
          : charName(char) === char
            ? visibleChar(char)
            : charName(char);
        span.title = t("units.charTitle", {
          char: named,
          pos: formatInt(i + 1),
          q,
          value: formatFixed(v, 3),
        });
        return span;
      }),
    );
    this.legend.render(scale, t("units.legend", { unit: formatInt(unit), q }));
  }

  private renderSuggestions(ranked: { unit: number; variance: number }[], current: number): void {
    const top = Math.max(ranked[0]?.variance ?? 0, 1e-12);
    this.suggestions.replaceChildren(
      ...ranked.map(({ unit, variance }) => {
        const bar = h("span", { class: "chip-bar" });
        bar.style.width = `${Math.max(6, (variance / top) * 100)}%`;
        const chip = h(
          "button",
          {
            class: "chip-button",
            testid: "unit-suggestion",
            attrs: { type: "button", "data-unit": unit, "aria-pressed": String(unit === current) },
          },
          t("units.chip", { unit: formatInt(unit) }),
          bar,
        );
        chip.addEventListener("click", () => this.actions.look({ unit }));
        return chip;
      }),
    );
  }

  reset(): void {
    this.drawnKey = "";
    this.quantity.replaceChildren();
  }
}
