import http from 'node:http';

/** One Server-Sent Event as received: its type (`message` when unnamed) and raw data. */
export interface SseEvent {
  event: string;
  data: string;
}

export interface StreamResult {
  status: number;
  events: SseEvent[];
  /** From the request being sent to the first event `isFirstToken` accepts. */
  firstTokenMs: number | null;
  /** From the request being sent to the end of the response. */
  totalMs: number;
  /** Set when the request failed or the stream broke or timed out. */
  error?: string;
}

export interface StreamRequest {
  headers?: Record<string, string>;
  body: unknown;
  agent: http.Agent;
  /** The event that carries the first token of the reply. */
  isFirstToken(event: SseEvent): boolean;
  timeoutMs?: number;
}

function parseBlock(block: string): SseEvent | undefined {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event: ')) event = line.slice(7);
    else if (line.startsWith('data: ')) data.push(line.slice(6));
  }
  return data.length > 0 ? { event, data: data.join('\n') } : undefined;
}

/**
 * POSTs `body` and reads the Server-Sent Events answer as it arrives, timing the first token on
 * this process's clock. The same client reads the model server's chunks and Athena's events,
 * so what it costs is the same on both sides of a comparison.
 */
export function timedStream(url: string, request: StreamRequest): Promise<StreamResult> {
  const payload = JSON.stringify(request.body);
  return new Promise((resolve) => {
    const events: SseEvent[] = [];
    let status = 0;
    let firstTokenMs: number | null = null;
    let buffer = '';
    let settled = false;
    const started = performance.now();
    const finish = (error?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve({ status, events, firstTokenMs, totalMs: performance.now() - started, ...(error ? { error } : {}) });
    };
    const req = http.request(url, {
      method: 'POST',
      agent: request.agent,
      headers: {
        accept: 'text/event-stream',
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(payload)),
        ...request.headers,
      },
    });
    const timer = setTimeout(() => {
      finish(`no end of stream within ${request.timeoutMs ?? 60_000} ms`);
      req.destroy();
    }, request.timeoutMs ?? 60_000);
    req.on('response', (response) => {
      status = response.statusCode ?? 0;
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        let index: number;
        while ((index = buffer.indexOf('\n\n')) >= 0) {
          const event = parseBlock(buffer.slice(0, index));
          buffer = buffer.slice(index + 2);
          if (!event) continue;
          if (firstTokenMs === null && request.isFirstToken(event)) firstTokenMs = performance.now() - started;
          events.push(event);
        }
      });
      response.on('end', () => finish());
      response.on('error', (error) => finish(error.message));
    });
    req.on('error', (error) => finish(error.message));
    req.end(payload);
  });
}

/** The model server's first chunk with content (its first chunk only announces the role). */
export function isOpenAiContentChunk(event: SseEvent): boolean {
  if (event.data === '[DONE]') return false;
  const parsed = JSON.parse(event.data) as { choices?: Array<{ delta?: { content?: string | null } }> };
  return Boolean(parsed.choices?.[0]?.delta?.content);
}

/** Athena's first `message.delta`. */
export function isAthenaDelta(event: SseEvent): boolean {
  return event.event === 'message.delta';
}

/** Nearest-rank percentiles of a sample, in ms with two decimals. */
export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  min: number;
  max: number;
}

export function percentiles(values: number[]): Percentiles {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? 0;
  const round = (v: number) => Math.round(v * 100) / 100;
  return { p50: round(at(50)), p95: round(at(95)), p99: round(at(99)), min: round(sorted[0] ?? 0), max: round(sorted.at(-1) ?? 0) };
}
