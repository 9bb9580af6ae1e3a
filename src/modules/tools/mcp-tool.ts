import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ToolError, type RunScope, type ToolCallContext } from '../../ai/ports.js';
import { toBool } from '../../db/values.js';
import { findUsableAccount } from '../accounts/accounts.repository.js';
import { scrubSecrets } from '../accounts/credential-injection.js';
import type { ProviderRow } from '../providers/providers.table.js';
import { toolErrorOfOutbound } from './http-tool.js';
import { callMcpTool, mcpSecretsOf, McpRejectedError, McpServerError } from './mcp-client.js';
import { capText, outputOfValue } from './tool-output.js';
import { mcpServerNameOf } from './tools.repository.js';
import type { ToolRow } from './tools.table.js';

type Content = CallToolResult['content'][number];

/** One content block as text for the model; binary content is described, not inlined. */
function describeContent(block: Content): string {
  switch (block.type) {
    case 'text':
      return block.text;
    case 'image':
      return `[image: ${block.mimeType}, ${Buffer.byteLength(block.data, 'base64')} bytes]`;
    case 'audio':
      return `[audio: ${block.mimeType}, ${Buffer.byteLength(block.data, 'base64')} bytes]`;
    case 'resource': {
      const resource = block.resource as { uri: string; text?: string; mimeType?: string };
      return typeof resource.text === 'string' ? resource.text : `[resource: ${resource.uri}${resource.mimeType ? `, ${resource.mimeType}` : ''}]`;
    }
    case 'resource_link':
      return `[resource link: ${block.uri}${block.name ? ` (${block.name})` : ''}]`;
    default:
      return '';
  }
}

/**
 * An MCP tool result as the model gets it: `isError` results become a ToolError with their text;
 * otherwise the structured content when there is some, else the text contents joined.
 */
export function mcpResultOf(result: CallToolResult, secrets: readonly string[]): unknown {
  const content = Array.isArray(result.content) ? result.content : [];
  const text = scrubSecrets(content.map(describeContent).filter((t) => t !== '').join('\n'), secrets);
  if (result.isError) throw new ToolError(capText(text) || 'The MCP tool reported an error.');
  if (result.structuredContent !== undefined && result.structuredContent !== null) return outputOfValue(result.structuredContent, secrets);
  if ('toolResult' in result) return outputOfValue((result as unknown as { toolResult: unknown }).toolResult, secrets);
  return capText(text);
}

/** Calls an MCP tool on its account's server (a pooled connection), as the run's user. */
export async function runMcpTool(run: RunScope, tool: ToolRow, provider: ProviderRow, input: unknown, call: ToolCallContext): Promise<unknown> {
  const { ctx, scope } = run;
  if (!toBool(provider.is_enabled)) throw new ToolError(`The ${provider.name} provider is disabled.`);
  const account = tool.account_id ? await findUsableAccount(ctx.db.kysely, scope.workspaceId, scope.userId, tool.account_id) : undefined;
  if (!account) throw new ToolError('The account of this MCP server is no longer available to this user.');
  let result: CallToolResult;
  try {
    result = await callMcpTool(ctx, account, provider, mcpServerNameOf(tool), input, call.signal);
  } catch (error) {
    if (error instanceof McpRejectedError) {
      throw new ToolError(`The MCP server rejected the account’s credentials (${error.status}): ${error.reason}. Verify the account again.`);
    }
    if (error instanceof McpServerError) throw new ToolError(error.message);
    throw toolErrorOfOutbound(error);
  }
  return mcpResultOf(result, await mcpSecretsOf(ctx, account));
}
