/** The big numbers: step, train and validation loss, speed, parameters and status. */

import { h, setAttr, setText } from "../dom";
import { formatBits } from "../format";
import { formatCompact, formatInt, isMessageKey, t, type MessageKey } from "../i18n";
import type { AppState } from "../store";
import type { Component } from "./component";

interface Figure {
  value: HTMLElement;
  sub: HTMLElement;
}

/** One big number with a caption under it (`data-testid` goes on the number). */
function figure(testid: string, caption?: MessageKey): Figure & { el: HTMLElement } {
  const value = h("div", { class: "stat-value", testid });
  const sub = caption
    ? h("div", { class: "stat-sub", i18n: caption })
    : h("div", { class: "stat-sub" });
  return { value, sub, el: h("div", { class: `figure figure-${testid}` }, value, sub) };
}

/** `key` for the session's task's item (`stats.seen.word`), or the characters' one. */
function itemKey(state: Readonly<AppState>, key: string): MessageKey {
  const item = `${key}.${state.session?.task?.item ?? "char"}`;
  return isMessageKey(item) ? item : (`${key}.char` as MessageKey);
}

function card(label: MessageKey, className: string, ...figures: HTMLElement[]): HTMLElement {
  return h(
    "div",
    { class: `stat ${className}` },
    h("div", { class: "stat-label", i18n: label }),
    h("div", { class: "stat-figures" }, ...figures),
  );
}

export class Stats implements Component {
  readonly el: HTMLElement;
  private readonly step = figure("step-count");
  private readonly train = figure("train-loss", "stats.train");
  private readonly val = figure("val-loss", "stats.val");
  private readonly speed = figure("chars-per-sec"); // its caption depends on batching: set in update
  private readonly params = figure("params");
  private readonly status = figure("status");
  private readonly lossLabel: HTMLElement;

  constructor() {
    this.el = h(
      "div",
      { class: "stats" },
      card("stats.step", "stat-step", this.step.el),
      // Train and validation side by side, coloured like their curves in the chart.
      card("stats.loss", "stat-loss", this.train.el, this.val.el),
      card("stats.speed", "stat-speed", this.speed.el),
      card("stats.params", "stat-params", this.params.el),
      card("stats.status", "stat-status", this.status.el),
    );
    this.lossLabel = this.el.querySelector<HTMLElement>(".stat-loss .stat-label")!;
    // The loss is in the task's unit: the label is set on every update, not translated once.
    delete this.lossLabel.dataset.i18n;
  }

  update(state: Readonly<AppState>): void {
    const session = state.session;
    const history = state.history;
    const trainLoss = history.train.at(-1);
    const valLoss = history.val.at(-1);

    // Text is for people (localised); `data-value` holds the raw number for scripts and tests.
    this.show(this.step.value, session ? String(session.step) : "—", session?.step);
    setText(
      this.step.sub,
      session ? t(itemKey(state, "stats.seen"), { n: formatCompact(session.chars_seen) }) : "",
    );
    const unit = state.session?.task?.unit ?? "bits/char";
    const unitKey = `unit.${unit}`;
    setText(this.lossLabel, t("stats.lossIn", { unit: isMessageKey(unitKey) ? t(unitKey) : unit }));
    this.show(this.train.value, formatBits(trainLoss), trainLoss);
    this.show(this.val.value, formatBits(valLoss), valLoss);
    const cps = state.charsPerSec;
    this.show(this.speed.value, cps === null ? "—" : formatInt(cps), cps ?? 0);
    // On a GPU, compatible sessions train in one batched step: say so under the speed.
    const batched = cps !== null && state.batched > 1;
    setText(
      this.speed.sub,
      batched
        ? t("stats.batched", { n: formatInt(state.batched) })
        : t(itemKey(state, "stats.perSec")),
    );
    this.speed.sub.title = batched ? t("stats.batchedTitle") : "";
    // 0 parameters means the server has not built the model yet.
    const params = session && session.params > 0 ? session.params : undefined;
    this.show(this.params.value, params ? formatInt(params) : "—", params);

    const status = session?.status ?? "idle";
    setText(
      this.status.value,
      status === "queued"
        ? t("stats.queued", { n: formatInt(session?.queue_position ?? 1) })
        : t(`status.${status}`),
    );
    this.status.value.title = status === "queued" ? t("stats.queuedTitle") : "";
    setAttr(this.status.value, "data-status", status);
    setAttr(this.status.value, "data-value", status);
    const reason =
      status === "paused" && session?.pause_reason ? t(`pause.${session.pause_reason}`) : "";
    setText(this.status.sub, reason);
  }

  private show(el: HTMLElement, text: string, value: number | undefined): void {
    setText(el, text);
    setAttr(el, "data-value", value === undefined ? null : String(value));
  }

  reset(): void {
    for (const figure of [this.step, this.train, this.val, this.speed, this.params, this.status]) {
      setText(figure.value, "");
    }
  }
}
