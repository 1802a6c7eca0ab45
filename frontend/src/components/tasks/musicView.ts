/**
 * The music task's view: the newest generated tune and, on request, a real tune of the
 * collection, each drawn as sheet music by abcjs with its check and a play button.
 *
 * abcjs (about 400 kB) is loaded with a dynamic import() the first time a tune is drawn, so
 * pages of other tasks never fetch it. Playing follows abcjs's own note timings
 * (`TimingCallbacks`: the notes' pitches and onsets at the tune's tempo) through a small Web
 * Audio voice of our own, rather than abcjs's sampled instruments: those are downloaded from
 * a sound-font server, which a classroom without internet (or a test) cannot reach. The cursor
 * is a bar over the staff moved to each note as it sounds, and the note itself is coloured.
 */

import type * as AbcjsModule from "abcjs";
import type { NoteTimingEvent, TimingCallbacks, TuneObject } from "abcjs";
import { h, setAttr, setText, show } from "../../dom";
import "./music.css";
import { formatPercent } from "../../format";
import { formatInt, isMessageKey, onLangChange, t } from "../../i18n";
import type { MusicViewData, TuneCheck } from "./musicTypes";

type Abcjs = typeof AbcjsModule;

let abcjsLoading: Promise<Abcjs> | null = null;

/** abcjs, fetched once on first use. */
export function loadAbcjs(): Promise<Abcjs> {
  // abcjs is CommonJS: the bundler hands its exports over as the module's default.
  abcjsLoading ??= import("abcjs").then((m) => (m as { default?: Abcjs }).default ?? m);
  return abcjsLoading;
}

let audio: AudioContext | null = null;

/** The page's one audio context, created and resumed by a user's click. */
function audioContext(): AudioContext {
  audio ??= new AudioContext();
  if (audio.state === "suspended") void audio.resume();
  return audio;
}

/** One plucked note: a triangle wave with a quick attack and a gentle decay. */
function playNote(ctx: AudioContext, midi: number, seconds: number, volume: number): void {
  const osc = ctx.createOscillator();
  const gain = ctx.createGain();
  osc.type = "triangle";
  osc.frequency.value = 440 * 2 ** ((midi - 69) / 12);
  const now = ctx.currentTime;
  const peak = 0.25 * Math.max(0.2, Math.min(1, volume / 127));
  gain.gain.setValueAtTime(0, now);
  gain.gain.linearRampToValueAtTime(peak, now + 0.01);
  gain.gain.exponentialRampToValueAtTime(0.001, now + Math.max(0.08, seconds * 0.95));
  osc.connect(gain).connect(ctx.destination);
  osc.start(now);
  osc.stop(now + seconds + 0.05);
}

/** One tune on the page: its heading, check, staff and play button. */
class TuneCard {
  readonly el: HTMLElement;
  private readonly heading = h("h3", { class: "music-title" });
  private readonly verdict = h("p", { class: "music-verdict small" });
  private readonly staff = h("div", { class: "music-staff", testid: "music-staff" });
  private readonly sheet: HTMLElement;
  private readonly cursor = h("div", { class: "music-cursor", testid: "music-cursor" });
  private readonly raw = h("pre", { class: "music-abc small", testid: "music-abc" });
  private readonly play = h("button", {
    class: "btn",
    testid: "music-play",
    i18n: "music.play",
  });
  private abc = "";
  /** The staff width (abcjs units) the tune was laid out for: redrawn when it changes. */
  private laidOut = 0;
  private tune: TuneObject | null = null;
  private timer: TimingCallbacks | null = null;
  private drawing = 0;
  /** A tune that arrived while this one played: drawn when the playing stops. */
  private pending: [string, string, TuneCheck] | null = null;
  private watchingAudio = false;

  constructor(testid: string) {
    this.sheet = h("div", { class: "music-sheet" }, this.staff, this.cursor);
    this.el = h(
      "div",
      { class: "music-tune", testid },
      this.heading,
      this.verdict,
      this.sheet,
      this.play,
      this.raw,
    );
    this.cursor.hidden = true;
    this.play.addEventListener("click", () => (this.timer ? this.stop() : this.start()));
    // A wider or narrower sheet, or larger text (A+, projector), lays the staff out again.
    new ResizeObserver(() => this.relayout()).observe(this.sheet);
  }

  /** Draw `abc` (unless it is the tune already drawn) with its heading and check. */
  update(abc: string, heading: string, check: TuneCheck): void {
    if (this.timer) {
      this.pending = [abc, heading, check]; // a listener is never cut off by the next sample
      return;
    }
    setText(this.heading, heading);
    setText(this.verdict, verdictText(check));
    setAttr(this.el, "data-valid", check.valid ? "true" : "false");
    setText(this.raw, abc);
    // A tune that does not read is shown as text with the reason; a valid one as a staff.
    show(this.raw, !check.parses || !check.valid);
    if (abc === this.abc) return;
    this.stop();
    this.abc = abc;
    this.draw();
  }

  /** Lay the tune out for the sheet's width and the page's text size, then scale it to fit. */
  private draw(): void {
    const abc = this.abc;
    const staffwidth = staffWidth(this.sheet.clientWidth);
    this.laidOut = staffwidth;
    this.tune = null;
    this.play.disabled = true;
    const drawing = ++this.drawing;
    void loadAbcjs().then((abcjs) => {
      if (drawing !== this.drawing) return; // a newer tune arrived while abcjs loaded
      // Bars flow from line to line (not the tune's own line breaks), as many as fit the width.
      const wrap = {
        preferredMeasuresPerLine: Math.max(2, Math.round(staffwidth / BAR_WIDTH)),
        minSpacing: 1.8,
        maxSpacing: 2.7,
      };
      const options = { add_classes: true, responsive: "resize" as const, staffwidth, wrap };
      const [tune] = abcjs.renderAbc(this.staff, abc, options);
      this.tune = tune ?? null;
      // Whatever abcjs could draw can be heard, a broken tune included: hear why it is broken.
      this.play.disabled = this.tune === null || this.staff.querySelector(".abcjs-note") === null;
    });
  }

  /** Draw again if the staff width changed by more than a few percent (never while playing). */
  private relayout(): void {
    if (!this.abc || this.timer || this.sheet.clientWidth === 0) return;
    const staffwidth = staffWidth(this.sheet.clientWidth);
    if (Math.abs(staffwidth - this.laidOut) > 0.03 * this.laidOut) this.draw();
  }

  /** Play from the start: each note sounds and the cursor moves to it as abcjs times it. */
  private start(): void {
    if (!this.tune) return;
    const ctx = audioContext();
    // The audio context's state, for whoever checks that sound can play ("running").
    this.el.dataset.audio = ctx.state;
    if (!this.watchingAudio) {
      ctx.addEventListener("statechange", () => (this.el.dataset.audio = ctx.state));
      this.watchingAudio = true;
    }
    void loadAbcjs().then((abcjs) => {
      if (!this.tune) return;
      let events = 0;
      this.timer = new abcjs.TimingCallbacks(this.tune, {
        eventCallback: (ev: NoteTimingEvent | null) => {
          if (!ev) {
            this.stop();
            return undefined;
          }
          for (const note of ev.midiPitches ?? []) {
            playNote(ctx, note.pitch, note.duration * this.secondsPerWhole(), note.volume);
          }
          this.mark(ev.elements ?? [], ev.left ?? 0, ev.top ?? 0, ev.height ?? 0);
          this.el.dataset.cursor = String(++events);
          return undefined;
        },
      });
      setText(this.play, t("music.stop"));
      this.el.dataset.playing = "true";
      this.timer?.start();
    });
  }

  /** Seconds in a whole note at the tune's tempo (abcjs's default when the tune has no Q:). */
  private secondsPerWhole(): number {
    const bpm = this.tune?.getBpm() ?? 180;
    const beat = this.tune?.getBeatLength() ?? 0.25;
    return 60 / bpm / beat;
  }

  private mark(elements: HTMLElement[][], left: number, top: number, height: number): void {
    for (const old of this.staff.querySelectorAll(".music-playing")) {
      old.classList.remove("music-playing");
    }
    for (const group of elements) for (const el of group) el.classList.add("music-playing");
    this.cursor.hidden = false;
    this.cursor.style.left = `${left}px`;
    this.cursor.style.top = `${top}px`;
    this.cursor.style.height = `${height}px`;
  }

  stop(): void {
    this.timer?.stop();
    this.timer = null;
    this.cursor.hidden = true;
    delete this.el.dataset.playing;
    setText(this.play, t("music.play"));
    const pending = this.pending;
    this.pending = null;
    if (pending) this.update(...pending);
  }

  reset(): void {
    this.pending = null;
    this.stop();
    this.abc = "";
    this.laidOut = 0;
    this.tune = null;
    this.staff.replaceChildren();
    setText(this.raw, "");
  }
}

/** "Valid: 16 bars, 100% in key" or "Not a tune: <reason>", in the page's language. */
export function verdictText(check: TuneCheck): string {
  if (check.valid) {
    return t("music.valid", {
      bars: formatInt(check.bars),
      inKey: formatInt(Math.round(check.in_key * 100)),
    });
  }
  return t("music.invalid", { reason: reasonText(check) });
}

/** Why a tune is not valid, from the checker's reason key and values (its English otherwise). */
function reasonText(check: TuneCheck): string {
  const key = `music.reason.${check.reason_key ?? ""}`;
  if (!isMessageKey(key)) return check.reason;
  const values: Record<string, string> = {};
  for (const [name, v] of Object.entries(check.reason_values ?? {})) {
    values[name] = typeof v !== "number" ? v : name === "share" ? formatPercent(v) : formatInt(v);
  }
  return t(key, values);
}

/**
 * How wide abcjs lays a staff out, in its own units, for a sheet `width` css px wide: the
 * staff is then scaled to fit, so its notes grow with the page's text (A+, projector) and a
 * narrow phone gets fewer bars per line instead of tiny notes.
 */
function staffWidth(width: number): number {
  const rem = parseFloat(getComputedStyle(document.documentElement).fontSize) || 16;
  return Math.round(Math.max(200, width) / (STAFF_SCALE * (rem / 16)));
}

/** Notes at this share of abcjs's own size at a 16 px text size: about the size of the text. */
const STAFF_SCALE = 0.65;
/** abcjs units a bar of a jig takes at a comfortable spacing. */
const BAR_WIDTH = 170;

export class MusicView {
  readonly el: HTMLElement;
  private readonly generated = new TuneCard("music-generated");
  private readonly real = new TuneCard("music-real");
  private readonly empty = h("p", { class: "muted small", i18n: "music.waiting" });
  private data: MusicViewData = { sample: null, real: null };

  constructor(onRealTune: () => void) {
    // Headings and verdicts are written from the data: a new language writes them again.
    onLangChange(() => this.update(this.data));
    const ask = h("button", { class: "btn", testid: "music-real-ask", i18n: "music.askReal" });
    ask.addEventListener("click", onRealTune);
    this.el = h(
      "section",
      { class: "card music-card", testid: "music-view" },
      h("h2", { class: "card-title", i18n: "music.title" }),
      h("p", { class: "muted small", i18n: "music.help" }),
      this.empty,
      this.generated.el,
      h("div", { class: "music-real-row" }, ask),
      this.real.el,
    );
    this.generated.el.hidden = true;
    this.real.el.hidden = true;
  }

  update(data: MusicViewData): void {
    this.data = data;
    const { sample, real } = data;
    show(this.empty, sample === null);
    show(this.generated.el, sample !== null);
    if (sample) {
      const heading = t("music.generated", { step: formatInt(sample.step) });
      this.generated.update(sample.abc, heading, sample);
    }
    show(this.real.el, real !== null);
    if (real) {
      const heading = t("music.real", {
        title: real.title || "?",
        n: formatInt(real.index + 1),
        count: formatInt(real.count),
      });
      this.real.update(real.abc, heading, real);
    }
  }

  reset(): void {
    this.data = { sample: null, real: null };
    this.generated.reset();
    this.real.reset();
  }
}
