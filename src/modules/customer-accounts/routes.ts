import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { AppContext } from '../../context.js';
import { activityRoutes } from './activities.routes.js';
import { attributeValueRoutes } from './attribute-values.routes.js';
import { contactRoutes } from './contacts.routes.js';
import { customerAccountRoutes } from './customer-accounts.routes.js';
import { noteRoutes } from './notes.routes.js';
import { relationshipRoutes } from './relationships.routes.js';
import { taskRoutes } from './tasks.routes.js';

/** Every route of the customer-accounts API (`/v1`). */
export function customerAccountsApi(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    await app.register(attributeValueRoutes(ctx));
    await app.register(customerAccountRoutes(ctx));
    await app.register(contactRoutes(ctx));
    await app.register(activityRoutes(ctx));
    await app.register(noteRoutes(ctx));
    await app.register(taskRoutes(ctx));
    await app.register(relationshipRoutes(ctx));
  };
}
