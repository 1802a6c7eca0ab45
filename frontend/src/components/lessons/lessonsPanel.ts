/**
 * The lessons drawer: every lesson (title, summary, how many models), a Start button and a
 * link to share. For the lesson this session is a run of, the owner's link is the view link:
 * students watch the teacher's runs rather than start copies; any other lesson's link starts
 * that lesson for whoever opens it. Class mode can hide it from viewers
 * (`data-panel="lessons"`).
 */

import type { Actions } from "../../actions";
import { h, setText, show } from "../../dom";
import { formatInt, t, tn } from "../../i18n";
import type { AppState, LessonsState } from "../../store";
import type { Lesson } from "../../types";
import type { Component } from "../component";
import { copyText } from "../../clipboard";

export class LessonsPanel implements Component {
  readonly el: HTMLElement;
  private readonly list = h("ol", { class: "lessons-list" });
  private readonly loading = h("p", { class: "muted", i18n: "lessons.loading" });
  private readonly closeButton = h("button", {
    class: "btn btn-ghost lessons-close",
    testid: "lessons-close",
    i18nAriaLabel: "lessons.close",
    i18nTitle: "lessons.close",
    attrs: { type: "button" },
  });
  private drawn: {
    lessons: LessonsState | null;
    current: string | null;
    viewUrl: string | null;
  } | null = null;
  private open = false;

  constructor(private readonly actions: Actions) {
    this.closeButton.textContent = "×";
    this.closeButton.addEventListener("click", () => actions.showLessons(false));
    const backdrop = h("div", { class: "lessons-backdrop" });
    backdrop.addEventListener("click", () => actions.showLessons(false));
    document.addEventListener("keydown", (e) => {
      if (e.key === "Escape" && this.open) actions.showLessons(false);
    });
    this.el = h(
      "div",
      { class: "lessons-drawer", attrs: { "data-panel": "lessons" } },
      backdrop,
      h(
        "aside",
        {
          class: "lessons-panel",
          testid: "lessons-panel",
          i18nAriaLabel: "lessons.title",
          attrs: { role: "dialog" },
        },
        h(
          "div",
          { class: "lessons-head" },
          h("h2", { class: "lessons-title", i18n: "lessons.title" }),
          this.closeButton,
        ),
        h("p", { class: "lessons-intro muted", i18n: "lessons.intro" }),
        this.loading,
        this.list,
      ),
    );
    this.el.hidden = true;
  }

  update(state: Readonly<AppState>): void {
    const open = state.ui.lessonsOpen && !state.ui.projector;
    if (open !== this.open) {
      this.open = open;
      show(this.el, open);
      if (open) this.closeButton.focus();
    }
    const current = state.session?.lesson?.id ?? null;
    const viewUrl = state.session?.view_url ?? null;
    const d = this.drawn;
    if (d?.lessons === state.lessons && d.current === current && d.viewUrl === viewUrl) return;
    this.drawn = { lessons: state.lessons, current, viewUrl };
    show(this.loading, state.lessons === null);
    this.list.replaceChildren(
      ...(state.lessons?.list ?? []).map((l) => this.item(l, current, viewUrl)),
    );
  }

  private item(lesson: Lesson, current: string | null, viewUrl: string | null): HTMLElement {
    const watch = lesson.id === current && viewUrl !== null;
    const url = new URL(watch ? viewUrl : lesson.link, location.origin).href;
    const start = h(
      "button",
      {
        class: "btn btn-primary",
        testid: "lesson-start",
        i18nTitle: "lessons.startTitle",
        attrs: { type: "button" },
      },
      t("lessons.start"),
    );
    const error = h("p", { class: "field-error", attrs: { role: "alert" } });
    start.addEventListener("click", () => {
      start.disabled = true;
      setText(start, t("lessons.starting"));
      void this.actions.startLesson(lesson.id).then((refusal) => {
        if (refusal === null) return; // the page is leaving for the lesson
        start.disabled = false;
        setText(start, t("lessons.start"));
        setText(error, refusal);
      });
    });
    const link = h("input", {
      class: "input lesson-link",
      testid: "lesson-link",
      i18nAriaLabel: "lessons.link",
      attrs: { type: "text", readonly: true, spellcheck: "false", value: url },
    });
    const copied = h("span", { class: "lesson-copied", attrs: { role: "status" } });
    const copy = h("button", {
      class: "btn btn-small",
      testid: "lesson-copy",
      attrs: { type: "button" },
    });
    setText(copy, t("lessons.copy"));
    copy.addEventListener("click", () => {
      void copyText(url, link).then((ok) => {
        setText(copied, ok ? t("lessons.copied") : t("lessons.copyFailed"));
        link.select();
      });
    });
    link.addEventListener("focus", () => link.select());
    const meta = [
      tn("lessons.runs", lesson.runs.length),
      t("lessons.steps", { n: formatInt(lesson.steps) }),
    ];
    return h(
      "li",
      {
        class: `lesson-item${lesson.id === current ? " is-current" : ""}`,
        testid: "lesson-item",
        attrs: { "data-lesson": lesson.id },
      },
      h(
        "div",
        { class: "lesson-item-head" },
        h("h3", { class: "lesson-item-title" }, lesson.title),
        lesson.id === current && h("span", { class: "chip chip-current" }, t("lessons.current")),
      ),
      h("p", { class: "lesson-item-summary" }, lesson.summary),
      h(
        "p",
        { class: "lesson-item-meta muted small" },
        [...meta, lesson.runs.map((r) => r.name).join(" · ")].join(" — "),
      ),
      h("div", { class: "lesson-item-actions" }, start, link, copy),
      h(
        "p",
        { class: "lesson-link-note muted small", testid: "lesson-link-note" },
        t(watch ? "lessons.shareCurrent" : "lessons.shareNew"),
      ),
      copied,
      error,
    );
  }

  reset(): void {
    this.drawn = null;
  }
}
