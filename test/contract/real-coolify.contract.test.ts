import { describe, it } from '@jest/globals';
import { defineBehaviourSuite } from './behaviour.js';

/**
 * The same suite against a real Coolify. It creates projects and services named
 * `cf-contract-<run>` (never started) and deletes them again. Set COOLIFY_URL and COOLIFY_TOKEN
 * (abilities read, write, deploy, read:sensitive, or root); optionally COOLIFY_SERVER_UUID and
 * COOLIFY_DESTINATION_UUID.
 */
const url = process.env.COOLIFY_URL;
const token = process.env.COOLIFY_TOKEN;

if (url && token) {
  defineBehaviourSuite(`Coolify contract: real instance at ${url}`, async () => ({
    url,
    token,
    ...(process.env.COOLIFY_SERVER_UUID ? { serverUuid: process.env.COOLIFY_SERVER_UUID } : {}),
    ...(process.env.COOLIFY_DESTINATION_UUID ? { destinationUuid: process.env.COOLIFY_DESTINATION_UUID } : {}),
    settleMs: 180_000,
    close: async () => undefined,
  }));
} else {
  describe.skip('Coolify contract: real instance (skipped: set COOLIFY_URL and COOLIFY_TOKEN to run)', () => {
    it.skip('runs the behaviour suite against a real Coolify', () => undefined);
  });
}
