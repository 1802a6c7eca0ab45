/**
 * Keeps the server's next-character prediction in step with the text box and the model.
 *
 * At most one `predict:query` is in flight. Keystrokes while it is out only update the wanted
 * text; when the reply (or an error, or a timeout) comes back the latest text is sent, so fast
 * typing costs one round trip at a time. It also re-asks when the model changes: at once after a
 * `session:state` (reset, new text, new settings, a single step) and at most every
 * `REFRESH_MS` while training runs, so the bars move as the model learns.
 */

import type { AppState, Store } from "./store";
import type { PredictQuery } from "./types";

/** How often predictions refresh on their own while the model trains. */
const REFRESH_MS = 1200;
/** A query unanswered this long is presumed lost (dropped connection, server restart). */
const TIMEOUT_MS = 5000;
const TICK_MS = 250;

export interface PredictOptions {
  k: number;
  temperature: number;
  length: number;
}

export const DEFAULT_PREDICT_OPTIONS: PredictOptions = { k: 5, temperature: 0.8, length: 120 };

export class Predictor {
  private text = "";
  private options: PredictOptions = { ...DEFAULT_PREDICT_OPTIONS };
  private seq = 0;
  private inFlight: { seq: number; at: number } | null = null;
  /** What the last query asked, to know whether the wanted one differs. */
  private sentKey = "";
  private sentAt = -Infinity;
  /** Model step when the last query was sent; a different step means the model moved. */
  private sentStep = -1;
  private seenFailures = 0;
  private seenRevision = 0;
  private modelChanged = false;
  /** True once an emptied box has cleared the prediction (guards against re-entrant clears). */
  private cleared = true;

  constructor(
    private readonly store: Store,
    private readonly send: (query: PredictQuery) => void,
    private readonly now: () => number = () => performance.now(),
  ) {
    store.subscribe((state) => this.onState(state));
    setInterval(() => this.pump(), TICK_MS);
  }

  setText(text: string): void {
    this.text = text;
    this.pump();
  }

  setOptions(options: Partial<PredictOptions>): void {
    this.options = { ...this.options, ...options };
    this.pump();
  }

  private onState(state: Readonly<AppState>): void {
    const predict = state.predict;
    if (
      this.inFlight &&
      (predict.answered >= this.inFlight.seq || predict.failures !== this.seenFailures)
    ) {
      this.inFlight = null;
    }
    this.seenFailures = predict.failures;
    if (state.stateRevision !== this.seenRevision) {
      this.seenRevision = state.stateRevision;
      this.modelChanged = true;
    }
    this.pump();
  }

  /** Send the wanted query if nothing is in flight and something (text, options, model) changed. */
  private pump(): void {
    const state = this.store.state;
    const session = state.session;
    if (!session || !state.joined) return;
    const now = this.now();
    if (this.inFlight && now - this.inFlight.at < TIMEOUT_MS) return;
    this.inFlight = null;
    if (!this.text) {
      this.forget();
      return;
    }
    const key = JSON.stringify([this.text, this.options]);
    const stepMoved = session.step !== this.sentStep;
    const refreshDue = session.status !== "running" || now - this.sentAt >= REFRESH_MS;
    if (key === this.sentKey && !this.modelChanged && !(stepMoved && refreshDue)) return;

    this.seq += 1;
    this.cleared = false;
    this.inFlight = { seq: this.seq, at: now };
    this.sentKey = key;
    this.sentAt = now;
    this.sentStep = session.step;
    this.modelChanged = false;
    this.store.predictSent(this.seq);
    this.send({ text: this.text, seq: this.seq, ...this.options });
  }

  /** Empty box: drop the shown prediction and make any answer still on its way stale. */
  private forget(): void {
    if (this.cleared) return;
    this.cleared = true;
    this.sentKey = "";
    this.seq += 1;
    this.store.predictSent(this.seq);
    this.store.clearPrediction();
  }
}
