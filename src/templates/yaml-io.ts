/**
 * The one place that parses and prints YAML for templates and composes.
 *
 * Parsing uses YAML 1.2 core plus `<<` merge keys (compose files use `<<: *anchor`). Printing
 * double-quotes every string value: Coolify re-parses our text with Symfony YAML, which reads some
 * plain scalars differently from js-yaml (`2001-12-14` becomes a timestamp, `0b101` a number), so
 * a quoted scalar is the only form every parser on the path reads back as the same string.
 */
import { CORE_SCHEMA, dump, load, mergeTag } from 'js-yaml';

const COMPOSE_SCHEMA = CORE_SCHEMA.withTags(mergeTag);

/** Throws js-yaml's YAMLException (message carries line and column) on malformed input. */
export function parseYaml(text: string, filename?: string): unknown {
  return load(text, filename === undefined ? { schema: COMPOSE_SCHEMA } : { schema: COMPOSE_SCHEMA, filename });
}

export function printYaml(value: unknown): string {
  return dump(value, { forceQuotes: true, quoteStyle: 'double', lineWidth: -1, noRefs: true });
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A compose path for messages: `services.app.environment.KEY`, `services.app.volumes[0]`. */
export function joinPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`;
  return path === '' ? key : `${path}.${key}`;
}

/** Assigns an own property even for keys such as `__proto__` that plain assignment treats specially. */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
