/**
 * The one place where server messages (and HTTP results) become application state.
 *
 * Components never write here; they read `store.state` in their `update(state)` and call
 * actions, which reach the server, whose replies come back through the handlers below.
 * Slices are replaced on change (so components can compare by reference), except the loss
 * history whose arrays grow in place; its `version` changes when it is replaced wholesale and
 * its `revision` on every append.
 */

import { wrangleInspect, type InspectData } from "./inspectData";
import type { ConnectionStatus } from "./socket";
import type {
  ClassFocus,
  Classroom,
  Corpus,
  ForkRow,
  GapsResult,
  GradientsMessage,
  InspectResultWire,
  Lesson,
  PredictResult,
  LessonVerdict,
  RunRow,
  Sample,
  Schema,
  SentimentResult,
  ServerError,
  SessionNotice,
  SessionState,
  Surgery,
  TaskResult,
  TrainProgress,
} from "./types";

/** Most training points kept client-side before thinning (the server keeps 2,000). */
const MAX_TRAIN_POINTS = 4000;
/** The server keeps the latest 10 samples; so do we. */
const MAX_SAMPLES = 10;
const MAX_TOASTS = 4;

export type SessionInfo = Omit<SessionState, "history" | "samples" | "gradients">;

export const NO_CLASSROOM: Classroom = { locks: [], hidden: [], follow: false, focus: {} };

export interface HistoryBuffer {
  step: number[];
  train: number[];
  val_step: number[];
  val: number[];
  /** The task's own score (`task.score`: valid tunes, exact matches), a share in [0, 1]. */
  score_step: number[];
  score: (number | null)[];
  /** Steps with a gradient norm (the same steps as `step` when the server sends them). */
  grad_step: number[];
  /** Gradient norm before clipping; null where it overflowed. */
  grad: (number | null)[];
  /** 1 where clipping rescaled the step's gradient. */
  clipped: number[];
  /** Bumped when `session:state` replaces the history (reset, text change, join). */
  version: number;
  /** Bumped on every change, appends included. */
  revision: number;
}

export interface Toast {
  id: number;
  code: string;
  message: string;
  /** Times this exact message arrived; repeated errors update one toast instead of stacking. */
  count: number;
  at: number;
}

export interface PredictState {
  /** Highest `seq` sent; results below it are stale and ignored. */
  latestSent: number;
  /** Highest `seq` answered. */
  answered: number;
  /** Bumped when the server answers a `predict:query` with an `error` instead of a result. */
  failures: number;
  result: PredictResult | null;
}

export interface InspectState {
  latestSent: number;
  answered: number;
  failures: number;
  result: InspectData | null;
  /** The server's refusal of the latest query (a baseline model, a lock), until a result. */
  error: ServerError | null;
}

/** One of a task's own queries (a ball's throw): the newest asked, and its latest answer. */
export interface TaskAnswer {
  latestSent: number;
  result: TaskResult | null;
}

/** The views a session from before tasks opens: characters. */
const TEXT_VIEWS: readonly string[] = ["predict", "inspect"];

export type TabName =
  "training" | "inspect" | "compare" | "gap" | "sentiment" | "criteria" | "reach" | "board";
/** Views a lesson may open that are main tabs of their own. */
export const LESSON_TABS = ["compare", "gap", "sentiment", "criteria", "reach"] as const;
export const INSPECT_VIEWS = [
  "gates",
  "units",
  "unrolled",
  "saliency",
  "gradients",
  "surgery",
] as const;
export type InspectView = (typeof INSPECT_VIEWS)[number];

/** What this page is looking at: local choices, shared with viewers by follow-me. */
export interface UiState {
  tab: TabName;
  view: InspectView;
  layer: number;
  /** Heatmap quantity; null picks the kind's first. */
  quantity: string | null;
  /** The unit picked for colouring, surgery and follow-me. */
  unit: number | null;
  /** What the unit colouring shows: the hidden state or (LSTM) the cell. */
  unitQuantity: "h" | "c";
  /** Saliency target: the prediction after this many characters (null: the whole text). */
  position: number | null;
  surgery: Surgery;
  projector: boolean;
  /** The lessons drawer is open. */
  lessonsOpen: boolean;
}

/** A viewer's follow-me: whether it follows, and the owner's latest focus. */
export interface FollowState {
  following: boolean;
  focus: ClassFocus | null;
}

export type FatalKind =
  "not_found" | "forbidden" | "missing_token" | "boot" | "revoked" | "deleted" | "lesson";

/** The lessons, their text in `lang` (the UI language when they were fetched). */
export interface LessonsState {
  lang: string;
  list: Lesson[];
}

/** The latest comparison table of the session and its children (null until first fetched). */
export interface RunsState {
  rows: RunRow[] | null;
  /** Why the latest fetch failed, until one succeeds. */
  error: string | null;
  /** The server's verdict on the lesson's claim, once every run reached its budget. */
  verdict: LessonVerdict | null;
}

/** Accuracy against the gap: the latest measurement, and whether one is under way. */
export interface GapsState {
  result: GapsResult | null;
  busy: boolean;
  error: string | null;
}

/** The sentiment box: what is typed, and the classifiers' answer for `text`. */
export interface SentimentState {
  typed: string;
  /** The text `result` is about. */
  text: string;
  result: SentimentResult | null;
  /** A request is out (the first one trains the classifiers, 10–30 s). */
  busy: boolean;
  error: string | null;
}

export interface AppState {
  connection: ConnectionStatus;
  /** True once `session:join` was answered on the current connection. */
  joined: boolean;
  schema: Schema | null;
  corpora: Corpus[];
  session: SessionInfo | null;
  /** Training throughput from the latest `train:progress`; null unless running. */
  charsPerSec: number | null;
  /** Sessions the last step trained together (1: alone). */
  batched: number;
  history: HistoryBuffer;
  samples: Sample[];
  predict: PredictState;
  /** The text of the predict box: what predictions, inspection and follow-me are about. */
  typed: string;
  inspect: InspectState;
  /** Answers to the task's own queries, by op (`throw`, `rollout`). */
  answers: Readonly<Record<string, TaskAnswer>>;
  /** The latest `train:gradients` diagnostic (null until one arrives, or after a reset). */
  gradients: GradientsMessage | null;
  ui: UiState;
  follow: FollowState;
  /** The class board (owner only); null until first fetched. */
  forks: ForkRow[] | null;
  lessons: LessonsState | null;
  runs: RunsState;
  gaps: GapsState;
  sentiment: SentimentState;
  toasts: Toast[];
  /** Server-side rejections of a setting, by setting name, until the user edits it again. */
  fieldErrors: Readonly<Record<string, string>>;
  /** Bumped on every `session:state` (config, text, reset, start, pause, viewers). */
  stateRevision: number;
  fatal: { kind: FatalKind; message: string } | null;
}

type Listener = (state: Readonly<AppState>) => void;

function emptyHistory(): HistoryBuffer {
  return {
    step: [],
    train: [],
    val_step: [],
    val: [],
    score_step: [],
    score: [],
    grad_step: [],
    grad: [],
    clipped: [],
    version: 0,
    revision: 0,
  };
}

/** Keep every other point of parallel lists (and always the last) once they are too long. */
function thin(...lists: unknown[][]): void {
  const last = (lists[0]?.length ?? 0) - 1;
  let w = 0;
  for (let r = 0; r <= last; r++) {
    if (r % 2 === 0 || r === last) {
      for (const list of lists) list[w] = list[r];
      w++;
    }
  }
  for (const list of lists) list.length = w;
}

function defaultUi(): UiState {
  return {
    tab: "training",
    view: "gates",
    layer: 0,
    quantity: null,
    unit: null,
    unitQuantity: "h",
    position: null,
    surgery: { clamps: [], ablations: [] },
    projector: false,
    lessonsOpen: false,
  };
}

function isInspectView(view: unknown): view is InspectView {
  return (INSPECT_VIEWS as readonly unknown[]).includes(view);
}

function isLessonTab(view: unknown): view is (typeof LESSON_TABS)[number] {
  return (LESSON_TABS as readonly unknown[]).includes(view);
}

/**
 * Where a lesson's view lives: compare, gap and sentiment are tabs; loss, samples and predict
 * are on the training tab; gates, saliency, unrolled and gradients are Look inside views.
 */
export function viewPatch(view: string): Partial<UiState> {
  if (isLessonTab(view)) return { tab: view };
  if (view === "units" || isInspectView(view)) return { tab: "inspect", view };
  return { tab: "training" };
}

/** Which main tabs this page can show now (the class board is the owner's, with forks). */
export function availableTabs(state: Readonly<AppState>): Record<TabName, boolean> {
  const session = state.session;
  const hidden = session?.role === "viewer" ? (session.classroom?.hidden ?? []) : [];
  const lesson = currentLesson(state);
  const views = lesson?.views ?? [];
  // A lesson's own runs are children, so forks too: the board is for forks beyond them.
  const lessonForks = Math.max(0, (lesson?.runs.length ?? 1) - 1);
  return {
    training: !(hidden.includes("chart") && hidden.includes("samples")),
    inspect: !hidden.includes("inspect") && taskViews(state).includes("inspect"),
    compare: views.includes("compare") || (state.runs.rows?.length ?? 0) > 1,
    gap: views.includes("gap"),
    sentiment: views.includes("sentiment"),
    criteria: views.includes("criteria"),
    reach: views.includes("reach"),
    board: session?.role === "owner" && (state.forks?.length ?? 0) > lessonForks,
  };
}

/** The views the session's task opens ("predict", "inspect", "ball", "words", "prices"…). */
export function taskViews(state: Readonly<AppState>): readonly string[] {
  return state.session?.task?.views ?? TEXT_VIEWS;
}

/** The tab on screen: the one asked for, or training when that one is not available. */
export function shownTab(state: Readonly<AppState>): TabName {
  return availableTabs(state)[state.ui.tab] ? state.ui.tab : "training";
}

/** The lesson this session is a run of, in the UI language's text (null: none, or not loaded). */
export function currentLesson(state: Readonly<AppState>): Lesson | null {
  const id = state.session?.lesson?.id;
  if (!id) return null;
  return state.lessons?.list.find((lesson) => lesson.id === id) ?? null;
}

export class Store {
  private current: AppState = {
    connection: "connecting",
    joined: false,
    schema: null,
    corpora: [],
    session: null,
    charsPerSec: null,
    batched: 1,
    history: emptyHistory(),
    samples: [],
    predict: { latestSent: 0, answered: 0, failures: 0, result: null },
    typed: "",
    inspect: { latestSent: 0, answered: 0, failures: 0, result: null, error: null },
    answers: {},
    gradients: null,
    ui: defaultUi(),
    follow: { following: true, focus: null },
    forks: null,
    lessons: null,
    runs: { rows: null, error: null, verdict: null },
    gaps: { result: null, busy: false, error: null },
    sentiment: { typed: "", text: "", result: null, busy: false, error: null },
    toasts: [],
    fieldErrors: {},
    stateRevision: 0,
    fatal: null,
  };
  private readonly listeners = new Set<Listener>();
  private nextToastId = 1;
  /** The lesson whose first view this page has opened (once per page). */
  private openedLesson: string | null = null;

  get state(): Readonly<AppState> {
    return this.current;
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private set(patch: Partial<AppState>): void {
    this.current = { ...this.current, ...patch };
    for (const listener of this.listeners) listener(this.current);
  }

  // --- Server → state -------------------------------------------------------------------

  /** `session:state`: replaces everything it carries, the loss history included. */
  onSessionState(message: SessionState): void {
    const { history, samples, gradients: latest, ...session } = message;
    const previous = this.current.history;
    const hasGrad = Array.isArray(history.grad) && history.grad.length === history.step.length;
    // A model rebuilt from scratch (reset, new text or settings) has no gradient profile yet.
    const known = latest === undefined ? this.current.gradients : latest;
    const gradients = known !== null && session.step < known.step ? null : known;
    // Surgery names gates of one kind of cell; a different cell starts without any.
    const kindChanged = this.current.session?.config.model !== session.config.model;
    const ui = kindChanged
      ? { ...this.current.ui, surgery: { clamps: [], ablations: [] } }
      : this.current.ui;
    const patch: Partial<AppState> = {
      session,
      history: {
        step: [...history.step],
        train: [...history.train],
        val_step: [...history.val_step],
        val: [...history.val],
        score_step: [...(history.score_step ?? [])],
        score: [...(history.score ?? [])],
        grad_step: hasGrad ? [...history.step] : [],
        grad: hasGrad ? [...history.grad!] : [],
        clipped: hasGrad ? [...(history.clipped ?? history.step.map(() => 0))] : [],
        version: previous.version + 1,
        revision: previous.revision + 1,
      },
      samples: samples.slice(-MAX_SAMPLES),
      charsPerSec: session.status === "running" ? this.current.charsPerSec : null,
      gradients,
      ui,
      stateRevision: this.current.stateRevision + 1,
      joined: true,
      fatal: null,
    };
    const opening = this.lessonOpening(session, this.current.lessons);
    if (opening) patch.ui = { ...ui, ...opening };
    // A viewer joining a class that follows its teacher starts where the teacher is.
    const focus = session.classroom?.focus;
    const follow = this.current.follow;
    if (session.role === "viewer" && focus && Object.keys(focus).length > 0 && !follow.focus) {
      Object.assign(patch, { follow: { ...follow, focus } });
      if (session.classroom?.follow && follow.following) Object.assign(patch, this.focused(focus));
    }
    this.set(patch);
  }

  /** `train:progress`: advances the counters and appends the new loss points. */
  onProgress(message: TrainProgress): void {
    const session = this.current.session;
    if (!session) return;
    const history = this.current.history;
    for (const [step, bits] of message.train) {
      history.step.push(step);
      history.train.push(bits);
    }
    for (const [step, bits] of message.val) {
      history.val_step.push(step);
      history.val.push(bits);
    }
    for (const [step, share] of message.score ?? []) {
      history.score_step.push(step);
      history.score.push(share);
    }
    for (const [step, norm, clipped] of message.grad ?? []) {
      history.grad_step.push(step);
      history.grad.push(norm);
      history.clipped.push(clipped);
    }
    if (history.step.length > MAX_TRAIN_POINTS) thin(history.step, history.train);
    if (history.grad_step.length > MAX_TRAIN_POINTS) {
      thin(history.grad_step, history.grad, history.clipped);
    }
    this.set({
      session: {
        ...session,
        step: message.step,
        chars_seen: message.chars_seen,
        status: message.status,
      },
      charsPerSec: message.status === "running" ? message.chars_per_sec : null,
      batched: message.batched,
      history: { ...history, revision: history.revision + 1 },
    });
  }

  /** `train:sample`: newest sample last, latest ten kept. */
  onSample(sample: Sample): void {
    this.set({ samples: [...this.current.samples, sample].slice(-MAX_SAMPLES) });
  }

  /** `predict:result`: kept unless a newer query has been sent since. */
  onPredictResult(result: PredictResult): void {
    const predict = this.current.predict;
    if (result.seq < predict.latestSent) return;
    this.set({ predict: { ...predict, answered: result.seq, result } });
  }

  /** `inspect:result`: decoded once here, kept unless a newer query has been sent since. */
  onInspectResult(wire: InspectResultWire): void {
    const inspect = this.current.inspect;
    if (wire.seq < inspect.latestSent) return;
    let result: InspectData;
    try {
      result = wrangleInspect(wire);
    } catch (err) {
      this.onError({ code: "invalid", message: String(err), event: "inspect:query" });
      return;
    }
    this.set({ inspect: { ...inspect, answered: wire.seq, result, error: null } });
  }

  /** `<op>:result` of a task's own query: kept unless a newer one of that op was sent. */
  onTaskResult(op: string, result: TaskResult): void {
    const answer = this.current.answers[op] ?? { latestSent: 0, result: null };
    if (result.seq < answer.latestSent) return;
    this.set({ answers: { ...this.current.answers, [op]: { ...answer, result } } });
  }

  /** `train:gradients`: the latest ‖∂L/∂h_t‖ profile. */
  onGradients(gradients: GradientsMessage): void {
    this.set({ gradients });
  }

  /** `session:viewers`: someone joined or left. */
  onViewers(viewers: number): void {
    const session = this.current.session;
    if (session && session.viewers !== viewers) this.set({ session: { ...session, viewers } });
  }

  /** `session:deleted`: the owner deleted the session; the page can only say so. */
  onDeleted(): void {
    this.set({ fatal: { kind: "deleted", message: "" } });
  }

  /** `session:revoked`: this view link was replaced; the page can only say so. */
  onRevoked(message: string): void {
    this.set({ fatal: { kind: "revoked", message } });
  }

  /** `class:focus`: a following viewer goes where the owner is. */
  onClassFocus(focus: ClassFocus): void {
    const session = this.current.session;
    if (session?.role !== "viewer") return;
    const follow = this.current.follow;
    const merged = { ...follow.focus, ...focus };
    const patch: Partial<AppState> = { follow: { ...follow, focus: merged } };
    if (session.classroom?.follow && follow.following) Object.assign(patch, this.focused(focus));
    this.set(patch);
  }

  /** The state changes that put this page where a focus points. */
  private focused(focus: ClassFocus): Partial<AppState> {
    const patch: Partial<AppState> = {};
    const ui: UiState = { ...this.current.ui };
    if (typeof focus.text === "string" && focus.text !== this.current.typed) {
      patch.typed = focus.text;
      ui.position = null;
    }
    if (typeof focus.layer === "number") ui.layer = focus.layer;
    if (focus.unit !== undefined) ui.unit = focus.unit;
    if (isInspectView(focus.view)) {
      ui.tab = "inspect";
      ui.view = focus.view;
    } else if (focus.view === "training" || isLessonTab(focus.view)) {
      ui.tab = focus.view;
    }
    patch.ui = ui;
    return patch;
  }

  /** `error` events and HTTP errors: a toast, plus bookkeeping for the event that failed. */
  onError(error: ServerError): void {
    if (error.event === "session:join") {
      const kind = error.code === "not_found" ? "not_found" : "forbidden";
      this.set({ fatal: { kind, message: error.message } });
      return;
    }
    if (error.event === "inspect:query") {
      // The inspect panel says why (a baseline model, a locked panel): no toast.
      const inspect = this.current.inspect;
      const ui = this.current.ui;
      this.set({
        inspect: { ...inspect, failures: inspect.failures + 1, error },
        // A saliency position past the end of a shorter text: fall back to the whole text.
        ui: error.field === "position" ? { ...ui, position: null } : ui,
      });
      return;
    }
    const patch: Partial<AppState> = { toasts: this.withToast(error) };
    if (error.event === "predict:query") {
      const predict = this.current.predict;
      patch.predict = { ...predict, failures: predict.failures + 1 };
    }
    if (error.field) {
      patch.fieldErrors = { ...this.current.fieldErrors, [error.field]: error.message };
    }
    this.set(patch);
  }

  /** `session:notice` (a worker restarted, a damaged checkpoint, a failed save): a toast. */
  onNotice(notice: SessionNotice): void {
    this.set({ toasts: this.withToast(notice) });
  }

  private withToast(error: ServerError | SessionNotice): Toast[] {
    const now = Date.now();
    const toasts = this.current.toasts;
    const same = toasts.find((t) => t.message === error.message && t.code === error.code);
    if (same) {
      return toasts.map((t) => (t === same ? { ...t, count: t.count + 1, at: now } : t));
    }
    const toast = {
      id: this.nextToastId++,
      code: error.code,
      message: error.message,
      count: 1,
      at: now,
    };
    return [...toasts, toast].slice(-MAX_TOASTS);
  }

  // --- Local facts (boot, connection, user bookkeeping) --------------------------------

  setConnection(connection: ConnectionStatus): void {
    if (connection === this.current.connection) return;
    // A query in flight when the link dropped will never be answered: count it as failed.
    const down = connection !== "connected";
    const { predict, inspect } = this.current;
    const lost = down && predict.answered < predict.latestSent;
    const lostInspect = down && inspect.answered < inspect.latestSent;
    this.set({
      connection,
      joined: connection === "connected" && this.current.joined,
      predict: lost ? { ...predict, failures: predict.failures + 1 } : predict,
      inspect: lostInspect ? { ...inspect, failures: inspect.failures + 1 } : inspect,
    });
  }

  setSchema(schema: Schema): void {
    this.set({ schema });
  }

  setCorpora(corpora: Corpus[]): void {
    this.set({ corpora });
  }

  setFatal(kind: FatalKind, message: string): void {
    this.set({ fatal: { kind, message } });
  }

  predictSent(seq: number): void {
    this.set({ predict: { ...this.current.predict, latestSent: seq } });
  }

  clearPrediction(): void {
    this.set({ predict: { ...this.current.predict, result: null } });
  }

  /** The predict box changed; a new text makes a chosen saliency position meaningless. */
  setTyped(typed: string): void {
    if (typed === this.current.typed) return;
    this.set({ typed, ui: { ...this.current.ui, position: null } });
  }

  taskSent(op: string, seq: number): void {
    const answer = this.current.answers[op] ?? { latestSent: 0, result: null };
    this.set({ answers: { ...this.current.answers, [op]: { ...answer, latestSent: seq } } });
  }

  inspectSent(seq: number): void {
    this.set({ inspect: { ...this.current.inspect, latestSent: seq } });
  }

  clearInspection(): void {
    this.set({ inspect: { ...this.current.inspect, result: null, error: null } });
  }

  setUi(patch: Partial<UiState>): void {
    this.set({ ui: { ...this.current.ui, ...patch } });
  }

  /** A viewer breaks away from (false) or goes back to (true) following the teacher. */
  setFollowing(following: boolean): void {
    const follow = { ...this.current.follow, following };
    const patch: Partial<AppState> = { follow };
    if (following && follow.focus) Object.assign(patch, this.focused(follow.focus));
    this.set(patch);
  }

  setForks(forks: ForkRow[]): void {
    this.set({ forks });
  }

  /**
   * The first time a page sees its session's lesson (and the lesson's views are known), it
   * opens the lesson's first view; a viewer following the teacher goes where the teacher is.
   */
  private lessonOpening(
    session: SessionInfo | null,
    lessons: LessonsState | null,
  ): Partial<UiState> | null {
    const id = session?.lesson?.id;
    if (!session || !id || id === this.openedLesson) return null;
    const lesson = lessons?.list.find((l) => l.id === id);
    if (!lesson) return null;
    this.openedLesson = id;
    if (session.role === "viewer" && session.classroom?.follow) return null;
    const first = lesson.views[0];
    return first ? viewPatch(first) : null;
  }

  /** `GET /api/lessons` in `lang`. */
  setLessons(lang: string, list: Lesson[]): void {
    const lessons = { lang, list };
    const opening = this.lessonOpening(this.current.session, lessons);
    this.set({ lessons, ...(opening && { ui: { ...this.current.ui, ...opening } }) });
  }

  /** `GET /api/sessions/<id>/runs`, or why it failed. */
  setRuns(
    rows: RunRow[] | null,
    error: string | null = null,
    verdict: LessonVerdict | null = null,
  ): void {
    const runs = this.current.runs;
    this.set({ runs: { rows: rows ?? runs.rows, error, verdict: rows ? verdict : runs.verdict } });
  }

  setGaps(patch: Partial<GapsState>): void {
    this.set({ gaps: { ...this.current.gaps, ...patch } });
  }

  setSentiment(patch: Partial<SentimentState>): void {
    this.set({ sentiment: { ...this.current.sentiment, ...patch } });
  }

  dismissToast(id: number): void {
    this.set({ toasts: this.current.toasts.filter((t) => t.id !== id) });
  }

  clearFieldError(name: string): void {
    if (!(name in this.current.fieldErrors)) return;
    const fieldErrors = { ...this.current.fieldErrors };
    delete fieldErrors[name];
    this.set({ fieldErrors });
  }
}
