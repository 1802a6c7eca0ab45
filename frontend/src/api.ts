/** HTTP side of the protocol: schema, corpora, sessions, text, forks, export, import, lessons. */

import type {
  Config,
  Corpus,
  CreatedSession,
  CriteriaResult,
  ForkRow,
  GapsResult,
  Lesson,
  ReachResult,
  LessonVerdict,
  RunRow,
  Schema,
  SentimentResult,
  ServerError,
  StartedLesson,
  TextUpdated,
} from "./types";

/** An HTTP failure carrying the server's `{error: {code, message, field}}`, or a network failure. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | undefined;

  constructor(status: number, error: ServerError) {
    super(error.message);
    this.name = "ApiError";
    this.status = status;
    this.code = error.code;
    this.field = error.field;
  }

  toServerError(): ServerError {
    return { code: this.code, message: this.message, field: this.field };
  }
}

async function request<T>(url: string, init: RequestInit = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, {
      ...init,
      headers: { Accept: "application/json", ...init.headers },
    });
  } catch (err) {
    throw new ApiError(0, { code: "network", message: String(err) });
  }
  const body: unknown = await response.json().catch(() => null);
  if (!response.ok) {
    const error = (body as { error?: ServerError } | null)?.error;
    throw new ApiError(response.status, {
      code: error?.code ?? "http",
      message: error?.message ?? `${response.status} ${response.statusText}`,
      field: error?.field,
    });
  }
  return body as T;
}

/** `GET /api/schema`: the settings every control is generated from, plus server limits. */
export function getSchema(): Promise<Schema> {
  return request<Schema>("/api/schema");
}

/** `GET /api/corpora`: the built-in training texts. */
export async function getCorpora(): Promise<Corpus[]> {
  const body = await request<{ corpora: Corpus[] }>("/api/corpora");
  return body.corpora;
}

/** `POST /api/sessions`: a fresh session with its owner and view tokens. */
export function createSession(
  body: { task?: string; source?: Record<string, unknown>; corpus?: string; config?: Config } = {},
): Promise<CreatedSession> {
  return request<CreatedSession>("/api/sessions", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** `PUT /api/sessions/<id>/text` with a built-in corpus id. */
export function setCorpus(session: string, token: string, corpus: string): Promise<TextUpdated> {
  return request<TextUpdated>(`/api/sessions/${encodeURIComponent(session)}/text`, {
    method: "PUT",
    headers: { "Content-Type": "application/json", "X-Session-Token": token },
    body: JSON.stringify({ corpus }),
  });
}

/** `PUT /api/sessions/<id>/text` with raw text (pasted string or uploaded file, sent as-is). */
export function setText(session: string, token: string, text: string | Blob): Promise<TextUpdated> {
  return request<TextUpdated>(`/api/sessions/${encodeURIComponent(session)}/text`, {
    method: "PUT",
    headers: { "Content-Type": "text/plain; charset=utf-8", "X-Session-Token": token },
    body: text,
  });
}

function sessionUrl(session: string, rest: string): string {
  return `/api/sessions/${encodeURIComponent(session)}/${rest}`;
}

/** `POST /api/sessions/<id>/fork`: a new session the caller owns, with the weights if asked. */
export function forkSession(
  session: string,
  token: string,
  weights: boolean,
): Promise<CreatedSession> {
  return request<CreatedSession>(sessionUrl(session, "fork"), {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Session-Token": token },
    body: JSON.stringify({ weights }),
  });
}

/** `DELETE /api/sessions/<id>`: remove the session for good (owner only). */
export async function deleteSession(session: string, token: string): Promise<void> {
  await request<null>(`/api/sessions/${encodeURIComponent(session)}`, {
    method: "DELETE",
    headers: { "X-Session-Token": token },
  });
}

/** `GET /api/sessions/<id>/forks`: the class board (owner only). */
export async function getForks(session: string, token: string): Promise<ForkRow[]> {
  const body = await request<{ forks: ForkRow[] }>(sessionUrl(session, "forks"), {
    headers: { "X-Session-Token": token },
  });
  return body.forks;
}

/** A plain download link for `GET /api/sessions/<id>/export` (the token rides in `?t=`). */
export function exportUrl(session: string, token: string): string {
  return `${sessionUrl(session, "export")}?t=${encodeURIComponent(token)}`;
}

/** `POST /api/sessions/import` with an exported zip as the multipart field `file`. */
export function importModel(file: Blob, name = "model.zip"): Promise<CreatedSession> {
  const form = new FormData();
  form.append("file", file, name);
  return request<CreatedSession>("/api/sessions/import", { method: "POST", body: form });
}

/** `GET /api/lessons?lang=…`: every lesson, its text in `lang`. */
export async function getLessons(lang: string): Promise<Lesson[]> {
  const body = await request<{ lessons: Lesson[] }>(
    `/api/lessons?lang=${encodeURIComponent(lang)}`,
  );
  return body.lessons;
}

/** `POST /api/lessons/<id>/start`: one session per run, all owned by the caller. */
export function startLesson(lesson: string, lang: string): Promise<StartedLesson> {
  return request<StartedLesson>(`/api/lessons/${encodeURIComponent(lesson)}/start`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ lang }),
  });
}

/** `GET /api/sessions/<id>/runs`: the session and its children, for the comparison, and the
 * lesson's verdict once every run reached its budget (null otherwise, or from an older server). */
export async function getRuns(
  session: string,
  token: string,
): Promise<{ runs: RunRow[]; verdict: LessonVerdict | null }> {
  const body = await request<{ runs: RunRow[]; verdict?: LessonVerdict | null }>(
    sessionUrl(session, "runs"),
    { headers: { "X-Session-Token": token } },
  );
  return { runs: body.runs, verdict: body.verdict ?? null };
}

/** `GET /api/sessions/<id>/gaps`: every run's accuracy against the gap, measured now. */
export function getGaps(session: string, token: string): Promise<GapsResult> {
  return request<GapsResult>(sessionUrl(session, "gaps"), {
    headers: { "X-Session-Token": token },
  });
}

/** `POST /api/sessions/<id>/sentiment`: each run's running P(positive) over `text`. */
export function postSentiment(
  session: string,
  token: string,
  text: string,
): Promise<SentimentResult> {
  return request<SentimentResult>(sessionUrl(session, "sentiment"), {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Session-Token": token },
    body: JSON.stringify({ text }),
  });
}

/** `GET /api/sessions/<id>/criteria`: the four criteria measured on every lesson run now. */
export function getCriteria(session: string, token: string): Promise<CriteriaResult> {
  return request<CriteriaResult>(sessionUrl(session, "criteria"), {
    headers: { "X-Session-Token": token },
  });
}

/** `POST /api/sessions/<id>/reach`: what each run's prediction after `text` depends on. */
export function postReach(session: string, token: string, text: string): Promise<ReachResult> {
  return request<ReachResult>(sessionUrl(session, "reach"), {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Session-Token": token },
    body: JSON.stringify({ text }),
  });
}
