import type { FastifyRequest } from 'fastify';
import type { AppContext } from '../context.js';
import { resolveWorkspaceScope, type WorkspaceScope } from '../modules/workspaces/workspaces.service.js';
import { principalOf } from './auth.js';
import { surfaceOf } from './surface.js';

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return (Array.isArray(value) ? value[0] : value)?.trim() || undefined;
}

/**
 * The workspace a request acts in: `X-Workspace-Id` (on `/v1` also `x-org-id`), else the
 * caller's primary workspace. Not a member: 404.
 */
export function workspaceScopeOf(ctx: AppContext, request: FastifyRequest): Promise<WorkspaceScope> {
  const requested =
    header(request, 'x-workspace-id') ?? (surfaceOf(request.url) === 'thena' ? header(request, 'x-org-id') : undefined);
  return resolveWorkspaceScope(ctx, principalOf(request), requested);
}
