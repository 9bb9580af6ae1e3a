import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RunEvent } from '../ai/live-runs.js';

/** Where a stream's events come from: a live run, or the stored outcome of a finished one. */
export interface EventSource {
  /** Replays events after `afterId`, then delivers new ones; returns the unsubscribe function. */
  subscribe(afterId: number, listener: (event: RunEvent) => void): () => void;
  /** Marks a client as attached; returns the detach function. */
  attach?(): () => void;
}

const HEARTBEAT_MS = 15_000;

/** Whether the client asked for Server-Sent Events (`Accept: text/event-stream`). */
export function acceptsEventStream(request: FastifyRequest): boolean {
  const accept = request.headers.accept;
  return typeof accept === 'string' && accept.includes('text/event-stream');
}

/** `Last-Event-ID` as a number (0 when absent or not a whole number). */
export function lastEventIdOf(request: FastifyRequest): number {
  const raw = request.headers['last-event-id'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  return value !== undefined && /^\d{1,9}$/.test(value.trim()) ? Number(value.trim()) : 0;
}

function frame(event: RunEvent): string {
  return `id: ${event.id}\nevent: ${event.event}\ndata: ${JSON.stringify(event.data)}\n\n`;
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
export function sendEventStream(reply: FastifyReply, source: EventSource, afterId: number): FastifyReply {
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
  unsubscribe = source.subscribe(afterId, (event) => {
    if (closed) return;
    write(frame(event));
    if (event.event === 'done') close();
  });
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
