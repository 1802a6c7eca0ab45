/** What components may ask for. Each action reaches the server; replies come back via the store. */

import {
  ApiError,
  deleteSession,
  exportUrl,
  forkSession,
  getCriteria,
  importModel,
  postReach,
  setCorpus,
  setText,
  startLesson,
} from "./api";
import type { GapMeter } from "./gapMeter";
import { getLang, setLang, type Lang } from "./i18n";
import type { PredictOptions, Predictor } from "./predictor";
import { forgetOwnerToken, rememberOwnerToken, sessionPath } from "./route";
import type { Connection } from "./socket";
import type { SentimentClient } from "./sentimentClient";
import type { TaskClient } from "./taskClient";
import { viewPatch, type Store, type UiState } from "./store";
import type {
  Ablation,
  Clamp,
  ClassSettings,
  CreatedSession,
  CriteriaResult,
  ReachResult,
  SettingValue,
} from "./types";

export interface Actions {
  start(): void;
  pause(): void;
  step(): void;
  reset(): void;
  /** Change one setting (`train:config` with a one-key partial config). */
  configure(name: string, value: SettingValue): void;
  /** Switch to a built-in corpus; resolves false (after reporting) when the server refuses. */
  useCorpus(corpus: string): Promise<boolean>;
  /** Train on pasted or uploaded text; resolves false (after reporting) when refused. */
  useText(text: string | Blob): Promise<boolean>;
  /** The predict box changed: predictions, the inspection and follow-me use this text. */
  predictText(text: string): void;
  predictOptions(options: Partial<PredictOptions>): void;
  /** One of the task's own queries (a ball's `throw`); the answer lands in `state.answers`. */
  askTask(op: string, fields: Record<string, unknown>): void;
  /** Change what this page looks at (tab, inspect view, layer, unit, position, projector). */
  look(patch: Partial<UiState>): void;
  addClamp(clamp: Clamp): void;
  addAblation(ablation: Ablation): void;
  removeClamp(index: number): void;
  removeAblation(index: number): void;
  /** A viewer stops (false) or resumes (true) following the teacher. */
  follow(on: boolean): void;
  renewLink(): void;
  classSettings(settings: ClassSettings): void;
  /** Fork this session and open the copy; resolves to the server's refusal, or null. */
  fork(weights: boolean): Promise<string | null>;
  /** Import an exported zip and open it; resolves to the server's refusal, or null. */
  importZip(file: File): Promise<string | null>;
  exportHref(): string;
  /** Delete the session for good (owner only) and go to a new one; resolves to a refusal. */
  deleteSession(): Promise<string | null>;
  dismissToast(id: number): void;
  setLang(lang: Lang): void;
  /** Open (true) or close the lessons drawer. */
  showLessons(open: boolean): void;
  /** Start a lesson in the UI language and go to its owner link; resolves to a refusal, or null. */
  startLesson(id: string): Promise<string | null>;
  /** Go to where one of a lesson's views lives (a tab, a Look inside view). */
  openView(view: string): void;
  measureGaps(): void;
  /** The sentiment box changed (`now`: an example was picked, no need to wait for typing). */
  sentimentText(text: string, now?: boolean): void;
  /** Measure the four criteria on every lesson run (the criteria tab). */
  askCriteria(): Promise<CriteriaResult>;
  /** What every lesson run's prediction after `text` depends on (the reach tab). */
  askReach(text: string): Promise<ReachResult>;
  /** The owner link of one of this session's runs (one owner token opens them all); null for viewers. */
  runHref(id: string): string | null;
}

export interface ActionDeps {
  store: Store;
  connection: Connection;
  predictor: Predictor;
  gapMeter: GapMeter;
  sentiment: SentimentClient;
  tasks: TaskClient;
  session: { id: string; token: string };
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export function createActions({
  store,
  connection,
  predictor,
  gapMeter,
  sentiment,
  tasks,
  session,
}: ActionDeps): Actions {
  const report = (err: unknown): false => {
    const error =
      err instanceof ApiError ? err.toServerError() : { code: "other", message: String(err) };
    store.onError(error);
    return false;
  };
  const surgery = (): UiState["surgery"] => store.state.ui.surgery;

  /**
   * Open a session this browser now owns (a fork, an import), remembering its owner token as
   * boot does. The owner keeps their class in this tab and gets the copy in a new one.
   */
  const openOwned = async (create: () => Promise<CreatedSession>): Promise<string | null> => {
    const owner = store.state.session?.role === "owner";
    // Opened before the request, while the click still counts as a user gesture.
    const tab = owner ? window.open("", "_blank") : null;
    try {
      const created = await create();
      rememberOwnerToken(created.id, created.owner_token);
      const url = created.owner_url || sessionPath(created.id, created.owner_token);
      if (tab) tab.location.href = url;
      else location.assign(url);
      return null;
    } catch (err) {
      tab?.close();
      return message(err);
    }
  };

  return {
    start: () => connection.start(),
    pause: () => connection.pause(),
    step: () => connection.step(),
    reset: () => connection.reset(),
    configure(name, value) {
      store.clearFieldError(name);
      connection.config({ [name]: value });
    },
    useCorpus: (corpus) => setCorpus(session.id, session.token, corpus).then(() => true, report),
    useText: (text) => setText(session.id, session.token, text).then(() => true, report),
    predictText(text) {
      const state = store.state;
      // Typing your own text is breaking away from the teacher's.
      if (state.session?.role === "viewer" && state.session.classroom?.follow) {
        if (state.follow.following) store.setFollowing(false);
      }
      store.setTyped(text);
    },
    predictOptions: (options) => predictor.setOptions(options),
    askTask: (op, fields) => tasks.ask(op, fields),
    look: (patch) => store.setUi(patch),
    addClamp(clamp) {
      // One clamp per (layer, gate, unit): a new value replaces the old one.
      const same = (c: Clamp): boolean =>
        c.layer === clamp.layer && c.gate === clamp.gate && c.unit === clamp.unit;
      const clamps = [...surgery().clamps.filter((c) => !same(c)), clamp];
      store.setUi({ surgery: { ...surgery(), clamps } });
    },
    addAblation(ablation) {
      const others = surgery().ablations.filter(
        (a) => a.layer !== ablation.layer || a.unit !== ablation.unit,
      );
      store.setUi({ surgery: { ...surgery(), ablations: [...others, ablation] } });
    },
    removeClamp(index) {
      const clamps = surgery().clamps.filter((_, i) => i !== index);
      store.setUi({ surgery: { ...surgery(), clamps } });
    },
    removeAblation(index) {
      const ablations = surgery().ablations.filter((_, i) => i !== index);
      store.setUi({ surgery: { ...surgery(), ablations } });
    },
    follow: (on) => store.setFollowing(on),
    renewLink: () => connection.renewLink(),
    classSettings: (settings) => connection.classSettings(settings),
    fork: (weights) => openOwned(() => forkSession(session.id, session.token, weights)),
    importZip: (file) => openOwned(() => importModel(file, file.name)),
    exportHref: () => exportUrl(session.id, session.token),
    async deleteSession() {
      try {
        await deleteSession(session.id, session.token);
        forgetOwnerToken(session.id);
        location.assign("/");
        return null;
      } catch (err) {
        return message(err);
      }
    },
    dismissToast: (id) => store.dismissToast(id),
    setLang,
    showLessons: (open) => store.setUi({ lessonsOpen: open }),
    async startLesson(id) {
      try {
        const started = await startLesson(id, getLang());
        rememberOwnerToken(started.id, started.owner_token);
        location.assign(started.owner_url || sessionPath(started.id, started.owner_token));
        return null;
      } catch (err) {
        return message(err);
      }
    },
    openView: (view) => store.setUi({ ...viewPatch(view), lessonsOpen: false }),
    measureGaps: () => void gapMeter.measure(),
    sentimentText: (text, now) => sentiment.type(text, now),
    askCriteria: () => getCriteria(session.id, session.token),
    askReach: (text) => postReach(session.id, session.token, text),
    // A lesson's runs share one owner link and one view link; a plain fork has its own.
    runHref: (id) =>
      store.state.session?.role === "owner" || store.state.session?.lesson
        ? sessionPath(id, session.token)
        : null,
  };
}
