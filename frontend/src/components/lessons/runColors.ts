/** One colour and one name per run in every lesson view, so "LSTM" is the same line in each chart. */

import type { Lesson } from "../../types";
import { paletteColor } from "../charts";

/** The colour of the run called `label`: its place in the lesson, else `fallback` (its row). */
export function runColor(lesson: Lesson | null, label: string, fallback: number): string {
  const i = lesson?.runs.findIndex((run) => run.label === label) ?? -1;
  return paletteColor(i >= 0 ? i : fallback);
}

/** How the run called `label` reads in the UI language ("no clipping" → "sans écrêtage"). */
export function runName(lesson: Lesson | null, label: string): string {
  return lesson?.runs.find((run) => run.label === label)?.name ?? label;
}

/** A small square of the run's colour, for tables and legends. */
export function swatch(color: string): HTMLElement {
  const el = document.createElement("span");
  el.className = "swatch";
  el.style.background = color;
  return el;
}
