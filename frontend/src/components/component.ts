/** The contract every view follows (as in tensorflow/playground's charts and LSTMVis's views). */

import type { AppState } from "../store";

export interface Component {
  /** The component's root element, mounted once by the app. */
  readonly el: HTMLElement;
  /** Read what this view needs from the state and redraw what changed. Called once per frame. */
  update(state: Readonly<AppState>): void;
  /** Forget everything drawn (after a language or text-size switch); the next update redraws. */
  reset(): void;
}
