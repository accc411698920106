/**
 * Compares two compose YAML texts as structures, ignoring what Coolify changes when it stores a
 * compose (coolify-api-notes §5.2): key order, formatting and comments (it re-dumps with Symfony
 * YAML), `container_name` (rewritten to `<service>-<uuid>`), and an absent `restart` (it fills in
 * unless-stopped). Symfony also prints an empty list as `{}` and can drop an empty value to null,
 * so null, [] and {} compare equal. A text that does not parse equals nothing.
 */
import { canonicalJson, sha256Hex } from './canonical-json.js';
import { isPlainObject, parseYaml, setOwn } from './yaml-io.js';

const DEFAULT_RESTART = 'unless-stopped';

function normalise(value: unknown): unknown {
  if (Array.isArray(value)) return value.length === 0 ? null : value.map(normalise);
  if (isPlainObject(value)) {
    const keys = Object.keys(value);
    if (keys.length === 0) return null;
    const out: Record<string, unknown> = {};
    for (const k of keys) setOwn(out, k, normalise(value[k]));
    return out;
  }
  return value;
}

function normaliseCompose(doc: unknown): unknown {
  if (!isPlainObject(doc)) return normalise(doc);
  const services = doc.services;
  if (!isPlainObject(services)) return normalise(doc);
  const cleaned: Record<string, unknown> = {};
  for (const [name, service] of Object.entries(services)) {
    if (!isPlainObject(service)) {
      setOwn(cleaned, name, service);
      continue;
    }
    const { container_name: _containerName, ...rest } = service;
    setOwn(cleaned, name, { ...rest, restart: rest.restart ?? DEFAULT_RESTART });
  }
  return normalise({ ...doc, services: cleaned });
}

export function composeEquals(a: string, b: string): boolean {
  let left: unknown;
  let right: unknown;
  try {
    left = parseYaml(a);
    right = parseYaml(b);
  } catch {
    return false;
  }
  return canonicalJson(normaliseCompose(left)) === canonicalJson(normaliseCompose(right));
}

/**
 * A short digest of the compose as a structure, with what `composeEquals` ignores left out: two
 * texts have the same digest exactly when they compare equal. Undefined when the text does not
 * parse (it equals nothing). Lets a snapshot keep 16 bytes per service instead of its compose.
 */
export function composeDigest(text: string): string | undefined {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch {
    return undefined;
  }
  return sha256Hex(canonicalJson(normaliseCompose(doc))).slice(0, 32);
}
