/**
 * The words task's view: type a sentence, see the words the model reads (unknown ones marked)
 * and the k likeliest next words as a bar list with their probabilities.
 */

import { h, setAttr, setText, show } from "../../dom";
import { formatPercent } from "../../format";
import { t } from "../../i18n";
import type { NextWord, WordsAnswer } from "./wordsData";

/** Wrangled: what one draw needs, in the order it is drawn. */
interface WordsPicture {
  tokens: { word: string; known: boolean }[];
  unknown: string[];
  bars: { label: string; p: number; unk: boolean; width: number }[];
  continuation: string;
}

/** Reshape an answer for drawing: a bar's width is its probability, as in the character box. */
export function wrangleWords(answer: WordsAnswer): WordsPicture {
  return {
    tokens: answer.tokens,
    unknown: answer.unknown,
    bars: answer.top.map((w: NextWord) => ({
      label: w.unk ? t("words.unk") : w.word,
      p: w.p,
      unk: w.unk,
      width: Math.max(0.5, 100 * w.p),
    })),
    continuation: answer.continuation,
  };
}

export class WordsView {
  readonly el: HTMLElement;
  private readonly input = h("textarea", {
    class: "predict-input",
    testid: "words-input",
    i18nPlaceholder: "words.placeholder",
    i18nAriaLabel: "words.title",
    attrs: { rows: 2, spellcheck: "false", autocomplete: "off" },
  });
  private readonly tokens = h("p", { class: "chips", testid: "words-tokens" });
  private readonly unknown = h("p", {
    class: "warning",
    testid: "words-unknown",
    attrs: { role: "status" },
  });
  private readonly bars = h("ol", { class: "bars", testid: "words-top" });
  private readonly continuation = h("span", {
    class: "continuation-text",
    testid: "words-continuation",
  });
  private readonly results: HTMLElement;
  private readonly empty = h("p", { class: "predict-empty", i18n: "words.empty" });
  private drawn: WordsAnswer | null | undefined = undefined;

  /** `onText` is told every edit of the sentence; the answer comes back through `update`. */
  constructor(onText: (text: string) => void) {
    this.input.addEventListener("input", () => onText(this.input.value));
    this.results = h(
      "div",
      { class: "predict-results" },
      h("h3", { class: "subhead", i18n: "words.reads" }),
      this.tokens,
      this.unknown,
      h("h3", { class: "subhead", i18n: "words.top" }),
      this.bars,
      h("h3", { class: "subhead", i18n: "words.continuation" }),
      h("p", { class: "continuation" }, this.continuation),
    );
    this.el = h(
      "section",
      { class: "card predict-card", testid: "words-view", attrs: { "data-panel": "words" } },
      h("div", { class: "card-head" }, h("h2", { class: "card-title", i18n: "words.title" })),
      h("p", { class: "muted", i18n: "words.intro" }),
      this.input,
      this.empty,
      this.results,
    );
    this.render(null);
  }

  /**
   * Draw a new answer (null: nothing asked yet); the same answer twice draws once. `typed`,
   * when given, is the sentence the page holds (a follower's comes from the teacher's box):
   * the box shows it unless the user is typing in it.
   */
  update(answer: WordsAnswer | null, typed?: string): void {
    if (typed !== undefined && typed !== this.input.value && document.activeElement !== this.input)
      this.input.value = typed;
    if (answer === this.drawn) return;
    this.drawn = answer;
    this.render(answer);
  }

  reset(): void {
    this.drawn = undefined;
    this.bars.replaceChildren();
    this.tokens.replaceChildren();
  }

  private render(answer: WordsAnswer | null): void {
    show(this.results, answer !== null);
    show(this.empty, answer === null);
    if (answer === null) return;
    const picture = wrangleWords(answer);
    this.tokens.replaceChildren(
      ...picture.tokens.map((token) =>
        h(
          "span",
          {
            class: token.known ? "chip" : "chip chip-unknown",
            testid: "words-token",
            attrs: {
              "data-known": String(token.known),
              title: token.known ? undefined : t("words.unk"),
            },
          },
          token.word,
        ),
      ),
    );
    show(this.unknown, picture.unknown.length > 0);
    setText(this.unknown, t("words.unknown", { words: picture.unknown.join(", ") }));
    this.bars.replaceChildren(...picture.bars.map((bar, rank) => this.bar(bar, rank)));
    setText(this.continuation, picture.continuation);
  }

  private bar(bar: WordsPicture["bars"][number], rank: number): HTMLLIElement {
    const fill = h("span", { class: "bar-fill" });
    fill.style.width = `${bar.width}%`;
    const label = h("span", { class: "bar-char" }, bar.label);
    // Words are longer than the characters the shared bar style was made for.
    label.style.fontSize = "1.05rem";
    label.style.overflow = "hidden";
    label.style.textOverflow = "ellipsis";
    if (bar.unk) label.style.fontStyle = "italic";
    const row = h(
      "div",
      { class: "bar" },
      label,
      h("span", { class: "bar-track" }, fill),
      h("span", { class: "bar-p" }, formatPercent(bar.p)),
    );
    row.style.gridTemplateColumns = "9rem minmax(0, 1fr) 4.4rem";
    const item = h("li", { testid: "words-item", class: rank === 0 ? "is-first" : "" }, row);
    setAttr(item, "data-word", bar.unk ? "<unk>" : bar.label);
    setAttr(item, "data-p", String(bar.p));
    return item;
  }
}
