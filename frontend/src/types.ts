/** Wire types of the RNN Playground protocol (docs/protocol.md), shared by api, socket and store. */

export type SettingType = "int" | "float" | "bool" | "choice";
export type SettingValue = number | boolean | string;
export type Config = Record<string, SettingValue>;

/** One entry of `GET /api/schema` `settings`: everything a generated control needs. */
export interface Setting {
  name: string;
  type: SettingType;
  default: SettingValue;
  min: number | null;
  max: number | null;
  choices: string[] | null;
  scale: "linear" | "log";
  live: boolean;
  group: string;
  help: string;
}

export interface Limits {
  max_text_bytes: number;
  min_text_chars: number;
  max_vocab: number;
  max_query_chars: number;
  max_top_k: number;
  max_continuation: number;
  idle_pause_s: number;
  progress_hz: number;
}

export interface Schema {
  settings: Setting[];
  limits: Limits;
  device: string;
}

export interface Corpus {
  id: string;
  name: string;
  description: string;
  chars: number;
}

export interface CreatedSession {
  id: string;
  owner_token: string;
  view_token: string;
  owner_url: string;
  view_url: string;
}

export interface TextUpdated {
  source: string;
  chars: number;
  vocab_size: number;
}

export type Role = "owner" | "viewer";
export type Status = "idle" | "running" | "paused";
export type PauseReason = "user" | "idle" | "text" | "reset" | "config" | "error";

export interface TextInfo {
  source: string;
  name: string;
  chars: number;
  vocab_size: number;
  preview: string;
}

export interface History {
  step: number[];
  train: number[];
  val_step: number[];
  val: number[];
}

export interface Sample {
  step: number;
  temperature: number;
  text: string;
}

/** `session:state`: the full picture of a session, as seen by one recipient. */
export interface SessionState {
  id: string;
  role: Role;
  view_url?: string;
  config: Config;
  text: TextInfo;
  status: Status;
  pause_reason: PauseReason | null;
  step: number;
  chars_seen: number;
  params: number;
  device: string;
  history: History;
  samples: Sample[];
  viewers: number;
}

/** A `[step, bits_per_char]` pair. */
export type Point = [number, number];

export interface TrainProgress {
  step: number;
  chars_seen: number;
  chars_per_sec: number;
  status: Status;
  train: Point[];
  val: Point[];
}

export interface PredictQuery {
  text: string;
  seq: number;
  k?: number;
  temperature?: number;
  length?: number;
}

export interface TopChar {
  char: string;
  p: number;
}

export interface PredictResult {
  seq: number;
  text_len: number;
  top: TopChar[];
  greedy: string;
  sample: string;
  step: number;
  /** Characters of the query that are not in the model's vocabulary (optional; list or string). */
  unknown?: string[] | string;
}

export type ErrorCode =
  | "invalid"
  | "forbidden"
  | "not_found"
  | "too_large"
  | "not_joined"
  | "unknown_event"
  | (string & {});

/** The `error` socket event and the `error` object of an HTTP error body. */
export interface ServerError {
  code: ErrorCode;
  message: string;
  event?: string;
  field?: string;
}

export interface ServerToClientEvents {
  "session:state": (state: SessionState) => void;
  "train:progress": (progress: TrainProgress) => void;
  "train:sample": (sample: Sample) => void;
  "predict:result": (result: PredictResult) => void;
  "ping:echo": (payload: unknown) => void;
  error: (error: ServerError) => void;
}

export type Empty = Record<string, never>;

export interface ClientToServerEvents {
  "session:join": (payload: { session: string; token: string }) => void;
  "train:config": (payload: { config: Config }) => void;
  "train:start": (payload: Empty) => void;
  "train:pause": (payload: Empty) => void;
  "train:step": (payload: Empty) => void;
  "train:reset": (payload: Empty) => void;
  "predict:query": (payload: PredictQuery) => void;
  "ping:echo": (payload: unknown) => void;
}
