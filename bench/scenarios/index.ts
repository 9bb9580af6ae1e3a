import type { AnyScenario } from '../lib/scenario.js';
import { aiStreams, aiTtft } from './ai-runtime.js';
import { authenticatedUser, workspaces } from './foundation.js';
import { accountPut, providers } from './providers.js';
import { customerAccountScenarios } from './customer-accounts.js';
import { workflowScenarios } from './workflows.js';
import { commandRoomStream } from './command-room.js';
import { metrics } from './metrics.js';

/** Every scenario `npm run bench` runs, in order. Add a module's scenarios here. */
export const SCENARIOS: AnyScenario[] = [authenticatedUser, workspaces, accountPut, providers, ...customerAccountScenarios, aiTtft, aiStreams, ...workflowScenarios, metrics, commandRoomStream];
