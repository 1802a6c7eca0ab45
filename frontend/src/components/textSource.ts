/** Training text: a built-in corpus, pasted text or an uploaded file, with size and preview. */

import type { Actions } from "../actions";
import { h, setText, show } from "../dom";
import { formatBytes } from "../format";
import { formatInt, isMessageKey, t } from "../i18n";
import type { AppState } from "../store";
import type { Corpus, Limits, TextInfo } from "../types";
import type { Component } from "./component";

/** Why a text would be refused by the server's limits, or null if it would be accepted. */
function textProblem(text: string, limits: Limits): string | null {
  const bytes = new TextEncoder().encode(text).length;
  if (bytes > limits.max_text_bytes) {
    return t("text.tooLarge", {
      size: formatBytes(bytes),
      max: formatBytes(limits.max_text_bytes),
    });
  }
  const chars = [...text].length;
  if (chars < limits.min_text_chars) {
    return t("text.tooShort", { n: formatInt(chars), min: formatInt(limits.min_text_chars) });
  }
  const vocab = new Set(text).size;
  if (vocab > limits.max_vocab) {
    return t("text.tooManyChars", { n: formatInt(vocab), max: formatInt(limits.max_vocab) });
  }
  return null;
}

/** A built-in corpus's name or description in the UI language (the server's is English). */
function corpusText(corpus: Corpus, part: "name" | "description"): string {
  const key = `corpus.${corpus.id}.${part}`;
  return isMessageKey(key) ? t(key) : corpus[part];
}

export class TextSource implements Component {
  readonly el: HTMLElement;
  private readonly select = h("select", {
    class: "input",
    testid: "corpus-select",
    attrs: { id: "corpus-select" },
  });
  private readonly chars = h("strong", { testid: "text-chars" });
  private readonly vocab = h("strong", { testid: "text-vocab" });
  private readonly description = h("p", { class: "muted small corpus-description" });
  private readonly preview = h("pre", { class: "preview", testid: "text-preview" });
  private readonly paste = h("textarea", {
    class: "input paste",
    testid: "paste-text",
    attrs: { rows: 3, spellcheck: "false", id: "paste-text" },
  });
  private readonly apply = h("button", {
    class: "btn btn-small",
    testid: "paste-apply",
    i18n: "text.apply",
    attrs: { type: "button" },
  });
  private readonly upload = h("input", {
    class: "upload visually-hidden",
    testid: "upload-input",
    attrs: { type: "file", accept: ".txt,.md,.csv,text/plain", id: "upload-input" },
  });
  private readonly uploadHint = h("p", { class: "muted small" });
  private readonly problem = h("p", {
    class: "field-error",
    testid: "text-error",
    attrs: { role: "alert" },
  });
  private sending = false;
  private corpora: readonly Corpus[] | null = null;
  private text: TextInfo | null = null;
  private limits: Limits | null = null;

  constructor(private readonly actions: Actions) {
    this.select.addEventListener("change", () => void this.useCorpus());
    this.apply.addEventListener("click", () => void this.usePaste());
    this.upload.addEventListener("change", () => void this.useFile());
    this.el = h(
      "section",
      { class: "card text-source" },
      h("h2", { class: "card-title", i18n: "text.title" }),
      h("label", { class: "field-label", i18n: "text.corpus", attrs: { for: "corpus-select" } }),
      this.select,
      this.description,
      h(
        "p",
        { class: "text-stats" },
        this.chars,
        " ",
        h("span", { i18n: "text.chars" }),
        " · ",
        this.vocab,
        " ",
        h("span", { i18n: "text.vocab" }),
      ),
      h("details", { class: "preview-box" }, h("summary", { i18n: "text.preview" }), this.preview),
      h("label", { class: "field-label", i18n: "text.paste", attrs: { for: "paste-text" } }),
      this.paste,
      h("div", { class: "button-row" }, this.apply),
      h("p", { class: "field-label", i18n: "text.upload" }),
      // The native file input is visually hidden behind a translatable button-like label.
      h(
        "div",
        { class: "upload-row" },
        this.upload,
        h("label", {
          class: "btn btn-small upload-button",
          i18n: "text.chooseFile",
          attrs: { for: "upload-input" },
        }),
      ),
      this.uploadHint,
      this.problem,
      h("p", { class: "note", i18n: "text.resetNote" }),
    );
    show(this.problem, false);
  }

  update(state: Readonly<AppState>): void {
    const text = state.session?.text ?? null;
    const editable = state.session?.role === "owner" && state.joined && !this.sending;
    if (state.corpora !== this.corpora || text !== this.text) {
      this.corpora = state.corpora;
      this.text = text;
      this.renderOptions();
    }
    if (text) {
      setText(this.chars, formatInt(text.chars));
      setText(this.vocab, formatInt(text.vocab_size));
      setText(this.preview, text.preview);
    }
    if (state.schema && state.schema.limits !== this.limits) {
      this.limits = state.schema.limits;
      this.paste.maxLength = this.limits.max_text_bytes;
    }
    if (this.limits) {
      this.paste.placeholder = t("text.pastePlaceholder", {
        min: formatInt(this.limits.min_text_chars),
      });
      setText(
        this.uploadHint,
        t("text.uploadHint", { max: formatBytes(this.limits.max_text_bytes) }),
      );
    }
    for (const control of [this.select, this.paste, this.apply, this.upload]) {
      control.disabled = !editable;
    }
    setText(this.apply, t(this.sending ? "text.sending" : "text.apply"));
  }

  /** Built-in corpora, plus "Your own text" while the session trains on an upload. */
  private renderOptions(): void {
    const corpora = this.corpora ?? [];
    const source = this.text?.source ?? "";
    const options = corpora.map((c) =>
      h(
        "option",
        { attrs: { value: c.id, title: corpusText(c, "description") } },
        `${corpusText(c, "name")} (${formatInt(c.chars)})`,
      ),
    );
    if (source && !corpora.some((c) => c.id === source)) {
      const label = source === "upload" ? t("text.ownText") : (this.text?.name ?? source);
      options.push(h("option", { attrs: { value: source } }, label));
    }
    this.select.replaceChildren(...options);
    this.select.value = source;
    const current = corpora.find((c) => c.id === source);
    setText(this.description, current ? corpusText(current, "description") : "");
  }

  private async useCorpus(): Promise<void> {
    await this.send(() => this.actions.useCorpus(this.select.value));
  }

  private async usePaste(): Promise<void> {
    const text = this.paste.value;
    const problem = this.limits ? textProblem(text, this.limits) : null;
    this.showProblem(problem);
    if (problem) return;
    if (await this.send(() => this.actions.useText(text))) this.paste.value = "";
  }

  private async useFile(): Promise<void> {
    const file = this.upload.files?.[0];
    if (!file) return;
    const max = this.limits?.max_text_bytes ?? Infinity;
    const problem =
      file.size > max
        ? t("text.tooLarge", { size: formatBytes(file.size), max: formatBytes(max) })
        : null;
    this.showProblem(problem);
    // The file goes as-is: the server checks UTF-8, length and vocabulary and says what is wrong.
    if (!problem) await this.send(() => this.actions.useText(file));
    this.upload.value = "";
  }

  private async send(request: () => Promise<boolean>): Promise<boolean> {
    this.sending = true;
    this.setBusy(true);
    try {
      const ok = await request();
      if (!ok) this.renderOptions();
      return ok;
    } finally {
      this.sending = false;
      this.setBusy(false);
    }
  }

  private setBusy(busy: boolean): void {
    this.el.classList.toggle("is-busy", busy);
    setText(this.apply, t(busy ? "text.sending" : "text.apply"));
    for (const control of [this.select, this.paste, this.apply, this.upload])
      control.disabled = busy;
  }

  private showProblem(problem: string | null): void {
    setText(this.problem, problem ?? "");
    show(this.problem, problem !== null);
  }

  reset(): void {
    this.corpora = null;
    this.text = null;
    this.limits = null;
  }
}
