/** Fetches the lessons in the UI language at boot and again after every language switch. */

import { getLessons } from "./api";
import { getLang, onLangChange } from "./i18n";
import type { Store } from "./store";

/** A failed fetch (server restarting, route not there yet) is tried again after this long. */
const RETRY_MS = 10_000;

export class LessonsLoader {
  private wanted = "";
  private retry: number | null = null;

  constructor(private readonly store: Store) {
    onLangChange((lang) => void this.load(lang));
    void this.load(getLang());
  }

  private async load(lang: string): Promise<void> {
    this.wanted = lang;
    if (this.retry !== null) clearTimeout(this.retry);
    this.retry = null;
    try {
      const list = await getLessons(lang);
      // A switch while this was out: the later language's answer is the one to keep.
      if (lang === this.wanted) this.store.setLessons(lang, list);
    } catch {
      if (lang === this.wanted)
        this.retry = window.setTimeout(() => void this.load(lang), RETRY_MS);
    }
  }
}
