import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/** Seed 000's document, field for field where it defines something. */
describe('OpenAPI document: the customer-accounts API (/v1)', () => {
  let t: TestApp;
  let document: any;

  beforeAll(async () => {
    t = await createTestApp('sqlite');
    document = (await t.request({ url: '/openapi.json' })).body;
  });
  afterAll(() => t.close());

  it('describes PUT /v1/accounts/attributes/{id} as seed 000 does', () => {
    const operation = document.paths['/v1/accounts/attributes/{id}'].put;
    expect(operation.operationId).toBe('AccountAttributeValueActionController_updateAccountAttributeValue');
    expect(operation.summary).toBe('Updates an account attribute value');
    expect(operation.tags).toEqual(['Accounts']);
    expect(operation.parameters).toEqual([expect.objectContaining({ name: 'id', in: 'path', required: true, schema: expect.objectContaining({ type: 'string' }) })]);
    expect(operation.requestBody.required).toBe(true);
    expect(operation.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/UpdateAccountAttributeValueDto' });
    expect(operation.responses['200'].description).toBe('Operation successful');
    expect(operation.responses['200'].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/AccountAttributeValueResponseDto' });
    const descriptions = Object.fromEntries(Object.entries(operation.responses).map(([status, r]: [string, any]) => [status, r.description]));
    expect(descriptions).toMatchObject({
      '401': 'User is not authenticated!',
      '403': 'User does not have access to this resource!',
      '404': 'Resource not found!',
      '429': 'Too many requests!',
      '500': 'Something went wrong!',
      '503': 'This service/resource is currently unavailable.',
    });
  });

  it('names the seed’s DTOs with the seed’s fields', () => {
    const { UpdateAccountAttributeValueDto: update, AccountAttributeValueResponseDto: response } = document.components.schemas;
    expect(update.type).toBe('object');
    expect(update.properties.value).toMatchObject({ type: 'string', description: 'Attribute value', example: 'PROSPECT' });
    expect(update.properties.isDefault).toMatchObject({ type: 'boolean', description: 'Whether the attribute is default' });
    expect(update.required ?? []).toEqual([]);
    expect(response.required).toEqual(expect.arrayContaining(['id', 'attribute', 'value', 'isDefault', 'createdAt', 'updatedAt']));
    // Seed 000's nine attributes, and the two the spec adds.
    expect(response.properties.attribute.enum).toEqual(
      expect.arrayContaining(['account_status', 'account_classification', 'contact_type', 'activity_type', 'activity_status', 'note_type', 'task_type', 'task_status', 'task_priority']),
    );
  });

  it('documents every /v1 route with a seed-style operation id and the seed’s error responses', () => {
    const operations = Object.entries(document.paths as Record<string, Record<string, any>>)
      .filter(([path]) => path.startsWith('/v1/'))
      .flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ path, method, op })));
    expect(operations.length).toBeGreaterThanOrEqual(10);
    for (const { path, method, op } of operations) {
      expect(op.operationId, `${method} ${path}`).toMatch(/^[A-Z][A-Za-z]+Controller_[a-z][A-Za-z]+$/);
      expect(op.tags, `${method} ${path}`).toEqual(['Accounts']);
      for (const status of ['401', '403', '404', '429', '500', '503']) expect(op.responses, `${method} ${path} ${status}`).toHaveProperty(status);
    }
  });
});
