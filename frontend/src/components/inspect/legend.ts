/** A colour ramp with its end values, under a heatmap or a coloured text. */

import type { ColorScale } from "../../colors";
import { h, setText } from "../../dom";
import { formatFixed } from "../../i18n";

function short(v: number): string {
  return Math.abs(v) >= 100 || (v !== 0 && Math.abs(v) < 0.01)
    ? v.toExponential(1)
    : formatFixed(v, Math.abs(v) >= 10 ? 1 : 2);
}

export class Legend {
  private readonly lo = h("span", { class: "legend-end" });
  private readonly hi = h("span", { class: "legend-end" });
  private readonly bar = h("span", { class: "legend-bar" });
  private readonly caption = h("span", { class: "legend-caption" });
  readonly el = h("div", { class: "legend" }, this.caption, this.lo, this.bar, this.hi);

  render(scale: ColorScale, caption: string, gradient = scale.gradient()): void {
    setText(this.caption, caption);
    setText(this.lo, short(scale.lo));
    setText(this.hi, short(scale.hi));
    this.bar.style.background = gradient;
  }
}
