import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { AppContext } from '../../context.js';
import { Body, MessageResponse, NullableString, platformErrors, Uuid } from '../../http/schemas.js';
import { workspaceScopeOf } from '../../http/workspace-context.js';
import { generateWorkflow } from './generate.js';
import { Edge, Node } from './workflows.schemas.js';

export const GenerateWorkflowBody = Body({
  description: Type.String({ minLength: 10, maxLength: 4_000, description: 'What the workflow should do, in your words.' }),
  llm_uuid: Type.Optional(Uuid),
  account_uuid: Type.Optional(Uuid),
});

export const GeneratedWorkflowResponse = Type.Object({
  data: Type.Object(
    {
      name: Type.String(),
      description: NullableString(),
      nodes: Type.Array(Node),
      edges: Type.Array(Edge),
    },
    { description: 'A valid graph, ready for `POST /api/v1/workflows` (nothing is saved).' },
  ),
  meta: Type.Object({
    run_uuid: Uuid,
    attempts: Type.Integer({ minimum: 1, description: 'Model calls it took: the draft, and one per repair.' }),
  }),
});

export function workflowGenerateRoutes(ctx: AppContext): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post('/api/v1/workflows/generate', {
      schema: {
        tags: ['Workflow'],
        operationId: 'generateWorkflow',
        summary: 'Generate Workflow',
        description:
          'A model drafts a workflow graph from `description`, the node catalog (`GET /api/v1/workflow-nodes`) and the agents, prompts and workflows the caller may use. The draft is checked as saving checks it; its problems go back to the model up to twice, then a 422 names those left. Nothing is saved: send the draft to `POST /api/v1/workflows`. The model is `llm_uuid` with `account_uuid`; a missing half is filled in from the caller’s connected accounts.',
        body: GenerateWorkflowBody,
        response: { 200: GeneratedWorkflowResponse, 502: MessageResponse, 504: MessageResponse, ...platformErrors },
      },
      handler: async (request) => {
        const result = await generateWorkflow(ctx, await workspaceScopeOf(ctx, request), request.body);
        return { data: result.draft, meta: { run_uuid: result.runId, attempts: result.attempts } };
      },
    });
  };
}
