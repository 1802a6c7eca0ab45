/**
 * Sentiment: type a sentence and every run's many-to-one classifier reads it; for each, the
 * running P(positive) after every character (a sparkline) and its final answer, big, with its
 * accuracy on held-out sentences and on order-flipped pairs. A bag of characters must give a
 * sentence and its flipped twin the same answer.
 */

import type { Actions } from "../../actions";
import { h, setAttr, setText, show } from "../../dom";
import { charName, formatPercent } from "../../format";
import { formatFixed, t, type MessageKey } from "../../i18n";
import { MAX_SENTIMENT_CHARS } from "../../sentimentClient";
import { currentLesson, type AppState, type SentimentState } from "../../store";
import type { Lesson, SentimentResult } from "../../types";
import type { Component } from "../component";
import { runColor, runName, swatch } from "./runColors";
import { indexAt, sparkline } from "./sparkline";

type Phase = "empty" | "training" | "reading" | "error" | "ready";

const PAIR: MessageKey[] = ["sentiment.pairA", "sentiment.pairB"];
const HEADS: [MessageKey, string][] = [
  ["sentiment.run", ""],
  ["sentiment.running", "spark-head"],
  ["sentiment.final", ""],
  ["sentiment.pairAccuracy", "num"],
  ["sentiment.accuracy", "num"],
];

export class SentimentView implements Component {
  readonly el: HTMLElement;
  private readonly input = h("input", {
    class: "input sentiment-input",
    testid: "sentiment-input",
    i18nPlaceholder: "sentiment.placeholder",
    i18nAriaLabel: "sentiment.label",
    attrs: {
      type: "text",
      maxlength: MAX_SENTIMENT_CHARS,
      spellcheck: "false",
      autocomplete: "off",
    },
  });
  private readonly pairs = PAIR.map((key) => {
    const button = h("button", {
      class: "btn btn-small sentiment-pair",
      testid: "sentiment-pair",
      attrs: { type: "button" },
    });
    button.addEventListener("click", () => {
      const text = t(key);
      this.input.value = text;
      this.actions.sentimentText(text, true);
    });
    return { key, button };
  });
  private readonly status = h("p", { class: "sentiment-status", testid: "sentiment-status" });
  private readonly head = h("tr");
  private readonly body = h("tbody");
  private readonly table = h(
    "table",
    { class: "board-table sentiment-table", testid: "sentiment-table" },
    h("thead", {}, this.head),
    this.body,
  );
  private drawn: { result: SentimentResult | null; lesson: Lesson | null } | null = null;
  /** Some answer has come back on this page: later requests do not train anything. */
  private answered = false;

  constructor(private readonly actions: Actions) {
    this.input.addEventListener("input", () => this.actions.sentimentText(this.input.value));
    this.el = h(
      "section",
      { class: "card sentiment-card", testid: "sentiment-panel" },
      h("h2", { class: "card-title", i18n: "sentiment.title" }),
      h("p", { class: "sentiment-intro", i18n: "sentiment.intro" }),
      this.input,
      h(
        "div",
        { class: "button-row sentiment-pairs" },
        h("span", { class: "muted small", i18n: "sentiment.examples" }),
        ...this.pairs.map((p) => p.button),
      ),
      this.status,
      h("div", { class: "table-scroll" }, this.table),
    );
  }

  update(state: Readonly<AppState>): void {
    const sentiment = state.sentiment;
    // Follow the store (an example picked, a language switch) unless the user is mid-edit.
    if (this.input.value !== sentiment.typed && document.activeElement !== this.input) {
      this.input.value = sentiment.typed;
    }
    for (const { key, button } of this.pairs) {
      setText(button, t(key));
      setAttr(button, "data-text", t(key));
    }
    if (sentiment.result) this.answered = true;
    const phase = this.phase(sentiment);
    setAttr(this.status, "data-state", phase);
    this.status.className = `sentiment-status is-${phase}`;
    setText(this.status, this.statusText(phase, sentiment));
    show(this.status, phase !== "ready");
    setAttr(this.table, "data-text", sentiment.result ? sentiment.text : null);

    const lesson = currentLesson(state);
    const result = sentiment.typed.trim() === "" ? null : sentiment.result;
    show(this.table, result !== null);
    if (this.drawn?.result === result && this.drawn.lesson === lesson) return;
    this.drawn = { result, lesson };
    if (!result) return;
    this.head.replaceChildren(
      ...HEADS.map(([key, cls]) => {
        const th = h("th", { class: cls, attrs: { scope: "col" } }, t(key));
        if (key === "sentiment.accuracy") th.title = t("sentiment.accuracyTitle");
        if (key === "sentiment.pairAccuracy") th.title = t("sentiment.pairAccuracyTitle");
        return th;
      }),
    );
    const chars = Array.from(sentiment.text);
    this.body.replaceChildren(...result.runs.map((run, i) => this.row(run, i, lesson, chars)));
  }

  private phase(s: SentimentState): Phase {
    if (s.busy) return this.answered ? "reading" : "training";
    if (s.error) return "error";
    return s.typed.trim() === "" ? "empty" : "ready";
  }

  private statusText(phase: Phase, s: SentimentState): string {
    if (phase === "training") return t("sentiment.training");
    if (phase === "reading") return t("sentiment.reading");
    if (phase === "error") return t("sentiment.error", { message: s.error ?? "" });
    if (phase === "empty") return t("sentiment.empty");
    return "";
  }

  private row(
    run: SentimentResult["runs"][number],
    i: number,
    lesson: Lesson | null,
    chars: string[],
  ): HTMLElement {
    const color = runColor(lesson, run.label, i);
    const final = run.running.at(-1) ?? 0.5;
    const positive = final >= 0.5;
    const spark = sparkline(run.running, color);
    spark.addEventListener("pointermove", (e) => {
      const k = indexAt(spark, e.clientX, run.running.length);
      const p = run.running[k] ?? 0;
      spark.dataset.title = t("sentiment.sparkTitle", {
        char: charName(chars[k] ?? ""),
        p: formatFixed(p, 2),
      });
      spark.parentElement!.title = spark.dataset.title;
    });
    const fill = h("span", { class: `final-fill${positive ? " is-positive" : " is-negative"}` });
    fill.style.width = `${(100 * final).toFixed(1)}%`;
    return h(
      "tr",
      {
        testid: "sentiment-run",
        attrs: {
          "data-label": run.label,
          "data-kind": run.kind,
          "data-final": String(final),
          "data-pair-accuracy": String(run.pair_accuracy),
          "data-accuracy": String(run.accuracy),
        },
      },
      h("td", { class: "compare-label" }, swatch(color), runName(lesson, run.label)),
      h("td", { class: "spark-cell" }, spark),
      h(
        "td",
        { class: "final-cell" },
        h(
          "span",
          { class: `final-value${positive ? " is-positive" : " is-negative"}` },
          formatPercent(final),
        ),
        h(
          "span",
          { class: "final-word" },
          t(positive ? "sentiment.positive" : "sentiment.negative"),
        ),
        h("span", { class: "final-track" }, fill),
      ),
      h("td", { class: "num" }, formatPercent(run.pair_accuracy)),
      h("td", { class: "num" }, formatPercent(run.accuracy)),
    );
  }

  reset(): void {
    this.drawn = null;
  }
}
