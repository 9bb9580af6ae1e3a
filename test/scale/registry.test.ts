import { describe, expect, it } from 'vitest';
import { checkJobHandlers, JOB_NAMES, parseJobPayload } from '../../src/jobs/registry.js';
import { queuePrefix } from '../../src/jobs/queue.js';

// Needs neither Redis nor PostgreSQL: the start-up checks of the job registry.
describe('the job registry', () => {
  const handler = async () => undefined;

  it('accepts one handler per job', () => {
    expect(() => checkJobHandlers(Object.fromEntries(JOB_NAMES.map((name) => [name, handler])))).not.toThrow();
  });

  it('refuses to start with a job that has no handler, or a handler for no job', () => {
    expect(() => checkJobHandlers({})).toThrow('No handler for the job execute.');
    expect(() => checkJobHandlers({ execute: 'not a function' })).toThrow('No handler for the job execute.');
    expect(() => checkJobHandlers({ execute: handler, reindex: handler })).toThrow('Handlers for unknown jobs: reindex.');
  });

  it('checks a payload read from Redis before a handler sees it', () => {
    expect(parseJobPayload('execute', { executionId: 'abc', extra: 1 })).toEqual({ executionId: 'abc' });
    expect(parseJobPayload('execute', { executionId: 42 })).toBeUndefined();
    expect(parseJobPayload('execute', { executionId: '' })).toBeUndefined();
    expect(parseJobPayload('execute', null)).toBeUndefined();
  });

  it('keeps each install (database schema) to its own queue keys and events channel', () => {
    expect(queuePrefix({ databaseSchema: undefined })).toBe('athena');
    expect(queuePrefix({ databaseSchema: 'tenant_a' })).toBe('athena:tenant_a');
  });
});
