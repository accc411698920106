/**
 * Which env vars of a service the daemon manages. The daemon sets router variables and secret
 * params; when the decision stops containing one (a secret param removed from the stack, a
 * template dropping a variable), the var must go, but a var an operator added by hand must stay.
 * Neither the old decision nor the old template survives to say which is which, so the keys the
 * daemon set are kept on the service itself, in one more env var holding the sorted,
 * comma-separated key names (names only, never values). A service without it (made before this
 * bookkeeping) has no deletable keys: when unsure, nothing is deleted.
 */
import type { CoolifyEnvVar } from '../src/coolify/types.js';

export const MANAGED_ENV_VAR = 'CF_RECONCILER_MANAGED_ENV';

const KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The keys listed in the service's MANAGED_ENV_VAR; never the bookkeeping var itself. */
export function readManagedEnv(vars: readonly CoolifyEnvVar[]): string[] {
  const value = vars.find((v) => v.key === MANAGED_ENV_VAR)?.value;
  if (!value) return [];
  return value.split(',').filter((k) => KEY.test(k) && k !== MANAGED_ENV_VAR);
}

/** The MANAGED_ENV_VAR value for `keys`: sorted and de-duplicated, so equal sets give equal text. */
export function managedEnvValue(keys: Iterable<string>): string {
  return [...new Set(keys)].filter((k) => k !== MANAGED_ENV_VAR).sort().join(',');
}
