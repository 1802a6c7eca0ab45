/** The prices task's forecast payload, as the server sends it (backend/tasks/prices/task.py). */

export type Verdict = "beats" | "ties" | "loses";

export interface PriceErrors {
  /** RMSE of the predicted price on the held-out months, in % of the true price. */
  model: number;
  persistence: number;
  same_change: number;
  mean_change: number;
}

export interface PriceRollout {
  /** Month index of the last known price; the roll-out's first price is month start + 1. */
  start: number;
  prices: number[];
  model_pct: number | null;
  persistence_pct: number | null;
}

export interface PriceForecast {
  /** Month index (into the whole series) of the first point drawn. */
  first: number;
  /** Month index of the first held-out month. */
  holdout_start: number;
  dates: string[];
  truth: number[];
  /** The model's one-step prediction of each drawn month, from the true months before it. */
  prediction: number[];
  /** Last month's price, persistence's prediction of each drawn month. */
  persistence: number[];
  errors: PriceErrors;
  verdict: Verdict;
  rollout: PriceRollout | null;
}
