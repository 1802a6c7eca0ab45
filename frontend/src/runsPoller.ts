/**
 * The comparison table: polls `GET /runs` every 3 s while the Compare or Gap tab is on screen
 * or the lesson's end is shown (its verdict is read from these rows), and every 15 s otherwise
 * (enough to know whether the session has runs to compare at all).
 */

import { ApiError, getRuns } from "./api";
import { shownTab, type AppState, type Store } from "./store";

const VISIBLE_MS = 3000;
const BACKGROUND_MS = 15_000;
const TICK_MS = 500;

/** The tab shows the rows (every run's gradient too), or the lesson card's verdict needs them. */
function wanted(state: Readonly<AppState>): boolean {
  const tab = shownTab(state);
  const runGradients = tab === "inspect" && state.ui.view === "gradients";
  return (
    tab === "compare" || tab === "gap" || runGradients || state.session?.pause_reason === "budget"
  );
}

export class RunsPoller {
  private busy = false;
  private last = -Infinity;
  private ended = false;

  constructor(
    private readonly store: Store,
    private readonly session: { id: string; token: string },
  ) {
    setInterval(() => void this.tick(), TICK_MS);
    // Opening the tab fetches at once rather than on the next tick.
    store.subscribe((state) => {
      // The end of a lesson is measured at once, not on the next round.
      const ended = state.session?.pause_reason === "budget";
      if (ended && !this.ended) this.last = -Infinity;
      this.ended = ended;
      if (wanted(state) && (state.runs.rows === null || this.last === -Infinity)) void this.tick();
    });
  }

  private async tick(): Promise<void> {
    const state = this.store.state;
    if (this.busy || !state.joined || document.hidden) return;
    const every = wanted(state) ? VISIBLE_MS : BACKGROUND_MS;
    if (performance.now() - this.last < every) return;
    this.busy = true;
    this.last = performance.now();
    try {
      const { runs, verdict } = await getRuns(this.session.id, this.session.token);
      this.store.setRuns(runs, null, verdict);
    } catch (err) {
      // Shown in the Compare tab; a blip is retried on the next round.
      this.store.setRuns(null, err instanceof ApiError ? err.message : String(err));
    } finally {
      this.busy = false;
    }
  }
}
