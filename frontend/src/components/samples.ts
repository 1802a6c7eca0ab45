/** The latest generated sample, large, with older ones folded away underneath. */

import { h, setText, show } from "../dom";
import { formatFixed, formatInt, t } from "../i18n";
import type { AppState } from "../store";
import type { Sample } from "../types";
import type { Component } from "./component";

function meta(sample: Sample): string {
  return t("samples.meta", { step: formatInt(sample.step), t: formatFixed(sample.temperature, 2) });
}

export class Samples implements Component {
  readonly el: HTMLElement;
  private readonly latestMeta = h("p", { class: "sample-meta", testid: "sample-meta" });
  private readonly latest = h("pre", { class: "sample", testid: "sample-text" });
  private readonly empty = h("p", { class: "muted", i18n: "samples.empty" });
  private readonly olderSummary = h("summary");
  private readonly olderList = h("ol", { class: "older-samples", attrs: { reversed: true } });
  private readonly older = h("details", { class: "older" }, this.olderSummary, this.olderList);
  private drawn: readonly Sample[] | null = null;

  constructor() {
    this.el = h(
      "section",
      { class: "card samples-card", attrs: { "data-panel": "samples" } },
      h("h2", { class: "card-title", i18n: "samples.title" }),
      this.empty,
      this.latestMeta,
      this.latest,
      this.older,
    );
  }

  update(state: Readonly<AppState>): void {
    if (state.samples === this.drawn) return;
    this.drawn = state.samples;
    const samples = state.samples;
    const newest = samples.at(-1);
    show(this.empty, !newest);
    show(this.latest, newest !== undefined);
    show(this.latestMeta, newest !== undefined);
    setText(this.latest, newest?.text ?? "");
    setText(this.latestMeta, newest ? meta(newest) : "");
    setAttrStep(this.latest, newest);

    const older = samples.slice(0, -1).reverse();
    show(this.older, older.length > 0);
    setText(this.olderSummary, t("samples.older", { n: older.length }));
    this.olderList.replaceChildren(
      ...older.map((s) =>
        h(
          "li",
          {},
          h("p", { class: "sample-meta" }, meta(s)),
          h("pre", { class: "sample sample-old" }, s.text),
        ),
      ),
    );
  }

  reset(): void {
    this.drawn = null;
  }
}

function setAttrStep(el: HTMLElement, sample: Sample | undefined): void {
  if (sample) el.dataset.step = String(sample.step);
  else delete el.dataset.step;
}
