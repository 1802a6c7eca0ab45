/** Model, training and sampling settings, generated from `GET /api/schema` and grouped by `group`. */

import type { Actions } from "../actions";
import { h } from "../dom";
import { groupLabel } from "../i18n";
import type { AppState } from "../store";
import type { Schema } from "../types";
import type { Component } from "./component";
import { SettingControl } from "./settingControl";

export class SettingsPanel implements Component {
  readonly el = h("div", {
    class: "settings",
    testid: "settings",
    attrs: { "data-panel": "settings" },
  });
  private controls: SettingControl[] = [];
  private schema: Schema | null = null;
  private seen: unknown[] = [];

  constructor(private readonly actions: Actions) {}

  update(state: Readonly<AppState>): void {
    if (state.schema !== this.schema) this.build(state.schema);
    const session = state.session;
    // Controls change only when these do; skip the 10 Hz progress updates.
    const inputs = [
      this.schema,
      session?.config,
      session?.role,
      state.joined,
      state.connection,
      state.fieldErrors,
    ];
    if (inputs.every((value, i) => value === this.seen[i])) return;
    this.seen = inputs;
    const disabled = !(
      session?.role === "owner" &&
      state.joined &&
      state.connection === "connected"
    );
    for (const control of this.controls) {
      const name = control.name;
      control.update({
        value: session?.config[name],
        disabled,
        serverError: state.fieldErrors[name],
      });
    }
  }

  /** One card per group, in the order groups first appear in the schema. */
  private build(schema: Schema | null): void {
    this.schema = schema;
    this.seen = [];
    this.controls = [];
    const groups = new Map<string, HTMLElement>();
    for (const setting of schema?.settings ?? []) {
      let body = groups.get(setting.group);
      if (!body) {
        body = h("div", { class: "settings-group-body" });
        groups.set(setting.group, body);
      }
      const control = new SettingControl(setting, (name, value) =>
        this.actions.configure(name, value),
      );
      this.controls.push(control);
      body.append(control.el);
    }
    this.el.replaceChildren(
      ...[...groups].map(([group, body]) =>
        h(
          "section",
          { class: "card settings-group", testid: `settings-group-${group}` },
          h("h2", { class: "card-title" }, groupLabel(group)),
          body,
        ),
      ),
    );
  }

  reset(): void {
    // Labels and help are translated at build time: rebuild on the next update.
    this.schema = null;
    this.seen = [];
  }
}
