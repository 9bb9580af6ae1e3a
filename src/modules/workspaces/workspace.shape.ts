import { Type, type Static } from 'typebox';
import { NestingStop, NullableString, Timestamp, Uuid } from '../../http/schemas.js';
import { fromJson, toBool } from '../../db/values.js';
import type { WorkspaceRole, WorkspaceRow } from './workspaces.table.js';

const AiToolSuggestion = Type.Object({
  emoji: Type.Optional(Type.String({ maxLength: 32 })),
  name: Type.String({ maxLength: 255 }),
  description: Type.Optional(NullableString({ maxLength: 2000 })),
});

/** Seed 004's workspace metadata: known onboarding fields, and any others the client keeps. */
export const WorkspaceMetadata = Type.Object(
  {
    onboarding_step: Type.Optional(Type.Integer({ minimum: 0, maximum: 100, examples: [75] })),
    sources: Type.Optional(Type.Array(Type.String({ maxLength: 255 }), { maxItems: 100 })),
    affiliate_name: Type.Optional(NullableString({ maxLength: 255 })),
    role: Type.Optional(NullableString({ maxLength: 255 })),
    industry: Type.Optional(NullableString({ maxLength: 255 })),
    tools: Type.Optional(Type.Array(Type.String({ maxLength: 255 }), { maxItems: 100 })),
    ai_tools: Type.Optional(
      Type.Object({
        agents: Type.Optional(Type.Array(AiToolSuggestion, { maxItems: 100 })),
        prompts: Type.Optional(Type.Array(AiToolSuggestion, { maxItems: 100 })),
        workflows: Type.Optional(Type.Array(AiToolSuggestion, { maxItems: 100 })),
      }),
    ),
  },
  { additionalProperties: true, maxProperties: 100 },
);
export type WorkspaceMetadataValue = Static<typeof WorkspaceMetadata>;

/** The Workspace fields of seed 004, without the nested user. */
export const workspaceProperties = {
  uuid: Uuid,
  slug: Type.String({ examples: ['my-ai-workspace'] }),
  name: Type.String({ examples: ['My AI Workspace'] }),
  profile_photo_url: NullableString({ format: 'uri' }),
  multiplai_id: NullableString(),
  is_onboarded: Type.Boolean(),
  metadata: WorkspaceMetadata,
  is_owner: Type.Boolean({ description: 'Whether the caller is an owner of this workspace.' }),
  created_at: Timestamp,
  updated_at: Timestamp,
};

/** A workspace nested inside another resource: its own `user` stops at `{}`. */
export const WorkspaceLeaf = Type.Object({ ...workspaceProperties, user: NestingStop });
export type WorkspaceLeafResource = Static<typeof WorkspaceLeaf>;

/** `is_owner` is computed for the caller: their role in the workspace, if any. */
export function workspaceFields(workspace: WorkspaceRow, callerRole: WorkspaceRole | undefined) {
  return {
    uuid: workspace.id,
    slug: workspace.slug,
    name: workspace.name,
    profile_photo_url: workspace.profile_photo_url,
    multiplai_id: workspace.multiplai_id,
    is_onboarded: toBool(workspace.is_onboarded),
    metadata: fromJson<WorkspaceMetadataValue>(workspace.metadata) ?? {},
    is_owner: callerRole === 'owner',
    created_at: workspace.created_at,
    updated_at: workspace.updated_at,
  };
}

export function toWorkspaceLeaf(workspace: WorkspaceRow, callerRole: WorkspaceRole | undefined): WorkspaceLeafResource {
  return { ...workspaceFields(workspace, callerRole), user: {} };
}
