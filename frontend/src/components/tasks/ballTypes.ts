/** The ball task's payloads as the server sends them (backend/tasks/ball/task.py). */

/** A point in the unit box, x to the right and y up. */
export type Point = [number, number];

/** The two baselines without learning, as errors in pixels of the frame. */
export interface BallBaselines {
  stay: number;
  constant_velocity: number;
}

/** The task's `describe()`: the camera, the clock and the held-out baselines. */
export interface BallDescribe {
  frame: number;
  dt: number;
  radius: number;
  input: "image" | "coords";
  baselines: BallBaselines;
  /** How many held-out throws `baselines` and the validation error are measured on. */
  val_throws: number;
  ahead: number;
}

/** A followed throw (the live sample, or the answer to a `throw` query). */
export interface BallTrajectory {
  /** Where the ball really was, one point per step. */
  truth: Point[];
  /** predicted[t]: the model's guess of truth[t + 1], having seen truth[0..t]. */
  predicted: Point[];
  /** ahead[t]: the steps the model imagines after truth[t], its guesses fed back in. */
  ahead: Point[][];
  error_px: number;
  baselines: BallBaselines;
  dt: number;
}

/** What the view is given on every update; it draws nothing it is not given. */
export interface BallViewData {
  task: BallDescribe | null;
  /** The latest live sample from training. */
  sample: BallTrajectory | null;
  /** The answer to the user's latest throw; played once, in preference to samples. */
  thrown: BallTrajectory | null;
  /** The model's latest held-out error in pixels (the loss chart's last validation point). */
  valPx: number | null;
}

/** The `throw` query the view asks for when the user lets go of the ball. */
export interface ThrowQuery {
  position: Point;
  velocity: Point;
  steps: number;
}
