/**
 * A lesson's verdict at the end of its budget. The server judges every lesson's claim on what
 * its runs ended on (`GET /runs`, `verdict`): the card then says whether it held, each part of
 * the claim with the figures it read (`claimVerdict`), in the page's language.
 *
 * Until that verdict comes (the server reads the runs' ends on the first poll after the last
 * run stopped), the card gives one sentence of measured figures, the same ones the views on
 * screen draw (each run's latest validation loss from the comparison table, the accuracy at
 * the longest gaps from the gap view, the accuracy on order-flipped pairs from the sentiment
 * view), best first. It states what was measured; it does not assert the claim.
 */

import { formatPercent } from "../../format";
import { formatFixed, formatInt, getLang, t } from "../../i18n";
import type { GapsResult, Lesson, LessonVerdict, RunRow, SentimentResult } from "../../types";
import { unitLabel } from "../lossChart";
import { runName } from "./runColors";

/** The figures a verdict can draw on; any may be missing (not fetched yet). */
export interface VerdictInputs {
  rows: RunRow[] | null;
  gaps: GapsResult | null;
  sentiment: SentimentResult | null;
  unit: string; // the task's loss unit: bits per character, or per word for the words lesson
}

/** "LSTM: 98%, GRU: 97%, tanh RNN: 31%": best first. */
function ranked(figures: { label: string; value: number }[], format: (v: number) => string) {
  return [...figures]
    .sort((a, b) => b.value - a.value)
    .map((f) => t("verdict.figure", { label: f.label, value: format(f.value) }))
    .join(", ");
}

/** Mean accuracy of each run over the longest third of the measured gaps. */
function gapVerdict(lesson: Lesson, gaps: GapsResult): string {
  const longest = gaps.gaps[gaps.gaps.length - 1] ?? 0;
  const from = gaps.gaps.findIndex((g) => g >= (2 * longest) / 3);
  const figures = gaps.runs.map((run) => {
    const long = run.accuracy.slice(from);
    const value = long.reduce((a, b) => a + b, 0) / long.length;
    return { label: runName(lesson, run.label), value };
  });
  return t("verdict.gap", {
    step: formatInt(Math.min(...gaps.runs.map((r) => r.step))),
    from: formatInt(gaps.gaps[from] ?? 0),
    to: formatInt(longest),
    figures: ranked(figures, (v) => formatPercent(v, 0)),
  });
}

/** Each run's latest validation loss, lowest first; a run whose loss is not a number diverged. */
function lossVerdict(lesson: Lesson, rows: RunRow[], unit: string): string | null {
  const measured = rows.filter((r) => r.val.length > 0);
  if (measured.length === 0) return null;
  const latest = measured.map((r) => ({
    label: runName(lesson, r.label),
    value: r.val[r.val.length - 1],
  }));
  const ok = latest.filter((f): f is { label: string; value: number } =>
    Number.isFinite(f.value ?? NaN),
  );
  const diverged = latest.filter((f) => !Number.isFinite(f.value ?? NaN)).map((f) => f.label);
  const parts = ok
    .sort((a, b) => a.value - b.value)
    .map((f, i) => {
      const value = formatFixed(f.value, 2) + (i === 0 ? ` ${unitLabel(unit)}` : "");
      return t("verdict.figure", { label: f.label, value });
    });
  if (diverged.length > 0) parts.push(t("verdict.diverged", { runs: diverged.join(", ") }));
  const step = Math.min(...measured.map((r) => r.val_step[r.val_step.length - 1] ?? r.step));
  return t("verdict.loss", { step: formatInt(step), figures: parts.join(", ") });
}

/** "The claim held: …" with every part, or "Not this time: …" with the parts that missed. */
export function claimVerdict(judged: LessonVerdict): string {
  const lang = getLang();
  const parts = judged.checks
    .filter((check) => judged.held || !check.held)
    .map((check) => t("verdict.part", { says: check.says[lang], measured: check.measured[lang] }));
  const separator = t("verdict.partsSeparator"); // "; ", or " ; " in French
  return t(judged.held ? "verdict.held" : "verdict.missed", { parts: parts.join(separator) });
}

/** The verdict sentence, or null while the figures it needs are not there yet. */
export function verdict(lesson: Lesson, inputs: VerdictInputs): string | null {
  if (lesson.views.includes("gap") && inputs.gaps) return gapVerdict(lesson, inputs.gaps);
  if (lesson.views.includes("sentiment") && inputs.sentiment) {
    const figures = inputs.sentiment.runs.map((r) => ({
      label: runName(lesson, r.label),
      value: r.pair_accuracy,
    }));
    return t("verdict.pairs", { figures: ranked(figures, (v) => formatPercent(v, 0)) });
  }
  return inputs.rows ? lossVerdict(lesson, inputs.rows, inputs.unit) : null;
}
