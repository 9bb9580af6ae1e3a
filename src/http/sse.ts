import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RunEvent } from '../ai/live-runs.js';

/** One frame of a stream. `frame`, when set, is the frame already encoded (shared by many clients). */
export interface StreamEvent {
  id: number;
  event: string;
  data?: unknown;
  frame?: string;
}

/**
 * Where a stream's events come from: a live run, the stored outcome of a finished one, or the
 * command room's board log.
 */
export interface EventSource {
  /**
   * Replays events after `afterId`, then delivers new ones; returns the unsubscribe function.
   * `end` ends the stream from the source's side (the client reconnects with Last-Event-ID).
   */
  subscribe(afterId: number, listener: (event: RunEvent | StreamEvent) => void, end?: () => void): () => void;
  /** Marks a client as attached; returns the detach function. */
  attach?(): () => void;
}

const HEARTBEAT_MS = 15_000;

/** Whether the client asked for Server-Sent Events (`Accept: text/event-stream`). */
export function acceptsEventStream(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  return typeof accept === 'string' && accept.includes('text/event-stream');
}

/**
 * `Last-Event-ID` as a number: the header, else the `last_event_id` query parameter (for
 * EventSource polyfills that cannot send headers). undefined when absent or not a whole number.
 */
export function lastEventIdIfSent(request: FastifyRequest): number | undefined {
  const raw = request.headers['last-event-id'];
  const header = Array.isArray(raw) ? raw[0] : raw;
  const query = (request.query as Record<string, unknown> | undefined)?.last_event_id;
  const value = header ?? (typeof query === 'string' ? query : undefined);
  return value !== undefined && /^\d{1,15}$/.test(value.trim()) ? Number(value.trim()) : undefined;
}

/** `Last-Event-ID` as a number (0 when absent or not a whole number). */
export function lastEventIdOf(request: FastifyRequest): number {
  return lastEventIdIfSent(request) ?? 0;
}

/** Encodes one event as a Server-Sent Events frame. */
export function encodeFrame(event: { id: number; event: string; data?: unknown }): string {
  return `id: ${event.id}\nevent: ${event.event}\ndata: ${JSON.stringify(event.data ?? null)}\n\n`;
}

function frame(event: RunEvent | StreamEvent): string {
  return 'frame' in event && event.frame !== undefined ? event.frame : encodeFrame(event);
}

/**
 * Answers with a Server-Sent Events stream of a run's events, starting after `afterId`. The
 * stream ends after the `done` event. A client that goes away is detached from the run (which
 * decides whether to go on without it); comments keep idle proxies from closing the connection.
 *
 * Frames are written straight to the socket and flushed at once: Node corks a chunked response
 * until the next tick, and while a model's chunks arrive together the next tick can wait for
 * the whole step, which would hold back the first token. Fastify's onResponse hooks (metrics)
 * still run when the response finishes.
 */
export function sendEventStream(
  reply: FastifyReply,
  source: EventSource,
  afterId: number,
  options: {
    /** A client this far behind (bytes written but not yet sent) is cut off; it resumes with Last-Event-ID. */
    maxBufferedBytes?: number;
  } = {},
): FastifyReply {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string | number | string[]>),
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    'x-accel-buffering': 'no',
  });
  const write = (text: string) => {
    if (raw.writableEnded || raw.destroyed) return;
    raw.write(text);
    if (raw.socket?.writableCorked) raw.socket.uncork();
  };
  const detach = source.attach?.() ?? (() => undefined);
  let closed = false;
  let unsubscribe: (() => void) | undefined;
  const heartbeat = setInterval(() => write(': keep-alive\n\n'), HEARTBEAT_MS);
  heartbeat.unref();
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    unsubscribe?.();
    detach();
    if (!raw.writableEnded) raw.end();
  };
  // The response closes before it finished: the client went away.
  raw.on('close', () => {
    if (!raw.writableFinished) close();
  });
  write('retry: 1000\n\n');
  unsubscribe = source.subscribe(
    afterId,
    (event) => {
      if (closed) return;
      write(frame(event));
      if (event.event === 'done') close();
      else if (options.maxBufferedBytes !== undefined && raw.writableLength > options.maxBufferedBytes) close();
    },
    close,
  );
  if (closed) unsubscribe();
  return reply;
}

/** Aborted when the client goes away before its response was written. */
export function clientGoneSignal(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.on('close', () => {
    if (!reply.raw.writableFinished) controller.abort();
  });
  return controller.signal;
}
