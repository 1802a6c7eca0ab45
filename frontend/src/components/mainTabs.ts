/**
 * The main area's tabs: training (chart and samples), look inside, the lesson views (compare
 * runs, accuracy against the gap, sentiment) where the session has them, and the owner's class
 * board.
 */

import type { Actions } from "../actions";
import { h, setAttr, setText, show } from "../dom";
import { t, type MessageKey } from "../i18n";
import { availableTabs, shownTab, type AppState, type TabName } from "../store";
import type { Component } from "./component";

const ORDER: TabName[] = [
  "training",
  "inspect",
  "compare",
  "gap",
  "sentiment",
  "criteria",
  "reach",
  "board",
];

export class MainTabs implements Component {
  readonly el: HTMLElement;
  private readonly buttons = new Map<TabName, HTMLButtonElement>();

  constructor(
    private readonly actions: Actions,
    private readonly panes: Record<TabName, HTMLElement>,
  ) {
    this.el = h("nav", {
      class: "main-tabs",
      i18nAriaLabel: "tabs.label",
      attrs: { role: "tablist" },
    });
    for (const name of ORDER) {
      const button = h("button", {
        class: "main-tab",
        testid: `tab-${name}`,
        attrs: { type: "button", role: "tab", "aria-selected": "false" },
      });
      button.addEventListener("click", () => this.actions.look({ tab: name }));
      this.buttons.set(name, button);
      this.el.append(button);
    }
  }

  update(state: Readonly<AppState>): void {
    const available = availableTabs(state);
    // A tab that disappears (hidden by the teacher, no forks yet) falls back to training.
    const open = shownTab(state);
    for (const [name, button] of this.buttons) {
      show(button, available[name]);
      setAttr(button, "aria-selected", String(name === open));
      show(this.panes[name], name === open);
      const label =
        name === "board"
          ? t("tabs.board", { n: state.forks?.length ?? 0 })
          : t(`tabs.${name}` as MessageKey);
      setText(button, label);
    }
    document.documentElement.dataset.tab = open;
  }

  reset(): void {
    // Labels are set on every update.
  }
}
