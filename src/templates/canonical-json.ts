/**
 * JSON with mapping keys sorted at every level, so equal structures serialise to equal text
 * whatever order their keys were built in. Used for hashes and structural comparison.
 */
import { createHash } from 'node:crypto';
import { isPlainObject } from './yaml-io.js';

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (isPlainObject(value)) {
    const out: [string, unknown][] = Object.keys(value)
      .sort()
      .map((k) => [k, sortKeys(value[k])]);
    return out;
  }
  return value;
}

/** Objects become arrays of [key, value] pairs, which keeps `__proto__` keys and fixes the order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
