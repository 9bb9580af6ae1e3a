import { AppError, fieldError } from '../../errors.js';
import type { AppContext } from '../../context.js';
import type { Executor } from '../../db/database.js';
import { isUniqueViolation, now } from '../../db/values.js';
import { findWorkspaceForViewer } from '../workspaces/workspaces.repository.js';
import { createWorkspaceWithOwner, primaryMembershipOf } from '../workspaces/workspaces.service.js';
import type { Principal } from '../auth/auth.service.js';
import { toWorkspaceLeaf } from '../workspaces/workspace.shape.js';
import { hashPassword, verifyPassword } from '../auth/passwords.js';
import { revokeSessionTokensOfUser } from '../auth/auth.repository.js';
import { countUsers, findUserByEmail, insertUser, updateUser } from './users.repository.js';
import type { CreateUserInput, UpdateProfileInput, UserResource } from './users.schemas.js';
import { userFields } from './user.shape.js';
import type { UserRow } from './users.table.js';

export interface NewUser {
  name: string;
  email: string;
  /** Already hashed; null for users of the external identity provider. */
  passwordHash: string | null;
  multiplaiId?: string | null;
  profilePhotoUrl?: string | null;
  firstName?: string | null;
  lastName?: string | null;
  isAdmin?: boolean;
}

/** "Ada Lovelace King" → first "Ada", last "Lovelace King". */
export function splitName(name: string): { first: string | null; last: string | null } {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  if (parts.length === 0) return { first: null, last: null };
  return { first: parts[0]!, last: parts.length > 1 ? parts.slice(1).join(' ') : null };
}

/**
 * Creates a user and their primary workspace (they own it) in the caller's transaction. A
 * taken email surfaces as a 422 on `email`, also when a concurrent sign-up won the race.
 */
export async function createUserWithPrimaryWorkspace(trx: Executor, input: NewUser): Promise<UserRow> {
  const at = now();
  const split = splitName(input.name);
  const user = await insertUser(trx, {
    name: input.name.trim(),
    first_name: input.firstName ?? split.first,
    last_name: input.lastName ?? split.last,
    email: input.email.toLowerCase(),
    password_hash: input.passwordHash,
    profile_photo_url: input.profilePhotoUrl ?? null,
    multiplai_id: input.multiplaiId ?? null,
    primary_workspace_id: null,
    is_admin: input.isAdmin ?? false,
    created_at: at,
    updated_at: at,
  });
  const owner = user.first_name ?? user.name;
  const workspace = await createWorkspaceWithOwner(trx, user.id, { name: `${owner}'s Workspace` });
  return updateUser(trx, user.id, { primary_workspace_id: workspace.id });
}

/** Runs `createUserWithPrimaryWorkspace` in its own transaction, mapping a taken email to 422. */
export async function registerUser(ctx: AppContext, input: NewUser): Promise<UserRow> {
  if (await findUserByEmail(ctx.db.kysely, input.email)) throw emailTaken();
  try {
    return await ctx.db.kysely.transaction().execute((trx) => createUserWithPrimaryWorkspace(trx, input));
  } catch (error) {
    if (isUniqueViolation(error)) throw emailTaken();
    throw error;
  }
}

function emailTaken(): AppError {
  return fieldError('email', 'The email has already been taken.');
}

/** The User resource: the user with their primary workspace, `is_owner` computed for the viewer. */
export async function toUserResource(db: Executor, user: UserRow, viewerId: number = user.id): Promise<UserResource> {
  // Every user has a primary workspace: it is created with them and cannot be deleted.
  const primary = user.primary_workspace_id ? await findWorkspaceForViewer(db, user.primary_workspace_id, viewerId) : undefined;
  if (!primary) throw new Error(`User ${user.id} has no primary workspace`);
  return { ...userFields(user), primary_workspace: toWorkspaceLeaf(primary.workspace, primary.role) };
}

/** The caller's own User resource, from the principal (its primary workspace is remembered there). */
export async function toOwnUserResource(ctx: AppContext, principal: Principal): Promise<UserResource> {
  const primary = await primaryMembershipOf(ctx, principal);
  return { ...userFields(principal.user), primary_workspace: toWorkspaceLeaf(primary.workspace, primary.role) };
}

/** Updates the caller's own profile; a new password needs the current one and ends other sessions. */
export async function updateProfile(
  ctx: AppContext,
  user: UserRow,
  currentTokenId: string | null,
  input: UpdateProfileInput,
): Promise<UserRow> {
  const changes: Parameters<typeof updateUser>[2] = {};
  if (input.name !== undefined) {
    changes.name = input.name.trim();
    if (input.first_name === undefined && input.last_name === undefined) {
      const split = splitName(input.name);
      changes.first_name = split.first;
      changes.last_name = split.last;
    }
  }
  if (input.first_name !== undefined) changes.first_name = input.first_name;
  if (input.last_name !== undefined) changes.last_name = input.last_name;
  if (input.profile_photo_url !== undefined) changes.profile_photo_url = input.profile_photo_url;
  const sensitive = input.password !== undefined || (input.email !== undefined && input.email.toLowerCase() !== user.email);
  if (sensitive) {
    if (!user.password_hash) {
      throw fieldError('current_password', 'Users of the external identity provider change their email and password there.');
    }
    if (!input.current_password || !(await verifyPassword(input.current_password, user.password_hash))) {
      throw fieldError('current_password', 'The password is incorrect.');
    }
  }
  if (input.email !== undefined) changes.email = input.email.toLowerCase();
  if (input.password !== undefined) changes.password_hash = await hashPassword(input.password, ctx.config.passwordHashCost);
  if (Object.keys(changes).length === 0) return user;
  changes.updated_at = now();
  try {
    const updated = await ctx.db.kysely.transaction().execute(async (trx) => {
      const row = await updateUser(trx, user.id, changes);
      if (input.password !== undefined) await revokeSessionTokensOfUser(trx, user.id, currentTokenId, now());
      return row;
    });
    ctx.principals.forgetUser(user);
    return updated;
  } catch (error) {
    if (isUniqueViolation(error)) throw emailTaken();
    throw error;
  }
}

/** An instance administrator creates a user (the way in when registration is closed). */
export async function createUserAsAdmin(ctx: AppContext, admin: UserRow, input: CreateUserInput): Promise<UserRow> {
  if (!admin.is_admin) throw new AppError('FORBIDDEN');
  return registerUser(ctx, {
    name: input.name,
    email: input.email,
    passwordHash: await hashPassword(input.password, ctx.config.passwordHashCost),
    isAdmin: input.is_admin ?? false,
  });
}

/**
 * With ATHENA_ADMIN_EMAIL and ATHENA_ADMIN_PASSWORD set and no user yet, creates that owner
 * (an instance administrator with a primary workspace). Safe when several processes start at once.
 */
export async function bootstrapOwner(ctx: AppContext): Promise<UserRow | undefined> {
  const { adminEmail, adminPassword } = ctx.config;
  if (!adminEmail || !adminPassword) return undefined;
  if ((await countUsers(ctx.db.kysely)) > 0) return undefined;
  const passwordHash = await hashPassword(adminPassword, ctx.config.passwordHashCost);
  try {
    const user = await ctx.db.kysely.transaction().execute(async (trx) => {
      // Checked again inside the transaction: another process may have bootstrapped meanwhile.
      if ((await countUsers(trx)) > 0) return undefined;
      return createUserWithPrimaryWorkspace(trx, { name: 'Administrator', email: adminEmail, passwordHash, isAdmin: true });
    });
    if (user) ctx.log.info({ userId: user.id }, 'created the bootstrap owner');
    return user;
  } catch (error) {
    if (isUniqueViolation(error)) return undefined;
    throw error;
  }
}
