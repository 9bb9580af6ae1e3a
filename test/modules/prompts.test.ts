import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError } from '../../src/errors.js';
import { preparePromptRun } from '../../src/modules/prompts/prompts.service.js';
import type { WorkspaceScope } from '../../src/modules/workspaces/workspaces.service.js';
import { DIALECTS } from '../helpers/databases.js';
import { createTestApp, type SignedUp, type TestApp } from '../helpers/test-app.js';

const PROMPT_KEYS = [
  'uuid',
  'name',
  'description',
  'content',
  'variables',
  'variables_declared',
  'llm_uuid',
  'account_uuid',
  'settings',
  'visibility',
  'version',
  'profile_photo_config',
  'is_owner',
  'user',
  'created_at',
  'updated_at',
];
const VERSION_KEYS = ['version', 'content', 'variables', 'llm_uuid', 'account_uuid', 'settings', 'user', 'created_at'];
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UNKNOWN_UUID = '0198ffff-0000-7000-8000-000000000000';

/** The AppError a call threw, to assert on services called directly. */
async function appErrorOf(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AppError);
    return error as AppError;
  }
  throw new Error('expected an AppError');
}

describe.each(DIALECTS)('prompts on %s', (dialect) => {
  let t: TestApp;
  let owner: SignedUp;
  let admin: SignedUp;
  let member: SignedUp;
  let viewer: SignedUp;
  let stranger: SignedUp;
  let openaiAccount: string;
  let anthropicAccount: string;
  let memberAccount: string;
  let gpt: string;
  let claude: string;

  const workspace = () => owner.user.primary_workspace.uuid as string;
  const as = (who: SignedUp) => ({ token: who.token, headers: { 'x-workspace-id': workspace() } });
  const scopeOf = (who: SignedUp, role: WorkspaceScope['role']): WorkspaceScope => ({ workspaceId: workspace(), role, userId: who.user.id });

  const create = (who: SignedUp, body: Record<string, unknown>) => t.request({ method: 'POST', url: '/api/v1/prompts', ...as(who), body });
  const update = (who: SignedUp, id: string, body: Record<string, unknown>) =>
    t.request({ method: 'PUT', url: `/api/v1/prompts/${id}`, ...as(who), body });
  const created = async (who: SignedUp, body: Record<string, unknown>) => {
    const response = await create(who, body);
    if (response.status !== 201) throw new Error(`create failed: ${response.status} ${response.text}`);
    return response.body.data;
  };
  const promptRow = (id: string) => t.ctx.db.kysely.selectFrom('prompts').selectAll().where('id', '=', id).executeTakeFirst();
  const versionRows = (id: string) =>
    t.ctx.db.kysely.selectFrom('prompt_versions').selectAll().where('prompt_id', '=', id).orderBy('version').execute();
  const countPrompts = async () =>
    Number((await t.ctx.db.kysely.selectFrom('prompts').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);

  async function connect(who: SignedUp, slug: string): Promise<string> {
    const providers = await t.request({ url: `/api/v1/providers?search=${slug}&per_page=50`, token: who.token });
    const provider = providers.body.data.find((p: any) => p.slug === slug).uuid;
    const response = await t.request({
      method: 'POST',
      url: '/api/v1/accounts',
      ...as(who),
      body: { provider_uuid: provider, provider_display_name: `${slug} of ${who.user.name}`, token: `sk-${slug}-test` },
    });
    if (response.status !== 201) throw new Error(`account failed: ${response.status} ${response.text}`);
    return response.body.data.uuid;
  }

  async function modelId(modelName: string): Promise<string> {
    const response = await t.request({ url: `/api/v1/large-language-models?search=${modelName}`, token: owner.token });
    return response.body.data.find((m: any) => m.model_id === modelName).uuid;
  }

  beforeAll(async () => {
    t = await createTestApp(dialect);
    owner = await t.signUp();
    admin = await t.signUp();
    member = await t.signUp();
    viewer = await t.signUp();
    stranger = await t.signUp();
    for (const [who, role] of [
      [admin, 'admin'],
      [member, 'member'],
      [viewer, 'viewer'],
    ] as const) {
      const added = await t.request({ method: 'POST', url: `/api/v1/workspaces/${workspace()}/members`, token: owner.token, body: { email: who.email, role } });
      expect(added.status).toBe(201);
    }
    openaiAccount = await connect(owner, 'openai');
    anthropicAccount = await connect(owner, 'anthropic');
    memberAccount = await connect(member, 'openai');
    gpt = await modelId('gpt-4.1-mini');
    claude = await modelId('claude-3-5-haiku-20241022');
  });
  afterAll(() => t.close());

  describe('create and read', () => {
    it('infers variables from the template, makes version 1 and answers the Prompt shape', async () => {
      const response = await create(owner, {
        name: '  Support reply ',
        description: 'Answers a customer',
        content: 'Write to {{ customer.name }} about {{ issue }}.{% for t in tags %} #{{ t }}{% endfor %}{% assign n = 1 %}{{ n }}',
        llm_uuid: gpt,
        account_uuid: openaiAccount,
        settings: { temperature: 0.3 },
        visibility: 'workspace',
      });

      expect(response.status).toBe(201);
      const prompt = response.body.data;
      expect(Object.keys(prompt)).toEqual(PROMPT_KEYS);
      expect(prompt).toMatchObject({
        name: 'Support reply',
        description: 'Answers a customer',
        variables: [
          { name: 'customer', description: null, default: null, required: true },
          { name: 'issue', description: null, default: null, required: true },
          { name: 'tags', description: null, default: null, required: true },
        ],
        variables_declared: false,
        llm_uuid: gpt,
        account_uuid: openaiAccount,
        settings: { temperature: 0.3, max_tokens: null, json_output: false },
        visibility: 'workspace',
        version: 1,
        profile_photo_config: { emoji: null, background_color: null, preference: null },
        is_owner: true,
        user: { id: owner.user.id, email: owner.email, primary_workspace: {} },
      });
      expect(prompt.created_at).toMatch(ISO);
      expect(prompt.updated_at).toBe(prompt.created_at);

      const row = await promptRow(prompt.uuid);
      expect(row).toMatchObject({ workspace_id: workspace(), user_id: owner.user.id, name: 'Support reply', version: 1, llm_id: gpt });
      const versions = await versionRows(prompt.uuid);
      expect(versions).toHaveLength(1);
      expect(versions[0]).toMatchObject({ version: 1, content: prompt.content, llm_id: gpt, account_id: openaiAccount, user_id: owner.user.id });

      const read = await t.request({ url: `/api/v1/prompts/${prompt.uuid}`, ...as(owner) });
      expect(read.status).toBe(200);
      expect(read.body.data).toEqual(prompt);
    });

    it('takes declared variables as authoritative: defaults make them optional', async () => {
      const prompt = await created(owner, {
        name: 'Declared',
        content: 'Hello {{ who }}, in {{ lang }}',
        variables: [
          { name: 'who', description: 'The reader' },
          { name: 'lang', default: 'English' },
          { name: 'tone', required: false },
        ],
      });
      expect(prompt.variables).toEqual([
        { name: 'who', description: 'The reader', default: null, required: true },
        { name: 'lang', description: null, default: 'English', required: false },
        { name: 'tone', description: null, default: null, required: false },
      ]);
      expect(prompt.variables_declared).toBe(true);
      expect(prompt.visibility).toBe('private');
      expect(prompt.llm_uuid).toBeNull();
      const row = await promptRow(prompt.uuid);
      expect(Boolean(row!.variables_declared)).toBe(true);
    });

    it('keeps structured defaults as they were given', async () => {
      const prompt = await created(owner, {
        name: 'Structured',
        content: '{{ options }}',
        variables: [{ name: 'options', default: { z: 1, a: [true, 'x'] } }],
      });
      expect(prompt.variables[0].default).toEqual({ z: 1, a: [true, 'x'] });
    });

    it('lists with search, filters, sorting and cursor pages', async () => {
      const fresh = await t.signUp();
      const own = { token: fresh.token };
      for (const [name, visibility, description] of [
        ['Alpha brief', 'private', 'first'],
        ['Beta brief', 'workspace', 'second'],
        ['Gamma', 'public', 'the brief one'],
      ]) {
        const response = await t.request({ method: 'POST', url: '/api/v1/prompts', ...own, body: { name, visibility, description, content: 'x' } });
        expect(response.status).toBe(201);
      }
      const all = await t.request({ url: '/api/v1/prompts?sort=name', ...own });
      expect(all.status).toBe(200);
      expect(all.body.data.map((p: any) => p.name)).toEqual(['Alpha brief', 'Beta brief', 'Gamma']);
      expect(all.body.meta).toMatchObject({ total: 3, per_page: 15, current_page: 1 });

      const search = await t.request({ url: '/api/v1/prompts?search=BRIEF&sort=-name', ...own });
      expect(search.body.data.map((p: any) => p.name)).toEqual(['Gamma', 'Beta brief', 'Alpha brief']);
      const publicOnes = await t.request({ url: '/api/v1/prompts?filter[visibility]=public', ...own });
      expect(publicOnes.body.data.map((p: any) => p.name)).toEqual(['Gamma']);

      const first = await t.request({ url: '/api/v1/prompts?sort=name&per_page=2&cursor=', ...own });
      expect(first.body.data.map((p: any) => p.name)).toEqual(['Alpha brief', 'Beta brief']);
      const second = await t.request({ url: `/api/v1/prompts?sort=name&per_page=2&cursor=${first.body.meta.next_cursor}`, ...own });
      expect(second.body.data.map((p: any) => p.name)).toEqual(['Gamma']);
      expect(second.body.meta.next_cursor).toBeNull();

      const bad = await t.request({ url: '/api/v1/prompts?filter[visibility]=secret&filter[colour]=red&sort=content', ...own });
      expect(bad.status).toBe(422);
      expect(Object.keys(bad.body.errors).sort()).toEqual(['filter.colour', 'filter.visibility', 'sort']);
    });

    it('filters the caller’s own prompts with filter[mine]', async () => {
      await created(member, { name: 'Member shared', content: 'm', visibility: 'workspace' });
      const mine = await t.request({ url: '/api/v1/prompts?filter[mine]=true&per_page=100', ...as(member) });
      expect(mine.body.data.length).toBeGreaterThan(0);
      expect(mine.body.data.every((p: any) => p.user.id === member.user.id && p.is_owner)).toBe(true);
      const everyone = await t.request({ url: '/api/v1/prompts?per_page=100', ...as(member) });
      expect(everyone.body.data.some((p: any) => p.user.id === owner.user.id)).toBe(true);
    });
  });

  describe('validation (422, nothing written)', () => {
    const expectRefused = async (body: Record<string, unknown>, errors: Record<string, string[]>, who: SignedUp = owner) => {
      const before = await countPrompts();
      const response = await create(who, { name: 'Refused', content: 'Hi', ...body });
      expect(response.status, response.text).toBe(422);
      expect(response.body.errors).toEqual(errors);
      expect(response.body.message).toBe(Object.values(errors)[0]![0]);
      expect(await countPrompts()).toBe(before);
      return response;
    };

    it('refuses a template that does not parse, with the parser’s message', async () => {
      await expectRefused(
        { content: 'Hi {% if vip %}friend' },
        { content: ['The content field is not a valid template: tag {% if vip %} not closed, line:1, col:4.'] },
      );
      await expectRefused(
        { content: '{{ name | shout }}' },
        { content: ['The content field is not a valid template: undefined filter: shout, line:1, col:1.'] },
      );
    });

    it('refuses templates that would read files', async () => {
      await expectRefused(
        { content: "{% include '/etc/passwd' %}" },
        {
          content: [
            'The content field is not a valid template: the include tag is not allowed: prompt templates cannot load other templates or files, line:1, col:1.',
          ],
        },
      );
      const render = await create(owner, { name: 'x', content: "Hi {% render 'secrets' %}" });
      expect(render.status).toBe(422);
      expect(render.body.errors.content[0]).toMatch(/the render tag is not allowed/);
    });

    it('refuses a template variable that is not declared, naming it', async () => {
      await expectRefused(
        { content: '{{ who }} {{ what }} {{ where }}', variables: [{ name: 'who' }] },
        { content: ['The content field uses the variables what, where, which are not declared in variables.'] },
      );
      await expectRefused(
        { content: '{{ who }} {{ what }}', variables: [{ name: 'who' }] },
        { content: ['The content field uses the variable what, which is not declared in variables.'] },
      );
    });

    it('refuses bad, duplicate and contradictory variable declarations', async () => {
      await expectRefused({ content: 'x', variables: [{ name: 'first name' }] }, { 'variables.0.name': ['The variables.0.name field format is invalid.'] });
      await expectRefused({ content: 'x', variables: [{ name: '9lives' }] }, { 'variables.0.name': ['The variables.0.name field format is invalid.'] });
      await expectRefused(
        { content: 'x', variables: [{ name: 'a' }, { name: 'a' }] },
        { 'variables.1.name': ['The variables.1.name field has a duplicate value.'] },
      );
      await expectRefused(
        { content: 'x', variables: [{ name: 'a', default: 'x', required: true }] },
        { 'variables.0.required': ['The variables.0.required field must be false when variables.0.default is present.'] },
      );
      await expectRefused({ content: 'x', variables: [{ name: 'a', kind: 'text' }] }, { 'variables.0.kind': ['The variables.0.kind field is prohibited.'] });
      await expectRefused({ content: 'x', variables: 'a,b' }, { variables: ['The variables field must be an array.'] });
    });

    it('refuses settings out of range', async () => {
      const response = await create(owner, { name: 'x', content: 'x', settings: { temperature: 2.5, max_tokens: 0, json_output: 'yes', top_p: 1 } });
      expect(response.status).toBe(422);
      expect(response.body.errors).toEqual({
        'settings.temperature': ['The settings.temperature field must not be greater than 2.'],
        'settings.max_tokens': ['The settings.max tokens field must be at least 1.'],
        'settings.json_output': ['The settings.json output field must be true or false.'],
        'settings.top_p': ['The settings.top p field is prohibited.'],
      });
      await expectRefused({ settings: { max_tokens: 1_000_001 } }, { 'settings.max_tokens': ['The settings.max tokens field must not be greater than 1000000.'] });
      await expectRefused({ settings: { temperature: -0.1 } }, { 'settings.temperature': ['The settings.temperature field must be at least 0.'] });
    });

    it('refuses a model without an account, an account of another provider, and accounts the creator may not use', async () => {
      await expectRefused({ llm_uuid: gpt }, { account_uuid: ['The account uuid field is required.'] });
      await expectRefused({ account_uuid: openaiAccount }, { llm_uuid: ['The llm uuid field is required.'] });
      await expectRefused(
        { llm_uuid: gpt, account_uuid: anthropicAccount },
        { account_uuid: ['The selected account is not connected to OpenAI, the provider of GPT-4.1 mini.'] },
      );
      await expectRefused({ llm_uuid: UNKNOWN_UUID, account_uuid: openaiAccount }, { llm_uuid: ['The selected llm uuid is invalid.'] });
      await expectRefused({ llm_uuid: gpt, account_uuid: memberAccount }, { account_uuid: ['The selected account uuid is invalid.'] });
    });

    it('refuses JSON output with a model that cannot answer in JSON', async () => {
      await expectRefused(
        { llm_uuid: claude, account_uuid: anthropicAccount, settings: { json_output: true } },
        { 'settings.json_output': ['The selected model Claude Haiku 3.5 does not support JSON output.'] },
      );
      const fine = await create(owner, { name: 'JSON', content: 'x', llm_uuid: gpt, account_uuid: openaiAccount, settings: { json_output: true } });
      expect(fine.status).toBe(201);
      expect(fine.body.data.settings).toEqual({ temperature: null, max_tokens: null, json_output: true });
    });

    it('refuses missing and unknown fields', async () => {
      const response = await t.request({ method: 'POST', url: '/api/v1/prompts', ...as(owner), body: { template: 'x' } });
      expect(response.status).toBe(422);
      expect(Object.keys(response.body.errors).sort()).toEqual(['content', 'name', 'template']);
    });
  });

  describe('versions', () => {
    it('adds a version for content, variables, settings and model changes only', async () => {
      const prompt = await created(owner, { name: 'Versioned', content: 'v1 {{ a }}', visibility: 'workspace' });

      const cosmetic = await update(owner, prompt.uuid, {
        name: 'Renamed',
        description: 'now described',
        visibility: 'public',
        profile_photo_config: { emoji: '🧪', background_color: '#ffffff', preference: 'emoji' },
        content: 'v1 {{ a }}',
      });
      expect(cosmetic.status).toBe(200);
      expect(cosmetic.body.data).toMatchObject({ name: 'Renamed', description: 'now described', visibility: 'public', version: 1 });
      expect(cosmetic.body.data.profile_photo_config).toEqual({ emoji: '🧪', background_color: '#ffffff', preference: 'emoji' });
      expect(await versionRows(prompt.uuid)).toHaveLength(1);

      const content = await update(owner, prompt.uuid, { content: 'v2 {{ a }} {{ b }}' });
      expect(content.body.data).toMatchObject({ version: 2, variables: [{ name: 'a' }, { name: 'b' }] });

      const settings = await update(owner, prompt.uuid, { settings: { max_tokens: 500 } });
      expect(settings.body.data).toMatchObject({ version: 3, settings: { temperature: null, max_tokens: 500, json_output: false } });

      const sameSettings = await update(owner, prompt.uuid, { settings: { max_tokens: 500 } });
      expect(sameSettings.body.data.version).toBe(3);

      const model = await update(owner, prompt.uuid, { llm_uuid: gpt, account_uuid: openaiAccount });
      expect(model.body.data).toMatchObject({ version: 4, llm_uuid: gpt, account_uuid: openaiAccount });

      const declared = await update(owner, prompt.uuid, { variables: [{ name: 'a' }, { name: 'b', default: 'B' }] });
      expect(declared.body.data).toMatchObject({ version: 5, variables_declared: true });

      const versions = await versionRows(prompt.uuid);
      expect(versions.map((v) => v.version)).toEqual([1, 2, 3, 4, 5]);
      expect(versions.map((v) => v.content)).toEqual(['v1 {{ a }}', 'v2 {{ a }} {{ b }}', 'v2 {{ a }} {{ b }}', 'v2 {{ a }} {{ b }}', 'v2 {{ a }} {{ b }}']);
      expect((await promptRow(prompt.uuid))!.version).toBe(5);

      const list = await t.request({ url: `/api/v1/prompts/${prompt.uuid}/versions?per_page=2`, ...as(member) });
      expect(list.status).toBe(200);
      expect(list.body.data.map((v: any) => v.version)).toEqual([5, 4]);
      expect(list.body.meta).toMatchObject({ total: 5, last_page: 3 });
      expect(Object.keys(list.body.data[0])).toEqual(VERSION_KEYS);
      const oldest = await t.request({ url: `/api/v1/prompts/${prompt.uuid}/versions?sort=version&cursor=`, ...as(member) });
      expect(oldest.body.data.map((v: any) => v.version)).toEqual([1, 2, 3, 4, 5]);

      const two = await t.request({ url: `/api/v1/prompts/${prompt.uuid}/versions/2`, ...as(member) });
      expect(two.status).toBe(200);
      expect(two.body.data).toMatchObject({
        version: 2,
        content: 'v2 {{ a }} {{ b }}',
        llm_uuid: null,
        account_uuid: null,
        settings: { temperature: null, max_tokens: null, json_output: false },
        user: { id: owner.user.id, primary_workspace: {} },
      });
      expect(two.body.data.created_at).toMatch(ISO);

      for (const missing of ['6', '0', 'two']) {
        const response = await t.request({ url: `/api/v1/prompts/${prompt.uuid}/versions/${missing}`, ...as(member) });
        expect(response.status, missing).toBe(404);
        expect(response.body).toEqual({ message: 'Resource not found.' });
      }
    });

    it('keeps declared variables when only the content changes, and re-infers on variables: null', async () => {
      const prompt = await created(owner, { name: 'Kept', content: '{{ a }}', variables: [{ name: 'a', description: 'A' }] });
      const undeclared = await update(owner, prompt.uuid, { content: '{{ a }} {{ b }}' });
      expect(undeclared.status).toBe(422);
      expect(undeclared.body.errors).toEqual({ content: ['The content field uses the variable b, which is not declared in variables.'] });
      expect((await promptRow(prompt.uuid))!.content).toBe('{{ a }}');

      const kept = await update(owner, prompt.uuid, { content: 'Only {{ a }}' });
      expect(kept.body.data).toMatchObject({ version: 2, variables_declared: true, variables: [{ name: 'a', description: 'A' }] });

      const inferred = await update(owner, prompt.uuid, { content: '{{ x }} {{ y }}', variables: null });
      expect(inferred.body.data).toMatchObject({ version: 3, variables_declared: false, variables: [{ name: 'x' }, { name: 'y' }] });
      const reinferred = await update(owner, prompt.uuid, { content: '{{ z }}' });
      expect(reinferred.body.data.variables).toEqual([{ name: 'z', description: null, default: null, required: true }]);
    });

    it('checks the model choice on update with the creator’s credentials and refuses JSON output on a model without it', async () => {
      const prompt = await created(owner, { name: 'Model', content: 'x', llm_uuid: claude, account_uuid: anthropicAccount, visibility: 'workspace' });
      const json = await update(admin, prompt.uuid, { settings: { json_output: true } });
      expect(json.status).toBe(422);
      expect(json.body.errors).toEqual({ 'settings.json_output': ['The selected model Claude Haiku 3.5 does not support JSON output.'] });

      const mismatch = await update(owner, prompt.uuid, { llm_uuid: gpt });
      expect(mismatch.status).toBe(422);
      expect(Object.keys(mismatch.body.errors)).toEqual(['account_uuid']);

      const cleared = await update(owner, prompt.uuid, { llm_uuid: null, account_uuid: null, settings: { json_output: true } });
      expect(cleared.status).toBe(200);
      expect(cleared.body.data).toMatchObject({ llm_uuid: null, account_uuid: null, version: 2 });
    });

    it('gives concurrent updates distinct, consecutive version numbers', async () => {
      const prompt = await created(owner, { name: 'Race', content: 'start', visibility: 'workspace' });
      const writers = [owner, admin, owner, admin, owner, admin];
      const responses = await Promise.all(writers.map((who, i) => update(who, prompt.uuid, { content: `edit ${i}` })));
      expect(responses.map((r) => r.status)).toEqual([200, 200, 200, 200, 200, 200]);
      expect(responses.map((r) => r.body.data.version).sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7]);

      const versions = await versionRows(prompt.uuid);
      expect(versions.map((v) => v.version)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      const row = await promptRow(prompt.uuid);
      expect(row!.version).toBe(7);
      // The prompt holds what its newest version holds.
      expect(row!.content).toBe(versions[6]!.content);
    });
  });

  describe('visibility and permissions', () => {
    it('hides a private prompt from every other member, admins included (404)', async () => {
      const secret = await created(member, { name: 'Member secret', content: 'psst' });
      for (const who of [owner, admin, viewer]) {
        expect((await t.request({ url: `/api/v1/prompts/${secret.uuid}`, ...as(who) })).status).toBe(404);
        expect((await update(who, secret.uuid, { name: 'mine now' })).status).toBe(404);
        expect((await t.request({ method: 'DELETE', url: `/api/v1/prompts/${secret.uuid}`, ...as(who) })).status).toBe(404);
        expect((await t.request({ url: `/api/v1/prompts/${secret.uuid}/versions`, ...as(who) })).status).toBe(404);
        const list = await t.request({ url: '/api/v1/prompts?per_page=100', ...as(who) });
        expect(list.body.data.map((p: any) => p.uuid)).not.toContain(secret.uuid);
      }
      expect((await t.request({ url: `/api/v1/prompts/${secret.uuid}`, ...as(member) })).status).toBe(200);
    });

    it('lets members read workspace prompts, but only the creator, admins and owners change them', async () => {
      const shared = await created(owner, { name: 'Shared', content: 'hello', visibility: 'workspace' });
      const read = await t.request({ url: `/api/v1/prompts/${shared.uuid}`, ...as(member) });
      expect(read.status).toBe(200);
      expect(read.body.data.is_owner).toBe(false);

      const forbidden = await update(member, shared.uuid, { name: 'Hijacked' });
      expect(forbidden.status).toBe(403);
      expect(forbidden.body).toEqual({ message: 'This action is unauthorized.' });
      expect((await t.request({ method: 'DELETE', url: `/api/v1/prompts/${shared.uuid}`, ...as(member) })).status).toBe(403);

      const byAdmin = await update(admin, shared.uuid, { content: 'hello there' });
      expect(byAdmin.status).toBe(200);
      expect(byAdmin.body.data).toMatchObject({ version: 2, is_owner: false, user: { id: owner.user.id } });
      const versions = await versionRows(shared.uuid);
      expect(versions[1]!.user_id).toBe(admin.user.id);
    });

    it('lets viewers read but answers 403 to their writes', async () => {
      const shared = await created(owner, { name: 'For viewers', content: 'hi', visibility: 'workspace' });
      expect((await t.request({ url: `/api/v1/prompts/${shared.uuid}`, ...as(viewer) })).status).toBe(200);
      expect((await t.request({ url: `/api/v1/prompts/${shared.uuid}/versions/1`, ...as(viewer) })).status).toBe(200);
      const before = await countPrompts();
      expect((await create(viewer, { name: 'Nope', content: 'x' })).status).toBe(403);
      expect(await countPrompts()).toBe(before);
      expect((await update(viewer, shared.uuid, { name: 'Nope' })).status).toBe(403);
      expect((await t.request({ method: 'DELETE', url: `/api/v1/prompts/${shared.uuid}`, ...as(viewer) })).status).toBe(403);
      expect((await promptRow(shared.uuid))!.name).toBe('For viewers');
    });

    it('answers 404 for another workspace’s prompt, and lets any user read a public one by uuid', async () => {
      const shared = await created(owner, { name: 'Team only', content: 'x', visibility: 'workspace' });
      const published = await created(owner, { name: 'Published', content: 'Hi {{ name }}', visibility: 'public' });
      const strangerScope = { token: stranger.token };

      expect((await t.request({ url: `/api/v1/prompts/${shared.uuid}`, ...strangerScope })).status).toBe(404);
      expect((await t.request({ url: `/api/v1/prompts/${shared.uuid}/versions/1`, ...strangerScope })).status).toBe(404);
      expect((await t.request({ method: 'PUT', url: `/api/v1/prompts/${shared.uuid}`, ...strangerScope, body: { name: 'x' } })).status).toBe(404);
      expect((await t.request({ url: `/api/v1/prompts/${UNKNOWN_UUID}`, ...strangerScope })).status).toBe(404);
      expect((await t.request({ url: '/api/v1/prompts/not-a-uuid', ...strangerScope })).status).toBe(404);
      const header = await t.request({ url: `/api/v1/prompts/${shared.uuid}`, token: stranger.token, headers: { 'x-workspace-id': workspace() } });
      expect(header.status).toBe(404);

      const read = await t.request({ url: `/api/v1/prompts/${published.uuid}`, ...strangerScope });
      expect(read.status).toBe(200);
      expect(read.body.data).toMatchObject({ name: 'Published', is_owner: false, user: { id: owner.user.id } });
      expect((await t.request({ url: `/api/v1/prompts/${published.uuid}/versions`, ...strangerScope })).body.data).toHaveLength(1);
      const list = await t.request({ url: '/api/v1/prompts', ...strangerScope });
      expect(list.body.data.map((p: any) => p.uuid)).not.toContain(published.uuid);

      const write = await t.request({ method: 'PUT', url: `/api/v1/prompts/${published.uuid}`, ...strangerScope, body: { name: 'Mine' } });
      expect(write.status).toBe(403);
      expect((await t.request({ method: 'DELETE', url: `/api/v1/prompts/${published.uuid}`, ...strangerScope })).status).toBe(403);
      expect((await promptRow(published.uuid))!.name).toBe('Published');
    });

    it('deletes a prompt with its versions', async () => {
      const prompt = await created(member, { name: 'Short-lived', content: 'a', visibility: 'workspace' });
      await update(member, prompt.uuid, { content: 'b' });
      const response = await t.request({ method: 'DELETE', url: `/api/v1/prompts/${prompt.uuid}`, ...as(member) });
      expect(response.status).toBe(204);
      expect(response.text).toBe('');
      expect(await promptRow(prompt.uuid)).toBeUndefined();
      expect(await versionRows(prompt.uuid)).toHaveLength(0);
      expect((await t.request({ url: `/api/v1/prompts/${prompt.uuid}`, ...as(member) })).status).toBe(404);
    });

    it('counts the prompts each user sees in the workspace metrics', async () => {
      const fresh = await t.signUp();
      const colleague = await t.signUp();
      const ws = fresh.user.primary_workspace.uuid;
      await t.request({ method: 'POST', url: `/api/v1/workspaces/${ws}/members`, token: fresh.token, body: { email: colleague.email, role: 'member' } });
      for (const visibility of ['private', 'private', 'workspace', 'public']) {
        await t.request({ method: 'POST', url: '/api/v1/prompts', token: fresh.token, body: { name: visibility, content: 'x', visibility } });
      }
      const metricsOf = async (who: SignedUp) => {
        const response = await t.request({ url: '/api/v1/workspaces/metrics', token: who.token, headers: { 'x-workspace-id': ws } });
        expect(response.status).toBe(200);
        return response.body.data[0].counts.prompts;
      };
      expect(await metricsOf(fresh)).toBe(4);
      expect(await metricsOf(colleague)).toBe(2);
    });
  });

  describe('preparing a run', () => {
    it('names every missing required variable, applies defaults and ignores unknown ones', async () => {
      const prompt = await created(owner, {
        name: 'Run me',
        visibility: 'workspace',
        content: '{{ greeting }}, {{ who }}! Topic: {{ topic }}. Extra: {{ extra }}',
        variables: [{ name: 'greeting', default: 'Hello' }, { name: 'who' }, { name: 'topic' }, { name: 'extra', required: false }],
        llm_uuid: gpt,
        account_uuid: openaiAccount,
        settings: { temperature: 0.5, max_tokens: 100 },
      });

      const missing = await appErrorOf(preparePromptRun(t.ctx, scopeOf(owner, 'owner'), prompt.uuid, { variables: { topic: null, other: 1 } }));
      expect(missing.code).toBe('VALIDATION');
      expect(missing.fields).toEqual({
        'variables.who': ['The variables.who field is required.'],
        'variables.topic': ['The variables.topic field is required.'],
      });
      const response = await t.request({ url: '/api/v1/user', token: owner.token });
      expect(response.status).toBe(200);

      const run = await preparePromptRun(t.ctx, scopeOf(member, 'member'), prompt.uuid.toUpperCase(), {
        variables: { who: 'Ada', topic: { area: 'maths', levels: [1, 2] }, unknown: 'ignored' },
      });
      expect(run.rendered).toBe('Hello, Ada! Topic: {"area":"maths","levels":[1,2]}. Extra: ');
      expect(run.version).toBe(1);
      expect(run.prompt.id).toBe(prompt.uuid);
      expect(run.settings).toEqual({ temperature: 0.5, max_tokens: 100, json_output: false });
      expect(run.model).toEqual({ llmId: gpt, accountId: openaiAccount });

      const override = await preparePromptRun(t.ctx, scopeOf(owner, 'owner'), prompt.uuid, {
        variables: { who: 1, topic: true, greeting: 'Hi' },
        llm_uuid: claude.toUpperCase(),
        account_uuid: anthropicAccount,
      });
      expect(override.rendered).toBe('Hi, 1! Topic: true. Extra: ');
      expect(override.model).toEqual({ llmId: claude, accountId: anthropicAccount });
    });

    it('renders a pinned version with that version’s content, variables and settings', async () => {
      const prompt = await created(owner, { name: 'Pinned', content: 'Old {{ a }}', settings: { temperature: 1 } });
      await update(owner, prompt.uuid, { content: 'New {{ b }}', settings: { temperature: 0 } });

      const current = await preparePromptRun(t.ctx, scopeOf(owner, 'owner'), prompt.uuid, { variables: { b: 'B' } });
      expect(current).toMatchObject({ version: 2, rendered: 'New B', settings: { temperature: 0 } });

      const pinned = await preparePromptRun(t.ctx, scopeOf(owner, 'owner'), prompt.uuid, { version: 1, variables: { a: 'A' } });
      expect(pinned).toMatchObject({ version: 1, rendered: 'Old A', settings: { temperature: 1 } });

      const oldNeedsA = await appErrorOf(preparePromptRun(t.ctx, scopeOf(owner, 'owner'), prompt.uuid, { version: 1, variables: { b: 'B' } }));
      expect(oldNeedsA.fields).toEqual({ 'variables.a': ['The variables.a field is required.'] });

      const unknown = await appErrorOf(preparePromptRun(t.ctx, scopeOf(owner, 'owner'), prompt.uuid, { version: 9, variables: {} }));
      expect(unknown.fields).toEqual({ version: ['The selected version is invalid.'] });
    });

    it('answers a render that fails with a 422 on variables', async () => {
      const prompt = await created(owner, { name: 'Heavy', content: '{% for i in (1..n) %}x{% endfor %}' });
      const error = await appErrorOf(preparePromptRun(t.ctx, scopeOf(owner, 'owner'), prompt.uuid, { variables: { n: 100_000_000 } }));
      expect(error.code).toBe('VALIDATION');
      expect(error.fields?.variables?.[0]).toMatch(/^The variables could not be rendered into the template: memory alloc limit exceeded/);
    });

    it('needs a prompt the caller sees and write role; a foreign public prompt lends no model', async () => {
      const secret = await created(member, { name: 'Private run', content: 'x' });
      expect((await appErrorOf(preparePromptRun(t.ctx, scopeOf(owner, 'owner'), secret.uuid, {}))).code).toBe('NOT_FOUND');

      const shared = await created(owner, { name: 'Viewer run', content: 'x', visibility: 'public', llm_uuid: gpt, account_uuid: openaiAccount });
      expect((await appErrorOf(preparePromptRun(t.ctx, scopeOf(viewer, 'viewer'), shared.uuid, {}))).code).toBe('FORBIDDEN');

      const strangerScope: WorkspaceScope = { workspaceId: stranger.user.primary_workspace.uuid, role: 'owner', userId: stranger.user.id };
      const foreign = await preparePromptRun(t.ctx, strangerScope, shared.uuid, {});
      expect(foreign.rendered).toBe('x');
      expect(foreign.model).toEqual({ llmId: null, accountId: null });
    });
  });
});

describe('OpenAPI document: prompts', () => {
  it('names Prompt and PromptVersion as components and documents every route', async () => {
    const t = await createTestApp('sqlite');
    try {
      const document = (await t.request({ url: '/openapi.json' })).body;
      for (const name of ['Prompt', 'PromptVersion', 'PromptVariable', 'PromptSettings']) expect(document.components.schemas, name).toHaveProperty(name);
      expect(document.paths['/api/v1/prompts/{prompt_uuid}'].get.responses['200'].content['application/json'].schema.properties.data).toEqual({
        $ref: '#/components/schemas/Prompt',
      });
      const operations = Object.values(document.paths as Record<string, Record<string, { operationId: string }>>).flatMap((item) =>
        Object.values(item).map((op) => op.operationId),
      );
      expect(operations).toEqual(
        expect.arrayContaining(['getPrompts', 'createPrompt', 'retrievePrompt', 'updatePrompt', 'deletePrompt', 'getPromptVersions', 'retrievePromptVersion']),
      );
    } finally {
      await t.close();
    }
  });
});
