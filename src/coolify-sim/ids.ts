import { randomBytes, randomInt } from 'node:crypto';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** Coolify's `new_public_id()`: 24 lowercase alphanumerics (notes §2). Not an RFC-4122 UUID. */
export function newPublicId(): string {
  let out = '';
  for (let i = 0; i < 24; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

/** A Sanctum-style personal access token: `<id>|<secret>` (notes §1). */
export function newToken(id: number): string {
  return `${id}|${randomBytes(30).toString('base64url')}`;
}

/** Random text for Coolify's generated SERVICE_PASSWORD_* style variables. */
export function randomSecret(length = 32): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

/** Laravel's JSON timestamp format. */
export function timestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
