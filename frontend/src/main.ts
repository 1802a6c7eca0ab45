/** Boot: find or create the session, load the schema, connect, and mount the app. */

import "./styles.css";
import { createActions } from "./actions";
import { ApiError, createSession, getCorpora, getSchema, startLesson } from "./api";
import { mountApp, mountFatal } from "./app";
import { BoardPoller } from "./boardPoller";
import { FollowMe } from "./followMe";
import { GapMeter } from "./gapMeter";
import { getLang, isLang, setLang, t } from "./i18n";
import { Inspector } from "./inspector";
import { LessonsLoader } from "./lessonsLoader";
import { Predictor } from "./predictor";
import { hideToken, parseRoute, recallOwnerToken, rememberOwnerToken, type Route } from "./route";
import { RunsPoller } from "./runsPoller";
import { SentimentClient } from "./sentimentClient";
import { Connection } from "./socket";
import { Store } from "./store";
import { TaskClient } from "./taskClient";
import type { CreatedSession } from "./types";

interface SessionRef {
  id: string;
  token: string;
}

/**
 * A session this page just created: remember its owner token, and become its address. The
 * token stays in this browser's storage, out of the address bar a projector shows.
 */
function owned(created: CreatedSession): SessionRef {
  rememberOwnerToken(created.id, created.owner_token);
  history.replaceState(null, "", `/s/${encodeURIComponent(created.id)}${location.hash}`);
  return { id: created.id, token: created.owner_token };
}

/**
 * `/` creates a session and `/?lesson=<id>&lang=<lang>` starts a lesson (in that language),
 * either becoming its owner link; `/s/<id>?t=…` is used as given.
 */
async function resolveSession(route: Route): Promise<SessionRef | null> {
  if (route.kind === "new") {
    const source = Object.keys(route.source).length ? { source: route.source } : {};
    return owned(await createSession(route.task ? { task: route.task, ...source } : {}));
  }
  if (route.kind === "lesson") {
    if (isLang(route.lang)) setLang(route.lang);
    return owned(await startLesson(route.id, getLang()));
  }
  // A bare /s/<id> reopens a session this browser owns.
  const token = route.token ?? recallOwnerToken(route.id);
  if (!token) return null;
  return { id: route.id, token };
}

function connect(store: Store, session: SessionRef): Connection {
  const connection = new Connection(session.id, session.token, (s) => store.setConnection(s));
  connection.on("session:state", (state) => {
    store.onSessionState(state);
    if (state.role === "owner") {
      // Owner links still work: the token moves to storage and leaves the address bar.
      rememberOwnerToken(session.id, session.token);
      hideToken(location);
    }
  });
  connection.on("train:progress", (progress) => store.onProgress(progress));
  connection.on("train:sample", (sample) => store.onSample(sample));
  connection.on("predict:result", (result) => store.onPredictResult(result));
  connection.on("inspect:result", (result) => store.onInspectResult(result));
  connection.on("throw:result", (result) => store.onTaskResult("throw", result));
  connection.on("rollout:result", (result) => store.onTaskResult("rollout", result));
  connection.on("translate:result", (result) => store.onTaskResult("translate", result));
  connection.on("accuracy:result", (result) => store.onTaskResult("accuracy", result));
  connection.on("tune:result", (result) => store.onTaskResult("tune", result));
  connection.on("train:gradients", (gradients) => store.onGradients(gradients));
  connection.on("session:revoked", (payload) => store.onRevoked(payload.message));
  connection.on("session:deleted", () => store.onDeleted());
  connection.on("session:viewers", (payload) => store.onViewers(payload.viewers));
  connection.on("session:notice", (notice) => store.onNotice(notice));
  connection.on("class:focus", (focus) => store.onClassFocus(focus));
  connection.on("error", (error) => store.onError(error));
  return connection;
}

async function main(root: HTMLElement): Promise<void> {
  document.title = t("app.name");
  const store = new Store();
  // `?view=projector`: only the essentials, in large type, for the room's screen.
  if (new URLSearchParams(location.search).get("view") === "projector") {
    store.setUi({ projector: true });
  }
  const corpora = getCorpora();
  const route = parseRoute(location);
  let session: SessionRef | null;
  try {
    const [resolved, schema] = await Promise.all([resolveSession(route), getSchema()]);
    session = resolved;
    store.setSchema(schema);
  } catch (err) {
    const kind = route.kind === "lesson" && err instanceof ApiError ? "lesson" : "boot";
    store.setFatal(kind, err instanceof Error ? err.message : String(err));
    mountFatal(root, store);
    return;
  }
  if (!session) {
    store.setFatal("missing_token", location.href);
    mountFatal(root, store);
    return;
  }
  corpora.then(
    (list) => store.setCorpora(list),
    (err: unknown) => err instanceof ApiError && store.onError(err.toServerError()),
  );

  const connection = connect(store, session);
  const predictor = new Predictor(store, (query) => connection.predict(query));
  new Inspector(store, (query) => connection.inspect(query));
  new FollowMe(store, (focus) => connection.classFocus(focus));
  new BoardPoller(store, session);
  new LessonsLoader(store);
  new RunsPoller(store, session);
  const gapMeter = new GapMeter(store, session);
  const sentiment = new SentimentClient(store, session);
  const tasks = new TaskClient(store, (query) => connection.taskQuery(query));
  mountApp(
    root,
    store,
    createActions({ store, connection, predictor, gapMeter, sentiment, tasks, session }),
  );
  connection.open();
}

const root = document.getElementById("app");
if (root) void main(root);
