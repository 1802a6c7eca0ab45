/**
 * Sends a task's own queries (a ball's `throw`, a `rollout`) with one rising `seq` per op; the
 * answers come back as `<op>:result` and the store keeps the newest.
 */

import type { Store } from "./store";
import type { TaskQuery } from "./types";

export class TaskClient {
  private seq = 0;

  constructor(
    private readonly store: Store,
    private readonly send: (query: TaskQuery) => void,
  ) {}

  /** Ask `op` with the task's `fields`; an older answer of the same op is then ignored. */
  ask(op: string, fields: Record<string, unknown>): void {
    const seq = ++this.seq;
    this.store.taskSent(op, seq);
    this.send({ ...fields, op, seq });
  }
}
