import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { NodeTypeDefinition } from '../node-type.js';
import type { GraphIssue, WorkflowNode } from '../types.js';
import { nodeLabel } from './graph-lookup.js';

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

// Validation only reads: no defaults written into the node, no coercion. Not strict, since
// TypeBox schemas may carry annotations Ajv does not know.
const ajv = addFormats(new Ajv({ allErrors: true, strict: false, coerceTypes: false, useDefaults: false }));

// Compiled once per node type; a WeakMap, so a catalog that is rebuilt (tests) lets the old go.
const validators = new WeakMap<NodeTypeDefinition, ValidateFunction>();

function validatorFor(definition: NodeTypeDefinition): ValidateFunction {
  let validate = validators.get(definition);
  if (validate === undefined) {
    validate = ajv.compile(definition.parameters as object);
    validators.set(definition, validate);
  }
  return validate;
}

/**
 * The ways a node's parameters break its type's JSON Schema, at `nodes.<index>.parameters.<field>`.
 * A string with `{{` stands for a value of any type (it is evaluated before the run), so the
 * errors about such a string are not problems.
 */
export function parameterSchemaIssues(node: WorkflowNode, index: number, definition: NodeTypeDefinition): GraphIssue[] {
  const parameters = node.parameters ?? {};
  const validate = validatorFor(definition);
  if (validate(parameters)) return [];
  const errors = (validate.errors ?? []).filter((error) => !isExpressionAt(parameters, error.instancePath));

  // A failed union (anyOf, oneOf) also reports each branch's failure; those become one issue.
  const unions = errors.filter((error) => error.keyword === 'anyOf' || error.keyword === 'oneOf');
  const unionOf = (error: ErrorObject) =>
    unions.find((union) => union !== error && error.schemaPath.startsWith(`${union.schemaPath}/`));

  const issues: GraphIssue[] = [];
  const seen = new Set<string>();
  for (const error of errors) {
    if (unionOf(error) !== undefined) continue;
    const branches = unions.includes(error) ? errors.filter((other) => unionOf(other) === error) : [];
    const issue = issueFor(node, index, error, branches);
    const key = `${issue.path}\n${issue.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      issues.push(issue);
    }
  }
  return issues;
}

function issueFor(node: WorkflowNode, index: number, error: ErrorObject, branches: ErrorObject[]): GraphIssue {
  const base = pointerSegments(error.instancePath);
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required') {
    const field = [...base, String(params.missingProperty)].join('.');
    return { path: `nodes.${index}.parameters.${field}`, message: `${nodeLabel(node)} is missing the parameter "${field}".` };
  }
  if (error.keyword === 'additionalProperties') {
    const field = [...base, String(params.additionalProperty)].join('.');
    return { path: `nodes.${index}.parameters.${field}`, message: `${nodeLabel(node)} has an unknown parameter "${field}".` };
  }
  const field = base.join('.');
  const problem = error.keyword === 'anyOf' || error.keyword === 'oneOf' ? unionProblem(error, branches) : problemOf(error);
  return field
    ? { path: `nodes.${index}.parameters.${field}`, message: `${nodeLabel(node)} has an invalid parameter "${field}": ${problem}.` }
    : { path: `nodes.${index}.parameters`, message: `${nodeLabel(node)} has invalid parameters: ${problem}.` };
}

function problemOf(error: ErrorObject): string {
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'enum') return `must be one of ${(params.allowedValues as unknown[]).map(show).join(', ')}`;
  if (error.keyword === 'const') return `must be ${show(params.allowedValue)}`;
  return error.message ?? `fails the "${error.keyword}" rule`;
}

/** A union's failure in the words of its branches that failed at the union's own value. */
function unionProblem(union: ErrorObject, branches: ErrorObject[]): string {
  const direct = branches.filter((branch) => branch.instancePath === union.instancePath);
  if (direct.length > 0 && direct.every((branch) => branch.keyword === 'const' || branch.keyword === 'enum')) {
    const allowed = direct.flatMap((branch) => {
      const params = branch.params as Record<string, unknown>;
      return branch.keyword === 'const' ? [params.allowedValue] : (params.allowedValues as unknown[]);
    });
    return `must be one of ${allowed.map(show).join(', ')}`;
  }
  if (direct.length > 0 && direct.every((branch) => branch.keyword === 'type')) {
    const types = new Set(direct.map((branch) => String((branch.params as Record<string, unknown>).type)));
    return `must be ${[...types].join(' or ')}`;
  }
  if (union.keyword === 'oneOf' && (union.params as Record<string, unknown>).passingSchemas != null) {
    return 'matches more than one of the allowed forms';
  }
  return 'matches none of the allowed forms';
}

const show = (value: unknown): string => JSON.stringify(value) ?? String(value);

function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Whether the value at a JSON pointer is an expression string. */
function isExpressionAt(root: unknown, pointer: string): boolean {
  let value = root;
  for (const segment of pointerSegments(pointer)) {
    if (value === null || typeof value !== 'object') return false;
    value = (value as Record<string, unknown>)[segment];
  }
  return typeof value === 'string' && value.includes('{{');
}
