/** Gradient profiles pinned for comparison: kept per session in localStorage, at most three. */

import { formatSettingNumber } from "./format";
import { t } from "./i18n";
import type { Config } from "./types";

export const MAX_PINS = 3;
const KEY = "rnn-playground:pins:";

export interface Pin {
  label: string;
  step: number;
  /** ‖∂L/∂h_t‖ of the top layer, t = 1..seq_len. */
  h: (number | null)[];
}

/** "rnn tanh", "lstm", "rnn init×5 no clip": what made this curve what it is. */
export function pinLabel(config: Config): string {
  const parts = [String(config.model)];
  if (config.model === "rnn") parts.push(String(config.activation));
  if (config.init === "identity") parts.push(t("pins.identity"));
  const scale = Number(config.init_scale);
  if (Number.isFinite(scale) && scale !== 1)
    parts.push(`init×${formatSettingNumber(scale, false)}`);
  if (config.clip === false) parts.push(t("pins.noClip"));
  return parts.join(" ");
}

export function loadPins(session: string): Pin[] {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(KEY + session) ?? "[]");
    return Array.isArray(parsed) ? (parsed as Pin[]).slice(0, MAX_PINS) : [];
  } catch {
    return [];
  }
}

export function savePins(session: string, pins: Pin[]): void {
  try {
    localStorage.setItem(KEY + session, JSON.stringify(pins.slice(0, MAX_PINS)));
  } catch {
    // Not remembered across reloads; the pins still show now.
  }
}
