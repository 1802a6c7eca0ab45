/** What the page's own URL asks for, and where an owner's token is remembered. */

export type Route =
  | { kind: "new"; task: string | null; source: Record<string, string> }
  | { kind: "lesson"; id: string; lang: string | null }
  | { kind: "session"; id: string; token: string | null };

const OWNER_KEY = "rnn-playground:owner:";

/**
 * `/` starts a new session (`/?task=<name>`: of that kind of sequence; any other parameter
 * is a field of its source, as the task picker's choices write them: `&collection=essen`),
 * `/?lesson=<id>&lang=<lang>` starts a lesson, and
 * `/s/<id>?t=<token>` opens a session (the token may be missing).
 */
export function parseRoute(location: Location): Route {
  const params = new URLSearchParams(location.search);
  const match = /^\/s\/([A-Za-z0-9_-]+)\/?$/.exec(location.pathname);
  if (!match?.[1]) {
    const lesson = params.get("lesson");
    if (lesson) return { kind: "lesson", id: lesson, lang: params.get("lang") };
    const source = Object.fromEntries([...params].filter(([name]) => name !== "task"));
    return { kind: "new", task: params.get("task"), source };
  }
  const token = params.get("t");
  return { kind: "session", id: match[1], token: token === "" ? null : token };
}

export function sessionPath(id: string, token: string): string {
  return `/s/${encodeURIComponent(id)}?t=${encodeURIComponent(token)}`;
}

export function rememberOwnerToken(id: string, token: string): void {
  try {
    localStorage.setItem(OWNER_KEY + id, token);
  } catch {
    // Without storage the owner link in the address bar is the only copy; that is enough.
  }
}

export function forgetOwnerToken(id: string): void {
  try {
    localStorage.removeItem(OWNER_KEY + id);
  } catch {
    // Nothing was stored.
  }
}

/** The address without its token, so a projected screen never shows the owner's secret. */
export function hideToken(location: Location): void {
  const params = new URLSearchParams(location.search);
  if (!params.has("t")) return;
  params.delete("t");
  const query = params.toString();
  history.replaceState(history.state, "", location.pathname + (query ? `?${query}` : ""));
}

export function recallOwnerToken(id: string): string | null {
  try {
    return localStorage.getItem(OWNER_KEY + id);
  } catch {
    return null;
  }
}
