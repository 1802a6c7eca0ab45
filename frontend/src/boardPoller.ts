/** The class board, owner side: polls the session's forks every few seconds into the store. */

import { ApiError, getForks } from "./api";
import type { Store } from "./store";

const POLL_MS = 3000;

export class BoardPoller {
  private busy = false;

  constructor(
    private readonly store: Store,
    private readonly session: { id: string; token: string },
  ) {
    setInterval(() => void this.poll(), POLL_MS);
  }

  async poll(): Promise<void> {
    const state = this.store.state;
    // Only owners may read the board; hidden tabs need no fresh rows.
    if (this.busy || state.session?.role !== "owner" || document.hidden) return;
    this.busy = true;
    try {
      this.store.setForks(await getForks(this.session.id, this.session.token));
    } catch (err) {
      // A blip is retried on the next tick; a real refusal is worth one toast.
      if (err instanceof ApiError && err.status >= 400 && err.status < 500) {
        this.store.onError(err.toServerError());
      }
    } finally {
      this.busy = false;
    }
  }
}
