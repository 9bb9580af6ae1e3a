import { Type, type Static } from 'typebox';
import { Body, Envelope, NullableString, StringEnum, Timestamp, Uuid, named } from '../../http/schemas.js';
import { ListQuery } from '../../http/pagination.js';
import { UserLeaf } from '../users/user.shape.js';
import { WorkspaceMetadata, workspaceProperties } from './workspace.shape.js';
import { WORKSPACE_COUNTERS } from './workspace-metrics.js';
import { WORKSPACE_ROLES } from './workspaces.table.js';

/** Seed 004's Workspace: its owner nested one level, whose `primary_workspace` stops at `{}`. */
export const Workspace = named(
  'Workspace',
  Type.Object({ ...workspaceProperties, user: Type.Union([UserLeaf, Type.Null()]) }),
);
export type WorkspaceResource = Static<typeof Workspace>;

export const Role = StringEnum(WORKSPACE_ROLES);

const Slug = Type.String({ minLength: 1, maxLength: 100, pattern: '^[a-z0-9]+(?:-[a-z0-9]+)*$' });

export const CreateWorkspaceBody = Body({
  name: Type.String({ minLength: 1, maxLength: 255 }),
  slug: Type.Optional(Slug),
  profile_photo_url: Type.Optional(NullableString({ format: 'uri', maxLength: 2048 })),
  is_onboarded: Type.Optional(Type.Boolean()),
  metadata: Type.Optional(WorkspaceMetadata),
});
export type CreateWorkspaceInput = Static<typeof CreateWorkspaceBody>;

export const UpdateWorkspaceBody = Body({
  name: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
  slug: Type.Optional(Slug),
  profile_photo_url: Type.Optional(NullableString({ format: 'uri', maxLength: 2048 })),
  is_onboarded: Type.Optional(Type.Boolean()),
  metadata: Type.Optional(WorkspaceMetadata),
});
export type UpdateWorkspaceInput = Static<typeof UpdateWorkspaceBody>;

export const WorkspaceParams = Type.Object({ workspace_uuid: Uuid });
export const MemberParams = Type.Object({ workspace_uuid: Uuid, user_id: Type.Integer({ minimum: 1 }) });

export const WorkspaceListQuery = ListQuery(['name', 'created_at', 'updated_at'], { role: Type.Optional(Role) });
export const MemberListQuery = ListQuery(['created_at', 'name', 'email', 'role'], { role: Type.Optional(Role) });

export const WorkspaceMember = named(
  'WorkspaceMember',
  Type.Object({ user: UserLeaf, role: Role, created_at: Timestamp, updated_at: Timestamp }),
);

export const AddMemberBody = Body(
  {
    email: Type.Optional(Type.String({ format: 'email', maxLength: 255 })),
    user_id: Type.Optional(Type.Integer({ minimum: 1 })),
    role: Type.Optional(Role),
  },
  { description: 'Who to add, by `email` or `user_id` (one of them), and their role (default member).' },
);
export type AddMemberInput = Static<typeof AddMemberBody>;

export const ChangeRoleBody = Body({ role: Role });

const counterProperties = Object.fromEntries(
  Object.keys(WORKSPACE_COUNTERS).map((name) => [name, Type.Integer({ minimum: 0 })]),
) as Record<keyof typeof WORKSPACE_COUNTERS, ReturnType<typeof Type.Integer>>;

export const WorkspaceMetrics = named(
  'WorkspaceMetrics',
  Type.Object({
    workspace: Type.Object({ uuid: Uuid, slug: Type.String(), name: Type.String() }),
    counts: Type.Object(counterProperties),
  }),
);

export const WorkspaceMetricsResponse = Type.Object({
  data: Type.Array(WorkspaceMetrics),
  totals: Type.Object(counterProperties),
});

export const WorkspaceEnvelope = Envelope(Workspace);
export const MemberEnvelope = Envelope(WorkspaceMember);
