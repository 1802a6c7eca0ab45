/**
 * Colour maps for activations: diverging (blue, white, red) for quantities around zero such as
 * h in [-1, 1], sequential for quantities in [0, 1] such as gates; both ColorBrewer ramps.
 */

import type { Matrix } from "./tensors";
import { byteValue } from "./tensors";

export type Rgb = readonly [number, number, number];

/** ColorBrewer RdBu, reversed: negative blue, zero white, positive red. */
const DIVERGING: readonly Rgb[] = [
  [33, 102, 172],
  [103, 169, 207],
  [209, 229, 240],
  [247, 247, 247],
  [253, 219, 199],
  [239, 138, 98],
  [178, 24, 43],
];
/** ColorBrewer Purples: 0 near white, 1 deep purple. */
const SEQUENTIAL: readonly Rgb[] = [
  [252, 251, 253],
  [218, 218, 235],
  [158, 154, 200],
  [106, 81, 163],
  [63, 0, 125],
];
/** ColorBrewer YlOrRd, for saliency ("how much it matters"). */
export const WARM: readonly Rgb[] = [
  [255, 255, 240],
  [254, 217, 118],
  [253, 141, 60],
  [227, 26, 28],
  [128, 0, 38],
];

/** Linear interpolation along a ramp, t in [0, 1]. */
export function ramp(stops: readonly Rgb[], t: number): Rgb {
  const x = Math.min(1, Math.max(0, Number.isFinite(t) ? t : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const a = stops[i]!;
  const b = stops[i + 1]!;
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

export function css(rgb: Rgb): string {
  return `rgb(${Math.round(rgb[0])} ${Math.round(rgb[1])} ${Math.round(rgb[2])})`;
}

/** Dark text on light colours, white on dark ones. */
export function inkOn(rgb: Rgb): string {
  const luminance = (0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]) / 255;
  return luminance > 0.58 ? "#162033" : "#ffffff";
}

export interface ColorScale {
  kind: "diverging" | "sequential";
  /** The values at the two ends of the ramp. */
  lo: number;
  hi: number;
  color(value: number): Rgb;
  /** CSS gradient of the ramp, for a legend. */
  gradient(): string;
}

function gradientOf(stops: readonly Rgb[]): string {
  return `linear-gradient(to right, ${stops.map(css).join(", ")})`;
}

/** Diverging around 0 when the range straddles it, else sequential from lo to hi. */
export function scaleFor(lo: number, hi: number): ColorScale {
  if (lo < 0 && hi > 0) {
    const m = Math.max(-lo, hi);
    return {
      kind: "diverging",
      lo: -m,
      hi: m,
      color: (v) => ramp(DIVERGING, (v / m + 1) / 2),
      gradient: () => gradientOf(DIVERGING),
    };
  }
  const span = hi - lo || 1;
  return {
    kind: "sequential",
    lo,
    hi,
    color: (v) => ramp(SEQUENTIAL, (v - lo) / span),
    gradient: () => gradientOf(SEQUENTIAL),
  };
}

/** One colour per byte value of a matrix: drawing a heatmap is then one lookup per cell. */
export function byteColors(m: Matrix, scale: ColorScale): Uint8ClampedArray {
  const out = new Uint8ClampedArray(256 * 3);
  for (let b = 0; b < 256; b++) {
    const rgb = scale.color(byteValue(m, b));
    out.set(rgb, b * 3);
  }
  return out;
}
