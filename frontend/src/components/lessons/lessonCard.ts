/**
 * The lesson card at the top of the main area, for a session that is a run of a lesson: its
 * title, what to look for, what training shows, which run this page is, and buttons to open
 * the lesson's views. The text is the lesson list's, in the UI language.
 */

import type { Actions } from "../../actions";
import { h, setAttr, setText, show } from "../../dom";
import { isMessageKey, t } from "../../i18n";
import { currentLesson, type AppState } from "../../store";
import type { Lesson } from "../../types";
import type { Component } from "../component";

const COLLAPSED_KEY = "rnn-playground:lesson-collapsed";

function recallCollapsed(): boolean {
  try {
    return sessionStorage.getItem(COLLAPSED_KEY) === "1";
  } catch {
    return false;
  }
}

export class LessonCard implements Component {
  readonly el: HTMLElement;
  private readonly title = h("h2", { class: "lesson-title", testid: "lesson-title" });
  private readonly run = h("span", {
    class: "chip chip-run",
    testid: "lesson-run",
    i18nTitle: "lesson.runTitle",
  });
  private readonly toggle = h("button", {
    class: "btn btn-ghost btn-small lesson-toggle",
    testid: "lesson-toggle",
    attrs: { type: "button", "aria-expanded": "true" },
  });
  private readonly lookFor = h("p", { class: "lesson-look-for", testid: "lesson-look-for" });
  private readonly claim = h("p", { class: "lesson-claim", testid: "lesson-claim" });
  private readonly views = h("div", { class: "lesson-views" });
  private readonly body = h("div", { class: "lesson-body" }, this.lookFor, this.claim);
  private drawn: { lesson: Lesson | null; run: string; id: string } | null = null;
  private collapsed = recallCollapsed();

  constructor(private readonly actions: Actions) {
    this.toggle.addEventListener("click", () => {
      this.collapsed = !this.collapsed;
      try {
        sessionStorage.setItem(COLLAPSED_KEY, this.collapsed ? "1" : "0");
      } catch {
        // Not remembered; still applies now.
      }
      this.applyCollapsed();
    });
    this.el = h(
      "section",
      { class: "card lesson-card area-lesson", testid: "lesson-card" },
      h(
        "div",
        { class: "lesson-head" },
        h("span", { class: "lesson-kicker", i18n: "lesson.kicker" }),
        this.title,
        this.run,
        this.views,
        this.toggle,
      ),
      this.body,
    );
    this.el.hidden = true;
    this.applyCollapsed();
  }

  private applyCollapsed(): void {
    show(this.body, !this.collapsed);
    setAttr(this.toggle, "aria-expanded", String(!this.collapsed));
    setText(this.toggle, t(this.collapsed ? "lesson.show" : "lesson.hide"));
  }

  update(state: Readonly<AppState>): void {
    const info = state.session?.lesson ?? null;
    show(this.el, info !== null);
    document.documentElement.classList.toggle("has-lesson", info !== null);
    if (!info) return;
    const lesson = currentLesson(state);
    if (this.drawn?.lesson === lesson && this.drawn.run === info.run && this.drawn.id === info.id)
      return;
    this.drawn = { lesson, run: info.run, id: info.id };
    setAttr(this.el, "data-lesson", info.id);
    setAttr(this.el, "data-lang", lesson ? (state.lessons?.lang ?? null) : null);
    setText(this.run, t("lesson.run", { run: info.run }));
    setText(this.title, lesson?.title ?? t("lesson.loading"));
    this.lookFor.replaceChildren(h("strong", {}, t("lesson.lookFor")), " ", lesson?.look_for ?? "");
    this.claim.replaceChildren(h("strong", {}, t("lesson.claim")), " ", lesson?.claim ?? "");
    show(this.lookFor, lesson !== null);
    show(this.claim, lesson !== null);
    this.views.replaceChildren(
      h("span", { class: "lesson-views-label" }, t("lesson.views")),
      ...(lesson?.views ?? []).map((view) => this.viewButton(view)),
    );
  }

  private viewButton(view: string): HTMLElement {
    const key = `view.${view}`;
    const button = h(
      "button",
      {
        class: "chip chip-view",
        testid: "lesson-view",
        attrs: { type: "button", "data-view": view },
      },
      isMessageKey(key) ? t(key) : view,
    );
    button.addEventListener("click", () => {
      this.actions.openView(view);
      // The predict box is always on screen: take the reader to it.
      if (view === "predict")
        document.querySelector<HTMLElement>("[data-testid=predict-input]")?.focus();
    });
    return button;
  }

  reset(): void {
    this.drawn = null;
    this.applyCollapsed();
  }
}
