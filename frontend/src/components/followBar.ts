/**
 * Follow-me banner. Viewers: "Following the teacher" with Break away, or Follow the teacher to
 * come back. Owner: a reminder that the class sees what they type, with a switch-off button.
 */

import type { Actions } from "../actions";
import { h, setAttr, setText, show } from "../dom";
import { t } from "../i18n";
import type { AppState } from "../store";
import type { Component } from "./component";

export class FollowBar implements Component {
  readonly el: HTMLElement;
  private readonly text = h("span", { class: "follow-text" });
  private readonly breakAway = h("button", {
    class: "btn btn-small",
    testid: "follow-break",
    i18n: "follow.breakAway",
    attrs: { type: "button" },
  });
  private readonly resume = h("button", {
    class: "btn btn-small btn-primary",
    testid: "follow-resume",
    i18n: "follow.resume",
    attrs: { type: "button" },
  });
  private readonly stop = h("button", {
    class: "btn btn-small",
    testid: "follow-stop",
    i18n: "follow.stop",
    attrs: { type: "button" },
  });

  constructor(actions: Actions) {
    this.breakAway.addEventListener("click", () => actions.follow(false));
    this.resume.addEventListener("click", () => actions.follow(true));
    this.stop.addEventListener("click", () => actions.classSettings({ follow: false }));
    this.el = h(
      "div",
      { class: "follow-bar", testid: "follow-bar", attrs: { role: "status" } },
      h("span", { class: "follow-dot", attrs: { "aria-hidden": "true" } }),
      this.text,
      this.breakAway,
      this.resume,
      this.stop,
    );
  }

  update(state: Readonly<AppState>): void {
    const session = state.session;
    const on = session?.classroom?.follow === true && state.fatal === null;
    show(this.el, on);
    if (!on || !session) return;
    const owner = session.role === "owner";
    const following = !owner && state.follow.following;
    setAttr(this.el, "data-role", session.role);
    setAttr(this.el, "data-following", String(following));
    setText(
      this.text,
      t(owner ? "follow.ownerOn" : following ? "follow.following" : "follow.awayNote"),
    );
    show(this.breakAway, !owner && following);
    show(this.resume, !owner && !following);
    show(this.stop, owner);
  }

  reset(): void {
    // Nothing cached: every update redraws from the state.
  }
}
