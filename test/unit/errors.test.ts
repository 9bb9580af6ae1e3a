import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, PLATFORM_ERRORS, THENA_ERRORS } from '../../src/errors.js';

describe('error codes', () => {
  it('each maps to an error status on both surfaces', () => {
    for (const code of ERROR_CODES) {
      expect(PLATFORM_ERRORS[code].status, code).toBeGreaterThanOrEqual(400);
      expect(THENA_ERRORS[code].status, code).toBeGreaterThanOrEqual(400);
      expect(PLATFORM_ERRORS[code].message, code).toBeTruthy();
      expect(THENA_ERRORS[code].message, code).toBeTruthy();
    }
  });

  it('answer /v1 with seed 000’s messages', () => {
    expect(THENA_ERRORS.UNAUTHENTICATED).toMatchObject({ status: 401, message: 'User is not authenticated!' });
    expect(THENA_ERRORS.FORBIDDEN).toMatchObject({ status: 403, message: 'User does not have access to this resource!' });
    expect(THENA_ERRORS.NOT_FOUND).toMatchObject({ status: 404, message: 'Resource not found!' });
    expect(THENA_ERRORS.RATE_LIMITED).toMatchObject({ status: 429, message: 'Too many requests!' });
    expect(THENA_ERRORS.INTERNAL).toMatchObject({ status: 500, message: 'Something went wrong!' });
    expect(THENA_ERRORS.SERVICE_UNAVAILABLE).toMatchObject({ status: 503, message: 'This service/resource is currently unavailable.' });
  });

  it('are all documented in docs/restful-api.md', () => {
    const docs = fs.readFileSync(path.resolve('docs/restful-api.md'), 'utf8');
    const undocumented = ERROR_CODES.filter((code) => !docs.includes(`\`${code}\``));
    expect(undocumented).toEqual([]);
  });
});
