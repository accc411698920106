/** The template catalog and policy functions behind the reconcilers' PolicyPort. */
import { claimHosts, composeEquals, decideStack, type TemplateCatalog } from '../templates/index.js';
import type { PolicyPort } from './ports.js';

export function catalogPolicy(catalog: TemplateCatalog): PolicyPort {
  return {
    decide: (input) => decideStack(catalog, input),
    hostOwners: (entries) => claimHosts(catalog, entries),
    composeEquals,
    secretParams: (name) => (catalog.get(name)?.params ?? []).filter((p) => p.secret).map((p) => p.name),
  };
}
