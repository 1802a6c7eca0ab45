/**
 * Names, one-line meanings, the course's symbols and the equation behind each quantity a cell
 * exposes (LSTM i f g o c h, GRU r z n h, RNN a h). Symbols and equations are the course's
 * notation, the same in every language: the candidate is c̃_t and the cell state C_t.
 */

import { h } from "../../dom";
import { isMessageKey, t } from "../../i18n";

export function quantityName(q: string): string {
  const key = `q.${q}.name`;
  return isMessageKey(key) ? t(key) : q;
}

export function quantityHelp(q: string): string {
  const key = `q.${q}.help`;
  return isMessageKey(key) ? t(key) : "";
}

const SYMBOLS: Record<string, string> = {
  a: "a_t",
  h: "h_t",
  i: "i_t",
  f: "f_t",
  g: "c̃_t",
  o: "o_t",
  c: "C_t",
  r: "r_t",
  z: "z_t",
  n: "n_t",
};

/** The quantity's symbol as the course writes it: "f_t", "c̃_t", "C_t"… */
export function quantitySymbol(q: string): string {
  return SYMBOLS[q] ?? q;
}

/** A sigmoid gate of LSTM or GRU: g_t = σ(W_hg h_{t−1} + W_xg x_t + b_g). */
const GATE = (g: string) => `${g}_t = σ(W_h${g} h_{t−1} + W_x${g} x_t + b_${g})`;

const EQUATIONS: Record<string, Record<string, string>> = {
  rnn: {
    a: "a_t = W_hh h_{t−1} + W_xh x_t + b",
    h: "h_t = φ(W_hh h_{t−1} + W_xh x_t + b),   y_t = W_hy h_t",
  },
  lstm: {
    i: GATE("i"),
    f: GATE("f"),
    g: "c̃_t = tanh(W_hc h_{t−1} + W_xc x_t + b_c)",
    o: GATE("o"),
    c: "C_t = f_t ⊙ C_{t−1} + i_t ⊙ c̃_t",
    h: "h_t = o_t ⊙ tanh(C_t),   y_t = W_hy h_t",
  },
  gru: {
    r: GATE("r"),
    z: GATE("z"),
    n: "n_t = tanh(W_xn x_t + r_t ⊙ (W_hn h_{t−1} + b_hn))",
    h: "h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_{t−1},   y_t = W_hy h_t",
  },
};

/**
 * The equation that computes `q` in a cell of `kind`, in the course's names; a vanilla RNN's
 * φ is written out as its activation (tanh or ReLU). Empty for an unknown pair.
 */
export function quantityEquation(kind: string, q: string, activation = "tanh"): string {
  const equation = EQUATIONS[kind]?.[q] ?? "";
  return kind === "rnn" ? equation.replace("φ", activation === "relu" ? "ReLU" : "tanh") : equation;
}

/** Math in the course's plain notation ("W_hh h_{t−1}") as text with real subscripts. */
export function renderMath(text: string): (string | HTMLElement)[] {
  const out: (string | HTMLElement)[] = [];
  let last = 0;
  for (const match of text.matchAll(/_(\{[^}]*\}|[A-Za-z0-9]+)/g)) {
    out.push(text.slice(last, match.index));
    out.push(h("sub", {}, match[1]!.replace(/^\{|\}$/g, "")));
    last = match.index + match[0].length;
  }
  out.push(text.slice(last));
  return out.filter((part) => part !== "");
}
