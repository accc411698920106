/**
 * Stack decisions remembered by their inputs. Deciding a stack renders its template, prints and
 * parses YAML: at 10,000 stacks that was nearly all of a resync's CPU, spent again every resync
 * on records that had not changed. Each stack keeps the digest of what its decision read
 * (`PolicyPort.decisionKey`: template and its version, params, the tenant and plan fields, its
 * hosts' owners, settings) with what the drift comparison and the env checker need of the
 * decision; the next decision of the same inputs is answered from it without rendering, and any
 * changed input misses. Only digests and short strings are kept (about 300 bytes a stack), never
 * the rendered compose or env values.
 */
import type { StackDecisionInput } from '../templates/types.js';
import { envFingerprint, type EnvFingerprint } from './env-check.js';
import type { PolicyPort } from './ports.js';

/** What is kept of a decision: enough to compare a stack with Coolify and to check its env vars. */
export type DecisionSummary =
  | { readonly kind: 'error'; readonly message: string }
  | {
      readonly kind: 'apply';
      /** The decision's hash (compared with the stack's applied_hash). */
      readonly hash: string;
      /** `composeDigest` of the compose to apply (compared with the one Coolify holds). */
      readonly composeDigest: string | undefined;
      readonly env: EnvFingerprint;
    };

type Entry = DecisionSummary & { readonly key: string };

export class DecisionCache {
  readonly #policy: PolicyPort;
  /** Stack id → its last decision and the digest of the inputs it came from. */
  readonly #entries = new Map<string, Entry>();

  constructor(policy: PolicyPort) {
    this.#policy = policy;
  }

  /** The stack's decision: from memory when its inputs are unchanged, else decided (and kept). */
  decide(input: StackDecisionInput): DecisionSummary {
    const policy = this.#policy;
    const key = policy.decisionKey(input);
    const known = this.#entries.get(input.stack.id);
    if (known?.key === key) return known;
    const d = policy.decide(input);
    const entry: Entry =
      d.kind === 'error'
        ? { kind: 'error', message: d.message, key }
        : { kind: 'apply', hash: d.hash, composeDigest: policy.composeDigest(d.composeYaml), env: envFingerprint(d.env), key };
    this.#entries.set(input.stack.id, entry);
    return entry;
  }

  /** Forgets the stacks not in `stackIds` (records gone since the last listing). */
  retain(stackIds: ReadonlySet<string>): void {
    for (const id of this.#entries.keys()) if (!stackIds.has(id)) this.#entries.delete(id);
  }

  /** Stacks remembered. */
  get size(): number {
    return this.#entries.size;
  }
}
