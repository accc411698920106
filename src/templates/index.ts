/** Public surface of the templates module for the engine and the CLI. */
export type { StackApply, StackDecision, StackDecisionInput, StackEnvVar, StackInvalid } from './types.js';
export type { TemplateDefinition, TemplateManifest, TemplateParam, TemplateIngress } from './template-definition.js';
export { loadTemplateCatalog, type TemplateCatalog, type TemplateProblem } from './template-catalog.js';
export { decideStack, decisionInputsDigest } from './decide-stack.js';
export { claimHosts, stackHosts } from './hosts.js';
export { composeDigest, composeEquals } from './compose-equals.js';
