/**
 * Fork, export and import: take your own copy of the session (with or without its trained
 * weights), download the model as a zip, or open a zip someone exported.
 */

import type { Actions } from "../actions";
import { h, setText, show } from "../dom";
import { t } from "../i18n";
import type { AppState } from "../store";
import type { Component } from "./component";

export class SessionTools implements Component {
  readonly el: HTMLElement;
  private readonly fork = h("button", {
    class: "btn btn-small",
    testid: "fork-button",
    i18n: "tools.fork",
    i18nTitle: "tools.forkTitle",
    attrs: { type: "button" },
  });
  private readonly forkWeights = h("button", {
    class: "btn btn-small btn-primary",
    testid: "fork-weights-button",
    i18n: "tools.forkWeights",
    i18nTitle: "tools.forkWeightsTitle",
    attrs: { type: "button" },
  });
  private readonly exportLink = h("a", {
    class: "btn btn-small",
    testid: "export-button",
    i18n: "tools.export",
    i18nTitle: "tools.exportTitle",
    attrs: { download: "" },
  });
  private readonly importInput = h("input", {
    class: "upload visually-hidden",
    testid: "import-input",
    attrs: { type: "file", accept: ".zip,application/zip", id: "import-input" },
  });
  private readonly importLabel = h("label", {
    class: "btn btn-small upload-button",
    i18n: "tools.import",
    i18nTitle: "tools.importTitle",
    attrs: { for: "import-input" },
  });
  private readonly remove = h("button", {
    class: "btn btn-small btn-danger-ghost",
    testid: "delete-button",
    i18n: "tools.delete",
    i18nTitle: "tools.deleteTitle",
    attrs: { type: "button" },
  });
  private readonly locked = h("p", { class: "note", testid: "tools-locked" });
  private readonly status = h("p", { class: "muted small", testid: "tools-status" });
  private readonly error = h("p", {
    class: "field-error",
    testid: "tools-error",
    attrs: { role: "alert" },
  });
  private busy = false;
  private exportLocked = false;

  constructor(private readonly actions: Actions) {
    this.fork.addEventListener("click", () => void this.run(() => this.actions.fork(false)));
    this.forkWeights.addEventListener("click", () => void this.run(() => this.actions.fork(true)));
    this.exportLink.addEventListener("click", (e) => {
      if (this.exportLocked) e.preventDefault();
    });
    this.importInput.addEventListener("change", () => {
      const file = this.importInput.files?.[0];
      this.importInput.value = "";
      if (file) void this.run(() => this.actions.importZip(file));
    });
    this.remove.addEventListener("click", () => {
      if (window.confirm(t("tools.deleteConfirm")))
        void this.run(() => this.actions.deleteSession());
    });
    this.el = h(
      "section",
      { class: "card session-tools", testid: "session-tools" },
      h("h2", { class: "card-title", i18n: "tools.title" }),
      h("div", { class: "button-row tools-row" }, this.fork, this.forkWeights),
      h(
        "div",
        { class: "button-row tools-row upload-row" },
        this.exportLink,
        this.importInput,
        this.importLabel,
      ),
      h("div", { class: "button-row tools-row" }, this.remove),
      this.locked,
      this.status,
      this.error,
    );
    show(this.error, false);
    show(this.status, false);
  }

  /** One request at a time; a refusal is shown in the card, in the server's words. */
  private async run(request: () => Promise<string | null>): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.el.classList.add("is-busy");
    show(this.error, false);
    show(this.status, true);
    setText(this.status, t("tools.working"));
    const refusal = await request();
    this.busy = false;
    this.el.classList.remove("is-busy");
    show(this.status, false);
    if (refusal) {
      setText(this.error, refusal);
      show(this.error, true);
    }
  }

  update(state: Readonly<AppState>): void {
    const session = state.session;
    const viewer = session?.role === "viewer";
    const locks = viewer ? (session.classroom?.locks ?? []) : [];
    const forkLocked = locks.includes("fork");
    this.exportLocked = locks.includes("export");
    const ready = state.joined && state.connection === "connected";
    show(this.remove, session?.role === "owner");
    this.fork.disabled = forkLocked || !ready;
    this.forkWeights.disabled = forkLocked || !ready;
    this.exportLink.classList.toggle("is-disabled", this.exportLocked);
    this.exportLink.setAttribute("aria-disabled", String(this.exportLocked));
    const href = this.actions.exportHref();
    if (this.exportLink.getAttribute("href") !== href) this.exportLink.setAttribute("href", href);
    const note = [forkLocked && t("tools.forkLocked"), this.exportLocked && t("tools.exportLocked")]
      .filter(Boolean)
      .join(" ");
    setText(this.locked, note);
    show(this.locked, note !== "");
  }

  reset(): void {
    // A language switch re-labels the static text; nothing else is cached.
  }
}
