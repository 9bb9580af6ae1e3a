/** One event of a run's stream; ids count from 1 within the run, for Last-Event-ID. */
export interface RunEvent {
  id: number;
  event: RunEventType;
  data: unknown;
}

export type RunEventType =
  | 'run.started'
  | 'message.delta'
  | 'tool.call'
  | 'tool.result'
  | 'message.completed'
  | 'error'
  | 'done';

type Listener = (event: RunEvent) => void;

export interface LiveRunOptions {
  /**
   * How long the run goes on with no client attached before it is aborted (reason
   * `abandoned`). Undefined: it runs to the end whoever listens (runs started by the system).
   */
  abandonAfterMs?: number;
  /** How long a finished run's events stay for late resumes. */
  retainMs: number;
}

/**
 * A run in flight in this process: its events (kept for resumes), its listeners, and the
 * controller that aborts its model call. Clients attach and detach; when the last one has been
 * gone for the abandon window, the run is aborted and what it produced is kept as incomplete.
 */
export class LiveRun {
  readonly events: RunEvent[] = [];
  readonly controller = new AbortController();
  private readonly listeners = new Set<Listener>();
  private attached = 0;
  private abandonTimer: NodeJS.Timeout | undefined;
  private resolveDone!: () => void;
  /** Resolves once the run has finished and its final state is stored. */
  readonly done: Promise<void> = new Promise((resolve) => (this.resolveDone = resolve));
  finished = false;

  constructor(
    readonly id: string,
    private readonly options: LiveRunOptions,
    private readonly onRetire: (run: LiveRun) => void,
  ) {}

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  emit(event: RunEventType, data: unknown): RunEvent {
    const record = { id: this.events.length + 1, event, data };
    this.events.push(record);
    for (const listener of this.listeners) listener(record);
    return record;
  }

  /** Replays the events after `afterId`, then delivers new ones as they come. */
  subscribe(afterId: number, listener: Listener): () => void {
    for (const event of this.events) if (event.id > afterId) listener(event);
    if (this.finished) return () => undefined;
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A client is waiting for this run (a stream or a request awaiting its result). */
  attach(): () => void {
    this.attached += 1;
    clearTimeout(this.abandonTimer);
    this.abandonTimer = undefined;
    let detached = false;
    return () => {
      if (detached) return;
      detached = true;
      this.attached -= 1;
      if (this.attached > 0 || this.finished || this.options.abandonAfterMs === undefined) return;
      const abandon = () => this.abort('abandoned');
      if (this.options.abandonAfterMs === 0) abandon();
      else this.abandonTimer = setTimeout(abandon, this.options.abandonAfterMs);
    };
  }

  abort(reason: 'cancelled' | 'abandoned' | 'interrupted' | 'shutdown'): void {
    if (!this.controller.signal.aborted) this.controller.abort(reason);
  }

  /** Called once the final state is stored: wakes waiters, then forgets the run after a while. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    clearTimeout(this.abandonTimer);
    this.listeners.clear();
    this.resolveDone();
    setTimeout(() => this.onRetire(this), this.options.retainMs).unref();
  }
}

/** The runs in flight in this process, by run uuid. */
export class LiveRunRegistry {
  private readonly runs = new Map<string, LiveRun>();

  create(id: string, options: LiveRunOptions): LiveRun {
    const run = new LiveRun(id, options, (retired) => {
      if (this.runs.get(retired.id) === retired) this.runs.delete(retired.id);
    });
    this.runs.set(id, run);
    return run;
  }

  get(id: string): LiveRun | undefined {
    return this.runs.get(id);
  }

  /** Runs not finished yet. */
  active(): LiveRun[] {
    return [...this.runs.values()].filter((run) => !run.finished);
  }

  /** On shutdown: aborts every run and waits (bounded) for their final state to be stored. */
  async shutdown(timeoutMs: number): Promise<void> {
    const active = this.active();
    for (const run of active) run.abort('shutdown');
    await Promise.race([Promise.all(active.map((run) => run.done)), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
  }
}
