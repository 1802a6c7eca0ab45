/** What the "look inside" views draw: `inspect:result` wrangled into matrices, once per result. */

import { toBytes, toMatrix, type Matrix } from "./tensors";
import type { InspectResultWire, SaliencyResult, TopChar } from "./types";

/** Per cell kind, the quantities a layer exposes, in display order (docs/protocol.md#inspect). */
export const QUANTITIES: Record<string, readonly string[]> = {
  rnn: ["a", "h"],
  lstm: ["i", "f", "g", "o", "c", "h"],
  gru: ["r", "z", "n", "h"],
};

/** The gates surgery may clamp, per kind. */
export const GATES: Record<string, readonly string[]> = {
  rnn: [],
  lstm: ["i", "f", "g", "o"],
  gru: ["r", "z", "n"],
};

/** Gates living in [0, 1] (sigmoids); the others (g, n) live in [-1, 1]. */
export const SIGMOID_GATES = new Set(["i", "f", "o", "r", "z"]);

/** Whether a model kind has a recurrent cell to look inside (baselines do not). */
export function isRecurrent(kind: unknown): kind is string {
  return typeof kind === "string" && kind in QUANTITIES;
}

export interface InspectData {
  seq: number;
  step: number;
  kind: string;
  activation: string;
  /** The characters traced (unknown ones skipped), in order. */
  chars: string[];
  vocab: string[];
  hiddenSize: number;
  /** Per layer (bottom first), each quantity as a (T × H) matrix. */
  layers: Record<string, Matrix>[];
  /** (T × V) next-character probabilities after each position. */
  probs: Matrix;
  /** Likeliest next character id after each position. */
  top: number[];
  /** Top 5 after the whole text, surgery applied. */
  next: TopChar[];
  saliency: SaliencyResult | null;
  surgery: boolean;
}

/** Wrangle: decode every packed tensor once, so views only index into bytes. */
export function wrangleInspect(wire: InspectResultWire): InspectData {
  const buffer = toBytes(wire.data);
  return {
    seq: wire.seq,
    step: wire.step,
    kind: wire.kind,
    activation: wire.activation,
    chars: wire.chars,
    vocab: wire.vocab,
    hiddenSize: wire.hidden_size,
    layers: wire.layers.map((layer) =>
      Object.fromEntries(
        Object.entries(layer).map(([name, packed]) => [name, toMatrix(packed, buffer)]),
      ),
    ),
    probs: toMatrix(wire.probs, buffer),
    top: wire.top,
    next: wire.next,
    saliency: wire.saliency,
    surgery: wire.surgery,
  };
}

/** The quantities present in a result, in the protocol's display order. */
export function quantitiesOf(data: InspectData, layer: number): string[] {
  const present = data.layers[layer] ?? {};
  const order = QUANTITIES[data.kind] ?? Object.keys(present);
  return order.filter((q) => q in present);
}
