/** What the "look inside" views draw: `inspect:result` wrangled into matrices, once per result. */

import { isMessageKey, t } from "./i18n";
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
  /** The characters traced (unknown ones skipped), in order; or the task's step labels. */
  chars: string[];
  /** True when `chars` are step labels ("12", "2004-03"), not characters read. */
  labelled: boolean;
  /** What a labelled step is ("frame", "month"), or "" for characters and words. */
  item: string;
  vocab: string[];
  hiddenSize: number;
  /** Per layer (bottom first), each quantity as a (T × H) matrix. */
  layers: Record<string, Matrix>[];
  /** (T × V) next-character probabilities after each position; null for numbers predicted. */
  probs: Matrix | null;
  /** Likeliest next character id after each position (empty for numbers predicted). */
  top: number[];
  /** The numbers predicted after each step (T × O), for a task that predicts numbers. */
  outputs: number[][] | null;
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
    labelled: wire.labelled === true,
    item: wire.item ?? "",
    vocab: wire.vocab,
    hiddenSize: wire.hidden_size,
    layers: wire.layers.map((layer) =>
      Object.fromEntries(
        Object.entries(layer).map(([name, packed]) => [name, toMatrix(packed, buffer)]),
      ),
    ),
    probs: wire.probs ? toMatrix(wire.probs, buffer) : null,
    top: wire.top ?? [],
    outputs: wire.outputs ?? null,
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

/** The numbers predicted after step `i`, as the page shows them: "(0.12, −0.03)" or "0.41". */
export function outputText(data: InspectData, i: number, format: (v: number) => string): string {
  const values = data.outputs?.[i] ?? [];
  const text = values.map(format).join(", ");
  return values.length > 1 ? `(${text})` : text;
}

/** How the page names a labelled step: "frame 12", "2004-03", or "step 7" for an unknown item. */
export function stepName(data: InspectData, i: number): string {
  const key = `inspect.label.${data.item}`;
  return t(isMessageKey(key) ? key : "inspect.label", { label: data.chars[i] ?? "" });
}
