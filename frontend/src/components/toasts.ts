/**
 * Toasts: `error` and `session:notice` socket events and failed HTTP requests, one line each,
 * dismissible. A fault the page knows (`notice.<code>`) is explained in the page's language.
 */

import type { Actions } from "../actions";
import { h, setText } from "../dom";
import { isMessageKey, t } from "../i18n";
import type { AppState, Toast } from "../store";
import type { Component } from "./component";

const VISIBLE_MS = 8000;

function title(code: string): string {
  const key = `error.${code}`;
  return t(isMessageKey(key) ? key : "error.other");
}

function explain(toast: Toast): string {
  const key = `notice.${toast.code}`;
  return isMessageKey(key) ? t(key) : toast.message;
}

export class Toasts implements Component {
  readonly el = h("div", { class: "toasts", testid: "toasts", attrs: { "aria-live": "polite" } });
  private readonly shown = new Map<number, { el: HTMLElement; at: number; timer: number }>();
  private last: readonly Toast[] | null = null;

  constructor(private readonly actions: Actions) {}

  update(state: Readonly<AppState>): void {
    if (state.toasts === this.last) return;
    this.last = state.toasts;
    const ids = new Set(state.toasts.map((toast) => toast.id));
    for (const [id, item] of this.shown) {
      if (!ids.has(id)) {
        clearTimeout(item.timer);
        item.el.remove();
        this.shown.delete(id);
      }
    }
    for (const toast of state.toasts) this.render(toast);
  }

  private render(toast: Toast): void {
    let item = this.shown.get(toast.id);
    if (!item) {
      const el = this.build(toast);
      this.el.append(el);
      item = { el, at: 0, timer: 0 };
      this.shown.set(toast.id, item);
    }
    if (item.at !== toast.at) {
      // A repeat of the same error restarts its clock instead of stacking another toast.
      clearTimeout(item.timer);
      item.at = toast.at;
      item.timer = window.setTimeout(() => this.actions.dismissToast(toast.id), VISIBLE_MS);
    }
    const count = item.el.querySelector<HTMLElement>(".toast-count");
    if (count) setText(count, toast.count > 1 ? `×${toast.count}` : "");
  }

  private build(toast: Toast): HTMLElement {
    const close = h(
      "button",
      {
        class: "toast-close",
        i18nAriaLabel: "toast.close",
        i18nTitle: "toast.close",
        attrs: { type: "button" },
      },
      "×",
    );
    close.addEventListener("click", () => this.actions.dismissToast(toast.id));
    return h(
      "div",
      { class: "toast", testid: "toast", attrs: { role: "alert", "data-code": toast.code } },
      h(
        "div",
        { class: "toast-body" },
        h("strong", { class: "toast-title" }, title(toast.code)),
        h("span", { class: "toast-message" }, explain(toast)),
      ),
      h("span", { class: "toast-count" }),
      close,
    );
  }

  reset(): void {
    for (const item of this.shown.values()) {
      clearTimeout(item.timer);
      item.el.remove();
    }
    this.shown.clear();
    this.last = null;
  }
}
