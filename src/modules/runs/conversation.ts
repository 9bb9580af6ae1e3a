import type { AssistantContent, ModelMessage, ToolContent, UserContent } from 'ai';
import type { MessageRow } from '../threads/threads.table.js';
import type { MediaRow } from '../media/media.table.js';
import { toolCallsOf, toolResultOf } from '../threads/messages.service.js';

/** A model-ready part of a user message: text, or an image the model can see. */
export type UserPart = { type: 'text'; text: string } | { type: 'image'; image: Uint8Array; mediaType: string };

export interface HistoryMessage extends MessageRow {
  attachments: MediaRow[];
}

/** A user's message: plain text, or text followed by its attachments. */
export function userMessageOf(text: string, parts: UserPart[]): ModelMessage {
  const content: UserContent = parts.length === 0 ? text : [{ type: 'text', text }, ...parts];
  return { role: 'user', content };
}

/**
 * The thread's stored messages as the model's conversation. System messages of the thread join
 * the system prompt (returned apart); a tool call without its result (a run cut off mid-tool),
 * or a result without its call, is left out, since providers refuse unanswered calls.
 */
export function toModelConversation(
  history: HistoryMessage[],
  partsOf: (message: HistoryMessage) => UserPart[],
): { system: string[]; messages: ModelMessage[] } {
  const answered = new Set<string>();
  const called = new Set<string>();
  for (const row of history) {
    if (row.role === 'tool') {
      const result = toolResultOf(row);
      if (result) answered.add(result.tool_call_id);
    }
    if (row.role === 'assistant') for (const call of toolCallsOf(row) ?? []) called.add(call.id);
  }
  const system: string[] = [];
  const messages: ModelMessage[] = [];
  for (const row of history) {
    switch (row.role) {
      case 'system':
        system.push(row.content);
        break;
      case 'user':
        messages.push(userMessageOf(row.content, partsOf(row)));
        break;
      case 'assistant': {
        const content: AssistantContent = [];
        if (row.content) content.push({ type: 'text', text: row.content });
        for (const call of toolCallsOf(row) ?? []) {
          if (answered.has(call.id)) content.push({ type: 'tool-call', toolCallId: call.id, toolName: call.name, input: call.input });
        }
        if (content.length > 0) messages.push({ role: 'assistant', content });
        break;
      }
      case 'tool': {
        const result = toolResultOf(row);
        if (!result || !called.has(result.tool_call_id)) break;
        const content: ToolContent = [
          {
            type: 'tool-result',
            toolCallId: result.tool_call_id,
            toolName: result.name,
            output: result.is_error
              ? { type: 'error-text', value: typeof result.output === 'string' ? result.output : JSON.stringify(result.output) }
              : { type: 'json', value: (result.output ?? null) as never },
          },
        ];
        // Results of one step's parallel calls go back as one tool message.
        const previous = messages.at(-1);
        if (previous?.role === 'tool') (previous.content as ToolContent).push(...content);
        else messages.push({ role: 'tool', content });
        break;
      }
    }
  }
  return { system, messages };
}
