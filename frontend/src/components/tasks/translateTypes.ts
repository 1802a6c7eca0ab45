/** The translation task's payloads, typed as the server sends them (docs/protocol.md). */

/** One candidate for an output character, with its probability. */
export interface Candidate {
  char: string; // a French character, or "<eos>"
  p: number;
}

/** One greedy step of the decoder. */
export interface TranslateStep {
  char: string;
  top: Candidate[];
  /** Attention weights over the input characters (sum 1), or null when attention is off. */
  attention: number[] | null;
}

/** `translate:result`: one number translated, step by step, with what the encoder gave. */
export interface TranslateAnswer {
  seq?: number;
  number: number;
  source: string;
  output: string;
  expected: string;
  correct: boolean;
  held_out: boolean;
  in_range: boolean;
  steps: TranslateStep[];
  encoder_states: number[][]; // (S, H): h_s after each input character
  start: number[]; // (H,): the one vector the decoder starts from
  attention: "none" | "dot" | "general";
  beams: { text: string; logp: number }[];
}

/** `accuracy:result`: greedy exact match on the held-out numbers, by input length. */
export interface AccuracyAnswer {
  seq?: number;
  bucket: number; // characters per length bucket
  lengths: number[]; // each bucket's first length
  correct: number[];
  total: number[];
  overall: number;
}

/** The live sample: a few held-out numbers translated greedily. */
export interface TranslateSample {
  pairs: { number: number; source: string; output: string; expected: string }[];
}

/** `described`: the task's range, attention and split. */
export interface TranslateDescribe {
  range: number;
  attention: "none" | "dot" | "general";
  train_numbers: number;
  held_out_numbers: number;
  examples: string[];
  max_source_chars: number;
}

/** What the view draws from. */
export interface TranslateViewData {
  task: TranslateDescribe | null;
  answer: TranslateAnswer | null;
  accuracy: AccuracyAnswer | null;
  sample: TranslateSample | null;
  owner: boolean;
}

/** A new translator's source: the number range and the attention switch. */
export interface TranslateSource {
  range: number;
  attention: string;
}
