import { Ajv, type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import { describe, expect, it } from 'vitest';
import { describeValidationErrors, summarizeFieldErrors } from '../../src/http/validation.js';

const ajv = new Ajv({ allErrors: true, strict: false });
addFormats.default(ajv);
const schema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'email'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 5 },
    email: { type: 'string', format: 'email' },
    per_page: { type: 'integer', maximum: 100 },
    is_default: { type: 'boolean' },
  },
};
const errorsFor = (data: unknown): ErrorObject[] => {
  const validate = ajv.compile(schema);
  validate(data);
  return validate.errors ?? [];
};

describe('validation messages', () => {
  it('word platform errors the Laravel way', () => {
    const fields = describeValidationErrors(errorsFor({ name: 'too long a name', per_page: 500, is_default: 'yes', extra: 1 }), 'platform');
    expect(fields).toEqual({
      email: ['The email field is required.'],
      name: ['The name field must not be greater than 5 characters.'],
      per_page: ['The per page field must not be greater than 100.'],
      is_default: ['The is default field must be true or false.'],
      extra: ['The extra field is prohibited.'],
    });
    expect(summarizeFieldErrors(fields)).toBe('The email field is required. (and 4 more errors)');
  });

  it('word /v1 errors the NestJS class-validator way', () => {
    const fields = describeValidationErrors(errorsFor({ name: 'ok', email: 'x@example.test', is_default: 'yes' }), 'thena');
    expect(fields).toEqual({ is_default: ['is_default must be a boolean value'] });
  });
});
