/** A tiny element builder and DOM helpers, so components read as a tree rather than as calls. */

import { t, type MessageKey } from "./i18n";

type Child = Node | string | null | undefined | false;

export interface Props {
  class?: string;
  /** Stable hook for tests: becomes `data-testid`. */
  testid?: string;
  /** Static text from the catalogue; re-translated by `applyI18n` on a language switch. */
  i18n?: MessageKey;
  i18nTitle?: MessageKey;
  i18nPlaceholder?: MessageKey;
  i18nAriaLabel?: MessageKey;
  attrs?: Record<string, string | number | boolean | undefined>;
}

/** Create an element with props and children: `h("div", {class: "card"}, h("h2", …), "text")`. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.testid) el.dataset.testid = props.testid;
  if (props.i18n) {
    el.dataset.i18n = props.i18n;
    el.textContent = t(props.i18n);
  }
  if (props.i18nTitle) {
    el.dataset.i18nTitle = props.i18nTitle;
    el.title = t(props.i18nTitle);
  }
  if (props.i18nPlaceholder) {
    el.dataset.i18nPlaceholder = props.i18nPlaceholder;
    el.setAttribute("placeholder", t(props.i18nPlaceholder));
  }
  if (props.i18nAriaLabel) {
    el.dataset.i18nAriaLabel = props.i18nAriaLabel;
    el.setAttribute("aria-label", t(props.i18nAriaLabel));
  }
  for (const [name, value] of Object.entries(props.attrs ?? {})) {
    if (value === true) el.setAttribute(name, "");
    else if (value !== false && value !== undefined) el.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) el.append(child);
  }
  return el;
}

/** Set text only when it differs, so 10 Hz updates do not churn the DOM or screen readers. */
export function setText(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
}

export function setAttr(el: HTMLElement, name: string, value: string | null): void {
  if (value === null) el.removeAttribute(name);
  else if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}

export function show(el: HTMLElement, visible: boolean): void {
  if (el.hidden === visible) el.hidden = !visible;
}
