/** What components may ask for. Each action reaches the server; replies come back via the store. */

import { ApiError, setCorpus, setText } from "./api";
import { setLang, type Lang } from "./i18n";
import type { PredictOptions, Predictor } from "./predictor";
import type { Connection } from "./socket";
import type { Store } from "./store";
import type { SettingValue } from "./types";

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
  predictText(text: string): void;
  predictOptions(options: Partial<PredictOptions>): void;
  dismissToast(id: number): void;
  setLang(lang: Lang): void;
}

export interface ActionDeps {
  store: Store;
  connection: Connection;
  predictor: Predictor;
  session: { id: string; token: string };
}

export function createActions({ store, connection, predictor, session }: ActionDeps): Actions {
  const report = (err: unknown): false => {
    const error =
      err instanceof ApiError ? err.toServerError() : { code: "other", message: String(err) };
    store.onError(error);
    return false;
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
    predictText: (text) => predictor.setText(text),
    predictOptions: (options) => predictor.setOptions(options),
    dismissToast: (id) => store.dismissToast(id),
    setLang,
  };
}
