/**
 * Start-up check of TEMPLATES_DIR. A folder that is missing, unreadable or holds no usable
 * template stops start-up (every stack would fail); invalid templates next to valid ones keep the
 * daemon running for the valid ones while /readyz fails naming each broken template.
 */
import { resolve } from 'node:path';
import type { TemplateCatalog } from '../templates/index.js';

export interface TemplatesVerdict {
  /** Why the daemon must not start, or undefined. */
  fatal: string | undefined;
  /** The broken templates (file: problem), for /readyz and the error log; undefined when none. */
  invalid: string | undefined;
}

const LAYOUT = 'one folder per template, each with template.yaml and compose.yaml';

export function checkTemplates(catalog: TemplateCatalog): TemplatesVerdict {
  const where = `TEMPLATES_DIR "${catalog.dir}" (${resolve(catalog.dir)})`;
  const broken = catalog.problems.filter((p) => p.template !== '');
  const listed = broken.map((p) => `${p.file}: ${p.message}`).join('; ');
  const dirProblem = catalog.problems.find((p) => p.template === '');
  if (dirProblem) return { fatal: `${where}: ${dirProblem.message}`, invalid: undefined };
  if (catalog.names().length === 0) {
    const fatal =
      broken.length === 0
        ? `${where} holds no templates (expected ${LAYOUT})`
        : `${where} holds no valid template: ${listed}`;
    return { fatal, invalid: undefined };
  }
  if (broken.length === 0) return { fatal: undefined, invalid: undefined };
  const names = [...new Set(broken.map((p) => p.template))].sort();
  return {
    fatal: undefined,
    invalid: `invalid template${names.length === 1 ? '' : 's'} ${names.join(', ')} in ${where} (stacks using them get an error): ${listed}`,
  };
}
