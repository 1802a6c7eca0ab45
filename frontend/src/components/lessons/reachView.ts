/**
 * What each model reads: type an input of any length and, for every lesson run, each character
 * is shaded by how much the prediction after the input moves when that character is replaced
 * (measured on the server). Characters that change nothing at all are struck out and grey: a
 * window's beyond its width. Below each run: how many characters it reads, and how much its
 * prediction moves when two characters near the end swap (zero for a bag).
 */

import "./criteria.css";
import type { Actions } from "../../actions";
import { h, setText, show } from "../../dom";
import { visibleChar } from "../../format";
import { formatInt, t } from "../../i18n";
import { currentLesson, shownTab, type AppState } from "../../store";
import type { Lesson, ReachResult } from "../../types";
import type { Component } from "../component";
import { formatMove } from "./criteriaView";
import { runColor, runName, swatch } from "./runColors";

const DEBOUNCE_MS = 300;
/** The server's limit on the input. */
const MAX_REACH_CHARS = 80;
/** The longest line offered as an example. */
const EXAMPLE_CHARS = 40;
/** Shading: a move of 10^-FLOOR or less is the faintest visible, a move of 1 the darkest. */
const FLOOR = 5;

/** The shade of a character whose replacement moves the prediction by `d` (0: none). */
function shade(d: number): number {
  if (d <= 0) return 0;
  return Math.min(1, Math.max(0.08, (Math.log10(d) + FLOOR) / FLOOR));
}

export class ReachView implements Component {
  readonly el: HTMLElement;
  private readonly input = h("input", {
    class: "input reach-input",
    testid: "reach-input",
    i18nPlaceholder: "reach.placeholder",
    i18nAriaLabel: "reach.label",
    attrs: { type: "text", maxlength: MAX_REACH_CHARS, spellcheck: "false", autocomplete: "off" },
  });
  private readonly examples = h("div", { class: "reach-examples" });
  private readonly status = h("p", { class: "muted small", testid: "reach-status" });
  private readonly error = h("p", { class: "field-error", testid: "reach-error" });
  private readonly runs = h("div", { class: "reach-runs", testid: "reach-runs" });
  private timer: number | null = null;
  private inFlight = false;
  private result: ReachResult | null = null;
  private lesson: Lesson | null = null;
  private preview = "";

  constructor(private readonly actions: Actions) {
    this.input.addEventListener("input", () => this.type());
    this.el = h(
      "section",
      { class: "card reach-card", testid: "reach-panel" },
      h("h2", { class: "card-title", i18n: "reach.title" }),
      h("p", { i18n: "reach.intro" }),
      this.input,
      this.examples,
      this.status,
      this.error,
      this.runs,
      h("p", { class: "muted small", i18n: "reach.legend" }),
    );
    show(this.error, false);
  }

  update(state: Readonly<AppState>): void {
    const lesson = currentLesson(state);
    const preview = state.session?.text.preview ?? "";
    if (preview !== this.preview) {
      this.preview = preview;
      this.examples.replaceChildren(...examplesOf(preview).map((text) => this.example(text)));
    }
    if (shownTab(state) === "reach" && this.input.value === "" && this.result === null) {
      const first = examplesOf(preview)[0];
      if (first) this.pick(first);
    }
    if (lesson !== this.lesson) {
      this.lesson = lesson;
      if (this.result) this.draw(this.result);
    }
  }

  private example(text: string): HTMLElement {
    const button = h("button", { class: "btn btn-small", testid: "reach-example" }, text);
    button.setAttribute("type", "button");
    button.addEventListener("click", () => this.pick(text));
    return button;
  }

  private pick(text: string): void {
    this.input.value = text;
    this.type(0);
  }

  private type(delay = DEBOUNCE_MS): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = window.setTimeout(() => void this.flush(), delay);
  }

  private async flush(): Promise<void> {
    this.timer = null;
    const text = this.input.value;
    if (this.inFlight || text === "" || text === this.result?.text) return;
    this.inFlight = true;
    setText(this.status, t("reach.reading"));
    try {
      this.result = await this.actions.askReach(text);
      setText(this.error, "");
      this.draw(this.result);
    } catch (err) {
      setText(this.error, t("reach.error", { message: String((err as Error).message ?? err) }));
    } finally {
      this.inFlight = false;
      show(this.error, this.error.textContent !== "");
    }
    if (this.input.value !== text) void this.flush();
  }

  private draw(result: ReachResult): void {
    const steps = Math.min(...result.runs.map((run) => run.step));
    setText(this.status, t("reach.measured", { steps: formatInt(steps) }));
    this.runs.replaceChildren(...result.runs.map((run, i) => this.run(result, run, i)));
  }

  private run(result: ReachResult, run: ReachResult["runs"][number], i: number): HTMLElement {
    const chars = [...result.text];
    const strip = h("div", { class: "reach-strip", attrs: { "data-run": run.label } });
    const color = runColor(this.lesson, run.label, i);
    chars.forEach((char, s) => {
      const d = run.dependence[s] ?? 0;
      const cell = h(
        "span",
        { class: `reach-char${d === 0 ? " is-ignored" : ""}` },
        visibleChar(char),
      );
      cell.dataset.dependence = String(d);
      cell.title = t("reach.cell", { char: visibleChar(char), move: formatMove(d) });
      const alpha = shade(d);
      if (alpha > 0)
        cell.style.background = `color-mix(in srgb, ${color} ${Math.round(alpha * 100)}%, transparent)`;
      strip.append(cell);
    });
    const read = run.dependence.filter((d) => d > 0).length;
    const summary = t("reach.summary", {
      read: formatInt(read),
      total: formatInt(chars.length),
      order: run.order === null ? "—" : formatMove(run.order),
    });
    return h(
      "div",
      { class: "reach-run", testid: "reach-run" },
      h("div", { class: "reach-run-name" }, swatch(color), runName(this.lesson, run.label)),
      strip,
      h("p", { class: "reach-summary small", testid: "reach-summary" }, summary),
    );
  }

  reset(): void {
    if (this.result) this.draw(this.result);
  }
}

/** Inputs to try: lines of the session's text, stopped before their last character (what a
 * model would predict), longer than a window of 8 and short enough to read at a glance. */
function examplesOf(preview: string): string[] {
  const lines = preview.split("\n").map((line) => line.trimEnd().slice(0, -1));
  const short = lines.filter((line) => line.length >= 12 && line.length <= EXAMPLE_CHARS);
  // A text of long lines (a story) offers the start of its first line instead.
  const picked = short.length > 0 ? short : lines.filter((l) => l).map((l) => l.slice(0, 40));
  return [...new Set(picked)].slice(0, 3);
}
