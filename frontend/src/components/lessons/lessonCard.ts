/**
 * The lesson card at the top of the main area, for a session that is a run of a lesson: its
 * title, what to look for, what training shows, which run this page is, and buttons to open
 * the lesson's views. When the lesson reached the end of its budget it says so, gives its
 * verdict (whether the claim held, as the server judged it on the runs' ends; until then the
 * measured figures) and, to the owner, offers to run on. The text is the lesson list's, in
 * the UI language.
 */

import type { Actions } from "../../actions";
import { h, setAttr, setText, show } from "../../dom";
import { formatInt, isMessageKey, t } from "../../i18n";
import { currentLesson, type AppState } from "../../store";
import type { Lesson } from "../../types";
import type { Component } from "../component";
import { runName } from "./runColors";
import { claimVerdict, verdict } from "./verdict";

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
  private readonly verdict = h("p", { class: "lesson-verdict-text", testid: "lesson-verdict" });
  private readonly runOn = h("button", {
    class: "btn btn-small",
    testid: "lesson-run-on",
    i18n: "lesson.runOn",
    i18nTitle: "lesson.runOnTitle",
    attrs: { type: "button" },
  });
  private readonly end = h(
    "div",
    { class: "lesson-end", testid: "lesson-end", attrs: { role: "status" } },
    h("strong", { class: "lesson-end-title", testid: "lesson-end-title" }),
    this.verdict,
    this.runOn,
  );
  private readonly body = h("div", { class: "lesson-body" }, this.lookFor, this.claim);
  private drawn: { lesson: Lesson | null; run: string; id: string } | null = null;
  private collapsed = recallCollapsed();

  constructor(private readonly actions: Actions) {
    this.runOn.addEventListener("click", () => actions.start());
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
      this.end,
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
    this.updateEnd(state, lesson);
    if (this.drawn?.lesson === lesson && this.drawn.run === info.run && this.drawn.id === info.id)
      return;
    this.drawn = { lesson, run: info.run, id: info.id };
    setAttr(this.el, "data-lesson", info.id);
    setAttr(this.el, "data-lang", lesson ? (state.lessons?.lang ?? null) : null);
    setText(this.run, t("lesson.run", { run: runName(lesson, info.run) }));
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

  /** The end of the budget: a notice, the server's verdict (the measured figures until it
   * comes), and "run on". */
  private updateEnd(state: Readonly<AppState>, lesson: Lesson | null): void {
    const session = state.session;
    const ended = session?.status === "paused" && session.pause_reason === "budget";
    show(this.end, ended);
    if (!ended || !session) return;
    const title = this.end.firstElementChild as HTMLElement;
    setText(title, t("lesson.ended", { step: formatInt(session.lesson?.steps ?? session.step) }));
    // The verdict waits for every run to stop: its figures are the lesson's final ones.
    const rows = state.runs.rows;
    const settled = rows?.every((r) => r.status !== "running" && r.status !== "queued") ?? false;
    const judged = state.runs.verdict?.lesson === lesson?.id ? state.runs.verdict : null;
    const text = judged
      ? claimVerdict(judged)
      : lesson && settled
        ? verdict(lesson, {
            rows: state.runs.rows,
            gaps: state.gaps.result,
            sentiment: state.sentiment.result,
            unit: session.task?.unit ?? "bits/char",
          })
        : null;
    setText(this.verdict, text ?? t("lesson.verdictLoading"));
    setAttr(this.verdict, "data-ready", text === null ? null : "1");
    setAttr(this.verdict, "data-held", judged ? String(judged.held) : null);
    show(this.runOn, session.role === "owner");
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
