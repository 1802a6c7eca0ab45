/**
 * "Look inside": gates, states, saliency and gradients of the session's own model, for the text
 * typed in the predict box (or the steps a task picks: a ball's frames, a series' months),
 * refreshed while it trains. One tab per view, each with one sentence
 * saying what to look for; only the open view draws.
 */

import type { Actions } from "../../actions";
import { h, setAttr, setText, show } from "../../dom";
import { formatInt, t, type MessageKey } from "../../i18n";
import { inspectBlocked, MAX_INSPECT_CHARS, tracesSteps } from "../../inspector";
import { INSPECT_VIEWS, type AppState, type InspectView } from "../../store";
import type { Component } from "../component";
import { GradientsView } from "./gradients";
import { Heatmap } from "./heatmap";
import { SaliencyView } from "./saliency";
import { SurgeryView } from "./surgery";
import { UnitText } from "./unitText";
import { Unrolled } from "./unrolled";

/** Views that draw a trace of the typed text (the gradient chart streams from training). */
const NEEDS_TEXT = new Set<InspectView>(["gates", "units", "unrolled", "saliency", "surgery"]);

export class InspectPanel implements Component {
  readonly el: HTMLElement;
  private readonly views: Record<InspectView, Component>;
  private readonly tabs = new Map<InspectView, HTMLButtonElement>();
  private readonly step = h("span", { class: "chip chip-step", testid: "inspect-step" });
  private readonly layer = h("select", {
    class: "input input-inline",
    testid: "inspect-layer",
    attrs: { id: "inspect-layer" },
  });
  private readonly layerField: HTMLElement;
  private readonly capped = h("span", { class: "muted small", testid: "inspect-capped" });
  private readonly hint = h("p", { class: "inspect-hint", testid: "inspect-hint" });
  private readonly note = h("p", { class: "inspect-note", testid: "inspect-note" });
  private layers = 0;

  constructor(private readonly actions: Actions) {
    this.views = {
      gates: new Heatmap(actions),
      units: new UnitText(actions),
      unrolled: new Unrolled(actions),
      saliency: new SaliencyView(actions),
      gradients: new GradientsView(),
      surgery: new SurgeryView(actions),
    };
    const nav = h("nav", {
      class: "view-tabs",
      i18nAriaLabel: "inspect.views",
      attrs: { role: "tablist" },
    });
    for (const view of INSPECT_VIEWS) {
      const tab = h("button", {
        class: "view-tab",
        testid: `inspect-view-${view}`,
        i18n: `inspect.tab.${view}` as MessageKey,
        attrs: { type: "button", role: "tab", "aria-selected": "false" },
      });
      tab.addEventListener("click", () => this.actions.look({ view }));
      this.tabs.set(view, tab);
      nav.append(tab);
    }
    this.layer.addEventListener("change", () =>
      this.actions.look({ layer: Number(this.layer.value) }),
    );
    this.layerField = h(
      "label",
      { class: "inline-field", attrs: { for: "inspect-layer" } },
      h("span", { i18n: "inspect.layer" }),
      this.layer,
    );
    this.el = h(
      "section",
      { class: "card inspect-card", testid: "inspect-panel", attrs: { "data-panel": "inspect" } },
      h(
        "div",
        { class: "card-head" },
        h("h2", { class: "card-title", i18n: "inspect.title" }),
        this.step,
      ),
      nav,
      h("div", { class: "inspect-toolbar" }, this.hint, this.layerField),
      this.capped,
      this.note,
      h("div", { class: "inspect-views" }, ...INSPECT_VIEWS.map((v) => this.views[v].el)),
    );
  }

  update(state: Readonly<AppState>): void {
    const view = state.ui.view;
    for (const [name, tab] of this.tabs) {
      setAttr(tab, "aria-selected", String(name === view));
      show(this.views[name].el, name === view);
    }
    setAttr(this.el, "data-view", view);
    setText(
      this.hint,
      t(tracesSteps(state) ? `inspect.hintSteps.${view}` : `inspect.hint.${view}`),
    );
    this.renderLayers(Number(state.session?.config.num_layers ?? 1), state.ui.layer);
    // Saliency and the gradient chart do not depend on the layer picked.
    if (view === "saliency" || view === "gradients") show(this.layerField, false);

    const result = state.inspect.result;
    show(this.step, result !== null);
    if (result) setText(this.step, t("predict.answeredBy", { step: formatInt(result.step) }));
    const chars = tracesSteps(state) ? 0 : Array.from(state.typed).length;
    setText(
      this.capped,
      chars > MAX_INSPECT_CHARS ? t("inspect.capped", { n: MAX_INSPECT_CHARS }) : "",
    );

    const reason = this.noteFor(state, view);
    show(this.note, reason !== null);
    setAttr(this.note, "data-reason", reason);
    if (reason)
      setText(
        this.note,
        reason === "error" ? (state.inspect.error?.message ?? "") : t(`inspect.note.${reason}`),
      );
    // Views of the typed text draw once a trace is here (a failed refresh keeps the last one).
    const drawable = NEEDS_TEXT.has(view)
      ? result !== null && (reason === null || reason === "waiting" || reason === "error")
      : reason === null;
    show(this.views[view].el, drawable);
    if (drawable) this.views[view].update(state);
  }

  /** Why the open view has nothing to show, or null when it has. */
  private noteFor(
    state: Readonly<AppState>,
    view: InspectView,
  ): "baseline" | "locked" | "hidden" | "empty" | "waiting" | "error" | null {
    const blocked = inspectBlocked(state);
    if (blocked) return blocked;
    if (!NEEDS_TEXT.has(view)) return null;
    if (!state.typed && !tracesSteps(state)) return "empty";
    const { result, error } = state.inspect;
    if (error) return "error";
    return result ? null : "waiting";
  }

  private renderLayers(n: number, current: number): void {
    show(this.layerField, n > 1);
    if (n !== this.layers) {
      this.layers = n;
      this.layer.replaceChildren(
        ...Array.from({ length: n }, (_, l) =>
          h("option", { attrs: { value: l } }, t("inspect.layerN", { n: l + 1 })),
        ),
      );
    }
    this.layer.value = String(Math.min(current, n - 1));
  }

  reset(): void {
    this.layers = 0;
    for (const view of INSPECT_VIEWS) this.views[view].reset();
  }
}
