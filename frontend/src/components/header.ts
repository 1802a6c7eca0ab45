/**
 * Top bar: app name, a tagline that says what the session's task learns, connection, role,
 * device, viewers, share, lessons, text size and language.
 */

import type { Actions } from "../actions";
import { h, setAttr, setText, show } from "../dom";
import { getLang, LANGS, t, tn, type Lang } from "../i18n";
import type { AppState } from "../store";
import type { Component } from "./component";
import { ShareButton } from "./share";
import { taskText } from "./taskPicker";

const LARGE_KEY = "rnn-playground:large-text";

function rememberLarge(on: boolean): void {
  try {
    localStorage.setItem(LARGE_KEY, on ? "1" : "0");
  } catch {
    // Not remembered; still applies now.
  }
}

function recallLarge(): boolean {
  try {
    return localStorage.getItem(LARGE_KEY) === "1";
  } catch {
    return false;
  }
}

const LOGO = `<svg viewBox="0 0 32 32" aria-hidden="true"><rect width="32" height="32" rx="8" fill="currentColor"/><path d="M9 20a7 7 0 1 1 7 4" fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round"/><path d="M13 24l3 0 0-3" fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round" stroke-linejoin="round"/></svg>`;

export class Header implements Component {
  readonly el: HTMLElement;
  private readonly connection = h("span", { class: "conn", testid: "connection" });
  private readonly role = h("span", { class: "badge", testid: "role-badge" });
  private readonly device = h("span", {
    class: "badge badge-device",
    testid: "device-badge",
    i18nTitle: "header.deviceTitle",
  });
  private readonly viewers = h("span", {
    class: "viewers",
    testid: "viewers",
    i18nTitle: "header.viewersTitle",
  });
  private readonly tagline = h("p", { class: "tagline", testid: "tagline" });
  private readonly share: ShareButton;
  private readonly projector = h("button", {
    class: "btn btn-ghost",
    testid: "projector-toggle",
    i18nTitle: "header.projectorTitle",
    attrs: { type: "button", "aria-pressed": "false" },
  });
  private readonly largeText = h("button", {
    class: "btn btn-ghost",
    testid: "large-text",
    i18nTitle: "header.largeTextTitle",
    i18nAriaLabel: "header.largeText",
    attrs: { type: "button", "aria-pressed": "false" },
  });
  private readonly lang = h("select", {
    class: "lang",
    testid: "lang-switch",
    i18nAriaLabel: "header.lang",
  });
  private readonly lessons = h("button", {
    class: "btn btn-lessons",
    testid: "lessons-tab",
    i18n: "header.lessons",
    i18nTitle: "header.lessonsTitle",
    attrs: {
      type: "button",
      "aria-haspopup": "dialog",
      "aria-expanded": "false",
      "data-panel": "lessons",
    },
  });
  private readonly newSession = h("a", {
    class: "btn btn-ghost",
    testid: "new-session",
    i18n: "header.newSession",
    i18nTitle: "header.newSessionTitle",
    attrs: { href: "/", target: "_blank", rel: "noopener" },
  });

  constructor(private readonly actions: Actions) {
    this.share = new ShareButton(actions);
    this.projector.addEventListener("click", () =>
      this.actions.look({ projector: this.projector.getAttribute("aria-pressed") !== "true" }),
    );
    const logo = h("span", { class: "logo" });
    logo.innerHTML = LOGO;
    for (const code of LANGS) {
      this.lang.append(h("option", { attrs: { value: code } }, code.toUpperCase()));
    }
    this.lang.value = getLang();
    this.lang.addEventListener("change", () => actions.setLang(this.lang.value as Lang));
    this.largeText.append(h("span", { attrs: { "aria-hidden": "true" } }, "A+"));
    this.largeText.addEventListener("click", () => this.toggleLarge());
    this.lessons.addEventListener("click", () =>
      this.actions.showLessons(this.lessons.getAttribute("aria-expanded") !== "true"),
    );
    this.applyLarge(recallLarge());

    this.el = h(
      "header",
      { class: "app-header" },
      h(
        "div",
        { class: "brand" },
        logo,
        h("div", {}, h("h1", { class: "app-name", i18n: "app.name" }), this.tagline),
      ),
      h(
        "div",
        { class: "header-tools" },
        this.connection,
        this.role,
        this.device,
        this.viewers,
        this.share.el,
        this.lessons,
        this.newSession,
        this.projector,
        this.largeText,
        this.lang,
      ),
    );
  }

  private toggleLarge(): void {
    const on = !document.documentElement.classList.contains("large-text");
    this.applyLarge(on);
    rememberLarge(on);
  }

  private applyLarge(on: boolean): void {
    document.documentElement.classList.toggle("large-text", on);
    this.largeText.setAttribute("aria-pressed", String(on));
  }

  update(state: Readonly<AppState>): void {
    const session = state.session;
    // The task's own one-line summary ("read a text one word at a time…"), else the app's.
    const task = session?.task;
    const summary = task ? taskText(task, "summary") : "";
    const tagline = summary
      ? t("app.taglineTask", { task: summary.charAt(0).toLowerCase() + summary.slice(1) })
      : t("app.tagline");
    setText(this.tagline, tagline);
    this.tagline.title = tagline; // whole, where a narrow header cuts it with an ellipsis
    const conn =
      state.connection === "connected" && !state.joined ? "connecting" : state.connection;
    setText(this.connection, t(`conn.${conn}`));
    setAttr(this.connection, "data-state", conn);

    show(this.role, session !== null);
    show(this.viewers, session !== null);
    show(this.newSession, session?.role === "owner");
    if (session) {
      setText(this.role, t(session.role === "owner" ? "header.role.owner" : "header.role.viewer"));
      setAttr(this.role, "data-role", session.role);
      this.role.title = t(
        session.role === "owner" ? "header.role.ownerTitle" : "header.role.viewerTitle",
      );
      setText(this.viewers, tn("header.viewers", session.viewers));
      setAttr(this.viewers, "data-value", String(session.viewers));
    }
    const device = session?.device ?? state.schema?.device ?? "";
    show(this.device, device !== "");
    setText(this.device, device.toUpperCase());
    setAttr(this.device, "data-device", device);
    if (this.lang.value !== getLang()) this.lang.value = getLang();
    setAttr(this.lessons, "aria-expanded", String(state.ui.lessonsOpen));
    const projector = state.ui.projector;
    this.projector.setAttribute("aria-pressed", String(projector));
    setText(this.projector, t(projector ? "header.projectorExit" : "header.projector"));
    document.documentElement.classList.toggle("projector", projector);
    this.share.update(state);
  }

  reset(): void {
    this.share.reset();
  }
}
