/**
 * The kind of sequence a session learns (a task: characters, words, a ball, prices…), with
 * one line each; choosing another starts a new session of that kind (`/?task=<name>`).
 */

import { h, setText } from "../dom";
import { isMessageKey, t } from "../i18n";
import type { AppState } from "../store";
import type { TaskInfo } from "../types";
import type { Component } from "./component";

/** A task's title or summary in the page's language, or the server's English one. */
export function taskText(task: TaskInfo, part: "title" | "summary"): string {
  const key = `tasks.${task.name}.${part}`;
  return isMessageKey(key) ? t(key) : task[part];
}

export class TaskPicker implements Component {
  readonly el: HTMLElement;
  private readonly select = h("select", {
    class: "input",
    testid: "task-select",
    attrs: { id: "task-select" },
  });
  private readonly summary = h("p", { class: "muted small", testid: "task-summary" });
  private readonly start = h("button", {
    class: "btn btn-small",
    testid: "task-start",
    i18n: "task.start",
    attrs: { type: "button" },
  });
  private tasks: readonly TaskInfo[] | null = null;
  private current: string | null = null;

  constructor() {
    this.select.addEventListener("change", () => this.describe());
    this.start.addEventListener("click", () => {
      location.assign(`/?task=${encodeURIComponent(this.select.value)}`);
    });
    this.el = h(
      "section",
      { class: "card task-picker" },
      h("label", { class: "field-label", i18n: "task.title", attrs: { for: "task-select" } }),
      this.select,
      this.summary,
      h("div", { class: "button-row" }, this.start),
      h("p", { class: "note", i18n: "task.note" }),
    );
  }

  update(state: Readonly<AppState>): void {
    const tasks = state.schema?.tasks ?? null;
    const current = state.session?.task?.name ?? "text";
    if (tasks === this.tasks && current === this.current) return;
    this.tasks = tasks;
    this.current = current;
    this.select.replaceChildren(
      ...(tasks ?? []).map((task) =>
        h("option", { attrs: { value: task.name } }, taskText(task, "title")),
      ),
    );
    this.select.value = current;
    this.describe();
  }

  /** The chosen task's one line; the button starts it unless it is this session's own. */
  private describe(): void {
    const chosen = this.tasks?.find((task) => task.name === this.select.value);
    setText(this.summary, chosen ? taskText(chosen, "summary") : "");
    this.start.disabled = !chosen || chosen.name === this.current;
  }

  reset(): void {
    this.tasks = null;
    this.current = null;
  }
}
