/**
 * The translation view: type an English number, watch the French appear character by character
 * (the greedy steps, each with its likeliest candidates), see how often held-out numbers come out
 * exactly right, and look inside: the encoder's states over the input characters, the one vector
 * the decoder starts from, and, when attention is on, the alignment matrix.
 *
 * `update(data)` reshapes the payloads (wrangle), then draws (render); the reveal of the output
 * is a timer over the already-drawn steps.
 */

import { css, inkOn, scaleFor, type ColorScale } from "../../colors";
import { h, setAttr, setText, show } from "../../dom";
import { formatPercent } from "../../format";
import { formatFixed, formatInt, onLangChange, t } from "../../i18n";
import "./translate.css";
import type {
  AccuracyAnswer,
  TranslateAnswer,
  TranslateSource,
  TranslateViewData,
} from "./translateTypes";

const REVEAL_MS = 70; // one output character appears this often
const CELL = 14; // css px of a heatmap cell (at most) at a 16 px text size
const LABEL = 11; // css px of a heatmap's labels at a 16 px text size
const MAX_WIDTH = 360; // css px of a heatmap when its card's width is not known yet
const EXAMPLES = ["321", "seventy-one", "eighty", "four hundred and ninety-seven"];
const RANGES = [99, 999, 9999, 999999];
// The English words a number is written with: the box asks as you type only once every word
// is one of these (or the text is digits), so half-typed words never reach the server.
const NUMBER_WORDS = new Set(
  (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen " +
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty " +
    "ninety hundred thousand and"
  ).split(" "),
);

/** Whether `text` reads as a whole number (digits, or complete English number words). */
export function looksComplete(text: string): boolean {
  const words = text.toLowerCase().trim();
  if (/^\d[\d,]*$/.test(words)) return true;
  const parts = words.split(/[\s,-]+/).filter((w) => w !== "");
  return parts.length > 0 && parts.every((w) => NUMBER_WORDS.has(w));
}

/** Wrangled: a heatmap's rows and columns, labelled, with its colour scale. */
export interface Heat {
  rows: string[];
  cols: string[];
  values: number[][];
  scale: ColorScale;
}

/** The encoder states (S, H): one row per input character, one column per unit. */
export function encoderHeat(answer: TranslateAnswer): Heat {
  const values = answer.encoder_states;
  const m = Math.max(1e-6, ...values.flat().map(Math.abs));
  return {
    rows: [...answer.source],
    cols: values[0]?.map((_, j) => String(j)) ?? [],
    values,
    scale: scaleFor(-m, m),
  };
}

/** The attention matrix (U, S): one row per output character, one column per input character. */
export function attentionHeat(answer: TranslateAnswer): Heat | null {
  if (answer.attention === "none") return null;
  return {
    rows: answer.steps.map((s) => s.char),
    cols: [...answer.source],
    values: answer.steps.map((s) => s.attention ?? []),
    scale: scaleFor(0, 1),
  };
}

/** Accuracy bars by input length: a label, the share and its count. */
export function accuracyBars(acc: AccuracyAnswer): { label: string; p: number; n: number }[] {
  return acc.lengths.map((start, i) => ({
    label: `${start}–${start + acc.bucket - 1}`,
    p: acc.total[i]! > 0 ? acc.correct[i]! / acc.total[i]! : 0,
    n: acc.total[i]!,
  }));
}

export class TranslateView {
  readonly el: HTMLElement;
  private readonly input = h("input", {
    class: "text-input",
    testid: "translate-input",
    i18nPlaceholder: "translate.placeholder",
    i18nAriaLabel: "translate.placeholder",
    attrs: { type: "text", spellcheck: "false", autocomplete: "off", maxlength: 80 },
  });
  private readonly go = h("button", {
    class: "btn",
    testid: "translate-go",
    i18n: "translate.go",
    attrs: { type: "button" },
  });
  private readonly beam = h("select", {
    testid: "translate-beam",
    i18nAriaLabel: "translate.beam",
  });
  private readonly examples = h("p", { class: "chips", testid: "translate-examples" });
  private readonly reads = h("p", { class: "muted", testid: "translate-reads" });
  private readonly output = h("p", { class: "translate-output", testid: "translate-output" });
  private readonly candidates = h("ol", { class: "bars", testid: "translate-candidates" });
  private readonly verdict = h("p", { testid: "translate-verdict" });
  private readonly beams = h("ol", { testid: "translate-beams" });
  private readonly results: HTMLElement;
  private readonly accuracy = h("p", { testid: "translate-accuracy" });
  private readonly byLength = h("ol", { class: "bars", testid: "translate-by-length" });
  private readonly samples = h("ul", { class: "translate-samples", testid: "translate-samples" });
  private readonly encoder = h("canvas", { testid: "translate-encoder" });
  private readonly start = h("canvas", { testid: "translate-start" });
  private readonly attention = h("canvas", { testid: "translate-attention" });
  private readonly attentionOff = h("p", { class: "muted", i18n: "translate.attentionOff" });
  private readonly attentionBox: HTMLElement;
  private readonly inside: HTMLElement;
  private readonly split = h("p", { class: "muted small", testid: "translate-split" });
  private readonly newRange = h("select", { testid: "translate-new-range" });
  private readonly newAttention = h("select", { testid: "translate-new-attention" });
  private readonly newError = h("p", { class: "warning", attrs: { role: "status" } });
  private drawn: TranslateViewData | null = null;
  private timer = 0;

  /**
   * `onText(text, beam)` is told every edit (the answer comes back through `update`); `onNew`
   * starts a new translator with another range or attention.
   */
  constructor(
    private readonly onText: (text: string, beam: number) => void,
    onNew: (source: TranslateSource) => Promise<string | null>,
  ) {
    for (const k of [1, 2, 4, 8]) this.beam.append(h("option", { attrs: { value: k } }, String(k)));
    for (const r of RANGES) this.newRange.append(h("option", { attrs: { value: r } }));
    this.nameRanges();
    this.newRange.value = "999";
    this.newAttention.append(
      h("option", { attrs: { value: "none" }, i18n: "translate.att.none" }),
      h("option", { attrs: { value: "general" }, i18n: "translate.att.general" }),
      h("option", { attrs: { value: "dot" }, i18n: "translate.att.dot" }),
    );
    // As you type, only complete numbers are asked; Enter or the button asks whatever is typed
    // (and the server says what is wrong with it).
    this.input.addEventListener("input", () => this.ask(true));
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") this.ask(false);
    });
    this.beam.addEventListener("change", () => this.ask(true));
    this.go.addEventListener("click", () => this.ask(false));
    const create = h("button", {
      class: "btn",
      testid: "translate-new",
      i18n: "translate.new",
      attrs: { type: "button" },
    });
    create.addEventListener("click", () => {
      const source = { range: Number(this.newRange.value), attention: this.newAttention.value };
      void onNew(source).then((error) => setText(this.newError, error ?? ""));
    });
    this.results = h(
      "div",
      { class: "predict-results" },
      this.reads,
      this.output,
      this.verdict,
      h("h3", { class: "subhead", i18n: "translate.candidates" }),
      this.candidates,
      this.beams,
    );
    this.attentionBox = h(
      "figure",
      {},
      h("figcaption", { class: "subhead", i18n: "translate.attention" }),
      h("p", { class: "muted small", i18n: "translate.beyond" }),
      this.attention,
    );
    const inside = (this.inside = h(
      "details",
      { class: "translate-inside", testid: "translate-inside", attrs: { open: true } },
      h("summary", { i18n: "translate.inside" }),
      h("h3", { class: "subhead", i18n: "translate.encoder" }),
      h("p", { class: "muted small", i18n: "translate.encoderNote" }),
      this.encoder,
      h("h3", { class: "subhead", i18n: "translate.start" }),
      h("p", { class: "translate-start-note", i18n: "translate.startNote" }),
      this.start,
      this.attentionBox,
      this.attentionOff,
    ));
    this.el = h(
      "section",
      {
        class: "card predict-card translate-card",
        testid: "translate-view",
        attrs: { "data-panel": "translate" },
      },
      h("div", { class: "card-head" }, h("h2", { class: "card-title", i18n: "translate.title" })),
      h("p", { class: "muted", i18n: "translate.intro" }),
      h(
        "div",
        { class: "button-row" },
        this.input,
        this.go,
        h("label", { i18n: "translate.beam" }),
        this.beam,
      ),
      this.examples,
      this.results,
      h("h3", { class: "subhead", i18n: "translate.heldOut" }),
      this.accuracy,
      this.byLength,
      this.split,
      this.samples,
      inside,
      h(
        "div",
        { class: "button-row" },
        h("label", { i18n: "translate.range" }),
        this.newRange,
        h("label", { i18n: "translate.attentionSwitch" }),
        this.newAttention,
        create,
      ),
      this.newError,
    );
    this.renderExamples([]);
    show(this.results, false);
    // Numbers and words drawn from the data are written again in a new language.
    onLangChange(() => {
      this.nameRanges();
      if (this.drawn) this.redraw(this.drawn);
    });
    // Larger text (A+, projector) or another width: the heatmaps' cells and labels follow.
    let drawnFor = "";
    new ResizeObserver(() => {
      const key = `${this.inside.clientWidth}:${remPx()}`;
      if (key !== drawnFor && this.drawn?.answer) this.drawHeats(this.drawn.answer);
      drawnFor = key;
    }).observe(this.inside);
  }

  /** The range menu's numbers in the page's language ("9 999" in French). */
  private nameRanges(): void {
    for (const option of this.newRange.options) setText(option, formatInt(Number(option.value)));
  }

  /** Everything drawn from `data` again, without replaying the reveal of the output. */
  private redraw(data: TranslateViewData): void {
    this.renderTask(data);
    this.renderAccuracy(data.accuracy);
    this.renderSample(data);
    if (data.answer) {
      this.renderVerdict(data.answer);
      this.drawHeats(data.answer);
    }
  }

  /** Type `text` into the box and ask for it (the example chips do this). */
  type(text: string): void {
    this.input.value = text;
    this.ask(false);
  }

  update(data: TranslateViewData): void {
    const last = this.drawn;
    this.drawn = data;
    if (last?.task !== data.task) this.renderTask(data);
    if (last?.answer !== data.answer) this.renderAnswer(data.answer);
    if (last?.accuracy !== data.accuracy) this.renderAccuracy(data.accuracy);
    if (last?.sample !== data.sample) this.renderSample(data);
  }

  reset(): void {
    this.drawn = null;
    window.clearInterval(this.timer);
    this.timer = 0;
  }

  private ask(onlyComplete: boolean): void {
    const text = this.input.value.trim();
    if (!text || (onlyComplete && !looksComplete(text))) return;
    this.onText(text, Number(this.beam.value));
  }

  private renderTask(data: TranslateViewData): void {
    const task = data.task;
    this.renderExamples(task?.examples.slice(0, 3) ?? []);
    setText(
      this.split,
      task
        ? t("translate.split", {
            range: formatInt(task.range),
            train: formatInt(task.train_numbers),
            held: formatInt(task.held_out_numbers),
          })
        : "",
    );
    const on = task !== null && task.attention !== "none";
    show(this.attentionBox, on);
    show(this.attentionOff, !on);
  }

  private renderExamples(held: string[]): void {
    this.examples.replaceChildren(
      ...[...EXAMPLES, ...held].map((text) => {
        const chip = h("button", { class: "chip", attrs: { type: "button" } }, text);
        chip.addEventListener("click", () => this.type(text));
        return chip;
      }),
    );
  }

  private renderAnswer(answer: TranslateAnswer | null): void {
    window.clearInterval(this.timer);
    show(this.results, answer !== null);
    if (answer === null) return;
    this.renderVerdict(answer);
    this.drawHeats(answer);
    // The French appears one greedy step at a time, each with its candidates.
    let shown = 0;
    const reveal = (): void => {
      shown += 1;
      const steps = answer.steps.slice(0, shown);
      setText(this.output, steps.map((s) => (s.char === "<eos>" ? "" : s.char)).join(""));
      const step = steps[steps.length - 1];
      if (step) this.renderCandidates(step.top);
      setAttr(this.output, "data-done", String(shown >= answer.steps.length));
      if (shown >= answer.steps.length) window.clearInterval(this.timer);
    };
    setAttr(this.output, "data-done", "false");
    setText(this.output, "");
    this.timer = window.setInterval(reveal, REVEAL_MS);
  }

  /** What the model read, whether it is right, and the beams with their log-probabilities. */
  private renderVerdict(answer: TranslateAnswer): void {
    setText(this.reads, t("translate.reads", { text: answer.source }));
    const verdict = answer.correct ? "translate.right" : "translate.wrong";
    const seen = !answer.in_range
      ? "translate.outOfRange"
      : answer.held_out
        ? "translate.heldOutNumber"
        : "translate.seenNumber";
    setText(this.verdict, `${t(verdict, { expected: answer.expected })} ${t(seen)}`);
    setAttr(this.verdict, "data-correct", String(answer.correct));
    this.beams.replaceChildren(
      ...answer.beams.map((b) =>
        h("li", {}, `${b.text}  (${t("translate.logp", { logp: formatFixed(b.logp, 2) })})`),
      ),
    );
  }

  /** The encoder's states, the decoder's start and the attention, sized for the card and text. */
  private drawHeats(answer: TranslateAnswer): void {
    const width = this.inside.clientWidth || MAX_WIDTH;
    drawHeat(this.encoder, encoderHeat(answer), false, width);
    drawStart(this.start, answer.start, width);
    const heat = attentionHeat(answer);
    if (heat) drawHeat(this.attention, heat, true, width);
  }

  private renderCandidates(top: { char: string; p: number }[]): void {
    this.candidates.replaceChildren(
      ...top.map((c) => {
        const fill = h("span", { class: "bar-fill" });
        fill.style.width = `${Math.max(0.5, 100 * c.p)}%`;
        const label = c.char === "<eos>" ? t("translate.end") : c.char === " " ? "␣" : c.char;
        const char = h("span", { class: "bar-char" }, label);
        if (label.length > 1) char.style.fontSize = "0.75rem"; // "end" in a one-character box
        return h(
          "li",
          {},
          h(
            "div",
            { class: "bar" },
            char,
            h("span", { class: "bar-track" }, fill),
            h("span", { class: "bar-p" }, formatPercent(c.p)),
          ),
        );
      }),
    );
  }

  private renderAccuracy(acc: AccuracyAnswer | null): void {
    setText(
      this.accuracy,
      acc ? t("translate.exact", { p: formatPercent(acc.overall) }) : t("translate.measuring"),
    );
    setAttr(this.accuracy, "data-overall", acc ? String(acc.overall) : null);
    this.byLength.replaceChildren(
      ...(acc ? accuracyBars(acc) : []).map((bar) => {
        const fill = h("span", { class: "bar-fill" });
        fill.style.width = `${Math.max(0.5, 100 * bar.p)}%`;
        const row = h(
          "div",
          { class: "bar" },
          h("span", { class: "bar-char" }, bar.label),
          h("span", { class: "bar-track" }, fill),
          h("span", { class: "bar-p" }, `${formatPercent(bar.p)} (${bar.n})`),
        );
        row.style.gridTemplateColumns = "5rem minmax(0, 1fr) 6rem";
        return h("li", {}, row);
      }),
    );
  }

  private renderSample(data: TranslateViewData): void {
    this.samples.replaceChildren(
      ...(data.sample?.pairs ?? []).map((pair) => {
        const ok = pair.output === pair.expected;
        return h(
          "li",
          { attrs: { "data-correct": String(ok) } },
          `${pair.source} → ${pair.output} ${ok ? "✓" : `✗ (${pair.expected})`}`,
        );
      }),
    );
  }
}

/** The page's text size over 16 px: heatmap cells and labels grow with it (A+, projector). */
function remPx(): number {
  return parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
}

/**
 * A heatmap on a canvas at most `width` css px wide, a row of CELL px (at a 16 px text size)
 * per label on the left, and, if `colLabels`, a label per column on top.
 */
function drawHeat(canvas: HTMLCanvasElement, heat: Heat, colLabels: boolean, width: number): void {
  const k = remPx() / 16;
  const cell = CELL * k;
  const left = 22 * k;
  const top = colLabels ? 18 * k : 4;
  const cols = Math.max(1, heat.cols.length);
  const cellW = Math.max(2, Math.min(cell, (width - left) / cols)); // many units: thin
  const ctx = sized(canvas, left + cols * cellW, top + heat.rows.length * cell);
  if (!ctx) return;
  canvas.dataset.rows = String(heat.rows.length);
  canvas.dataset.cols = String(heat.cols.length);
  canvas.dataset.cell = String(Math.round(cell));
  ctx.font = `${Math.round(LABEL * k)}px monospace`;
  ctx.textAlign = "center";
  ctx.textBaseline = "middle";
  heat.rows.forEach((label, i) => {
    ctx.fillStyle = "#162033";
    const shown = label === " " ? "␣" : label === "<eos>" ? "⏹" : label;
    ctx.fillText(shown, left / 2, top + (i + 0.5) * cell);
    heat.values[i]?.forEach((v, j) => {
      const rgb = heat.scale.color(v);
      ctx.fillStyle = css(rgb);
      ctx.fillRect(left + j * cellW, top + i * cell, cellW, cell);
      if (colLabels && v > 0.5) {
        ctx.fillStyle = inkOn(rgb); // a dot where a character looks most
        ctx.fillText("•", left + (j + 0.5) * cellW, top + (i + 0.5) * cell);
      }
    });
  });
  if (colLabels) {
    ctx.fillStyle = "#162033";
    heat.cols.forEach((label, j) => {
      ctx.fillText(label === " " ? "␣" : label, left + (j + 0.5) * cellW, top / 2);
    });
  }
}

/**
 * The decoder's starting vector as one strip of cells under the encoder's columns (a unit per
 * column, as wide as there), one row tall, outlined: all it knows without attention.
 */
function drawStart(canvas: HTMLCanvasElement, start: number[], width: number): void {
  const m = Math.max(1e-6, ...start.map(Math.abs));
  const scale = scaleFor(-m, m);
  const k = remPx() / 16;
  const left = 22 * k;
  const tall = CELL * k;
  const cell = Math.max(2, Math.min(tall, (width - left) / Math.max(1, start.length)));
  const ctx = sized(canvas, left + start.length * cell + 2, tall + 4);
  if (!ctx) return;
  start.forEach((v, j) => {
    ctx.fillStyle = css(scale.color(v));
    ctx.fillRect(left + j * cell, 2, cell, tall);
  });
  ctx.strokeStyle = "#d9480f";
  ctx.lineWidth = 2;
  ctx.strokeRect(left - 1, 1, start.length * cell + 2, tall + 2);
}

/** A canvas of css size (width, height), scaled for the screen; its 2D context. */
function sized(
  canvas: HTMLCanvasElement,
  width: number,
  height: number,
): CanvasRenderingContext2D | null {
  const dpr = window.devicePixelRatio || 1;
  canvas.width = Math.round(width * dpr);
  canvas.height = Math.round(height * dpr);
  // Never wider than its card; the height follows the width (the canvas keeps its ratio).
  Object.assign(canvas.style, { width: `${width}px`, maxWidth: "100%", height: "auto" });
  const ctx = canvas.getContext("2d");
  ctx?.setTransform(dpr, 0, 0, dpr, 0, 0);
  return ctx;
}
