import { randomUUID } from 'node:crypto';
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  isInitializeRequest,
  ListToolsRequestSchema,
  McpError,
  type CallToolResult,
  type Tool,
} from '@modelcontextprotocol/sdk/types.js';

/** A tool the fake server offers: its listing and what a call answers. */
export interface FakeMcpTool {
  name: string;
  title?: string;
  description?: string;
  inputSchema: Tool['inputSchema'];
  handler(args: Record<string, unknown>): CallToolResult | Promise<CallToolResult>;
}

export interface FakeMcpCall {
  name: string;
  arguments: Record<string, unknown>;
  authorization: string | undefined;
}

export interface FakeMcpServerOptions {
  /** `Authorization: Bearer <token>` is required on every request (default `mcp-test-token`). */
  token?: string;
  tools?: FakeMcpTool[];
  /** tools/list answers this many tools per page, with a `nextCursor` (default: all at once). */
  pageSize?: number;
  serverName?: string;
}

export interface FakeMcpServer {
  /** The MCP endpoint (`http://127.0.0.1:<port>/mcp`). */
  url: string;
  calls: FakeMcpCall[];
  /** Sessions initialized so far (a reused client initializes once). */
  initializations: number;
  /** Every HTTP request, in order. */
  requests: Array<{ method: string; headers: IncomingMessage['headers'] }>;
  /** Ends every session, as a restarted server would: their next request answers 404. */
  forgetSessions(): Promise<void>;
  close(): Promise<void>;
}

/** The scripted tools: a weather lookup with structured content, a failing one, a dotted name. */
export function defaultFakeMcpTools(): FakeMcpTool[] {
  return [
    {
      name: 'get_weather',
      title: 'Get weather',
      description: 'The current weather in a city.',
      inputSchema: {
        type: 'object',
        properties: { city: { type: 'string' }, unit: { type: 'string', enum: ['c', 'f'] } },
        required: ['city'],
      },
      handler: (args) => ({
        content: [{ type: 'text', text: `Sunny and 21 degrees in ${String(args.city)}.` }],
        structuredContent: { city: args.city, temperature: 21, unit: args.unit ?? 'c', conditions: 'sunny' },
      }),
    },
    {
      name: 'always_fails',
      description: 'A tool whose backend is down.',
      inputSchema: { type: 'object', properties: {} },
      handler: () => ({ isError: true, content: [{ type: 'text', text: 'The weather backend is down: try again later.' }] }),
    },
    {
      name: 'docs.search',
      description: 'Searches the documentation.',
      inputSchema: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
      handler: (args) => ({
        content: [
          { type: 'text', text: `2 results for ${String(args.q)}` },
          { type: 'image', data: Buffer.from('fake-png').toString('base64'), mimeType: 'image/png' },
          { type: 'resource_link', uri: 'https://docs.example.test/a', name: 'Page A' },
        ],
      }),
    },
  ];
}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      try {
        resolve(text === '' ? undefined : JSON.parse(text));
      } catch (error) {
        reject(error);
      }
    });
    req.on('error', reject);
  });
}

/**
 * A real MCP server from the SDK (Streamable HTTP transport, sessions, answers as Server-Sent
 * Events) on 127.0.0.1 and a random port, requiring a bearer token and recording tool calls.
 */
export async function startFakeMcpServer(options: FakeMcpServerOptions = {}): Promise<FakeMcpServer> {
  const token = options.token ?? 'mcp-test-token';
  const tools = options.tools ?? defaultFakeMcpTools();
  const calls: FakeMcpCall[] = [];
  const requests: FakeMcpServer['requests'] = [];
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const state = { initializations: 0 };

  // The credentials of the latest request of each session, for the calls it carries.
  const authorizations = new Map<string, string | undefined>();
  const newServer = () => {
    const mcp = new McpServer({ name: options.serverName ?? 'fake-weather', version: '1.2.3' }, { capabilities: { tools: {} } });
    mcp.server.setRequestHandler(ListToolsRequestSchema, (request) => {
      const listed: Tool[] = tools.map((t) => ({ name: t.name, title: t.title, description: t.description, inputSchema: t.inputSchema }));
      if (!options.pageSize) return { tools: listed };
      const start = Number(request.params?.cursor ?? 0);
      const next = start + options.pageSize;
      return { tools: listed.slice(start, next), ...(next < listed.length ? { nextCursor: String(next) } : {}) };
    });
    mcp.server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      const tool = tools.find((t) => t.name === request.params.name);
      if (!tool) throw new McpError(ErrorCode.InvalidParams, `Tool ${request.params.name} not found`);
      const args = (request.params.arguments ?? {}) as Record<string, unknown>;
      calls.push({ name: tool.name, arguments: args, authorization: extra.sessionId ? authorizations.get(extra.sessionId) : undefined });
      return tool.handler(args);
    });
    return mcp;
  };

  const server = http.createServer(async (req, res) => {
    requests.push({ method: req.method ?? 'GET', headers: req.headers });
    try {
      if (req.headers.authorization !== `Bearer ${token}`) {
        res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer error="invalid_token"' });
        res.end(JSON.stringify({ error: 'invalid_token', error_description: 'The access token is invalid or expired.' }));
        return;
      }
      const body = req.method === 'POST' ? await readBody(req) : undefined;
      const sessionId = req.headers['mcp-session-id'];
      let transport = typeof sessionId === 'string' ? transports.get(sessionId) : undefined;
      if (!transport) {
        if (typeof sessionId === 'string' || req.method !== 'POST' || !isInitializeRequest(body)) {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null }));
          return;
        }
        const created: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (id) => {
            transports.set(id, created);
            authorizations.set(id, req.headers.authorization);
          },
        });
        created.onclose = () => {
          if (created.sessionId) transports.delete(created.sessionId);
        };
        state.initializations += 1;
        await newServer().connect(created);
        transport = created;
      }
      if (typeof sessionId === 'string') authorizations.set(sessionId, req.headers.authorization);
      await transport.handleRequest(req, res, body);
    } catch (error) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(error));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    calls,
    requests,
    get initializations() {
      return state.initializations;
    },
    forgetSessions: async () => {
      const open = [...transports.values()];
      transports.clear();
      for (const transport of open) await transport.close().catch(() => undefined);
    },
    close: async () => {
      for (const transport of transports.values()) await transport.close().catch(() => undefined);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
