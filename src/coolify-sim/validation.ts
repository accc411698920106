import { validationFailed } from './http.js';

/**
 * The subset of Laravel's validator that Coolify's controllers use here, with its English
 * messages. Controllers build the validator by hand and add "This field is not allowed." for
 * every key outside their allow-list (notes §2).
 */

export type Rule =
  | 'required'
  | 'nullable'
  | 'string'
  | 'boolean'
  | 'array'
  | { min: number }
  | { max: number }
  | { regex: RegExp }
  | { requiredWithout: string };

export type Rules = Record<string, Rule[]>;

const label = (field: string) => field.replace(/_/g, ' ');

function present(v: unknown): boolean {
  return v !== undefined && v !== null && v !== '' && !(Array.isArray(v) && v.length === 0);
}

export function check(body: Record<string, unknown>, rules: Rules, allowed?: readonly string[]): Record<string, string[]> {
  const errors: Record<string, string[]> = {};
  const add = (field: string, msg: string) => (errors[field] ??= []).push(msg);
  for (const [field, list] of Object.entries(rules)) {
    const v = body[field];
    if (!present(v)) {
      if (list.includes('required')) add(field, `The ${label(field)} field is required.`);
      for (const r of list) {
        if (typeof r === 'object' && 'requiredWithout' in r && !present(body[r.requiredWithout])) {
          add(field, `The ${label(field)} field is required when ${label(r.requiredWithout)} is not present.`);
        }
      }
      continue;
    }
    for (const r of list) {
      if (r === 'string' && typeof v !== 'string') add(field, `The ${label(field)} field must be a string.`);
      if (r === 'boolean' && typeof v !== 'boolean' && v !== 0 && v !== 1 && v !== '0' && v !== '1') {
        add(field, `The ${label(field)} field must be true or false.`);
      }
      if (r === 'array' && !Array.isArray(v) && (typeof v !== 'object' || v === null)) add(field, `The ${label(field)} field must be an array.`);
      if (typeof r === 'object' && 'min' in r && typeof v === 'string' && [...v].length < r.min) {
        add(field, `The ${label(field)} field must be at least ${r.min} characters.`);
      }
      if (typeof r === 'object' && 'max' in r && typeof v === 'string' && [...v].length > r.max) {
        add(field, `The ${label(field)} field must not be greater than ${r.max} characters.`);
      }
      if (typeof r === 'object' && 'regex' in r && typeof v === 'string' && !r.regex.test(v)) {
        add(field, `The ${label(field)} field format is invalid.`);
      }
    }
  }
  if (allowed) {
    for (const key of Object.keys(body)) if (!allowed.includes(key)) add(key, 'This field is not allowed.');
  }
  return errors;
}

/** Throws the 422 when `check` found anything. */
export function enforce(body: Record<string, unknown>, rules: Rules, allowed?: readonly string[]): void {
  const errors = check(body, rules, allowed);
  if (Object.keys(errors).length > 0) throw validationFailed(errors);
}

/** `ValidationPatterns::nameRules` (notes §3). */
export const NAME_RULES: Rule[] = ['required', 'string', { min: 3 }, { max: 255 }, { regex: /^[\p{L}\p{M}\p{N}\s\-_.@/&()#,:+]+$/u }];
/** `ValidationPatterns::descriptionRules` (notes §3): no `:` `#` `[` `{` `<` `%` `;`. */
export const DESCRIPTION_RULES: Rule[] = ['nullable', 'string', { max: 255 }, { regex: /^[\p{L}\p{M}\p{N}\s\-_.,!?()'"+=*@/&]+$/u }];

/** `strip_tags()` applied by HasSafeStringAttribute. */
export function stripTags(s: string): string {
  return s.replace(/<[^>]*>?/g, '');
}

export function asBool(v: unknown): boolean {
  return v === true || v === 1 || v === '1' || v === 'true';
}

/** `$request->boolean()` for query flags, defaulting to true when absent. */
export function queryFlag(query: URLSearchParams, key: string, fallback: boolean): boolean {
  const v = query.get(key);
  if (v === null) return fallback;
  return ['1', 'true', 'on', 'yes'].includes(v.toLowerCase());
}
