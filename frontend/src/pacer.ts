/**
 * Paces one kind of query (predict, inspect) so the server answers at the speed of the reader.
 *
 * At most one query is in flight. Changes while it is out only update what is wanted; when the
 * reply (or an error, a disconnect, or a timeout) comes back the latest wanted query is sent, so
 * fast typing costs one round trip at a time. It also re-asks when the model changes: at once
 * after a `session:state` (reset, new text, new settings, a single step) and at most every
 * `refreshMs` while training runs, so the answer follows the model as it learns.
 */

import type { AppState, Store } from "./store";

/** A query unanswered this long is presumed lost (dropped connection, server restart). */
const TIMEOUT_MS = 5000;
const TICK_MS = 250;

/** The bookkeeping a store slice keeps for one kind of query. */
export interface QueryTrack {
  latestSent: number;
  answered: number;
  failures: number;
}

export interface PacerSpec<Q> {
  /** How often to re-ask on its own while the model trains. */
  refreshMs: number;
  /** What should be asked now (`key` identifies it), or null when nothing should be. */
  want(state: Readonly<AppState>): { key: string; query: (seq: number) => Q } | null;
  /** While true nothing is sent nor cleared (the view is closed; its last answer stays). */
  paused?(state: Readonly<AppState>): boolean;
  track(state: Readonly<AppState>): QueryTrack;
  send(query: Q): void;
  /** Record in the store that `seq` went out (older answers become stale). */
  sent(seq: number): void;
  /** Nothing is wanted any more: drop the shown answer. */
  clear(): void;
}

export class Pacer<Q> {
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
  /** True once an emptied want has cleared the answer (guards against re-entrant clears). */
  private cleared = true;

  constructor(
    private readonly store: Store,
    private readonly spec: PacerSpec<Q>,
    private readonly now: () => number = () => performance.now(),
  ) {
    store.subscribe((state) => this.onState(state));
    setInterval(() => this.pump(), TICK_MS);
  }

  private onState(state: Readonly<AppState>): void {
    const track = this.spec.track(state);
    if (
      this.inFlight &&
      (track.answered >= this.inFlight.seq || track.failures !== this.seenFailures)
    ) {
      this.inFlight = null;
    }
    this.seenFailures = track.failures;
    if (state.stateRevision !== this.seenRevision) {
      this.seenRevision = state.stateRevision;
      this.modelChanged = true;
    }
    this.pump();
  }

  /** Send the wanted query if nothing is in flight and something (query, model) changed. */
  pump(): void {
    const state = this.store.state;
    const session = state.session;
    if (!session || !state.joined) return;
    const now = this.now();
    if (this.inFlight && now - this.inFlight.at < TIMEOUT_MS) return;
    this.inFlight = null;
    if (this.spec.paused?.(state)) return;
    const wanted = this.spec.want(state);
    if (!wanted) {
      this.forget();
      return;
    }
    const stepMoved = session.step !== this.sentStep;
    // A hidden tab asks nothing on its own: thirty idle laptops must not load the workers.
    const refreshDue =
      session.status !== "running" ||
      (!document.hidden && now - this.sentAt >= this.spec.refreshMs);
    if (wanted.key === this.sentKey && !this.modelChanged && !(stepMoved && refreshDue)) return;

    this.seq += 1;
    this.cleared = false;
    this.inFlight = { seq: this.seq, at: now };
    this.sentKey = wanted.key;
    this.sentAt = now;
    this.sentStep = session.step;
    this.modelChanged = false;
    this.spec.sent(this.seq);
    this.spec.send(wanted.query(this.seq));
  }

  /** Nothing wanted: drop the shown answer and make any answer still on its way stale. */
  private forget(): void {
    if (this.cleared) return;
    this.cleared = true;
    this.sentKey = "";
    this.seq += 1;
    this.spec.sent(this.seq);
    this.spec.clear();
  }
}
