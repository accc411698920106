/**
 * Placeholders (`{{tenant.slug}}`, `{{params.NAME}}`, …) and Compose variable references
 * (`${NAME}`) inside one string scalar of a parsed compose file.
 *
 * Substitution happens on parsed strings, never on YAML text, so a value can only ever become
 * part of the one scalar it lands in. It is a single pass: a value that itself looks like a
 * placeholder stays literal.
 */

export const CONTEXT_PLACEHOLDERS = ['tenant.slug', 'tenant.domain', 'stack.name', 'stack.id'] as const;

/**
 * Every `{{` must open a well-formed placeholder. A lone `}}` is allowed: JSON values in a compose
 * file end nested objects with it.
 */
const OPENING = /\{\{/g;
const PLACEHOLDER = /^\{\{\s*(tenant\.slug|tenant\.domain|stack\.name|stack\.id|params\.[A-Za-z_][A-Za-z0-9_]*)\s*\}\}/;
const ANY_PLACEHOLDER = /\{\{\s*(tenant\.slug|tenant\.domain|stack\.name|stack\.id|params\.[A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

export interface PlaceholderScan {
  /** Well-formed placeholder names in order, e.g. `params.BOT_NAME`. */
  names: string[];
  /** Text of malformed `{{…` sequences. */
  malformed: string[];
}

export function scanPlaceholders(text: string): PlaceholderScan {
  const names: string[] = [];
  const malformed: string[] = [];
  let consumedTo = 0;
  for (const match of text.matchAll(OPENING)) {
    if (match.index < consumedTo) continue;
    const rest = text.slice(match.index);
    const ok = PLACEHOLDER.exec(rest);
    if (ok?.[1]) {
      names.push(ok[1]);
      consumedTo = match.index + ok[0].length;
    } else {
      const end = rest.indexOf('}}');
      malformed.push(end >= 0 ? rest.slice(0, end + 2) : rest.slice(0, 24));
      consumedTo = match.index + 2;
    }
  }
  return { names, malformed };
}

/**
 * Compose interpolates `$` in every value; a value that contains `$` must reach the container as
 * written, so each `$` is doubled (Compose reads `$$` as a literal `$`).
 */
export function escapeForCompose(value: string): string {
  return value.replace(/\$/g, '$$$$');
}

/** Replaces well-formed placeholders; callers have already rejected malformed and unknown ones. */
export function substitutePlaceholders(text: string, values: ReadonlyMap<string, string>): string {
  return text.replace(ANY_PLACEHOLDER, (whole, name: string) => {
    const value = values.get(name);
    return value === undefined ? whole : escapeForCompose(value);
  });
}

export interface VariableScan {
  /** Names referenced as `$NAME` or `${NAME…}`. */
  names: string[];
  malformed: string[];
}

const DOLLAR = /\$(\$|\{([A-Za-z_][A-Za-z0-9_]*)?|([A-Za-z_][A-Za-z0-9_]*))/g;

/** Finds Compose variable references; `$$` is an escaped literal `$` and is skipped. */
export function scanVariables(text: string): VariableScan {
  const names: string[] = [];
  const malformed: string[] = [];
  for (const m of text.matchAll(DOLLAR)) {
    if (m[1] === '$') continue;
    if (m[1]?.startsWith('{')) {
      if (m[2] === undefined) malformed.push(text.slice(m.index, m.index + 16));
      else names.push(m[2]);
    } else if (m[3] !== undefined) names.push(m[3]);
  }
  return { names, malformed };
}
