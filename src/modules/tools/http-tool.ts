import { ToolError, type RunScope, type ToolCallContext } from '../../ai/ports.js';
import { fromJson, toBool } from '../../db/values.js';
import { AppError } from '../../errors.js';
import {
  OutboundBlockedError,
  OutboundNetworkError,
  OutboundTimeoutError,
  outboundClientOf,
  type OutboundResponse,
} from '../../lib/outbound/outbound-client.js';
import { accessTokenOf, reasonOf, refreshAccessToken } from '../accounts/accounts.oauth2.js';
import { credentialsOf, type AccountCredentials } from '../accounts/accounts.service.js';
import type { AccountRow } from '../accounts/accounts.table.js';
import { injectCredentials, scrubSecrets, secretStringsOf } from '../accounts/credential-injection.js';
import { providerAuthConfig, providerMetadata } from '../providers/providers.service.js';
import type { ProviderRow } from '../providers/providers.table.js';
import { renderHttpRequest, type HttpToolConfig } from './http-templates.js';
import { findNewestVerifiedAccount, findWorkspaceAccount } from './tools.repository.js';
import { outputOfText } from './tool-output.js';
import type { ToolRow } from './tools.table.js';

const NO_CREDENTIALS: AccountCredentials = { token: null, username: null, password: null, accessToken: null, refreshToken: null };

/** Outbound failures in words the model (and the user reading the run) can act on. */
export function toolErrorOfOutbound(error: unknown): unknown {
  if (error instanceof OutboundBlockedError || error instanceof OutboundTimeoutError || error instanceof OutboundNetworkError) {
    return new ToolError(error.message);
  }
  if (error instanceof AppError && (error.code === 'VALIDATION' || error.code === 'BAD_GATEWAY')) {
    return new ToolError(error.publicMessage ?? 'The provider could not be reached.');
  }
  return error;
}

/** A promise that gives up when the call is cancelled (the request itself ends at its timeout). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(new DOMException('The tool call was cancelled.', 'AbortError'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new DOMException('The tool call was cancelled.', 'AbortError'));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * The account whose credentials a call uses: the tool's own account when it has one in the
 * run's workspace, else the newest verified account of the provider the run's user may use.
 */
async function accountForCall(run: RunScope, tool: ToolRow, provider: ProviderRow): Promise<AccountRow | undefined> {
  const db = run.ctx.db.kysely;
  if (tool.default_account_id && tool.workspace_id === run.scope.workspaceId) {
    const account = await findWorkspaceAccount(db, run.scope.workspaceId, tool.default_account_id);
    if (account) return account;
  }
  return findNewestVerifiedAccount(db, run.scope.workspaceId, run.scope.userId, provider.id);
}

/**
 * Calls an HTTP tool: renders its request from the input, injects the account's credentials as
 * the provider's authentication config says, and sends it through the outbound guard. Answers the
 * parsed JSON or the text (cut to the output limit); any failure is a ToolError without secrets.
 */
export async function runHttpTool(run: RunScope, tool: ToolRow, provider: ProviderRow, input: unknown, call: ToolCallContext): Promise<unknown> {
  const { ctx } = run;
  if (!toBool(provider.is_enabled)) throw new ToolError(`The ${provider.name} provider is disabled.`);
  const account = await accountForCall(run, tool, provider);
  if (!account && provider.authentication_strategy !== 'none') {
    throw new ToolError(`No verified ${provider.name} account is available to this user: connect one and verify it.`);
  }
  const strategy = account?.provider_authentication_strategy ?? 'none';
  const credentials = account ? await credentialsOf(ctx, account) : NO_CREDENTIALS;
  const authConfig = providerAuthConfig(provider);
  const baseUrl = account?.base_url ?? providerMetadata(provider).default_base_url ?? null;
  const request = await renderHttpRequest(fromJson<HttpToolConfig>(tool.config), input, baseUrl);
  const client = outboundClientOf(ctx.config);

  let accessToken: string | null = null;
  const send = (token: string | null): Promise<OutboundResponse> => {
    const url = new URL(request.url);
    const headers = { ...request.headers };
    injectCredentials({ url, headers }, strategy, authConfig, credentials, token);
    return untilAborted(client.request({ method: request.method, url: url.toString(), headers, body: request.body }), call.signal);
  };

  let response: OutboundResponse;
  try {
    if (account && strategy === 'oauth2') accessToken = await accessTokenOf(ctx, account, provider);
    response = await send(accessToken);
    if (response.status === 401 && account && strategy === 'oauth2') {
      // The token may have been revoked or expired early: one refresh, one retry.
      accessToken = await refreshAccessToken(ctx, account, provider);
      response = await send(accessToken);
    }
  } catch (error) {
    throw toolErrorOfOutbound(error);
  }

  const secrets = secretStringsOf(credentials, accessToken);
  if (response.status < 200 || response.status >= 300) {
    throw new ToolError(`${provider.name} answered ${response.status}: ${scrubSecrets(reasonOf(response), secrets)}`);
  }
  if (response.text.trim() === '') return `${provider.name} answered ${response.status} with no content.`;
  const contentType = response.headers['content-type'];
  return outputOfText(response.text, secrets, Array.isArray(contentType) ? contentType[0] : contentType);
}
