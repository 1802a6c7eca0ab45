/** Formatting shared by views: visible stand-ins for invisible characters, sizes, losses. */

import { formatFixed, formatInt, getLang, t } from "./i18n";

const VISIBLE: Record<string, string> = { " ": "␣", "\n": "↵", "\t": "⇥", "\r": "␍" };

/** How a single character is drawn on a bar or chip: space ␣, newline ↵, tab ⇥. */
export function visibleChar(char: string): string {
  return VISIBLE[char] ?? char;
}

/** A spoken name for characters that have no glyph of their own (for titles and screen readers). */
export function charName(char: string): string {
  if (char === " ") return t("char.space");
  if (char === "\n") return t("char.newline");
  if (char === "\t") return t("char.tab");
  return char;
}

export function formatBits(bits: number | undefined): string {
  return bits === undefined || !Number.isFinite(bits) ? "—" : formatFixed(bits, 3);
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${formatInt(bytes)} B`;
  if (bytes < 1024 * 1024) return `${formatFixed(bytes / 1024, 0)} KiB`;
  return `${formatFixed(bytes / (1024 * 1024), 1)} MiB`;
}

/** 0.734 → "73%"; below 10% one decimal, unless `digits` says otherwise. */
export function formatPercent(p: number, digits = p < 0.1 ? 1 : 0): string {
  return new Intl.NumberFormat(getLang(), {
    style: "percent",
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(p);
}

/** Short display of a setting value: 0.003 → "0.003", 0.00003 → "3e-5", 128 → "128". */
export function formatSettingNumber(value: number, isInt: boolean): string {
  if (isInt) return String(Math.round(value));
  if (value !== 0 && Math.abs(value) < 1e-3) return value.toExponential(1).replace(/\.0e/, "e");
  return String(Number(value.toPrecision(3)));
}

const SUPERSCRIPT = "⁰¹²³⁴⁵⁶⁷⁸⁹";

/** A gradient-sized number in the page's language, two significant digits: "0,045" and
 * "450" as they are, "4,9×10⁻³" below a hundredth and "2,5×10⁴" from a thousand on. */
export function formatScientific(v: number): string {
  if (!Number.isFinite(v)) return "∞";
  const digits = new Intl.NumberFormat(getLang(), { maximumSignificantDigits: 2 });
  const abs = Math.abs(v);
  if (abs === 0 || (abs >= 0.01 && abs < 1000)) return digits.format(v);
  let exponent = Math.floor(Math.log10(abs));
  let mantissa = Number((v / 10 ** exponent).toPrecision(2));
  if (Math.abs(mantissa) >= 10) [mantissa, exponent] = [mantissa / 10, exponent + 1];
  const power = [...String(Math.abs(exponent))].map((d) => SUPERSCRIPT[Number(d)]).join("");
  return `${digits.format(mantissa)}×10${exponent < 0 ? "⁻" : ""}${power}`;
}
