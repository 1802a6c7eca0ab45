/**
 * The magic moment: type, and watch the model's next-character distribution, its greedy
 * continuation and a sampled one change on every keystroke and as training goes on.
 */

import type { Actions } from "../actions";
import { h, setAttr, setText, show } from "../dom";
import { charName, formatPercent, visibleChar } from "../format";
import { formatFixed, formatInt, t } from "../i18n";
import { DEFAULT_PREDICT_OPTIONS, predictLocked } from "../predictor";
import type { AppState } from "../store";
import type { PredictResult, TopChar } from "../types";
import type { Component } from "./component";

const K_CHOICES = [1, 3, 5, 10, 20];
const TEMPERATURE = { min: 0.05, max: 2, step: 0.05 };
/** Characters of the typed text shown before a continuation, so it reads as one sentence. */
const CONTEXT_CHARS = 48;

/** The distinct characters the server reported as outside the vocabulary. */
function unknownChars(result: PredictResult | null): string[] {
  const unknown = result?.unknown;
  if (!unknown) return [];
  return [...new Set(typeof unknown === "string" ? [...unknown] : unknown)];
}

class Bar {
  readonly el: HTMLLIElement;
  private readonly char = h("span", { class: "bar-char" });
  private readonly fill = h("span", { class: "bar-fill" });
  private readonly p = h("span", { class: "bar-p" });
  value = "";

  constructor(onPick: (char: string) => void) {
    const button = h(
      "button",
      { class: "bar", attrs: { type: "button" } },
      this.char,
      h("span", { class: "bar-track" }, this.fill),
      this.p,
    );
    button.addEventListener("click", () => onPick(this.value));
    this.el = h("li", { testid: "predict-item" }, button);
  }

  render(top: TopChar, rank: number): void {
    this.value = top.char;
    setAttr(this.el, "data-char", top.char);
    setAttr(this.el, "data-p", String(top.p));
    this.el.classList.toggle("is-first", rank === 0);
    this.el.classList.toggle("is-invisible-char", visibleChar(top.char) !== top.char);
    setText(this.char, visibleChar(top.char));
    this.char.title = charName(top.char);
    this.fill.style.width = `${Math.max(0.5, top.p * 100)}%`;
    setText(this.p, formatPercent(top.p));
  }
}

export class PredictPanel implements Component {
  readonly el: HTMLElement;
  private readonly input = h("textarea", {
    class: "predict-input",
    testid: "predict-input",
    i18nPlaceholder: "predict.placeholder",
    i18nAriaLabel: "predict.title",
    attrs: { rows: 3, spellcheck: "false", autocomplete: "off" },
  });
  private readonly answeredBy = h("span", { class: "chip chip-step", testid: "predict-step" });
  private readonly unknown = h("p", {
    class: "warning",
    testid: "predict-unknown",
    attrs: { role: "status" },
  });
  private readonly k = h("select", {
    class: "input input-inline",
    testid: "predict-k",
    attrs: { id: "predict-k" },
  });
  private readonly temperature = h("input", {
    class: "slider",
    testid: "predict-temperature",
    attrs: {
      type: "range",
      id: "predict-temperature",
      ...TEMPERATURE,
      value: DEFAULT_PREDICT_OPTIONS.temperature,
    },
  });
  private readonly temperatureOut = h("output", {
    class: "readout",
    attrs: { for: "predict-temperature" },
  });
  private readonly bars = h("ol", { class: "bars", testid: "predict-top" });
  private readonly greedyContext = h("span", { class: "context" });
  private readonly greedy = h("span", { class: "continuation-text", testid: "predict-greedy" });
  private readonly sampleContext = h("span", { class: "context" });
  private readonly sample = h("span", {
    class: "continuation-text is-sample",
    testid: "predict-sample",
  });
  private readonly results: HTMLElement;
  private readonly empty = h("p", {
    class: "predict-empty",
    testid: "predict-empty",
    i18n: "predict.empty",
  });
  private readonly locked = h("p", {
    class: "note",
    testid: "predict-locked",
    i18n: "predict.locked",
  });
  private readonly barViews: Bar[] = [];
  private drawn: PredictResult | null | undefined = undefined;
  private maxK = 20;

  constructor(private readonly actions: Actions) {
    this.input.addEventListener("input", () => this.actions.predictText(this.input.value));
    this.locked.hidden = true;
    this.k.addEventListener("change", () =>
      this.actions.predictOptions({ k: Number(this.k.value) }),
    );
    this.temperature.addEventListener("input", () => {
      this.actions.predictOptions({ temperature: this.temperature.valueAsNumber });
      this.showTemperature();
    });
    this.renderKChoices();
    this.showTemperature();

    this.results = h(
      "div",
      { class: "predict-results" },
      h("h3", { class: "subhead", i18n: "predict.top" }),
      this.bars,
      h("p", { class: "muted small", i18n: "predict.clickHint" }),
      h("h3", { class: "subhead", i18n: "predict.greedy" }),
      h("p", { class: "continuation" }, this.greedyContext, this.greedy),
      h("h3", { class: "subhead", i18n: "predict.sample" }),
      h("p", { class: "continuation" }, this.sampleContext, this.sample),
    );
    this.el = h(
      "section",
      { class: "card predict-card", attrs: { "data-panel": "predict" } },
      h(
        "div",
        { class: "card-head" },
        h("h2", { class: "card-title", i18n: "predict.title" }),
        this.answeredBy,
      ),
      h("p", { class: "muted", i18n: "predict.intro" }),
      this.input,
      this.locked,
      this.unknown,
      h(
        "div",
        { class: "predict-options" },
        h(
          "label",
          { class: "inline-field", attrs: { for: "predict-k" } },
          h("span", { i18n: "predict.k" }),
          this.k,
        ),
        h(
          "label",
          { class: "inline-field grow", attrs: { for: "predict-temperature" } },
          h("span", { i18n: "predict.temperature" }),
          this.temperature,
          this.temperatureOut,
        ),
      ),
      this.empty,
      this.results,
    );
  }

  update(state: Readonly<AppState>): void {
    const limits = state.schema?.limits;
    if (limits && limits.max_query_chars !== this.input.maxLength)
      this.input.maxLength = limits.max_query_chars;
    if (limits && limits.max_top_k !== this.maxK) {
      this.maxK = limits.max_top_k;
      this.renderKChoices();
    }
    // The box mirrors the store's text: a teacher's text arrives there through follow-me.
    if (this.input.value !== state.typed) this.input.value = state.typed;
    const locked = predictLocked(state);
    this.input.disabled = locked;
    show(this.locked, locked);
    const predict = state.predict;
    // Dim the answer while a newer question is out, so it never looks wrong, only late.
    this.el.classList.toggle("is-pending", predict.latestSent > predict.answered);
    if (predict.result === this.drawn) return;
    this.drawn = predict.result;
    this.render(predict.result);
  }

  private render(result: PredictResult | null): void {
    show(this.results, result !== null);
    show(this.answeredBy, result !== null);
    show(this.empty, result === null);
    const unknown = unknownChars(result);
    show(this.unknown, unknown.length > 0);
    setText(
      this.unknown,
      t("predict.unknown", { chars: unknown.map((c) => `“${visibleChar(c)}”`).join(" ") }),
    );
    if (!result) {
      this.bars.replaceChildren();
      return;
    }

    setText(this.answeredBy, t("predict.answeredBy", { step: formatInt(result.step) }));
    setAttr(this.answeredBy, "data-value", String(result.step));
    while (this.barViews.length < result.top.length) {
      const bar = new Bar((char) => this.append(char));
      this.barViews.push(bar);
    }
    this.bars.replaceChildren(...this.barViews.slice(0, result.top.length).map((bar) => bar.el));
    result.top.forEach((top, rank) => this.barViews[rank]!.render(top, rank));

    // Bars only (continuations come at reading pace): the last continuations stay shown.
    if (result.continued === false) return;
    const typed = this.input.value.slice(0, result.text_len);
    const context = (typed.length > CONTEXT_CHARS ? "…" : "") + typed.slice(-CONTEXT_CHARS);
    setText(this.greedyContext, context);
    setText(this.sampleContext, context);
    setText(this.greedy, result.greedy);
    setText(this.sample, result.sample);
  }

  /** Clicking a bar types its character, as if the user had. */
  private append(char: string): void {
    this.input.value += char;
    this.input.focus();
    this.input.setSelectionRange(this.input.value.length, this.input.value.length);
    this.actions.predictText(this.input.value);
  }

  private renderKChoices(): void {
    const current = Number(this.k.value) || DEFAULT_PREDICT_OPTIONS.k;
    const choices = K_CHOICES.filter((k) => k <= this.maxK);
    this.k.replaceChildren(...choices.map((k) => h("option", { attrs: { value: k } }, String(k))));
    const k = choices.includes(current) ? current : (choices.at(-1) ?? 1);
    this.k.value = String(k);
    if (k !== current) this.actions.predictOptions({ k });
  }

  private showTemperature(): void {
    setText(this.temperatureOut, formatFixed(this.temperature.valueAsNumber, 2));
  }

  reset(): void {
    this.drawn = undefined;
    this.showTemperature();
  }
}
