import type { BuiltinToolDefinition } from '../../ai/ports.js';
import { memoryTools } from '../memories/memory-tools.js';
import { customerAccountsTools } from './customer-accounts-tools.js';

/** Built-in tools exist since the catalog does: one fixed time for all of them. */
export const BUILTIN_TOOLS_AT = '2025-07-01T00:00:00.000Z';

/** Every tool implemented by Athena itself, in catalog order. Their uuids are fixed. */
export const BUILTIN_TOOLS: BuiltinToolDefinition[] = [...memoryTools, ...customerAccountsTools];

const byId = new Map(BUILTIN_TOOLS.map((tool) => [tool.uuid, tool]));

export function builtinToolOf(id: string): BuiltinToolDefinition | undefined {
  return byId.get(id.toLowerCase());
}
