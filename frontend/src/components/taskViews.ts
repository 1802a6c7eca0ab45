/**
 * The views a task brings of its own (the ball, next words, prices), each shown when the
 * session's task names it in `views`, and the character panels hidden where they do not apply.
 * They read the store: the task's description, the live sample, the answers to its queries.
 */

import type { Actions } from "../actions";
import { createSession } from "../api";
import { show } from "../dom";
import { rememberOwnerToken } from "../route";
import { taskViews, type AppState } from "../store";
import type { Component } from "./component";
import type { BallDescribe, BallTrajectory, BallViewData } from "./tasks/ballTypes";
import { BallView } from "./tasks/ballView";
import type { GeneratedTune, RealTune } from "./tasks/musicTypes";
import { MusicView } from "./tasks/musicView";
import type { PriceForecast } from "./tasks/pricesData";
import { PricesView } from "./tasks/pricesView";
import type { TranslateSource, TranslateViewData } from "./tasks/translateTypes";
import { TranslateView } from "./tasks/translateView";
import type { WordsAnswer } from "./tasks/wordsData";
import { WordsView } from "./tasks/wordsView";

/** The newest live sample, as the task's own payload. */
function latestSample(state: Readonly<AppState>): unknown {
  return state.samples[state.samples.length - 1] ?? null;
}

/** The ball in its box, its ghost and imagined path; a drag or the button throws one. */
export class BallPanel implements Component {
  private readonly view: BallView;
  private shown: BallViewData | null = null;

  constructor(actions: Actions) {
    this.view = new BallView((query) => actions.askTask("throw", { ...query }));
  }

  get el(): HTMLElement {
    return this.view.el;
  }

  update(state: Readonly<AppState>): void {
    const on = taskViews(state).includes("ball");
    show(this.el, on);
    if (!on) return;
    const val = state.history.val;
    const data: BallViewData = {
      task: (state.session?.described as BallDescribe | undefined) ?? null,
      sample: latestSample(state) as BallTrajectory | null,
      thrown: (state.answers.throw?.result ?? null) as BallTrajectory | null,
      valPx: val.length > 0 ? val[val.length - 1]! : null,
    };
    const last = this.shown;
    const same =
      last?.task === data.task &&
      last.sample === data.sample &&
      last.thrown === data.thrown &&
      last.valPx === data.valPx;
    if (same) return;
    this.shown = data;
    this.view.update(data);
  }

  reset(): void {
    this.shown = null;
    this.view.reset();
  }
}

/** A typed sentence and the likeliest next words; every edit asks the task's `predict`. */
export class WordsPanel implements Component {
  private readonly view: WordsView;

  constructor(actions: Actions) {
    this.view = new WordsView((text) => actions.predictText(text));
  }

  get el(): HTMLElement {
    return this.view.el;
  }

  update(state: Readonly<AppState>): void {
    const on = taskViews(state).includes("words");
    show(this.el, on);
    if (!on) return;
    // An emptied sentence clears the answer (the predictor asks nothing for it).
    const answer = state.typed ? (state.predict.result as unknown as WordsAnswer | null) : null;
    this.view.update(answer, state.typed);
  }

  reset(): void {
    this.view.reset();
  }
}

/** Truth, the model's one-step prediction, persistence and a roll-out, from the live sample. */
export class PricesPanel implements Component {
  private readonly view = new PricesView();

  get el(): HTMLElement {
    return this.view.el;
  }

  update(state: Readonly<AppState>): void {
    const on = taskViews(state).includes("prices");
    show(this.el, on);
    if (!on) return;
    this.view.update(latestSample(state) as PriceForecast | null);
  }

  reset(): void {
    this.view.reset();
  }
}

/** A typed number translated step by step, held-out accuracy, and the encoder's states. */
export class TranslatePanel implements Component {
  private readonly view: TranslateView;
  private askedAt = 0;
  private sample: unknown = undefined;

  constructor(private readonly actions: Actions) {
    this.view = new TranslateView(
      (text, beam) => actions.askTask("translate", { text, beam }),
      (source) => startTranslator(source),
    );
  }

  get el(): HTMLElement {
    return this.view.el;
  }

  update(state: Readonly<AppState>): void {
    const on = taskViews(state).includes("translate");
    show(this.el, on);
    if (!on) return;
    const sample = latestSample(state);
    // Held-out accuracy is measured again as training moves on: at most every few seconds.
    if (sample !== this.sample && Date.now() - this.askedAt > ACCURACY_EVERY_MS) {
      this.sample = sample;
      this.askedAt = Date.now();
      this.actions.askTask("accuracy", {});
    }
    const described = state.session?.described;
    const data = {
      task: described && "range" in described ? described : null, // {} until the model opens
      answer: state.answers.translate?.result ?? null,
      accuracy: state.answers.accuracy?.result ?? null,
      sample,
      owner: state.session?.role === "owner",
    } as unknown as TranslateViewData;
    this.view.update(data);
  }

  reset(): void {
    this.askedAt = 0;
    this.sample = undefined;
    this.view.reset();
  }
}

const ACCURACY_EVERY_MS = 4000;

/**
 * A new translation session with another range or attention, opened as its owner; or why not.
 * Its model is the task's own default (the server's `default_config`: one GRU layer).
 */
async function startTranslator(source: TranslateSource): Promise<string | null> {
  try {
    const created = await createSession({ task: "translate", source: { ...source } });
    rememberOwnerToken(created.id, created.owner_token);
    location.assign(`/s/${encodeURIComponent(created.id)}`);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** The newest generated tune and a real one from the collection, as sheet music to play. */
export class MusicPanel implements Component {
  private readonly view: MusicView;
  private shown: { sample: unknown; real: unknown } = { sample: null, real: null };

  constructor(actions: Actions) {
    this.view = new MusicView(() => actions.askTask("tune", {}));
  }

  get el(): HTMLElement {
    return this.view.el;
  }

  update(state: Readonly<AppState>): void {
    const on = taskViews(state).includes("music");
    show(this.el, on);
    if (!on) return;
    const sample = latestSample(state) as GeneratedTune | null;
    const real = (state.answers.tune?.result ?? null) as RealTune | null;
    if (sample === this.shown.sample && real === this.shown.real) return;
    this.shown = { sample, real };
    this.view.update({ sample: sample && "abc" in sample ? sample : null, real });
  }

  reset(): void {
    this.shown = { sample: null, real: null };
    this.view.reset();
  }
}

/** Hides panels that only make sense for some views: `[element, the views that show it]`. */
export class TaskPanels implements Component {
  readonly el: HTMLElement;
  private views: readonly string[] | null = null;

  constructor(
    root: HTMLElement,
    private readonly panels: readonly [HTMLElement, readonly string[]][],
  ) {
    this.el = root;
  }

  update(state: Readonly<AppState>): void {
    const views = taskViews(state);
    if (views === this.views) return;
    this.views = views;
    for (const [panel, wanted] of this.panels) {
      show(
        panel,
        wanted.some((view) => views.includes(view)),
      );
    }
  }

  reset(): void {
    this.views = null;
  }
}
