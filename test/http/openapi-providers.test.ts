import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

describe('OpenAPI document: providers, accounts and models', () => {
  let t: TestApp;
  let document: any;

  beforeAll(async () => {
    t = await createTestApp('sqlite');
    document = (await t.request({ url: '/openapi.json' })).body;
  });
  afterAll(() => t.close());

  it('names the seed schemas as components', () => {
    for (const name of ['Provider', 'Account', 'LargeLanguageModel', 'AuthenticationConfig', 'ProfilePhotoConfig']) {
      expect(document.components.schemas, name).toHaveProperty(name);
    }
    const account = document.paths['/api/v1/accounts/{account_uuid}'].put;
    expect(account.responses['200'].content['application/json'].schema.properties.data).toEqual({ $ref: '#/components/schemas/Account' });
    expect(document.components.schemas.Account.properties.provider).toEqual({ $ref: '#/components/schemas/Provider' });
  });

  it('documents every route of the module', () => {
    const operations = Object.values(document.paths as Record<string, Record<string, { operationId: string }>>)
      .flatMap((item) => Object.values(item).map((op) => op.operationId))
      .filter(Boolean);
    expect(operations).toEqual(
      expect.arrayContaining([
        'getProviders',
        'retrieveProvider',
        'createProvider',
        'updateProvider',
        'deleteProvider',
        'getAccounts',
        'createAccount',
        'retrieveAccount',
        'updateAccount',
        'deleteAccount',
        'verifyAccount',
        'authorizeOAuth2Provider',
        'oauth2Callback',
        'getLargeLanguageModels',
        'retrieveLargeLanguageModel',
      ]),
    );
  });
});
