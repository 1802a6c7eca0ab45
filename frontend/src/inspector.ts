/**
 * Keeps the "look inside" trace in step with the predict box (or, for a task that traces steps
 * of its own, a ball's frames or a series' months, with nothing typed), the chosen saliency position,
 * the surgery and the model: one `inspect:query` in flight on its own `seq` counter, the latest
 * wins, re-asked every `REFRESH_MS` while training so gates and states change live (see `Pacer`).
 * It asks only while the panel is open, for a recurrent model, and when the owner allows it.
 */

import { isRecurrent } from "./inspectData";
import { Pacer } from "./pacer";
import type { AppState, Store } from "./store";
import type { InspectQuery } from "./types";

/** How often the trace refreshes on its own while the model trains. */
const REFRESH_MS = 2000;
/** The server traces at most this many characters: send the end of longer texts. */
export const MAX_INSPECT_CHARS = 300;

/** The characters sent for inspection (code points, as the server counts them). */
export function inspectedText(typed: string): string {
  const chars = Array.from(typed);
  return chars.length > MAX_INSPECT_CHARS ? chars.slice(-MAX_INSPECT_CHARS).join("") : typed;
}

/** Whether the session's task traces steps it picks and labels itself, not the typed text. */
export function tracesSteps(state: Readonly<AppState>): boolean {
  return state.session?.task?.inspects === "steps";
}

/** Why this page may not look inside now, or null when it may. */
export function inspectBlocked(state: Readonly<AppState>): "locked" | "hidden" | "baseline" | null {
  const session = state.session;
  if (!session) return null;
  const viewer = session.role === "viewer";
  const classroom = session.classroom;
  if (viewer && classroom?.hidden.includes("inspect")) return "hidden";
  if (viewer && classroom?.locks.includes("inspect")) return "locked";
  if (!isRecurrent(session.config.model)) return "baseline";
  return null;
}

export class Inspector {
  constructor(store: Store, send: (query: InspectQuery) => void) {
    new Pacer<InspectQuery>(store, {
      refreshMs: REFRESH_MS,
      // Only the open views need a trace; the gradient chart streams on its own.
      paused: ({ ui }) => ui.tab !== "inspect" || ui.view === "gradients",
      want: (state) => {
        const ui = state.ui;
        const steps = tracesSteps(state);
        if ((!steps && !state.typed) || inspectBlocked(state)) return null;
        const surgery = ui.surgery;
        const operated = surgery.clamps.length + surgery.ablations.length > 0;
        const query = {
          ...(!steps && { text: inspectedText(state.typed) }),
          saliency: ui.view === "saliency",
          ...(ui.position !== null && { position: ui.position }),
          ...(operated && { surgery }),
        };
        return { key: JSON.stringify(query), query: (seq) => ({ seq, ...query }) };
      },
      track: (state) => state.inspect,
      send,
      sent: (seq) => store.inspectSent(seq),
      clear: () => store.clearInspection(),
    });
  }
}
