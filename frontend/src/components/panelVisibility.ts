/** Class mode for viewers: panels the owner hides (`[data-panel=<name>]`) disappear. */

import type { AppState } from "../store";
import type { Component } from "./component";

export class PanelVisibility implements Component {
  private shown = "";

  constructor(readonly el: HTMLElement) {}

  update(state: Readonly<AppState>): void {
    const session = state.session;
    const hidden = session?.role === "viewer" ? (session.classroom?.hidden ?? []) : [];
    const key = hidden.join();
    if (key === this.shown) return;
    this.shown = key;
    for (const panel of this.el.querySelectorAll<HTMLElement>("[data-panel]")) {
      panel.classList.toggle("is-class-hidden", hidden.includes(panel.dataset.panel as never));
    }
  }

  reset(): void {
    this.shown = "";
  }
}
