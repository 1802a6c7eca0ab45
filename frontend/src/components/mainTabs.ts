/** The main area's tabs: training (chart and samples), look inside, and the owner's class board. */

import type { Actions } from "../actions";
import { h, setAttr, setText, show } from "../dom";
import { t } from "../i18n";
import type { AppState, TabName } from "../store";
import type { Component } from "./component";

export class MainTabs implements Component {
  readonly el: HTMLElement;
  private readonly buttons: Record<TabName, HTMLButtonElement>;

  constructor(
    private readonly actions: Actions,
    private readonly panes: Record<TabName, HTMLElement>,
  ) {
    const tab = (name: TabName): HTMLButtonElement => {
      const button = h("button", {
        class: "main-tab",
        testid: `tab-${name}`,
        attrs: { type: "button", role: "tab", "aria-selected": "false" },
      });
      button.addEventListener("click", () => this.actions.look({ tab: name }));
      return button;
    };
    this.buttons = { training: tab("training"), inspect: tab("inspect"), board: tab("board") };
    this.el = h(
      "nav",
      { class: "main-tabs", i18nAriaLabel: "tabs.label", attrs: { role: "tablist" } },
      this.buttons.training,
      this.buttons.inspect,
      this.buttons.board,
    );
  }

  update(state: Readonly<AppState>): void {
    const session = state.session;
    const viewer = session?.role === "viewer";
    const hidden = viewer ? (session.classroom?.hidden ?? []) : [];
    const forks = state.forks?.length ?? 0;
    const available: Record<TabName, boolean> = {
      training: !(hidden.includes("chart") && hidden.includes("samples")),
      inspect: !hidden.includes("inspect"),
      board: session?.role === "owner" && forks > 0,
    };
    // A tab that disappears (hidden by the teacher, no forks yet) falls back to training.
    const open = available[state.ui.tab] ? state.ui.tab : "training";
    for (const name of Object.keys(this.buttons) as TabName[]) {
      const button = this.buttons[name];
      show(button, available[name]);
      setAttr(button, "aria-selected", String(name === open));
      show(this.panes[name], name === open);
    }
    setText(this.buttons.training, t("tabs.training"));
    setText(this.buttons.inspect, t("tabs.inspect"));
    setText(this.buttons.board, t("tabs.board", { n: forks }));
    document.documentElement.dataset.tab = open;
  }

  reset(): void {
    // Labels are set on every update.
  }
}
