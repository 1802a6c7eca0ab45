/** Train / Pause, Step and Reset, for the owner; viewers see them disabled with a note. */

import type { Actions } from "../actions";
import { h, setText, show } from "../dom";
import { t } from "../i18n";
import type { AppState } from "../store";
import type { Component } from "./component";

export class RunControls implements Component {
  readonly el: HTMLElement;
  private readonly train = h("button", {
    class: "btn btn-primary btn-large",
    testid: "train-button",
    i18nTitle: "run.trainTitle",
    attrs: { type: "button" },
  });
  private readonly pause = h("button", {
    class: "btn btn-warn btn-large",
    testid: "pause-button",
    i18n: "run.pause",
    i18nTitle: "run.pauseTitle",
    attrs: { type: "button" },
  });
  private readonly step = h("button", {
    class: "btn",
    testid: "step-button",
    i18n: "run.step",
    i18nTitle: "run.stepTitle",
    attrs: { type: "button" },
  });
  private readonly resetButton = h("button", {
    class: "btn btn-danger-ghost",
    testid: "reset-button",
    i18n: "run.reset",
    i18nTitle: "run.resetTitle",
    attrs: { type: "button" },
  });
  private readonly note = h("p", { class: "note", testid: "owner-only-note" });

  constructor(actions: Actions) {
    this.train.addEventListener("click", () => actions.start());
    this.pause.addEventListener("click", () => actions.pause());
    this.step.addEventListener("click", () => actions.step());
    this.resetButton.addEventListener("click", () => actions.reset());
    this.el = h(
      "section",
      { class: "card run-controls" },
      h("h2", { class: "card-title", i18n: "run.title" }),
      h("div", { class: "button-row" }, this.train, this.pause, this.step, this.resetButton),
      this.note,
    );
  }

  update(state: Readonly<AppState>): void {
    const session = state.session;
    // Waiting in the queue counts as running: Pause leaves the queue.
    const running = session?.status === "running" || session?.status === "queued";
    const owner = session?.role === "owner";
    const ready = state.joined && state.connection === "connected";

    // One of Train / Pause is visible at a time, so each button has one fixed meaning.
    show(this.train, !running);
    show(this.pause, running);
    setText(this.train, t((session?.step ?? 0) > 0 ? "run.resume" : "run.train"));
    this.train.disabled = !(owner && ready);
    this.pause.disabled = !(owner && ready);
    this.step.disabled = !(owner && ready) || running;
    this.resetButton.disabled = !(owner && ready);

    const note = !ready ? t("run.offlineNote") : owner ? "" : t("run.viewerNote");
    setText(this.note, note);
    show(this.note, note !== "");
  }

  reset(): void {
    setText(this.train, "");
  }
}
