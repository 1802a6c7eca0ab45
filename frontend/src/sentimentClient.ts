/**
 * The sentiment box: `POST /sentiment` with what is typed, ~250 ms after the last keystroke,
 * one request at a time, the latest text winning (typed while one is out, it goes next).
 */

import { postSentiment } from "./api";
import type { Store } from "./store";

const DEBOUNCE_MS = 250;
/** The server's limit on the text. */
export const MAX_SENTIMENT_CHARS = 300;

export class SentimentClient {
  private timer: number | null = null;
  private inFlight = false;

  constructor(
    private readonly store: Store,
    private readonly session: { id: string; token: string },
  ) {}

  /** The box changed: remember the text now, ask about it once typing pauses. */
  type(text: string, now = false): void {
    const typed = text.slice(0, MAX_SENTIMENT_CHARS);
    this.store.setSentiment({ typed });
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = window.setTimeout(() => void this.flush(), now ? 0 : DEBOUNCE_MS);
  }

  private async flush(): Promise<void> {
    this.timer = null;
    if (this.inFlight) return; // sent when the answer in flight comes back
    const { typed, text, result } = this.store.state.sentiment;
    if (typed.trim() === "") {
      this.store.setSentiment({ text: "", result: null, error: null });
      return;
    }
    if (typed === text && result) return;
    this.inFlight = true;
    this.store.setSentiment({ busy: true });
    try {
      const answer = await postSentiment(this.session.id, this.session.token, typed);
      this.store.setSentiment({ text: typed, result: answer, error: null, busy: false });
    } catch (err) {
      this.store.setSentiment({
        error: err instanceof Error ? err.message : String(err),
        busy: false,
      });
    } finally {
      this.inFlight = false;
    }
    if (this.store.state.sentiment.typed !== typed) void this.flush();
  }
}
