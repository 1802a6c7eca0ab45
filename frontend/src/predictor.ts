/**
 * Keeps the server's next-character prediction in step with the predict box and the model:
 * one `predict:query` in flight, the latest text wins, re-asked every `REFRESH_MS` while
 * training (see `Pacer`). The text is the store's `typed`; an empty box clears the panel.
 */

import { Pacer } from "./pacer";
import type { AppState, Store } from "./store";
import type { PredictQuery } from "./types";

/** How often predictions refresh on their own while the model trains. */
const REFRESH_MS = 2000;

export interface PredictOptions {
  k: number;
  temperature: number;
  length: number;
}

export const DEFAULT_PREDICT_OPTIONS: PredictOptions = { k: 5, temperature: 0.8, length: 120 };

/** Tasks whose `predict` reads other options than characters' (words: the likeliest 8, 12 on). */
const TASK_OPTIONS: Readonly<Record<string, Partial<PredictOptions>>> = {
  words: { k: 8, length: 12 },
};

/** Viewers cannot predict while the owner locked it. */
export function predictLocked(state: Readonly<AppState>): boolean {
  const session = state.session;
  return session?.role === "viewer" && (session.classroom?.locks ?? []).includes("predict");
}

export class Predictor {
  private options: PredictOptions = { ...DEFAULT_PREDICT_OPTIONS };
  private readonly pacer: Pacer<PredictQuery>;

  constructor(store: Store, send: (query: PredictQuery) => void) {
    this.pacer = new Pacer(store, {
      refreshMs: REFRESH_MS,
      want: (state) => {
        const text = state.typed;
        if (!text || predictLocked(state)) return null;
        const options = { ...this.options, ...TASK_OPTIONS[state.session?.task?.name ?? ""] };
        return {
          key: JSON.stringify([text, options]),
          query: (seq) => ({ text, seq, ...options }),
        };
      },
      track: (state) => state.predict,
      send,
      sent: (seq) => store.predictSent(seq),
      clear: () => store.clearPrediction(),
    });
  }

  setOptions(options: Partial<PredictOptions>): void {
    this.options = { ...this.options, ...options };
    this.pacer.pump();
  }
}
