/** The music task's payloads, typed as the server sends them (`backend/tasks/music`). */

/** What the checker found in one tune (`checker.Check`). */
export interface TuneCheck {
  valid: boolean;
  /** "" when valid; otherwise the first check that failed, in English. */
  reason: string;
  parses: boolean;
  meter: string;
  key: string;
  bars: number;
  /** Share of inner bars that last what the meter says. */
  full_bars: number;
  /** Share of notes in the key signature's scale. */
  in_key: number;
  notes: number;
  /** The reason as a message key (`music.reason.<key>`), "" when valid, and its values. */
  reason_key: string;
  reason_values: Record<string, string | number>;
}

/** A generated tune: the live sample (`train:sample`). */
export interface GeneratedTune extends TuneCheck {
  step: number;
  temperature: number;
  abc: string;
  text: string;
}

/** A real tune of the collection (`tune:result`). */
export interface RealTune extends TuneCheck {
  index: number;
  count: number;
  title: string;
  abc: string;
}

export interface MusicViewData {
  sample: GeneratedTune | null;
  real: RealTune | null;
}
