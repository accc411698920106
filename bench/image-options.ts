/**
 * The V8 options the Docker image runs the daemon with (`ENV NODE_OPTIONS=...` in the Dockerfile),
 * so the benchmark measures the daemon as it is shipped and the deployment examples can be checked
 * to leave room for its heap.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../src/pocketbase/server-process.js';

/** NODE_OPTIONS as the Dockerfile sets it (quoted value of its ENV instruction); '' when unset. */
export function imageNodeOptions(dockerfile = readFileSync(join(projectRoot(), 'Dockerfile'), 'utf8')): string {
  return /\bNODE_OPTIONS="([^"]*)"/.exec(dockerfile)?.[1] ?? '';
}

/** The value of `--<flag>=N` in a NODE_OPTIONS string, in MiB as V8 reads it; undefined if absent. */
export function v8SizeFlag(options: string, flag: 'max-old-space-size' | 'max-semi-space-size'): number | undefined {
  const m = new RegExp(`(?:^|\\s)--${flag}=(\\d+)(?:\\s|$)`).exec(options);
  return m ? Number(m[1]) : undefined;
}
