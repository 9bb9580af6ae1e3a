import { Type, type Static } from 'typebox';
import { ListQuery } from '../../http/pagination.js';
import { Body, StringEnum, Timestamp, Uuid, named } from '../../http/schemas.js';
import { UserLeaf } from '../users/user.shape.js';
import { WorkspaceLeaf } from '../workspaces/workspace.shape.js';
import { SHARE_PERMISSIONS, SHARE_RESOURCE_TYPES } from './shares.table.js';

export const SharePermissionSchema = StringEnum(SHARE_PERMISSIONS, {
  description: '`view`: see it; `run`: also run it; `edit`: also change it.',
});

/** One grant on a shareable resource: to a user, to a workspace, or to every user (public). */
export const Share = named(
  'Share',
  Type.Object({
    uuid: Uuid,
    resource_type: StringEnum(SHARE_RESOURCE_TYPES),
    resource_uuid: Uuid,
    grantee_type: StringEnum(['user', 'workspace', 'public'] as const, {
      description: '`user`: one user, wherever they act; `workspace`: members of that workspace acting in it; `public`: every signed-in user.',
    }),
    permission: SharePermissionSchema,
    user: Type.Union([UserLeaf, Type.Null()], { description: 'The user granted, for a `user` grant.' }),
    workspace: Type.Union([WorkspaceLeaf, Type.Null()], { description: 'The workspace granted, for a `workspace` grant.' }),
    created_at: Timestamp,
    updated_at: Timestamp,
  }),
);
export type ShareResource = Static<typeof Share>;

/** `public` may not give `edit`: changing a resource is for people who are named. */
const PublicPermission = Type.Unsafe<'view' | 'run' | null>({
  type: ['string', 'null'],
  enum: ['view', 'run', null],
  description: 'Grant every signed-in user `view` or `run`; null removes the public grant.',
});

export const ShareBody = Body(
  {
    users: Type.Optional(
      Type.Array(Body({ email: Type.String({ format: 'email', maxLength: 255 }), permission: SharePermissionSchema }), { maxItems: 100 }),
    ),
    workspaces: Type.Optional(Type.Array(Body({ workspace_uuid: Uuid, permission: SharePermissionSchema }), { maxItems: 100 })),
    public: Type.Optional(PublicPermission),
  },
  { description: 'At least one of `users`, `workspaces`, `public`. A grantee granted again gets the new permission.' },
);
export type ShareInput = Static<typeof ShareBody>;

export const ShareListEnvelope = Type.Object({ data: Type.Array(Share) });

// Grants have no text to search: the list takes a filter only.
const { search: _search, ...shareListProperties } = ListQuery(['created_at', 'updated_at'], {
  grantee_type: Type.Optional(StringEnum(['user', 'workspace', 'public'] as const)),
}).properties;
export const ShareListQuery = Type.Object(shareListProperties);
