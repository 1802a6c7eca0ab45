/**
 * Class mode (owner only): follow-me, actions locked for viewers, panels hidden from them.
 * Every change is one `class:settings`; the checkboxes show the server's answer.
 */

import type { Actions } from "../actions";
import { h, show } from "../dom";
import { t, type MessageKey } from "../i18n";
import type { AppState } from "../store";
import type { Classroom, ClassSettings, Lock, Panel } from "../types";
import type { Component } from "./component";

const LOCKS: readonly Lock[] = ["predict", "inspect", "fork", "export"];
const PANELS: readonly Panel[] = ["settings", "samples", "chart", "predict", "inspect", "lessons"];
/** How long a sent change may take to come back before the server's word wins again. */
const PENDING_MS = 3000;

function settingsKey(s: { locks: readonly string[]; hidden: readonly string[]; follow: boolean }) {
  return JSON.stringify([[...s.locks].sort(), [...s.hidden].sort(), s.follow]);
}

function checkbox(testid: string, label: MessageKey): { box: HTMLInputElement; el: HTMLElement } {
  const box = h("input", { testid, attrs: { type: "checkbox" } });
  return { box, el: h("label", { class: "check" }, box, h("span", { i18n: label })) };
}

export class ClassMode implements Component {
  readonly el: HTMLElement;
  private readonly follow = h("input", {
    class: "switch",
    testid: "class-follow",
    attrs: { type: "checkbox", id: "class-follow" },
  });
  private readonly locks = new Map<Lock, HTMLInputElement>();
  private readonly hidden = new Map<Panel, HTMLInputElement>();
  private drawn: Classroom | null | undefined = undefined;
  /** The settings last sent, until the server's state shows them. */
  private pending: { key: string; at: number } | null = null;

  constructor(private readonly actions: Actions) {
    this.follow.addEventListener("change", () => this.send());
    const lockBoxes = LOCKS.map((lock) => {
      const { box, el } = checkbox(`class-lock-${lock}`, `class.lock.${lock}`);
      box.addEventListener("change", () => this.send());
      this.locks.set(lock, box);
      return el;
    });
    const panelBoxes = PANELS.map((panel) => {
      const { box, el } = checkbox(`class-hide-${panel}`, `class.panel.${panel}`);
      box.addEventListener("change", () => this.send());
      this.hidden.set(panel, box);
      return el;
    });
    this.el = h(
      "section",
      { class: "card class-mode", testid: "class-mode" },
      h("h2", { class: "card-title", i18n: "class.title" }),
      h(
        "label",
        { class: "setting-head follow-field", attrs: { for: "class-follow" } },
        h("span", { class: "setting-label", i18n: "class.follow" }),
        this.follow,
      ),
      h("p", { class: "setting-help", i18n: "class.followHelp" }),
      h("h3", { class: "subhead", i18n: "class.locks" }),
      h("div", { class: "checks" }, ...lockBoxes),
      h("h3", { class: "subhead", i18n: "class.hidden" }),
      h("div", { class: "checks" }, ...panelBoxes),
    );
  }

  /** The class settings the boxes now show. */
  private wanted(): Required<ClassSettings> {
    return {
      locks: LOCKS.filter((l) => this.locks.get(l)!.checked),
      hidden: PANELS.filter((p) => this.hidden.get(p)!.checked),
      follow: this.follow.checked,
    };
  }

  /** Send everything the boxes show, so quick successive clicks never undo each other. */
  private send(): void {
    const wanted = this.wanted();
    this.pending = { key: settingsKey(wanted), at: performance.now() };
    this.actions.classSettings(wanted);
  }

  update(state: Readonly<AppState>): void {
    const session = state.session;
    show(this.el, session?.role === "owner");
    const classroom = session?.classroom ?? null;
    if (classroom === this.drawn) return;
    this.drawn = classroom;
    const current = classroom ?? { locks: [], hidden: [], follow: false };
    // A state from before our latest click is on its way out: keep showing the click.
    const pending = this.pending;
    const stale = pending && performance.now() - pending.at < PENDING_MS;
    if (pending && settingsKey(current) !== pending.key && stale) return;
    this.pending = null;
    this.follow.checked = current.follow;
    for (const [lock, box] of this.locks) box.checked = current.locks.includes(lock);
    for (const [panel, box] of this.hidden) box.checked = current.hidden.includes(panel);
    this.follow.title = t(this.follow.checked ? "class.followOn" : "class.followOff");
  }

  reset(): void {
    this.drawn = undefined;
  }
}
