import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIALECTS } from '../helpers/databases.js';
import { compilePendingSchemas } from '../../src/http/validation.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

const run = promisify(execFile);

describe.each(DIALECTS)('operations on %s', (dialect) => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp(dialect, { ATHENA_METRICS_TOKEN: 'scrape-secret' });
  });
  afterAll(() => t.close());

  it('answers /health and /ready without credentials', async () => {
    const health = await t.request({ url: '/health' });
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok' });

    const ready = await t.request({ url: '/ready' });
    expect(ready.status).toBe(200);
    expect(ready.body).toEqual({ status: 'ok', checks: { database: 'ok' } });
  });

  it('exposes Prometheus metrics by route template and status, behind the metrics token', async () => {
    const { token } = await t.signUp();
    await t.request({ url: '/api/v1/user', token });
    await t.request({ url: '/api/v1/workspaces/0190a0a0-0000-7000-8000-000000000000', token });

    expect((await t.request({ url: '/metrics' })).status).toBe(401);
    const metrics = await t.request({ url: '/metrics', headers: { authorization: 'Bearer scrape-secret' } });

    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toContain('text/plain');
    expect(metrics.text).toMatch(/athena_http_requests_total\{method="GET",route="\/api\/v1\/user",status_code="200"\} 1/);
    expect(metrics.text).toMatch(/athena_http_requests_total\{method="GET",route="\/api\/v1\/workspaces\/:workspace_uuid",status_code="404"\} 1/);
    expect(metrics.text).toContain('athena_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/v1/user",status_code="200"}');
    // Labels are route templates: no ids, so cardinality stays bounded.
    expect(metrics.text).not.toContain('0190a0a0-0000-7000-8000-000000000000');
    expect(metrics.text).toContain('process_resident_memory_bytes');
  });

  it('serves the interactive reference at /docs', async () => {
    const docs = await t.request({ url: '/docs/' });
    expect(docs.status).toBe(200);
    expect(docs.headers['content-type']).toContain('text/html');
  });

  describe('/openapi.json', () => {
    let document: any;

    beforeAll(async () => {
      const response = await t.request({ url: '/openapi.json' });
      expect(response.status).toBe(200);
      document = response.body;
    });

    it('is OpenAPI 3.1 with the seed’s schema names as components', () => {
      expect(document.openapi).toBe('3.1.0');
      for (const name of ['User', 'Workspace', 'WorkspaceMember', 'PaginationMeta', 'ErrorMessage', 'ValidationError']) {
        expect(document.components.schemas, name).toHaveProperty(name);
      }
      const me = document.paths['/api/v1/user'].get;
      expect(me.responses['200'].content['application/json'].schema.properties.data).toEqual({ $ref: '#/components/schemas/User' });
    });

    it('gives every operation a unique operationId, a summary and a tag', () => {
      const ids = new Set<string>();
      for (const [route, operations] of Object.entries<Record<string, any>>(document.paths)) {
        for (const [method, operation] of Object.entries<any>(operations)) {
          expect(operation.operationId, `${method} ${route}`).toBeTruthy();
          expect(ids.has(operation.operationId), operation.operationId).toBe(false);
          ids.add(operation.operationId);
          expect(operation.summary, `${method} ${route}`).toBeTruthy();
          expect(operation.tags?.length, `${method} ${route}`).toBeGreaterThan(0);
        }
      }
    });

    it('passes spectral:oas with no errors', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'athena-spectral-'));
      try {
        fs.writeFileSync(path.join(dir, 'openapi.json'), JSON.stringify(document));
        fs.writeFileSync(path.join(dir, '.spectral.json'), JSON.stringify({ extends: ['spectral:oas'] }));
        const spectral = path.resolve('node_modules/.bin/spectral');
        const result = await run(spectral, ['lint', 'openapi.json', '--ruleset', '.spectral.json', '--format', 'json', '--fail-severity', 'error', '--quiet'], {
          cwd: dir,
        }).catch((error: { stdout?: string; code?: number }) => ({ stdout: error.stdout ?? '', failed: error.code }));
        const findings = JSON.parse(result.stdout || '[]') as Array<{ code: string; message: string; severity: number; path: string[] }>;
        const errors = findings.filter((f) => f.severity === 0).map((f) => `${f.code} at ${f.path.join('.')}: ${f.message}`);
        expect(errors).toEqual([]);
        expect('failed' in result ? result.failed : 0).toBe(0);
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }, 60_000);
  });
});

describe.each(DIALECTS)('the first-owner bootstrap on %s', (dialect) => {
  it('creates the owner once, with a primary workspace, and never again', async () => {
    const env = { ATHENA_ADMIN_EMAIL: 'Boss@Example.test', ATHENA_ADMIN_PASSWORD: 'a-long-admin-password' };
    const t = await createTestApp(dialect, env);
    try {
      const signIn = await t.request({
        method: 'POST',
        url: '/api/v1/auth/sign-in',
        body: { email: 'boss@example.test', password: 'a-long-admin-password' },
      });
      expect(signIn.status).toBe(200);
      expect(signIn.body.data.user.primary_workspace).toMatchObject({ is_owner: true });

      const users = await t.ctx.db.kysely.selectFrom('users').select(['email', 'is_admin']).execute();
      expect(users).toHaveLength(1);
      expect(users[0]!.email).toBe('boss@example.test');

      // A second start on the same database (as after a restart) creates nobody.
      const { bootstrapOwner } = await import('../../src/modules/users/users.service.js');
      expect(await bootstrapOwner(t.ctx)).toBeUndefined();
      expect(await t.ctx.db.kysely.selectFrom('users').select('id').execute()).toHaveLength(1);
    } finally {
      await t.close();
    }
  });
});

describe('schemas compiled on first use', () => {
  it('compile, every one of them, without errors', async () => {
    const t = await createTestApp('sqlite');
    try {
      // Validators and serializers are built lazily; building them all here keeps a broken
      // schema a test failure rather than a first request's 500.
      expect(compilePendingSchemas()).toBeGreaterThan(100);
      expect(compilePendingSchemas()).toBe(0);
      const { token } = await t.signUp();
      expect((await t.request({ url: '/api/v1/user', token })).status).toBe(200);
    } finally {
      await t.close();
    }
  });
});

describe('readiness when the database is gone', () => {
  it('answers /ready with 503 while /health stays 200', async () => {
    const t = await createTestApp('sqlite');
    try {
      const { token } = await t.signUp();
      await t.ctx.db.close();
      const ready = await t.request({ url: '/ready' });
      expect(ready.status).toBe(503);
      expect(ready.body).toEqual({ status: 'unavailable', checks: { database: 'error' } });
      expect((await t.request({ url: '/health' })).status).toBe(200);

      // An API request that needs the database is told to retry (503), not that the server broke.
      const api = await t.request({ url: '/api/v1/workspaces', token });
      expect(api.status).toBe(503);
      expect(api.body).toEqual({ message: 'Service Unavailable' });
      const thena = await t.request({ method: 'PUT', url: '/v1/accounts/attributes/0192f5a0-7c1e-7b3a-9d2e-6f1a2b3c4d5e', token, body: { isDefault: true } });
      expect(thena.status).toBe(503);
      expect(thena.body).toEqual({ statusCode: 503, message: 'This service/resource is currently unavailable.', error: 'Service Unavailable' });
    } finally {
      await t.close().catch(() => undefined);
    }
  });
});
