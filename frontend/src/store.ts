/**
 * The one place where server messages (and HTTP results) become application state.
 *
 * Components never write here; they read `store.state` in their `update(state)` and call
 * actions, which reach the server, whose replies come back through the handlers below.
 * Slices are replaced on change (so components can compare by reference), except the loss
 * history whose arrays grow in place; its `version` changes when it is replaced wholesale and
 * its `revision` on every append.
 */

import type { ConnectionStatus } from "./socket";
import type {
  Corpus,
  History,
  PredictResult,
  Sample,
  Schema,
  ServerError,
  SessionState,
  TrainProgress,
} from "./types";

/** Most training points kept client-side before thinning (the server keeps 2,000). */
const MAX_TRAIN_POINTS = 4000;
/** The server keeps the latest 10 samples; so do we. */
const MAX_SAMPLES = 10;
const MAX_TOASTS = 4;

export type SessionInfo = Omit<SessionState, "history" | "samples">;

export interface HistoryBuffer extends History {
  /** Bumped when `session:state` replaces the history (reset, text change, join). */
  version: number;
  /** Bumped on every change, appends included. */
  revision: number;
}

export interface Toast {
  id: number;
  code: string;
  message: string;
  /** Times this exact message arrived; repeated errors update one toast instead of stacking. */
  count: number;
  at: number;
}

export interface PredictState {
  /** Highest `seq` sent; results below it are stale and ignored. */
  latestSent: number;
  /** Highest `seq` answered. */
  answered: number;
  /** Bumped when the server answers a `predict:query` with an `error` instead of a result. */
  failures: number;
  result: PredictResult | null;
}

export type FatalKind = "not_found" | "forbidden" | "missing_token" | "boot";

export interface AppState {
  connection: ConnectionStatus;
  /** True once `session:join` was answered on the current connection. */
  joined: boolean;
  schema: Schema | null;
  corpora: Corpus[];
  session: SessionInfo | null;
  /** Training throughput from the latest `train:progress`; null unless running. */
  charsPerSec: number | null;
  history: HistoryBuffer;
  samples: Sample[];
  predict: PredictState;
  toasts: Toast[];
  /** Server-side rejections of a setting, by setting name, until the user edits it again. */
  fieldErrors: Readonly<Record<string, string>>;
  /** Bumped on every `session:state` (config, text, reset, start, pause, viewers). */
  stateRevision: number;
  fatal: { kind: FatalKind; message: string } | null;
}

type Listener = (state: Readonly<AppState>) => void;

function emptyHistory(): HistoryBuffer {
  return { step: [], train: [], val_step: [], val: [], version: 0, revision: 0 };
}

/** Keep every other training point (and always the last) once the buffer is too long. */
function thin(steps: number[], values: number[]): void {
  const last = steps.length - 1;
  let w = 0;
  for (let r = 0; r <= last; r++) {
    if (r % 2 === 0 || r === last) {
      steps[w] = steps[r]!;
      values[w] = values[r]!;
      w++;
    }
  }
  steps.length = w;
  values.length = w;
}

export class Store {
  private current: AppState = {
    connection: "connecting",
    joined: false,
    schema: null,
    corpora: [],
    session: null,
    charsPerSec: null,
    history: emptyHistory(),
    samples: [],
    predict: { latestSent: 0, answered: 0, failures: 0, result: null },
    toasts: [],
    fieldErrors: {},
    stateRevision: 0,
    fatal: null,
  };
  private readonly listeners = new Set<Listener>();
  private nextToastId = 1;

  get state(): Readonly<AppState> {
    return this.current;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private set(patch: Partial<AppState>): void {
    this.current = { ...this.current, ...patch };
    for (const listener of this.listeners) listener(this.current);
  }

  // --- Server → state -------------------------------------------------------------------

  /** `session:state`: replaces everything it carries, the loss history included. */
  onSessionState(message: SessionState): void {
    const { history, samples, ...session } = message;
    const previous = this.current.history;
    this.set({
      session,
      history: {
        step: [...history.step],
        train: [...history.train],
        val_step: [...history.val_step],
        val: [...history.val],
        version: previous.version + 1,
        revision: previous.revision + 1,
      },
      samples: samples.slice(-MAX_SAMPLES),
      charsPerSec: session.status === "running" ? this.current.charsPerSec : null,
      stateRevision: this.current.stateRevision + 1,
      joined: true,
      fatal: null,
    });
  }

  /** `train:progress`: advances the counters and appends the new loss points. */
  onProgress(message: TrainProgress): void {
    const session = this.current.session;
    if (!session) return;
    const history = this.current.history;
    for (const [step, bits] of message.train) {
      history.step.push(step);
      history.train.push(bits);
    }
    for (const [step, bits] of message.val) {
      history.val_step.push(step);
      history.val.push(bits);
    }
    if (history.step.length > MAX_TRAIN_POINTS) thin(history.step, history.train);
    this.set({
      session: {
        ...session,
        step: message.step,
        chars_seen: message.chars_seen,
        status: message.status,
      },
      charsPerSec: message.status === "running" ? message.chars_per_sec : null,
      history: { ...history, revision: history.revision + 1 },
    });
  }

  /** `train:sample`: newest sample last, latest ten kept. */
  onSample(sample: Sample): void {
    this.set({ samples: [...this.current.samples, sample].slice(-MAX_SAMPLES) });
  }

  /** `predict:result`: kept unless a newer query has been sent since. */
  onPredictResult(result: PredictResult): void {
    const predict = this.current.predict;
    if (result.seq < predict.latestSent) return;
    this.set({ predict: { ...predict, answered: result.seq, result } });
  }

  /** `error` events and HTTP errors: a toast, plus bookkeeping for the event that failed. */
  onError(error: ServerError): void {
    if (error.event === "session:join") {
      const kind = error.code === "not_found" ? "not_found" : "forbidden";
      this.set({ fatal: { kind, message: error.message } });
      return;
    }
    const patch: Partial<AppState> = { toasts: this.withToast(error) };
    if (error.event === "predict:query") {
      const predict = this.current.predict;
      patch.predict = { ...predict, failures: predict.failures + 1 };
    }
    if (error.field) {
      patch.fieldErrors = { ...this.current.fieldErrors, [error.field]: error.message };
    }
    this.set(patch);
  }

  private withToast(error: ServerError): Toast[] {
    const now = Date.now();
    const toasts = this.current.toasts;
    const same = toasts.find((t) => t.message === error.message && t.code === error.code);
    if (same) {
      return toasts.map((t) => (t === same ? { ...t, count: t.count + 1, at: now } : t));
    }
    const toast = {
      id: this.nextToastId++,
      code: error.code,
      message: error.message,
      count: 1,
      at: now,
    };
    return [...toasts, toast].slice(-MAX_TOASTS);
  }

  // --- Local facts (boot, connection, user bookkeeping) --------------------------------

  setConnection(connection: ConnectionStatus): void {
    if (connection === this.current.connection) return;
    // A query in flight when the link dropped will never be answered: count it as failed.
    const predict = this.current.predict;
    const lost = connection !== "connected" && predict.answered < predict.latestSent;
    this.set({
      connection,
      joined: connection === "connected" && this.current.joined,
      predict: lost ? { ...predict, failures: predict.failures + 1 } : predict,
    });
  }

  setSchema(schema: Schema): void {
    this.set({ schema });
  }

  setCorpora(corpora: Corpus[]): void {
    this.set({ corpora });
  }

  setFatal(kind: FatalKind, message: string): void {
    this.set({ fatal: { kind, message } });
  }

  predictSent(seq: number): void {
    this.set({ predict: { ...this.current.predict, latestSent: seq } });
  }

  clearPrediction(): void {
    this.set({ predict: { ...this.current.predict, result: null } });
  }

  dismissToast(id: number): void {
    this.set({ toasts: this.current.toasts.filter((t) => t.id !== id) });
  }

  clearFieldError(name: string): void {
    if (!(name in this.current.fieldErrors)) return;
    const fieldErrors = { ...this.current.fieldErrors };
    delete fieldErrors[name];
    this.set({ fieldErrors });
  }
}
