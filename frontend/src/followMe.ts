/**
 * Follow-me, owner side: while class mode's "follow" is on, the owner's focus (predict-box
 * text, selected layer and unit, open view) goes to the room as `class:focus`, at most every
 * `THROTTLE_MS`, so viewers see what the teacher types and points at.
 */

import type { AppState, Store } from "./store";
import type { ClassFocus } from "./types";

const THROTTLE_MS = 100;

/** The focus this page would share: what it shows right now. */
export function focusOf(state: Readonly<AppState>): ClassFocus {
  const ui = state.ui;
  return {
    text: state.typed,
    unit: ui.unit,
    layer: ui.layer,
    view: ui.tab === "inspect" ? ui.view : ui.tab,
  };
}

export class FollowMe {
  private sentKey = "";
  private timer: number | null = null;
  private lastSent = -Infinity;

  constructor(
    private readonly store: Store,
    private readonly send: (focus: ClassFocus) => void,
  ) {
    store.subscribe(() => this.schedule());
  }

  private active(state: Readonly<AppState>): boolean {
    const session = state.session;
    return session?.role === "owner" && session.classroom?.follow === true && state.joined;
  }

  private schedule(): void {
    const state = this.store.state;
    if (!this.active(state)) {
      this.sentKey = ""; // turning follow back on sends the focus again
      return;
    }
    if (JSON.stringify(focusOf(state)) === this.sentKey || this.timer !== null) return;
    const wait = Math.max(0, this.lastSent + THROTTLE_MS - performance.now());
    this.timer = window.setTimeout(() => this.flush(), wait);
  }

  private flush(): void {
    this.timer = null;
    const state = this.store.state;
    if (!this.active(state)) return;
    const focus = focusOf(state);
    const key = JSON.stringify(focus);
    if (key === this.sentKey) return;
    this.sentKey = key;
    this.lastSent = performance.now();
    this.send(focus);
  }
}
