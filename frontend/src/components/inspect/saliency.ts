/**
 * What a prediction depends on: the typed text coloured by the gradient saliency of the
 * predicted character, for the prediction after the whole text or after any character clicked.
 */

import type { Actions } from "../../actions";
import { css, inkOn, ramp, WARM } from "../../colors";
import { h, setAttr, setText, show } from "../../dom";
import { charName, visibleChar } from "../../format";
import { formatFixed, formatInt, t } from "../../i18n";
import { stepName } from "../../inspectData";
import type { AppState } from "../../store";
import type { Component } from "../component";

function quoted(char: string): string {
  return charName(char) === char ? `“${visibleChar(char)}”` : charName(char);
}

export class SaliencyView implements Component {
  readonly el: HTMLElement;
  private readonly target = h("p", { class: "saliency-target", testid: "saliency-target" });
  private readonly text = h("p", { class: "coloured-text", testid: "saliency-text" });
  private readonly whole = h("button", {
    class: "btn btn-small",
    testid: "saliency-whole",
    i18n: "saliency.whole",
    attrs: { type: "button" },
  });
  private readonly legend = h("div", { class: "legend" });
  private drawn: unknown = null;

  constructor(private readonly actions: Actions) {
    this.whole.addEventListener("click", () => this.actions.look({ position: null }));
    const bar = h("span", { class: "legend-bar" });
    bar.style.background = `linear-gradient(to right, ${WARM.map(css).join(", ")})`;
    this.legend.append(
      h("span", { class: "legend-caption", i18n: "saliency.legend" }),
      h("span", { class: "legend-end", i18n: "saliency.low" }),
      bar,
      h("span", { class: "legend-end", i18n: "saliency.high" }),
    );
    this.el = h(
      "div",
      { class: "inspect-view saliency-view" },
      this.target,
      this.text,
      h("div", { class: "view-foot" }, this.legend, this.whole),
      h("p", { class: "muted small", i18n: "saliency.clickHint" }),
    );
  }

  update(state: Readonly<AppState>): void {
    const data = state.inspect.result;
    if (!data || data === this.drawn) return;
    this.drawn = data;
    const sal = data.saliency;
    show(this.whole, sal !== null && sal.position < data.chars.length);
    if (!sal) {
      setText(this.target, "");
      this.text.replaceChildren();
      return;
    }
    const after = data.chars[sal.position - 1] ?? "";
    setText(
      this.target,
      // A task that predicts numbers has no one character guessed: its whole output is.
      sal.target === null
        ? t("saliency.targetStep", {
            n: formatInt(sal.position),
            after: stepName(data, sal.position - 1),
          })
        : t("saliency.target", {
            target: quoted(sal.target),
            n: formatInt(sal.position),
            after: quoted(after),
          }),
    );
    setAttr(this.target, "data-position", String(sal.position));
    setAttr(this.target, "data-target", sal.target);
    setAttr(this.text, "data-position", String(sal.position));
    this.text.replaceChildren(
      ...data.chars.map((char, i) => {
        const read = i < sal.position;
        const v = read ? (sal.normalised[i] ?? 0) : 0;
        const span = h(
          "span",
          {
            class: `tchar${data.labelled ? " tstep" : ""} is-clickable${read ? "" : " is-unread"}${i === sal.position - 1 ? " is-target" : ""}`,
            testid: "saliency-char",
            attrs: { "data-index": i, "data-value": read ? v.toFixed(3) : "" },
          },
          char === "\n" ? "↵\n" : char,
        );
        if (read) {
          const rgb = ramp(WARM, v);
          span.style.background = css(rgb);
          span.style.color = inkOn(rgb);
        }
        const named = data.labelled ? `${stepName(data, i)} · ` : "";
        span.title = read
          ? named +
            t("saliency.charTitle", {
              value: formatFixed(v, 2),
              raw: (sal.raw[i] ?? 0).toExponential(2),
            })
          : t("saliency.unread");
        span.addEventListener("click", () => this.actions.look({ position: i + 1 }));
        return span;
      }),
    );
  }

  reset(): void {
    this.drawn = null;
  }
}
