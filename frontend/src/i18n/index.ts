/**
 * Translation lookup. Every visible string comes from a catalogue (en.ts, fr.ts); adding a
 * language is adding a file and a line in `catalogues`. Static text is tagged with
 * `data-i18n*` attributes so `applyI18n` can re-translate the page in place.
 */

import type { Setting } from "../types";
import { en, enSettings, type MessageKey, type Messages, type SettingText } from "./en";
import { fr, frSettings } from "./fr";

export type { MessageKey } from "./en";

export type Lang = "en" | "fr";
export const LANGS: readonly Lang[] = ["en", "fr"];

const catalogues: Record<Lang, { messages: Messages; settings: Record<string, SettingText> }> = {
  en: { messages: en, settings: enSettings },
  fr: { messages: fr, settings: frSettings },
};

const STORAGE_KEY = "rnn-playground:lang";

export function isLang(value: unknown): value is Lang {
  return typeof value === "string" && (LANGS as readonly string[]).includes(value);
}

function initialLang(): Lang {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (isLang(saved)) return saved;
  } catch {
    // Storage can be disabled (private mode, policies): fall back to the browser's language.
  }
  const preferred = (navigator.languages ?? [navigator.language]).map((l) => l.slice(0, 2));
  return preferred.find(isLang) ?? "en";
}

let lang: Lang = initialLang();
const listeners = new Set<(lang: Lang) => void>();

export function getLang(): Lang {
  return lang;
}

/** Switch language, remember it, and tell subscribers (which re-render). */
export function setLang(next: Lang): void {
  if (next === lang) return;
  lang = next;
  try {
    localStorage.setItem(STORAGE_KEY, next);
  } catch {
    // Not remembered across visits; the switch still applies now.
  }
  document.documentElement.lang = next;
  for (const listener of listeners) listener(next);
}

export function onLangChange(listener: (lang: Lang) => void): void {
  listeners.add(listener);
}

export type Vars = Record<string, string | number>;

function fill(template: string, vars?: Vars): string {
  if (!vars) return template;
  return template.replace(/\{(\w+)\}/g, (match, name: string) =>
    name in vars ? String(vars[name]) : match,
  );
}

/** The current language's text for `key`, with `{name}` placeholders filled from `vars`. */
export function t(key: MessageKey, vars?: Vars): string {
  return fill(catalogues[lang].messages[key] ?? en[key], vars);
}

/** Whether `key` names a message (for keys built at run time, like `error.<code>`). */
export function isMessageKey(key: string): key is MessageKey {
  return key in en;
}

type PluralBase<K> = K extends `${infer B}.one` ? B : never;

/** Plural-aware `t`: picks `<base>.one` or `<base>.other` for `n` under the language's rules. */
export function tn(base: PluralBase<MessageKey>, n: number, vars?: Vars): string {
  const form = new Intl.PluralRules(lang).select(n) === "one" ? "one" : "other";
  return t(`${base}.${form}`, { n: formatInt(n), ...vars });
}

export function formatInt(n: number): string {
  return new Intl.NumberFormat(lang, { maximumFractionDigits: 0 }).format(n);
}

/** 2457600 → "2.5M" (en) / "2,5 M" (fr). */
export function formatCompact(n: number): string {
  return new Intl.NumberFormat(lang, { notation: "compact", maximumSignificantDigits: 3 }).format(
    n,
  );
}

export function formatFixed(n: number, digits: number): string {
  return new Intl.NumberFormat(lang, {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  }).format(n);
}

/** A setting's label: the catalogue's, else its name made readable. */
export function settingLabel(setting: Pick<Setting, "name">): string {
  const text = catalogues[lang].settings[setting.name] ?? enSettings[setting.name];
  if (text) return text.label;
  const words = setting.name.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** A setting's one-line help: the catalogue's translation, else the schema's English. */
export function settingHelp(setting: Pick<Setting, "name" | "help">): string {
  return catalogues[lang].settings[setting.name]?.help ?? setting.help;
}

export function choiceLabel(name: string, value: string): string {
  const choices = catalogues[lang].settings[name]?.choices ?? enSettings[name]?.choices;
  return choices?.[value] ?? value;
}

export function groupLabel(group: string): string {
  const key = `settings.group.${group}`;
  return isMessageKey(key) ? t(key) : group.charAt(0).toUpperCase() + group.slice(1);
}

/** Re-translate every element tagged with `data-i18n`, `data-i18n-title`, `-placeholder`… */
export function applyI18n(root: ParentNode): void {
  const apply = (attr: string, set: (el: HTMLElement, text: string) => void): void => {
    for (const el of root.querySelectorAll<HTMLElement>(`[${attr}]`)) {
      set(el, t(el.getAttribute(attr) as MessageKey));
    }
  };
  apply("data-i18n", (el, text) => (el.textContent = text));
  apply("data-i18n-title", (el, text) => (el.title = text));
  apply("data-i18n-placeholder", (el, text) => el.setAttribute("placeholder", text));
  apply("data-i18n-aria-label", (el, text) => el.setAttribute("aria-label", text));
}

document.documentElement.lang = lang;
