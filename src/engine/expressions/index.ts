/**
 * `{{ }}` expressions in node parameters, evaluated with JSONata over the execution's scope
 * (`trigger`, `input`, `nodes`, `vars`, `execution`), within time, depth and size limits.
 * The user's guide is docs/workflow-variables.md.
 */
export { ExpressionError } from './errors.js';
export {
  type ExpressionIssue,
  type ExpressionLocation,
  type ExpressionScope,
  checkExpressionSyntax,
  evaluateExpression,
  expressionIssues,
  interpolationText,
  resolveParameters,
  resolveValue,
} from './resolve.js';
export { expressionsIn, hasExpression } from './template.js';
export { ALL_VARIABLES, referencedVariables } from './variables.js';
export { SECRET_MASK, maskSecrets } from './mask.js';
export {
  DEFAULT_EXPRESSION_LIMITS,
  type ExpressionLimits,
  getExpressionLimits,
  setExpressionLimits,
} from './limits.js';
