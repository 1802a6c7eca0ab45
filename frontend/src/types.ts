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
  /** Every kind of sequence a session can learn (`GET /api/tasks` lists the same). */
  tasks?: TaskInfo[];
  limits: Limits;
  device: string;
}

/** A task: a kind of sequence, what one step of it is and the unit its loss is shown in. */
export interface TaskInfo {
  name: string;
  title: string;
  summary: string;
  /** The loss chart's unit: "bits/char", "bits/word", "px", … */
  unit: string;
  /** What one time step is, for rates: "char", "word", "frame", "day". */
  item: string;
  views: string[];
  queries: string[];
  default_source: Record<string, unknown>;
  /**
   * Source fields a new session may choose in the task picker: a list of choices (with
   * English labels; the page shows `source.<field>.<choice>` when it has one) or a range.
   */
  source_fields?: Record<string, SourceField>;
  /** The task's own held-out score drawn beside the loss (i18n `score.<name>`), or none. */
  score?: string | null;
  /**
   * What Look inside traces: "typed", the predict box's text; "steps", steps the task picks
   * and labels itself (a ball's frames, a series' months), asked for without a text.
   */
  inspects?: "typed" | "steps";
}

export interface SourceField {
  choices?: string[];
  labels?: Record<string, string>;
  min?: number;
  max?: number;
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
export type Status = "idle" | "running" | "queued" | "paused";
export type PauseReason = "user" | "idle" | "text" | "reset" | "config" | "error" | "budget";

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
  /** The task's own score (`TaskInfo.score`), a share in [0, 1], at `score_step`. */
  score_step?: number[];
  score?: (number | null)[];
  /** Gradient norm before clipping at each `step` (null: overflowed, update skipped). */
  grad?: (number | null)[];
  /** 1 where clipping rescaled that step's gradient. */
  clipped?: number[];
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
  /** The session's task (absent from servers before tasks: characters). */
  task?: TaskInfo;
  text: TextInfo;
  status: Status;
  pause_reason: PauseReason | null;
  step: number;
  chars_seen: number;
  params: number;
  /** The worker's description of the task's data (the ball's camera, a series' dates…). */
  described?: Record<string, unknown>;
  device: string;
  history: History;
  samples: Sample[];
  viewers: number;
  /** 1-based place in the queue while `status` is `queued`. */
  queue_position?: number | null;
  classroom?: Classroom;
  /** The session this one was forked from. */
  parent?: string | null;
  /** The latest `train:gradients` profile, so a page that joins late can draw it at once. */
  gradients?: GradientsMessage | null;
  /** Set when the session is a run of a lesson: which lesson, its language, this run's label. */
  lesson?: SessionLesson | null;
}

export interface SessionLesson {
  id: string;
  lang: string;
  run: string;
  /** The lesson's budget: every run stops by itself at this step (`pause_reason` "budget"). */
  steps?: number;
  /** The owner chose to run on past the budget. */
  run_on?: boolean;
  /** Steps per second each run keeps to, slow enough for a class to watch (absent: flat out). */
  pace?: number;
}

export type Lock = "predict" | "fork" | "export" | "inspect";
export type Panel = "settings" | "samples" | "chart" | "predict" | "inspect" | "lessons";

/** The owner's focus, relayed to viewers while follow-me is on. */
export interface ClassFocus {
  text?: string;
  unit?: number | null;
  layer?: number | null;
  lesson?: string | null;
  view?: string | null;
}

export interface Classroom {
  locks: Lock[];
  hidden: Panel[];
  follow: boolean;
  focus?: ClassFocus;
}

export interface ClassSettings {
  locks?: Lock[];
  hidden?: Panel[];
  follow?: boolean;
}

/** A `[step, bits_per_char]` pair. */
export type Point = [number, number];

export interface TrainProgress {
  step: number;
  /** Time steps trained on so far, in the task's `item` (chars_seen is the older name). */
  items_seen?: number;
  items_per_sec?: number;
  unit?: string;
  chars_seen: number;
  chars_per_sec: number;
  /** Sessions its last step trained together: 1 alone, more in a GPU worker's cohort. */
  batched: number;
  status: Status;
  train: Point[];
  val: Point[];
  /** `[step, the task's score in [0, 1] (null: not finite)]`, when the task has one. */
  score?: [number, number | null][];
  /** `[step, gradient norm before clipping (null: overflow), clipped 0 | 1]`. */
  grad?: [number, number | null, number][];
}

/** `train:gradients`: ‖∂L/∂h_t‖ through the BPTT window, per layer, bottom first. */
export interface GradientsMessage {
  step: number;
  seq_len: number;
  h_norms: (number | null)[][];
  c_norms: (number | null)[][] | null;
  /** LSTM: ‖∂L/∂C_T ⊙ f_T ⋯ f_{t+1}‖, what reaches C_t along the forget gates alone. */
  c_direct?: (number | null)[][] | null;
  ratio: number | null;
  clip_rate: number;
  grad_norm: number | null;
  clip_threshold: number;
  clip: boolean;
}

export interface Clamp {
  layer: number;
  gate: string;
  value: number;
  unit?: number;
}

export interface Ablation {
  layer: number;
  unit: number;
}

export interface Surgery {
  clamps: Clamp[];
  ablations: Ablation[];
}

export interface InspectQuery {
  seq: number;
  /** The typed text; absent for a task that traces steps of its own (`inspects: "steps"`). */
  text?: string;
  position?: number;
  surgery?: Surgery;
  /** Ask for saliency (a backward pass through time: the costly part) only when shown. */
  saliency: boolean;
}

/** One quantised tensor: `v = lo + byte × (hi − lo) / 255`, row-major, time first. */
export interface PackedTensor {
  /** Where this tensor's bytes lie in the result's one binary `data` buffer. */
  offset: number;
  size: number;
  lo: number;
  hi: number;
  shape: number[];
  /** 8 (one byte a value), or 16 (two, little-endian) for the LSTM cell state. */
  bits?: number;
}

export interface SaliencyResult {
  position: number;
  /** The predicted character or word; null when the whole output vector is differentiated. */
  target: string | null;
  raw: number[];
  normalised: number[];
}

/** `inspect:result` as it arrives on the wire. */
export interface InspectResultWire {
  seq: number;
  /** Every tensor's bytes, in one Socket.IO binary attachment. */
  data: ArrayBuffer | ArrayBufferView;
  step: number;
  kind: string;
  activation: string;
  chars: string[];
  vocab: string[];
  hidden_size: number;
  length: number;
  layers: Record<string, PackedTensor>[];
  /** Absent for a task that predicts numbers (`labelled`): it sends `outputs` instead. */
  probs?: PackedTensor;
  top?: number[];
  next: TopChar[];
  saliency: SaliencyResult | null;
  surgery: boolean;
  /** True when `chars` holds the task's step labels ("12", "2004-03"), not characters. */
  labelled?: boolean;
  /** The head's numbers after each step (T × O), for a task that predicts numbers. */
  outputs?: number[][];
  /** What one labelled step is ("frame", "month"), to name it on the page. */
  item?: string;
}

/** One row of `GET /api/sessions/<id>/forks`. */
export interface ForkRow {
  id: string;
  config: Config;
  status: Status;
  step: number;
  viewers: number;
  val_step: number[];
  val: number[];
  best_val: number | null;
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
  /**
   * False when the server answered the bars now and put the continuations off (they come in
   * a second answer with the same `seq`); absent from older servers.
   */
  continued?: boolean;
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
  | "storage_failed"
  | "worker_restarted"
  | (string & {});

/** The `error` socket event and the `error` object of an HTTP error body. */
export interface ServerError {
  code: ErrorCode;
  message: string;
  event?: string;
  field?: string;
}

/** `session:notice`: something the owner should know happened to the session (a fault). */
export interface SessionNotice {
  code: "worker_restarted" | "checkpoint_damaged" | "storage_failed" | (string & {});
  message: string;
}

export interface ServerToClientEvents {
  "session:state": (state: SessionState) => void;
  "train:progress": (progress: TrainProgress) => void;
  "train:sample": (sample: Sample) => void;
  "predict:result": (result: PredictResult) => void;
  "inspect:result": (result: InspectResultWire) => void;
  /** The answer to a task's own query (`task:query {"op": "throw"}` → `throw:result`). */
  "throw:result": (result: TaskResult) => void;
  "rollout:result": (result: TaskResult) => void;
  "translate:result": (result: TaskResult) => void;
  "accuracy:result": (result: TaskResult) => void;
  "tune:result": (result: TaskResult) => void;
  "train:gradients": (gradients: GradientsMessage) => void;
  "session:revoked": (payload: { message: string }) => void;
  "session:deleted": (payload: { id: string }) => void;
  "session:viewers": (payload: { viewers: number }) => void;
  "session:notice": (notice: SessionNotice) => void;
  "class:focus": (focus: ClassFocus) => void;
  "ping:echo": (payload: unknown) => void;
  error: (error: ServerError) => void;
}

export type Empty = Record<string, never>;

/** One of a task's own queries: `op` names it, the rest is the task's (see docs/protocol.md). */
export interface TaskQuery {
  op: string;
  seq: number;
  [field: string]: unknown;
}

/** A task query's answer: its `seq`, then the task's own fields. */
export interface TaskResult {
  seq: number;
  [field: string]: unknown;
}

export interface ClientToServerEvents {
  "session:join": (payload: { session: string; token: string }) => void;
  "train:config": (payload: { config: Config }) => void;
  "train:start": (payload: Empty) => void;
  "train:pause": (payload: Empty) => void;
  "train:step": (payload: Empty) => void;
  "train:reset": (payload: Empty) => void;
  "predict:query": (payload: PredictQuery) => void;
  "inspect:query": (payload: InspectQuery) => void;
  "task:query": (payload: TaskQuery) => void;
  "link:renew": (payload: Empty) => void;
  "class:settings": (payload: ClassSettings) => void;
  "class:focus": (payload: ClassFocus) => void;
  "ping:echo": (payload: unknown) => void;
}

/** One entry of `GET /api/lessons`, its text in the asked language. */
export interface Lesson {
  id: string;
  title: string;
  summary: string;
  look_for: string;
  claim: string;
  data: {
    corpus: string | null;
    task: string | null;
    params: Record<string, unknown>;
    train_gaps: number[];
    eval_gaps: number[];
  };
  settings: Config;
  /** `label` identifies the run; `name` is how it reads in the asked language. */
  runs: { label: string; name: string; settings: Config }[];
  views: string[];
  steps: number;
  /** The label of the run a started lesson opens on. */
  opens: string;
  /** `/?lesson=<id>&lang=<lang>`: opening it starts the lesson. */
  link: string;
}

/** `POST /api/lessons/<id>/start`: the main session (as `POST /api/sessions`) and every run. */
export interface StartedLesson extends CreatedSession {
  /** The lesson's first run, which the others hang from (the session fields are the opening run's). */
  main: string;
  runs: { label: string; id: string }[];
}

/** One row of `GET /api/sessions/<id>/runs`: the session itself or one of its children. */
export interface RunRow {
  id: string;
  label: string;
  config: Config;
  status: Status;
  pause_reason: PauseReason | null;
  step: number;
  /** The lesson's budget, for a lesson run. */
  budget: number | null;
  params: number;
  chars_per_sec: number | null;
  val_step: number[];
  /** null where the loss was not a number (the run diverged). */
  val: (number | null)[];
  best_val: number | null;
  /** The run's latest ‖∂L/∂h_t‖ of its top layer, t = 1..seq_len (null: none measured yet);
   * `c`: an LSTM's ‖∂L/∂C_t‖. */
  gradients?: {
    step: number;
    seq_len: number;
    h: (number | null)[];
    c?: (number | null)[] | null;
  } | null;
}

/** Whether a lesson's claim held at the end of its budget, judged by the server (`GET /runs`). */
export interface LessonVerdict {
  lesson: string;
  held: boolean;
  /** Each part of the claim, what it says and the figures it read, in each language. */
  checks: {
    held: boolean;
    says: Record<"en" | "fr", string>;
    measured: Record<"en" | "fr", string>;
  }[];
}

/** `GET /api/sessions/<id>/gaps`: accuracy on the dependent character against the gap. */
export interface GapsResult {
  gaps: number[];
  chance: number;
  runs: { id: string; label: string; step: number; accuracy: number[] }[];
}

/** A lesson run as the criteria measurements name it. */
export interface CriteriaRun {
  id: string;
  label: string;
  kind: string;
  step: number;
}

/** `GET /api/sessions/<id>/criteria`: the four criteria measured on each run, with verdicts. */
export interface CriteriaResult {
  lesson: string;
  thresholds: { width: number; moves: number; gap: number; remembers: number };
  widths: [number, number];
  chance: number;
  runs: (CriteriaRun & {
    figures: {
      beyond_width: number;
      long_gap_accuracy: number;
      order: number;
      params: [number, number];
    };
    verdicts: { variable_length: boolean; long_term: boolean; order: boolean; sharing: boolean };
  })[];
}

/** `POST /api/sessions/<id>/reach`: how much each run's prediction depends on each character. */
export interface ReachResult {
  lesson: string;
  text: string;
  runs: (CriteriaRun & { dependence: number[]; order: number | null })[];
}

/** `POST /api/sessions/<id>/sentiment`: each run's classifier on the text. */
export interface SentimentResult {
  runs: {
    label: string;
    kind: string;
    pair_accuracy: number;
    accuracy: number;
    /** P(positive) after each character of the text. */
    running: number[];
  }[];
}
