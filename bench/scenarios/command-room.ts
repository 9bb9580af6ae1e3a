import http from 'node:http';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { api, cpuMs, rssMb, signInAdmin, startAthena, type BenchDialect, type RunningServer } from '../lib/harness.js';
import type { CommandRoomStreamResult, FanoutRun } from '../lib/report.js';
import type { MeasuredScenario } from '../lib/scenario.js';
import { percentiles } from '../lib/stream-client.js';

/**
 * Issue #7: the command room's live stream. `clients` Server-Sent Events streams of
 * `GET /api/v1/command-room/stream` stay open (one socket each, in this process) while tasks are
 * moved through the API at a steady pace, one `PUT` after another; each change names itself in
 * the task's title. Every client's arrival time of every change is taken on this process's clock
 * when the chunk completing its frame arrives, and compared with the moment its PUT was sent.
 * One client first (the floor: one frame per change), then 500, on the same server.
 */

const ISSUE = 7;
const CLIENTS = [1, 500];
const CHANGES = 200;
const INTERVAL_MS = 50;
const TASKS = 20;
const CONNECT_BATCH = 50;
const TARGET_P99_MS = 100;
const QUIET_ENV = { ATHENA_ACCESS_LOG: 'false', LOG_LEVEL: 'warn' };
const TITLE = /^bench change (\d+)$/;

class StreamClient {
  status = 0;
  error: string | undefined;
  readonly chunks: Array<[at: number, text: string]> = [];
  /** Set once a chunk holding `marker` arrived: the client is live. */
  private marker: string | undefined;
  private onMarker: (() => void) | undefined;
  readonly connected: Promise<void>;
  private readonly request: http.ClientRequest;

  constructor(url: string, headers: Record<string, string>, agent: http.Agent) {
    let connected!: () => void;
    let failed!: (error: Error) => void;
    this.connected = new Promise((resolve, reject) => {
      connected = resolve;
      failed = reject;
    });
    this.request = http.get(url, { agent, headers: { ...headers, accept: 'text/event-stream' } }, (response) => {
      this.status = response.statusCode ?? 0;
      if (this.status !== 200) {
        failed(new Error(`stream answered ${this.status}`));
        response.resume();
        return;
      }
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        this.chunks.push([performance.now(), chunk]);
        if (this.marker !== undefined && chunk.includes(this.marker)) {
          this.marker = undefined;
          this.onMarker?.();
        }
      });
      response.on('error', (error) => (this.error = error.message));
      response.on('end', () => (this.error ??= 'the stream ended'));
      connected();
    });
    this.request.on('error', (error) => {
      this.error = error.message;
      failed(error);
    });
  }

  /** Resolves when a chunk holding `marker` arrives (false after `timeoutMs`). */
  waitFor(marker: string, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.chunks.some(([, text]) => text.includes(marker))) return resolve(true);
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.marker = marker;
      this.onMarker = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }

  /** The frames received, each with the arrival time of the chunk that completed it. */
  frames(): Array<{ at: number; id: number; event: string; data: string }> {
    const frames: Array<{ at: number; id: number; event: string; data: string }> = [];
    let buffer = '';
    for (const [at, text] of this.chunks) {
      buffer += text;
      let index: number;
      while ((index = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, index);
        buffer = buffer.slice(index + 2);
        let id = NaN;
        let event = 'message';
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith('id: ')) id = Number(line.slice(4));
          else if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data.push(line.slice(6));
        }
        if (data.length > 0) frames.push({ at, id, event, data: data.join('\n') });
      }
    }
    return frames;
  }

  close(): void {
    this.request.destroy();
  }
}

async function put(url: string, token: string, taskId: string, body: unknown): Promise<void> {
  const response = await fetch(`${url}/api/v1/command-room/tasks/${taskId}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`PUT task: ${response.status} ${text.slice(0, 300)}`);
}

async function fanout(server: RunningServer, token: string, taskIds: string[], clients: number, log: (m: string) => void): Promise<FanoutRun> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });
  const streams: StreamClient[] = [];
  const headers = { authorization: `Bearer ${token}` };
  const connectStarted = performance.now();
  try {
    for (let i = 0; i < clients; i += CONNECT_BATCH) {
      const batch = Array.from({ length: Math.min(CONNECT_BATCH, clients - i) }, () => new StreamClient(`${server.url}/api/v1/command-room/stream`, headers, agent));
      streams.push(...batch);
      await Promise.all(batch.map((s) => s.connected));
    }
    const connectMs = performance.now() - connectStarted;

    // A change every client must see before the measured ones: each stream is live by then.
    const marker = `bench warm-up ${Date.now()}`;
    const seen = Promise.all(streams.map((s) => s.waitFor(marker, 10_000)));
    await put(server.url, token, taskIds[0]!, { title: marker });
    const live = (await seen).filter(Boolean).length;
    if (live < clients) log(`  only ${live} of ${clients} streams saw the warm-up change within 10 s`);
    await sleep(200);

    const [one] = os.loadavg();
    const cpuBefore = cpuMs(server.pid);
    const sentAt: number[] = [];
    const ackAt: number[] = [];
    const putMs: number[] = [];
    let putErrors = 0;
    const began = performance.now();
    for (let k = 0; k < CHANGES; k++) {
      const due = began + k * INTERVAL_MS;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const task = taskIds[k % taskIds.length]!;
      const status = Math.floor(k / taskIds.length) % 2 === 0 ? 'in_progress' : 'todo';
      sentAt[k] = performance.now();
      try {
        await put(server.url, token, task, { title: `bench change ${k}`, status, position: 0 });
      } catch (error) {
        putErrors++;
        log(`  change ${k}: ${(error as Error).message}`);
      }
      ackAt[k] = performance.now();
      putMs.push(ackAt[k]! - sentAt[k]!);
    }
    // Frames still on their way.
    await sleep(1000);
    const serverCpuMs = cpuMs(server.pid) - cpuBefore;
    const rss = rssMb(server.pid);

    const delays: number[] = [];
    const afterAck: number[] = [];
    let delivered = 0;
    let outOfOrder = 0;
    let duplicates = 0;
    let otherFrames = 0;
    let brokenStreams = 0;
    for (const stream of streams) {
      if (stream.error) brokenStreams++;
      const got = new Set<number>();
      const ids = new Set<number>();
      let lastId = -Infinity;
      let lastK = -1;
      for (const frame of stream.frames()) {
        if (ids.has(frame.id)) {
          duplicates++;
          continue;
        }
        ids.add(frame.id);
        if (frame.id < lastId) outOfOrder++;
        lastId = Math.max(lastId, frame.id);
        let title: unknown;
        try {
          title = (JSON.parse(frame.data) as { title?: unknown }).title;
        } catch {
          continue;
        }
        const match = typeof title === 'string' ? TITLE.exec(title) : null;
        if (!match) continue;
        const k = Number(match[1]);
        // Another event carrying an earlier change's title (a neighbour's shift, say): not a delivery.
        if (got.has(k)) {
          otherFrames++;
          continue;
        }
        if (k < lastK) outOfOrder++;
        lastK = Math.max(lastK, k);
        got.add(k);
        delivered++;
        delays.push(frame.at - sentAt[k]!);
        afterAck.push(frame.at - ackAt[k]!);
      }
    }
    const expected = clients * (CHANGES - putErrors);
    const run: FanoutRun = {
      clients,
      changes: CHANGES,
      intervalMs: INTERVAL_MS,
      connectMs: Math.round(connectMs),
      live,
      expected,
      delivered,
      missed: expected - delivered,
      outOfOrder,
      duplicates,
      otherFrames,
      brokenStreams,
      putErrors,
      delay: percentiles(delays),
      delayAfterAck: percentiles(afterAck),
      put: percentiles(putMs),
      serverCpuMsPerChange: Math.round((serverCpuMs / CHANGES) * 100) / 100,
      rssMb: rss,
      loadAverage: Math.round(one! * 100) / 100,
    };
    log(
      `command-room ${clients} client${clients === 1 ? '' : 's'}: delay from PUT sent p50 ${run.delay.p50} ms, p95 ${run.delay.p95} ms, p99 ${run.delay.p99} ms, max ${run.delay.max} ms; ` +
        `PUT p50 ${run.put.p50} ms; ${delivered}/${expected} delivered, ${run.missed} missed, ${outOfOrder} out of order, ${duplicates} duplicates; server CPU ${run.serverCpuMsPerChange} ms per change`,
    );
    return run;
  } finally {
    for (const stream of streams) stream.close();
    agent.destroy();
    await sleep(200);
  }
}

export const commandRoomStream: MeasuredScenario = {
  kind: 'measured',
  id: 'command-room-stream',
  issue: ISSUE,
  title: 'Command room: board changes to 500 connected Server-Sent Events clients',
  async run(context): Promise<CommandRoomStreamResult> {
    const [one, five] = os.loadavg();
    const result: CommandRoomStreamResult = {
      kind: 'command-room-stream',
      id: this.id,
      issue: this.issue,
      title: this.title,
      runAt: context.runAt,
      machine: context.machine,
      maxP99Ms: TARGET_P99_MS,
      notes: [
        `${TASKS} tasks on the board; then ${CHANGES} changes, one every ${INTERVAL_MS} ms (one at a time: the next waits for the previous PUT's answer if it is late): \`PUT /api/v1/command-room/tasks/{uuid}\` moving a task to the top of the other column (\`todo\` ↔ \`in_progress\`, position 0) and renaming it \`bench change <k>\`. Every stream is live before the first (each has received a warm-up change).`,
        'Delay: from the moment the PUT was sent to the moment the chunk completing that change\'s frame arrived at a client, over every (client, change) pair, on the bench process\'s clock (the clients and the writer are the same process, separate from the server). It includes the PUT\'s own work (the move and its event committed) and the client side\'s reading on a shared core. "after its answer" is the same measured from the PUT\'s answer (negative when the frame came first).',
        'Missed: (client, change) pairs with no frame; out of order: a frame whose event id or change number is lower than one the client already had; duplicate: an event id received twice. Every stream is one socket, opened 50 at a time, all with the owner\'s token.',
        `Load average when it started: ${one!.toFixed(2)} (1 min), ${five!.toFixed(2)} (5 min) on ${os.cpus().length} cores; the clients, the server and PostgreSQL share them.`,
      ],
      dialects: {},
    };
    for (const dialect of context.dialects as BenchDialect[]) {
      const server = await startAthena(dialect, QUIET_ENV);
      try {
        const token = await signInAdmin(server.url);
        const taskIds: string[] = [];
        for (let i = 0; i < TASKS; i++) {
          const task = await api<{ data: { uuid: string } }>(server.url, 'POST', '/api/v1/command-room/tasks', token, { title: `bench task ${i}`, status: 'todo' });
          taskIds.push(task.data.uuid);
        }
        const runs: FanoutRun[] = [];
        for (const clients of CLIENTS) {
          context.log(`command-room ${dialect}: ${clients} client${clients === 1 ? '' : 's'}`);
          runs.push(await fanout(server, token, taskIds, clients, context.log));
        }
        result.dialects[dialect] = { runs, rssAfterMb: rssMb(server.pid) };
      } finally {
        await server.stop();
      }
    }
    return result;
  },
};
