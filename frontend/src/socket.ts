/** The only module that talks to socket.io-client: connect, join, emit helpers, subscriptions. */

import { io, type Socket } from "socket.io-client";
import type {
  ClassFocus,
  ClassSettings,
  ClientToServerEvents,
  Config,
  InspectQuery,
  PredictQuery,
  ServerToClientEvents,
  TaskQuery,
} from "./types";

export type ConnectionStatus = "connecting" | "connected" | "disconnected";

type ServerEvent = keyof ServerToClientEvents;

/** One Socket.IO connection bound to one session; it re-joins after every reconnect. */
export class Connection {
  private readonly socket: Socket<ServerToClientEvents, ClientToServerEvents>;

  constructor(
    private readonly session: string,
    private readonly token: string,
    onStatus: (status: ConnectionStatus) => void,
  ) {
    this.socket = io({
      path: "/socket.io",
      transports: ["websocket"],
      autoConnect: false,
    });
    // Joining on every "connect" makes a reconnect after a network blip transparent.
    this.socket.on("connect", () => {
      onStatus("connected");
      this.socket.emit("session:join", { session: this.session, token: this.token });
    });
    // Stays "disconnected" through the retries, so the page says the link was lost.
    this.socket.on("disconnect", () => onStatus("disconnected"));
  }

  /** Subscribe to one server → client event. */
  on<E extends ServerEvent>(event: E, handler: ServerToClientEvents[E]): void {
    // socket.io's typed `on` needs the handler cast to its internal listener type.
    this.socket.on(event, handler as never);
  }

  open(): void {
    this.socket.connect();
  }

  config(config: Config): void {
    this.socket.emit("train:config", { config });
  }

  start(): void {
    this.socket.emit("train:start", {});
  }

  pause(): void {
    this.socket.emit("train:pause", {});
  }

  step(): void {
    this.socket.emit("train:step", {});
  }

  reset(): void {
    this.socket.emit("train:reset", {});
  }

  predict(query: PredictQuery): void {
    this.socket.emit("predict:query", query);
  }

  inspect(query: InspectQuery): void {
    this.socket.emit("inspect:query", query);
  }

  /** One of the task's own queries (a ball's throw, a roll-out); answered as `<op>:result`. */
  taskQuery(query: TaskQuery): void {
    this.socket.emit("task:query", query);
  }

  renewLink(): void {
    this.socket.emit("link:renew", {});
  }

  classSettings(settings: ClassSettings): void {
    this.socket.emit("class:settings", settings);
  }

  classFocus(focus: ClassFocus): void {
    this.socket.emit("class:focus", focus);
  }

  ping(payload: unknown): void {
    this.socket.emit("ping:echo", payload);
  }
}
