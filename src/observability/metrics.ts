import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { createRuntimeMetrics } from './runtime-metrics.js';

/**
 * The Prometheus registry of one server, with the instruments modules record into. Labels
 * are bounded: route templates, status codes and closed lists (runtime-metrics.ts), never ids.
 * Each server has its own registry (tests build many in one process); `observe(ctx)` lets its
 * gauges read that server's database, runner and live runs on scrape.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpRequests = new Counter({
      name: 'athena_http_requests_total',
      help: 'HTTP requests answered, by method, route template and status code.',
      labelNames: ['method', 'route', 'status_code'] as const,
      registers: [registry],
  });
  const httpDuration = new Histogram({
      name: 'athena_http_request_duration_seconds',
      help: 'Time to answer HTTP requests, by method, route template and status code.',
      labelNames: ['method', 'route', 'status_code'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
  });
  // Labelled children per (method, route, status): looking one up by a label object hashes
  // the labels on every call, which costs more than the rest of the recording.
  const httpChildren = new Map<string, { count: { inc(): void }; duration: { observe(value: number): void } }>();

  return {
    ...createRuntimeMetrics(registry),
    registry,
    httpRequests,
    httpDuration,
    /** Records one answered HTTP request. */
    recordHttp(method: string, route: string, statusCode: number, seconds: number): void {
      const key = `${method} ${statusCode} ${route}`;
      let child = httpChildren.get(key);
      if (!child) {
        const labels = { method, route, status_code: String(statusCode) };
        child = { count: httpRequests.labels(labels), duration: httpDuration.labels(labels) };
        httpChildren.set(key, child);
      }
      child.count.inc();
      child.duration.observe(seconds);
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
