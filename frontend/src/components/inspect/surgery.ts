/**
 * Gate surgery: clamp a gate (all units or one) or silence a unit, and compare the next-character
 * guesses with and without the operation. The clamps ride along with every `inspect:query`.
 */

import type { Actions } from "../../actions";
import { h, setAttr, setText, show } from "../../dom";
import { charName, formatPercent, visibleChar } from "../../format";
import { formatFixed, formatInt, t } from "../../i18n";
import { GATES, outputText, SIGMOID_GATES, type InspectData } from "../../inspectData";
import type { AppState } from "../../store";
import type { Surgery, TopChar } from "../../types";
import type { Component } from "../component";
import { quantityName } from "./quantities";

const SIGMOID_VALUES = [0, 0.5, 1];
const TANH_VALUES = [-1, 0, 1];

/** A short list of next-character guesses with bars. */
function guesses(top: readonly TopChar[], testid: string): HTMLElement[] {
  return top.slice(0, 5).map((item) => {
    const fill = h("span", { class: "mini-fill" });
    fill.style.width = `${Math.max(1, item.p * 100)}%`;
    const char = h("span", { class: "mini-char" }, visibleChar(item.char));
    char.title = charName(item.char);
    return h(
      "li",
      { class: "mini-bar", testid, attrs: { "data-char": item.char, "data-p": item.p } },
      char,
      h("span", { class: "mini-track" }, fill),
      h("span", { class: "mini-p" }, formatPercent(item.p)),
    );
  });
}

/** The numbers a task predicts after its last step, as one list item (no bars: not shares). */
function numbers(data: InspectData, testid: string): HTMLElement[] {
  const last = data.chars.length - 1;
  return [
    h(
      "li",
      { class: "mini-numbers", testid },
      outputText(data, last, (v) => formatFixed(v, 3)),
    ),
  ];
}

function unitValue(input: HTMLInputElement): number | undefined {
  return input.value === "" || !Number.isFinite(input.valueAsNumber)
    ? undefined
    : Math.max(0, Math.round(input.valueAsNumber));
}

export class SurgeryView implements Component {
  readonly el: HTMLElement;
  private readonly gate = h("select", {
    class: "input input-inline",
    testid: "surgery-gate",
    i18nAriaLabel: "surgery.gate",
  });
  private readonly value = h("select", {
    class: "input input-inline",
    testid: "surgery-value",
    i18nAriaLabel: "surgery.value",
  });
  private readonly clampUnit = h("input", {
    class: "input input-number input-unit",
    testid: "surgery-unit",
    i18nPlaceholder: "surgery.allUnits",
    i18nAriaLabel: "surgery.unitLabel",
    attrs: { type: "number", min: 0, step: 1 },
  });
  private readonly clampButton = h("button", {
    class: "btn btn-small btn-primary",
    testid: "surgery-clamp",
    i18n: "surgery.clamp",
    attrs: { type: "button" },
  });
  private readonly clampRow: HTMLElement;
  private readonly presets = h("div", { class: "button-row" });
  private readonly ablateUnit = h("input", {
    class: "input input-number input-unit",
    testid: "surgery-ablate-unit",
    i18nAriaLabel: "surgery.unitLabel",
    attrs: { type: "number", min: 0, step: 1, value: 0 },
  });
  private readonly ablateButton = h("button", {
    class: "btn btn-small",
    testid: "surgery-ablate",
    i18n: "surgery.ablate",
    attrs: { type: "button" },
  });
  private readonly chips = h("div", { class: "chips", testid: "surgery-chips" });
  private readonly none = h("p", { class: "muted small", i18n: "surgery.none" });
  private readonly before = h("ol", { class: "mini-bars", testid: "surgery-before" });
  private readonly after = h("ol", { class: "mini-bars", testid: "surgery-next" });
  private readonly afterTitle = h("h3", { class: "subhead" });
  private kind = "";
  private layer = 0;
  /** The latest trace without surgery, for a task that predicts numbers ("as trained"). */
  private plain: InspectData | null = null;
  private drawn: { surgery: Surgery | null; result: unknown; predict: unknown } = {
    surgery: null,
    result: null,
    predict: null,
  };

  constructor(private readonly actions: Actions) {
    this.gate.addEventListener("change", () => this.renderValues());
    this.clampButton.addEventListener("click", () => {
      const unit = unitValue(this.clampUnit);
      this.actions.addClamp({
        layer: this.layer,
        gate: this.gate.value,
        value: Number(this.value.value),
        ...(unit !== undefined && { unit }),
      });
    });
    this.ablateButton.addEventListener("click", () => {
      const unit = unitValue(this.ablateUnit);
      if (unit !== undefined) this.actions.addAblation({ layer: this.layer, unit });
    });
    this.clampRow = h(
      "div",
      { class: "surgery-row" },
      h("span", { class: "surgery-verb", i18n: "surgery.clampLabel" }),
      this.gate,
      h("span", { i18n: "surgery.to" }),
      this.value,
      h("span", { i18n: "surgery.for" }),
      this.clampUnit,
      this.clampButton,
    );
    this.el = h(
      "div",
      { class: "inspect-view surgery-view" },
      this.presets,
      this.clampRow,
      h(
        "div",
        { class: "surgery-row" },
        h("span", { class: "surgery-verb", i18n: "surgery.ablateLabel" }),
        this.ablateUnit,
        this.ablateButton,
      ),
      h("h3", { class: "subhead", i18n: "surgery.active" }),
      this.chips,
      this.none,
      h(
        "div",
        { class: "surgery-compare" },
        h("div", {}, h("h3", { class: "subhead", i18n: "surgery.before" }), this.before),
        h("div", {}, this.afterTitle, this.after),
      ),
    );
  }

  update(state: Readonly<AppState>): void {
    const kind = String(state.session?.config.model ?? "");
    const layers = Number(state.session?.config.num_layers ?? 1);
    this.layer = Math.min(state.ui.layer, layers - 1);
    if (kind !== this.kind) {
      this.kind = kind;
      this.renderGates();
    }
    if (state.ui.unit !== null && document.activeElement !== this.ablateUnit)
      this.ablateUnit.value = String(state.ui.unit);
    const { surgery } = state.ui;
    const result = state.inspect.result;
    const predict = state.predict.result;
    if (
      surgery === this.drawn.surgery &&
      result === this.drawn.result &&
      predict === this.drawn.predict
    )
      return;
    this.drawn = { surgery, result, predict };
    this.renderChips(surgery);
    const operated = result?.surgery === true;
    setText(this.afterTitle, t(operated ? "surgery.after" : "surgery.afterNone"));
    if (result?.outputs) {
      // A task that predicts numbers: as trained is the last trace without surgery.
      if (!operated) this.plain = result;
      this.before.replaceChildren(
        ...(this.plain ? numbers(this.plain, "surgery-before-item") : []),
      );
      this.after.replaceChildren(...numbers(result, "surgery-next-item"));
    } else {
      this.before.replaceChildren(...guesses(predict?.top ?? [], "surgery-before-item"));
      this.after.replaceChildren(...guesses(result?.next ?? [], "surgery-next-item"));
    }
    setAttr(this.after, "data-surgery", String(operated));
    setAttr(this.after, "data-step", result ? String(result.step) : null);
  }

  private renderGates(): void {
    const gates = GATES[this.kind] ?? [];
    show(this.clampRow, gates.length > 0);
    this.gate.replaceChildren(
      ...gates.map((g) => h("option", { attrs: { value: g } }, `${g} · ${quantityName(g)}`)),
    );
    this.renderValues();
    // One-click demos of what a forget gate does.
    const presets = this.kind === "lstm" ? [0, 1] : [];
    this.presets.replaceChildren(
      ...presets.map((value) => {
        const button = h("button", {
          class: "btn btn-small",
          testid: `surgery-preset-f${value}`,
          i18n: value === 0 ? "surgery.forgetAll" : "surgery.neverForget",
          attrs: { type: "button" },
        });
        button.addEventListener("click", () =>
          this.actions.addClamp({ layer: this.layer, gate: "f", value }),
        );
        return button;
      }),
    );
  }

  private renderValues(): void {
    const values = SIGMOID_GATES.has(this.gate.value) ? SIGMOID_VALUES : TANH_VALUES;
    this.value.replaceChildren(
      ...values.map((v) => h("option", { attrs: { value: v } }, String(v))),
    );
    this.value.value = String(values[0]);
  }

  private renderChips(surgery: Surgery): void {
    const chip = (label: string, remove: () => void): HTMLElement => {
      const x = h(
        "button",
        {
          class: "chip-remove",
          testid: "surgery-remove",
          i18nAriaLabel: "surgery.remove",
          attrs: { type: "button" },
        },
        "×",
      );
      x.addEventListener("click", remove);
      return h("span", { class: "chip chip-surgery", testid: "surgery-chip" }, label, x);
    };
    const all = t("surgery.allUnitsShort");
    this.chips.replaceChildren(
      ...surgery.clamps.map((c, i) =>
        chip(
          t("surgery.clampChip", {
            layer: c.layer + 1,
            gate: c.gate,
            value: c.value,
            units: c.unit === undefined ? all : t("surgery.unitShort", { unit: formatInt(c.unit) }),
          }),
          () => this.actions.removeClamp(i),
        ),
      ),
      ...surgery.ablations.map((a, i) =>
        chip(t("surgery.ablateChip", { layer: a.layer + 1, unit: formatInt(a.unit) }), () =>
          this.actions.removeAblation(i),
        ),
      ),
    );
    show(this.none, surgery.clamps.length + surgery.ablations.length === 0);
  }

  reset(): void {
    this.kind = "";
    this.plain = null;
    this.drawn = { surgery: null, result: null, predict: null };
  }
}
