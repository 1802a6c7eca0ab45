/** Full-page message when the session cannot be opened (bad link, unknown session, no server). */

import { h, setText, show } from "../dom";
import { t } from "../i18n";
import type { AppState } from "../store";
import type { Component } from "./component";

export class FatalScreen implements Component {
  private readonly title = h("h2", { class: "fatal-title" });
  private readonly body = h("p", { class: "fatal-body" });
  private readonly detail = h("p", { class: "muted small" });
  readonly el = h(
    "div",
    { class: "fatal", testid: "fatal", attrs: { role: "alert" } },
    h(
      "div",
      { class: "fatal-card card" },
      this.title,
      this.body,
      this.detail,
      h("a", { class: "btn btn-primary", i18n: "fatal.newSession", attrs: { href: "/" } }),
    ),
  );

  update(state: Readonly<AppState>): void {
    const fatal = state.fatal;
    show(this.el, fatal !== null);
    document.body.classList.toggle("has-fatal", fatal !== null);
    if (!fatal) return;
    setText(this.title, t(`fatal.${fatal.kind}.title`));
    setText(this.body, t(`fatal.${fatal.kind}.body`));
    setText(this.detail, fatal.message);
  }

  reset(): void {
    setText(this.title, "");
  }
}
