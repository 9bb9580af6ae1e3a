import type { Scenario } from '../lib/scenario.js';
import { authenticatedUser, workspaces } from './foundation.js';
import { accountPut, providers } from './providers.js';
import { customerAccountScenarios } from './customer-accounts.js';

/** Every scenario `npm run bench` runs, in order. Add a module's scenarios here. */
export const SCENARIOS: Scenario[] = [authenticatedUser, workspaces, accountPut, providers, ...customerAccountScenarios];
