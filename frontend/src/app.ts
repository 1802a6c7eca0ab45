/** Builds the page from components and redraws them, at most once a frame, when state changes. */

import type { Actions } from "./actions";
import type { Component } from "./components/component";
import { FatalScreen } from "./components/fatal";
import { Header } from "./components/header";
import { LossChart } from "./components/lossChart";
import { PredictPanel } from "./components/predictPanel";
import { RunControls } from "./components/runControls";
import { Samples } from "./components/samples";
import { SettingsPanel } from "./components/settingsPanel";
import { Stats } from "./components/stats";
import { TextSource } from "./components/textSource";
import { Toasts } from "./components/toasts";
import { h } from "./dom";
import { applyI18n, onLangChange } from "./i18n";
import type { Store } from "./store";

/** Calls `render` on the next animation frame, or after a short delay in a hidden tab. */
function frameScheduler(render: () => void): () => void {
  let pending = false;
  const run = (): void => {
    if (!pending) return;
    pending = false;
    render();
  };
  return () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(run);
    // Background tabs get no frames; keep the page current for when it comes back.
    setTimeout(run, 250);
  };
}

export function mountApp(root: HTMLElement, store: Store, actions: Actions): void {
  const header = new Header(actions);
  const run = new RunControls(actions);
  const text = new TextSource(actions);
  const settings = new SettingsPanel(actions);
  const stats = new Stats();
  const chart = new LossChart();
  const samples = new Samples();
  const predict = new PredictPanel(actions);
  const toasts = new Toasts(actions);
  const fatal = new FatalScreen();
  const components: Component[] = [
    header,
    run,
    text,
    settings,
    stats,
    chart,
    samples,
    predict,
    toasts,
    fatal,
  ];

  root.replaceChildren(
    header.el,
    h(
      "main",
      { class: "layout" },
      h("aside", { class: "area-setup", i18nAriaLabel: "app.setup" }, run.el, text.el, settings.el),
      h(
        "div",
        { class: "area-stats", i18nAriaLabel: "app.main", attrs: { role: "region" } },
        stats.el,
      ),
      h("div", { class: "area-chart" }, chart.el),
      h("div", { class: "area-samples" }, samples.el),
      h("div", { class: "area-predict" }, predict.el),
    ),
    toasts.el,
    fatal.el,
  );

  const render = (): void => {
    for (const component of components) component.update(store.state);
  };
  const schedule = frameScheduler(render);
  store.subscribe(schedule);
  onLangChange(() => {
    applyI18n(document.body);
    for (const component of components) component.reset();
    render();
  });
  render();
}

/** Before a session exists there is nothing to mount but the error screen. */
export function mountFatal(root: HTMLElement, store: Store): void {
  const fatal = new FatalScreen();
  root.replaceChildren(fatal.el);
  fatal.update(store.state);
}
