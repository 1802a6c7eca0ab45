/**
 * Accuracy against the gap: `GET /gaps` when asked, when the Gap tab first opens, every 10 s
 * while that tab is on screen and a run is training, so the curves follow the learning, and
 * once when a lesson with a gap view stops training (its verdict quotes that measure).
 */

import { getGaps } from "./api";
import { currentLesson, shownTab, type AppState, type Store } from "./store";

const REFRESH_MS = 10_000;
const TICK_MS = 1000;

/** Whether the main session or any of its runs is training (or waiting for a slot). */
export function training(state: Readonly<AppState>): boolean {
  const busy = (status: string | undefined): boolean => status === "running" || status === "queued";
  return busy(state.session?.status) || (state.runs.rows ?? []).some((run) => busy(run.status));
}

export class GapMeter {
  private last = -Infinity;
  private wasTraining = false;

  constructor(
    private readonly store: Store,
    private readonly session: { id: string; token: string },
  ) {
    setInterval(() => this.tick(), TICK_MS);
  }

  private tick(): void {
    const state = this.store.state;
    const busy = training(state);
    if (this.wasTraining && !busy && currentLesson(state)?.views.includes("gap")) {
      if (state.gaps.busy) return; // measured once the one under way is back
      this.wasTraining = false;
      void this.measure();
      return;
    }
    this.wasTraining = busy;
    if (shownTab(state) !== "gap" || document.hidden || state.gaps.busy) return;
    const first = state.gaps.result === null && state.gaps.error === null;
    if (first || (training(state) && performance.now() - this.last >= REFRESH_MS)) {
      void this.measure();
    }
  }

  /** Measure every run now (fresh examples at every gap); a second ask while one is out waits. */
  async measure(): Promise<void> {
    if (this.store.state.gaps.busy) return;
    this.last = performance.now();
    this.store.setGaps({ busy: true });
    try {
      const result = await getGaps(this.session.id, this.session.token);
      this.store.setGaps({ result, busy: false, error: null });
    } catch (err) {
      this.store.setGaps({ busy: false, error: err instanceof Error ? err.message : String(err) });
    } finally {
      this.last = performance.now();
    }
  }
}
