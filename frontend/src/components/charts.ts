/** What every uPlot chart here shares: colours from the CSS theme, rem-sized fonts, axes. */

import type uPlot from "uplot";
import { formatFixed } from "../i18n";

export function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export function remPx(): number {
  return parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
}

/** Axis styling in the app's colours and a font that follows the page's text size. */
export function axisStyle(rem: number): uPlot.Axis {
  const font = `${Math.round(rem * 0.8)}px system-ui, sans-serif`;
  return {
    stroke: cssVar("--muted"),
    grid: { stroke: cssVar("--grid"), width: 1 },
    ticks: { stroke: cssVar("--grid"), width: 1 },
    font,
    labelFont: font,
  };
}

/** The least room between two x-axis ticks: tick labels such as "12,000" grow with the type
 * (a projector's is twice a laptop's), so a fixed pixel spacing made them overlap there. */
export function xTickSpace(rem: number): number {
  return Math.round(rem * 4.5);
}

/** Log-axis tick labels: 0.001 → "1e-3", 10 → "10" (uPlot passes null for skipped ticks). */
export function logTick(v: number | null): string {
  if (v == null) return "";
  if (v === 0) return "0";
  const exp = Math.log10(Math.abs(v));
  if (exp >= -2 && exp < 4) return formatFixed(v, Math.max(0, -Math.floor(exp)));
  return v.toExponential(0).replace("e+", "e");
}

/** Series palette for overlaid curves (pins, forks), readable on white. */
export const PALETTE = [
  "#2f6fde",
  "#df5a2c",
  "#12804a",
  "#8e44ad",
  "#c99a00",
  "#0e8a99",
  "#c0392b",
  "#5a6478",
  "#d35e9c",
  "#4b6b1d",
];

export function paletteColor(i: number): string {
  return PALETTE[i % PALETTE.length]!;
}

/** Keep only positive, finite values (a log axis has no place for the rest). */
export function positive(v: number | null | undefined): number | null {
  return v != null && Number.isFinite(v) && v > 0 ? v : null;
}

/** Wrangle: one x axis (every step any curve has) and each curve's value at those steps. */
export function alignCurves(
  curves: { step: number[]; val: (number | null)[] }[],
): [number[], ...(number | null)[][]] {
  const steps = [...new Set(curves.flatMap((c) => c.step))].sort((a, b) => a - b);
  const index = new Map(steps.map((s, i) => [s, i]));
  const ys = curves.map((c) => {
    const y: (number | null)[] = steps.map(() => null);
    c.step.forEach((s, i) => (y[index.get(s)!] = c.val[i] ?? null));
    return y;
  });
  return [steps, ...ys];
}
