/** Builds the page from components and redraws them, at most once a frame, when state changes. */

import type { Actions } from "./actions";
import { ClassBoard } from "./components/classBoard";
import { ClassMode } from "./components/classMode";
import type { Component } from "./components/component";
import { FatalScreen } from "./components/fatal";
import { FollowBar } from "./components/followBar";
import { Header } from "./components/header";
import { InspectPanel } from "./components/inspect/inspectPanel";
import { CompareView } from "./components/lessons/compareView";
import { CriteriaView } from "./components/lessons/criteriaView";
import { GapView } from "./components/lessons/gapView";
import { LessonCard } from "./components/lessons/lessonCard";
import { LessonsPanel } from "./components/lessons/lessonsPanel";
import { ReachView } from "./components/lessons/reachView";
import { SentimentView } from "./components/lessons/sentimentView";
import { LossChart } from "./components/lossChart";
import { MainTabs } from "./components/mainTabs";
import { PanelVisibility } from "./components/panelVisibility";
import { PredictPanel } from "./components/predictPanel";
import { RunControls } from "./components/runControls";
import { Samples } from "./components/samples";
import { SessionTools } from "./components/sessionTools";
import { SettingsPanel } from "./components/settingsPanel";
import { Stats } from "./components/stats";
import { TaskPicker } from "./components/taskPicker";
import {
  BallPanel,
  MusicPanel,
  PricesPanel,
  TaskPanels,
  TranslatePanel,
  WordsPanel,
} from "./components/taskViews";
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
  const follow = new FollowBar(actions);
  const run = new RunControls(actions);
  const classMode = new ClassMode(actions);
  const tools = new SessionTools(actions);
  const task = new TaskPicker();
  const text = new TextSource(actions);
  const settings = new SettingsPanel(actions);
  const stats = new Stats();
  const chart = new LossChart();
  const samples = new Samples();
  const inspect = new InspectPanel(actions);
  const board = new ClassBoard();
  const lessonCard = new LessonCard(actions);
  const lessons = new LessonsPanel(actions);
  const compare = new CompareView(actions);
  const gap = new GapView(actions);
  const sentiment = new SentimentView(actions);
  const criteria = new CriteriaView(actions);
  const reach = new ReachView(actions);
  const predict = new PredictPanel(actions);
  const ball = new BallPanel(actions);
  const words = new WordsPanel(actions);
  const prices = new PricesPanel();
  const translate = new TranslatePanel(actions);
  const music = new MusicPanel(actions);
  const toasts = new Toasts(actions);
  const fatal = new FatalScreen();

  const samplesArea = h("div", { class: "area-samples" }, samples.el);
  // The task's own view takes the next-character box's place, beside the loss chart.
  const predictArea = h(
    "div",
    { class: "area-predict" },
    predict.el,
    words.el,
    ball.el,
    prices.el,
    translate.el,
    music.el,
  );
  const panes = {
    training: h(
      "div",
      { class: "pane pane-training" },
      h("div", { class: "area-chart" }, chart.el),
      samplesArea,
    ),
    inspect: h("div", { class: "pane pane-inspect" }, inspect.el),
    compare: h("div", { class: "pane pane-compare" }, compare.el),
    gap: h("div", { class: "pane pane-gap" }, gap.el),
    sentiment: h("div", { class: "pane pane-sentiment" }, sentiment.el),
    criteria: h("div", { class: "pane pane-criteria" }, criteria.el),
    reach: h("div", { class: "pane pane-reach" }, reach.el),
    board: h("div", { class: "pane pane-board" }, board.el),
  };
  const tabs = new MainTabs(actions, panes);
  const layout = h(
    "main",
    { class: "layout" },
    h(
      "aside",
      { class: "area-setup", i18nAriaLabel: "app.setup" },
      run.el,
      classMode.el,
      tools.el,
      task.el,
      text.el,
      settings.el,
    ),
    h(
      "div",
      { class: "area-stats", i18nAriaLabel: "app.main", attrs: { role: "region" } },
      stats.el,
    ),
    lessonCard.el,
    h("div", { class: "area-main" }, tabs.el, ...Object.values(panes)),
    predictArea,
  );
  // Character panels only where the task's steps are text; next words have their own view.
  const taskPanels = new TaskPanels(layout, [
    [text.el, ["predict", "words"]],
    [samplesArea, ["predict", "words"]],
    [predict.el, ["predict"]],
  ]);
  const components: Component[] = [
    header,
    follow,
    run,
    classMode,
    tools,
    task,
    text,
    settings,
    stats,
    tabs,
    chart,
    samples,
    inspect,
    lessonCard,
    compare,
    gap,
    sentiment,
    criteria,
    reach,
    board,
    lessons,
    predict,
    ball,
    words,
    prices,
    translate,
    music,
    taskPanels,
    new PanelVisibility(root),
    toasts,
    fatal,
  ];

  root.replaceChildren(header.el, follow.el, layout, lessons.el, toasts.el, fatal.el);

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
