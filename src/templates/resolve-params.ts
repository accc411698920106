/**
 * Checks a stack's `params` record field against its template and fills in defaults. Messages
 * name params but never quote a value: an admin may have put a secret under the wrong name.
 */
import { checkParamValue, type ParamValue, type TemplateManifest } from './template-definition.js';

export interface ResolvedParams {
  values: Map<string, ParamValue>;
  problems: string[];
}

/** Shows a key an admin typed without letting it carry line breaks or huge text into a message. */
function displayKey(key: string): string {
  const shown = JSON.stringify(key.length > 40 ? `${key.slice(0, 40)}…` : key);
  return shown.slice(1, -1);
}

export function resolveParams(manifest: TemplateManifest, given: Record<string, unknown>): ResolvedParams {
  const values = new Map<string, ParamValue>();
  const problems: string[] = [];
  const declared = new Map(manifest.params.map((p) => [p.name, p]));
  const unknown = Object.keys(given).filter((k) => !declared.has(k));
  if (unknown.length > 0) {
    const known = manifest.params.map((p) => p.name).join(', ') || 'none';
    problems.push(`unknown param${unknown.length > 1 ? 's' : ''} ${unknown.map(displayKey).join(', ')} (template ${manifest.name} takes: ${known})`);
  }
  for (const param of manifest.params) {
    const raw = Object.hasOwn(given, param.name) ? given[param.name] : undefined;
    if (raw === undefined || raw === null || (param.required && raw === '')) {
      if (param.default !== undefined) values.set(param.name, param.default);
      else if (param.required) problems.push(`param ${param.name} is required`);
      continue;
    }
    const problem = checkParamValue(param, raw);
    if (problem) problems.push(`param ${param.name} ${problem}`);
    else values.set(param.name, raw as ParamValue);
  }
  return { values, problems };
}
