/** A small floating readout that follows the pointer inside a positioned container. */

import { h, setText } from "../../dom";

export class Tooltip {
  readonly el = h("div", {
    class: "tooltip",
    testid: "inspect-tooltip",
    attrs: { role: "status" },
  });

  constructor() {
    this.el.hidden = true;
  }

  /** Show `text` near (x, y), in the container's coordinates, kept inside it. */
  show(text: string, x: number, y: number, container: HTMLElement): void {
    setText(this.el, text);
    this.el.hidden = false;
    const maxX = container.clientWidth - this.el.offsetWidth - 4;
    this.el.style.left = `${Math.max(4, Math.min(x + 14, maxX))}px`;
    this.el.style.top = `${Math.max(4, y + 16)}px`;
  }

  hide(): void {
    this.el.hidden = true;
  }
}
