import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../../context.js';
import { fromJson } from '../../db/values.js';
import { encodeFrame, type EventSource, type StreamEvent } from '../../http/sse.js';
import * as repo from './command-room.repository.js';
import type { CommandRoomEventRow } from './command-room.table.js';

/** Rows read per query when a hub or a resuming client reads the log. */
const READ_BATCH = 500;
/** The safety poll: a hub reads the log this often even when nobody told it of a change. */
const SAFETY_POLL_MS = 2_000;
/**
 * A stream ends after this long (plus up to a minute, so clients do not all come back at once)
 * and the client resumes with Last-Event-ID: authentication and membership are checked again, so
 * a member removed or a token revoked stops receiving within that time, at no cost per event.
 */
const STREAM_MAX_MS = 15 * 60_000;
/** How often the set of workspaces with linked tasks is read again (a lost announcement, unlinks). */
const LINKED_REFRESH_MS = 10_000;

/** Who may see a private link target's name: its creator, and (agents, workflows) admins and owners. */
export interface LinkAudience {
  userId: number | null;
  managers: boolean;
}

/** Who is watching: the user and whether they are an admin or owner of the workspace. */
export interface BoardViewer {
  userId: number;
  manager: boolean;
}

export function mayViewLink(audience: LinkAudience | null, viewer: BoardViewer): boolean {
  return audience === null || (audience.userId !== null && audience.userId === viewer.userId) || (audience.managers && viewer.manager);
}

/** What the events table's `data` holds: the task resource (or `{uuid}`) and who may see its link. */
export interface StoredEventData {
  task: Record<string, unknown> & { link?: { name: string | null; status: string | null } | null };
  audience: LinkAudience | null;
}

/** One board change as the hub fans it out: both frames are encoded once, on first need. */
class BoardEvent {
  private full: string | undefined;
  private redacted: string | undefined;

  constructor(
    readonly id: number,
    readonly type: string,
    private readonly data: StoredEventData,
  ) {}

  frameFor(viewer: BoardViewer): string {
    if (mayViewLink(this.data.audience, viewer)) return (this.full ??= encodeFrame({ id: this.id, event: this.type, data: this.data.task }));
    if (this.redacted === undefined) {
      const task = this.data.task;
      const link = task.link ? { ...task.link, name: null, status: null } : task.link;
      this.redacted = encodeFrame({ id: this.id, event: this.type, data: { ...task, link } });
    }
    return this.redacted;
  }

  static fromRow(row: CommandRoomEventRow): BoardEvent {
    return new BoardEvent(Number(row.id), row.type, fromJson<StoredEventData>(row.data));
  }
}

interface Subscriber {
  viewer: BoardViewer;
  /** The last event id written to this client. */
  cursor: number;
  /** False while replaying from the table: live events wait in `buffer`. */
  live: boolean;
  buffer: BoardEvent[];
  send(event: StreamEvent): void;
  end(): void;
}

function offer(subscriber: Subscriber, event: BoardEvent): void {
  if (!subscriber.live) {
    subscriber.buffer.push(event);
    return;
  }
  if (event.id <= subscriber.cursor) return;
  subscriber.cursor = event.id;
  subscriber.send({ id: event.id, event: event.type, frame: event.frameFor(subscriber.viewer) });
}

/**
 * One per workspace with clients in this process. Told that the workspace changed, it reads the
 * new rows once (`id > lastSeen`) and writes them to every client: a live event costs one query
 * per process, not one per client.
 */
class BoardHub {
  lastSeen = 0;
  readonly subscribers = new Set<Subscriber>();
  readonly ready: Promise<void>;
  private reading = false;
  private again = false;

  constructor(
    private readonly ctx: AppContext,
    readonly workspaceId: string,
  ) {
    this.ready = repo.latestEventId(ctx.db.kysely, workspaceId).then((id) => {
      this.lastSeen = Math.max(this.lastSeen, id);
    });
  }

  notify(): void {
    if (this.reading) {
      this.again = true;
      return;
    }
    void this.read();
  }

  private async read(): Promise<void> {
    this.reading = true;
    try {
      await this.ready;
      do {
        this.again = false;
        for (;;) {
          const rows = await repo.findEventsAfter(this.ctx.db.kysely, this.workspaceId, this.lastSeen, READ_BATCH);
          for (const row of rows) {
            const event = BoardEvent.fromRow(row);
            this.lastSeen = event.id;
            for (const subscriber of this.subscribers) offer(subscriber, event);
          }
          if (rows.length < READ_BATCH) break;
        }
      } while (this.again && this.subscribers.size > 0);
    } catch (error) {
      this.ctx.log.warn({ err: error, workspace: this.workspaceId }, 'reading command room events failed; the next poll retries');
    } finally {
      this.reading = false;
    }
  }
}

type ChangeListener = (workspaceId: string) => void;

/** A run in flight here, and whether tasks follow it (looked up once when it starts). */
export interface FollowEntry {
  /** undefined while the lookup runs. */
  known: boolean | undefined;
  check: Promise<boolean>;
  /** Updates of one run are applied one after another, in the order the run made them. */
  chain: Promise<void>;
  lastAt: number;
  running: boolean;
  timer?: NodeJS.Timeout;
  /** The latest progress not yet written (throttled). */
  latest?: number;
}

/**
 * The command room of this process: the hubs, and how it hears that a workspace's board changed
 * (its own writes at once; other processes' over Redis in scale mode; a slow poll either way).
 */
export class CommandRoomRuntime {
  private readonly hubs = new Map<string, BoardHub>();
  private readonly poll: NodeJS.Timeout;
  private publisher: ((workspaceId: string, linked: boolean) => void) | undefined;
  /**
   * Workspaces where some task has a link: a run elsewhere is not looked up at all. Undefined
   * until first read; grows at once when this process (or, over Redis, another) links a task.
   */
  linkedWorkspaces: Set<string> | undefined;
  private linkedRead: Promise<void> | undefined;
  private linkedReadAt = 0;
  private linkedSinceRead = new Set<string>();
  private readonly closers: Array<() => Promise<void>> = [];
  /** Executions and agent or thread runs in flight in this process, by id (command-room.follow.ts). */
  readonly following = new Map<string, FollowEntry>();
  readonly changeListeners: ChangeListener[] = [];
  closed = false;

  constructor(private readonly ctx: AppContext) {
    this.poll = setInterval(() => {
      for (const hub of this.hubs.values()) hub.notify();
      if (Date.now() - this.linkedReadAt >= LINKED_REFRESH_MS) void this.readLinkedWorkspaces();
    }, SAFETY_POLL_MS);
    this.poll.unref();
  }

  /** A board write of this process committed; `linked`: it linked a task to something. */
  changed(workspaceId: string, linked = false): void {
    this.hubs.get(workspaceId)?.notify();
    if (linked) this.addLinked(workspaceId);
    for (const listener of this.changeListeners) listener(workspaceId);
    this.publisher?.(workspaceId, linked);
  }

  /** Another process committed a board write. */
  changedElsewhere(workspaceId: string, linked: boolean): void {
    this.hubs.get(workspaceId)?.notify();
    if (linked) this.addLinked(workspaceId);
  }

  private addLinked(workspaceId: string): void {
    this.linkedWorkspaces?.add(workspaceId);
    this.linkedSinceRead.add(workspaceId);
  }

  /** Reads which workspaces have linked tasks (once at a time); what was linked meanwhile is kept. */
  readLinkedWorkspaces(): Promise<void> {
    this.linkedRead ??= (async () => {
      this.linkedReadAt = Date.now();
      this.linkedSinceRead = new Set();
      try {
        const rows = await this.ctx.db.kysely.selectFrom('command_room_tasks').select('workspace_id').distinct().where('link_id', 'is not', null).execute();
        this.linkedWorkspaces = new Set([...rows.map((r) => r.workspace_id), ...this.linkedSinceRead]);
      } catch (error) {
        this.ctx.log.warn({ err: error }, 'could not read which workspaces have linked command room tasks');
      } finally {
        this.linkedRead = undefined;
      }
    })();
    return this.linkedRead;
  }

  usePublisher(publish: (workspaceId: string, linked: boolean) => void, close: () => Promise<void>): void {
    this.publisher = publish;
    this.closers.push(close);
  }

  /** The board's changes for one client, from `afterId` (undefined: from now on). */
  source(workspaceId: string, viewer: BoardViewer, afterId: number | undefined): EventSource {
    return {
      subscribe: (_after, listener, end) => {
        const subscriber: Subscriber = { viewer, cursor: 0, live: false, buffer: [], send: listener, end: end ?? (() => undefined) };
        let gone = false;
        const expiry = setTimeout(() => subscriber.end(), STREAM_MAX_MS + Math.floor(Math.random() * 60_000));
        expiry.unref();
        void this.join(workspaceId, subscriber, afterId, () => gone).catch((error: unknown) => {
          this.ctx.log.warn({ err: error, workspace: workspaceId }, 'a command room stream could not start');
          subscriber.end();
        });
        return () => {
          gone = true;
          clearTimeout(expiry);
          this.leave(workspaceId, subscriber);
        };
      },
    };
  }

  private hubFor(workspaceId: string): BoardHub {
    let hub = this.hubs.get(workspaceId);
    if (!hub) this.hubs.set(workspaceId, (hub = new BoardHub(this.ctx, workspaceId)));
    return hub;
  }

  private leave(workspaceId: string, subscriber: Subscriber): void {
    const hub = this.hubs.get(workspaceId);
    if (!hub) return;
    hub.subscribers.delete(subscriber);
    if (hub.subscribers.size === 0) this.hubs.delete(workspaceId);
  }

  /**
   * Joins a client: registered with the hub first (live events are buffered), then replayed
   * from the table after its Last-Event-ID, then the buffer past what was replayed. An event is
   * in the table before any hub can read it, so it is replayed, buffered, or both (written once:
   * ids only go up).
   */
  private async join(workspaceId: string, subscriber: Subscriber, afterId: number | undefined, gone: () => boolean): Promise<void> {
    if (this.closed) return subscriber.end();
    const hub = this.hubFor(workspaceId);
    hub.subscribers.add(subscriber);
    await hub.ready;
    if (gone()) return;
    const db = this.ctx.db.kysely;
    if (afterId === undefined) {
      subscriber.cursor = hub.lastSeen;
    } else if (afterId > 0 && !(await repo.eventExists(db, workspaceId, afterId))) {
      // Its last event was pruned (or names another workspace's): what it missed cannot be
      // replayed. `reset` tells it to reload the board; the stream goes on from now.
      const latest = await repo.latestEventId(db, workspaceId);
      subscriber.cursor = latest;
      subscriber.send({ id: latest, event: 'reset', data: { last_event_id: latest } });
    } else {
      subscriber.cursor = afterId;
      for (;;) {
        const rows = await repo.findEventsAfter(db, workspaceId, subscriber.cursor, READ_BATCH);
        if (gone()) return;
        for (const row of rows) {
          const event = BoardEvent.fromRow(row);
          subscriber.cursor = event.id;
          subscriber.send({ id: event.id, event: event.type, frame: event.frameFor(subscriber.viewer) });
        }
        if (rows.length < READ_BATCH) break;
      }
    }
    subscriber.live = true;
    const buffered = subscriber.buffer;
    subscriber.buffer = [];
    for (const event of buffered) offer(subscriber, event);
  }

  /** Ends every stream and stops listening. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.poll);
    for (const entry of this.following.values()) clearTimeout(entry.timer);
    for (const hub of this.hubs.values()) for (const subscriber of hub.subscribers) subscriber.end();
    this.hubs.clear();
    for (const close of this.closers) await close().catch(() => undefined);
  }

  /** Clients connected in this process (for tests and metrics). */
  get clientCount(): number {
    let count = 0;
    for (const hub of this.hubs.values()) count += hub.subscribers.size;
    return count;
  }
}

const runtimes = new WeakMap<AppContext, CommandRoomRuntime>();

/** This process's command room (made on first use). */
export function commandRoomOf(ctx: AppContext): CommandRoomRuntime {
  let runtime = runtimes.get(ctx);
  if (!runtime) runtimes.set(ctx, (runtime = new CommandRoomRuntime(ctx)));
  return runtime;
}

/**
 * Scale mode: board changes are announced on `<prefix>:command-room` as `{origin, workspace}`,
 * so every process's hubs read the new rows at once (the safety poll covers a lost message).
 */
export async function connectCommandRoomRedis(ctx: AppContext, runtime: CommandRoomRuntime): Promise<void> {
  const url = ctx.config.redisUrl;
  if (!url) return;
  const [{ Redis }, { queuePrefix }] = await Promise.all([import('ioredis'), import('../../jobs/queue.js')]);
  const channel = `${queuePrefix(ctx.config)}:command-room`;
  const origin = `${process.pid}:${Math.random().toString(36).slice(2)}`;
  const retryStrategy = (times: number) => Math.min(100 * 2 ** Math.min(times, 5), 2_000);
  const commands = new Redis(url, { connectTimeout: 5_000, retryStrategy, commandTimeout: 5_000, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectionName: 'athena-command-room' });
  const subscriber = new Redis(url, {
    connectTimeout: 5_000,
    retryStrategy,
    enableOfflineQueue: true,
    maxRetriesPerRequest: null,
    enableReadyCheck: false,
    disableClientInfo: true,
    connectionName: 'athena-command-room-events',
  });
  // Outages are reported by the queue's connections; here they only cost the safety poll's delay.
  commands.on('error', () => undefined);
  subscriber.on('error', () => undefined);
  subscriber.on('ready', () => {
    subscriber.subscribe(channel).catch(() => undefined);
  });
  subscriber.on('message', (from: string, text: string) => {
    if (from !== channel) return;
    try {
      const message = JSON.parse(text) as { origin?: unknown; workspace?: unknown; linked?: unknown };
      if (message.origin !== origin && typeof message.workspace === 'string') runtime.changedElsewhere(message.workspace, message.linked === true);
    } catch {
      // Not ours.
    }
  });
  // Subscribed on every 'ready' above: start-up never waits for Redis here (the queue's own
  // start-up check reports an unreachable REDIS_URL).
  runtime.usePublisher(
    (workspaceId, linked) => {
      commands.publish(channel, JSON.stringify({ origin, workspace: workspaceId, ...(linked ? { linked } : {}) })).catch(() => undefined);
    },
    async () => {
      for (const client of [subscriber, commands]) await client.quit().catch(() => client.disconnect());
    },
  );
}

/** Ends the streams when the server closes (they would hold it open otherwise). */
export function closeWithApp(app: FastifyInstance, runtime: CommandRoomRuntime): void {
  app.addHook('preClose', async () => runtime.close());
}
