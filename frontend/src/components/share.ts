/** "Share" button: copies the absolute view link and shows it in a popover with a confirmation. */

import type { Actions } from "../actions";
import { h, setText, show } from "../dom";
import { t } from "../i18n";
import type { AppState } from "../store";
import type { Component } from "./component";
import { copyText } from "../clipboard";

const MARGIN_PX = 8; // the popover's least distance from the window's left edge

/** The link students open: the owner's `view_url`, or a viewer's own (view-only) address. */
function shareUrl(state: Readonly<AppState>): string | null {
  const session = state.session;
  if (!session) return null;
  if (session.view_url) return new URL(session.view_url, location.origin).href;
  return session.role === "viewer" ? location.href : null;
}

export class ShareButton implements Component {
  readonly el: HTMLElement;
  private readonly button = h("button", {
    class: "btn btn-share",
    testid: "share-button",
    i18n: "header.share",
    i18nTitle: "header.shareTitle",
    attrs: { type: "button", "aria-haspopup": "dialog", "aria-expanded": "false" },
  });
  private readonly input = h("input", {
    class: "share-url",
    testid: "share-url",
    attrs: { type: "text", readonly: true, spellcheck: "false" },
  });
  private readonly copyButton = h("button", {
    class: "btn btn-small",
    i18n: "share.copy",
    attrs: { type: "button" },
  });
  private readonly confirmation = h("p", {
    class: "share-confirm",
    testid: "share-confirm",
    attrs: { role: "status" },
  });
  private readonly renew = h("button", {
    class: "btn btn-small btn-danger-ghost",
    testid: "share-renew",
    i18n: "share.renew",
    attrs: { type: "button" },
  });
  private readonly renewBox = h(
    "div",
    { class: "share-renew" },
    this.renew,
    h("p", { class: "muted small", i18n: "share.renewNote" }),
  );
  private readonly popover = h(
    "div",
    { class: "popover", testid: "share-popover", attrs: { role: "dialog" } },
    h("h3", { class: "popover-title", i18n: "share.heading" }),
    h("div", { class: "share-row" }, this.input, this.copyButton),
    this.confirmation,
    h("p", { class: "muted small", i18n: "share.note" }),
    this.renewBox,
  );
  private url: string | null = null;

  constructor(actions: Actions) {
    // Replacing the link drops everyone on the old one; the new one arrives in session:state.
    this.renew.addEventListener("click", () => {
      actions.renewLink();
      setText(this.confirmation, t("share.renewed"));
    });
    this.el = h("div", { class: "share" }, this.button, this.popover);
    this.popover.hidden = true;
    this.button.addEventListener(
      "click",
      () => void (this.popover.hidden ? this.open() : this.close()),
    );
    this.copyButton.addEventListener("click", () => void this.copy());
    document.addEventListener("keydown", (e) => e.key === "Escape" && this.close());
    document.addEventListener("pointerdown", (e) => {
      if (!this.el.contains(e.target as Node)) this.close();
    });
  }

  update(state: Readonly<AppState>): void {
    this.url = shareUrl(state);
    show(this.el, this.url !== null);
    show(this.renewBox, state.session?.role === "owner");
    if (this.url !== null && this.input.value !== this.url) this.input.value = this.url;
  }

  private async open(): Promise<void> {
    if (this.url === null) return;
    this.popover.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    this.keepOnScreen();
    await this.copy();
  }

  /** Right-aligned under the button, unless that would cut off its left edge (a narrow or
   * wrapped header puts the button near the left): then shifted right, into view. */
  private keepOnScreen(): void {
    this.popover.style.right = "";
    const { left } = this.popover.getBoundingClientRect();
    if (left < MARGIN_PX) this.popover.style.right = `${left - MARGIN_PX}px`;
  }

  private close(): void {
    if (this.popover.hidden) return;
    this.popover.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
    setText(this.confirmation, "");
  }

  private async copy(): Promise<void> {
    if (this.url === null) return;
    const ok = await copyText(this.url, this.input);
    this.confirmation.classList.toggle("is-error", !ok);
    setText(this.confirmation, ok ? t("share.copied") : t("share.copyFailed"));
    this.input.select();
  }

  reset(): void {
    this.close();
  }
}
