/**
 * The kind of sequence a session learns (a task: characters, words, a ball, prices…), with
 * one line each; choosing another starts a new session of that kind (`/?task=<name>`), with
 * the task's source choices (a collection of tunes, what the ball model sees) as parameters.
 */

import { h, setText } from "../dom";
import { isMessageKey, t } from "../i18n";
import type { AppState } from "../store";
import type { SourceField, TaskInfo } from "../types";
import type { Component } from "./component";

/** A source choice's name in the page's language, or the server's English label. */
function choiceText(field: string, spec: SourceField, choice: string): string {
  const key = `source.${field}.${choice}`;
  return isMessageKey(key) ? t(key) : (spec.labels?.[choice] ?? choice);
}

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
  /** The chosen task's source choices, one select each (`data-field` names the field). */
  private readonly fields = h("div", { class: "task-fields", testid: "task-fields" });
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
      const params = new URLSearchParams({ task: this.select.value });
      for (const select of this.fields.querySelectorAll("select")) {
        params.set(select.dataset.field ?? "", select.value);
      }
      location.assign(`/?${params.toString()}`);
    });
    this.el = h(
      "section",
      { class: "card task-picker" },
      h("label", { class: "field-label", i18n: "task.title", attrs: { for: "task-select" } }),
      this.select,
      this.summary,
      this.fields,
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

  /**
   * The chosen task's one line and its source choices; the button starts it unless it is
   * this session's own task with nothing else to choose.
   */
  private describe(): void {
    const chosen = this.tasks?.find((task) => task.name === this.select.value);
    setText(this.summary, chosen ? taskText(chosen, "summary") : "");
    const choices = Object.entries(chosen?.source_fields ?? {}).filter(([, f]) => f.choices);
    this.fields.replaceChildren(
      ...choices.map(([field, spec]) => {
        const id = `task-field-${field}`;
        const select = h(
          "select",
          { class: "input", testid: id, attrs: { id } },
          ...(spec.choices ?? []).map((c) =>
            h("option", { attrs: { value: c } }, choiceText(field, spec, c)),
          ),
        );
        select.dataset.field = field;
        const fallback = chosen?.default_source[field];
        if (typeof fallback === "string") select.value = fallback;
        const key = `source.${field}`;
        const label = isMessageKey(key) ? t(key) : field;
        return h("label", { class: "field-label", attrs: { for: id } }, label, select);
      }),
    );
    this.start.disabled = !chosen || (chosen.name === this.current && !choices.length);
  }

  reset(): void {
    this.tasks = null;
    this.current = null;
  }
}
