/**
 * The deployment examples in deploy/ are parsed and checked for what makes a daemon safe to run:
 * a health check, a stop grace long enough for in-flight reconciles to finish (the daemon gives
 * them up to 30 s), and no loopback URL in its configuration (inside a container, 127.0.0.1 is
 * the container itself). The health check itself probes the container's own loopback, as it must.
 */
import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load, loadAll } from 'js-yaml';
import { imageNodeOptions, v8SizeFlag } from '../../../bench/image-options.js';
import { CONFIG_VARIABLES } from '../../../src/config.js';
import { projectRoot } from '../../../src/pocketbase/server-process.js';

const root = projectRoot();
const read = (...parts: string[]) => readFileSync(join(root, ...parts), 'utf8');
const LOOPBACK = /\b(127\.\d+\.\d+\.\d+|localhost|\[::1\]|0\.0\.0\.0)(:\d+)?\b/i;

/** KEY=value lines of an env file (comments and blanks skipped), as docker's --env-file reads them. */
function envFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m?.[1]) out.set(m[1], m[2] ?? '');
  }
  return out;
}

/** Docker compose durations: `45s`, `1m30s`, `1m`. */
function seconds(duration: string): number {
  const m = /^(?:(\d+)m)?(?:(\d+)s)?$/.exec(duration);
  if (!m || (!m[1] && !m[2])) throw new Error(`not a duration: ${duration}`);
  return Number(m[1] ?? 0) * 60 + Number(m[2] ?? 0);
}

/** A memory quantity of compose (`384M`, binary) or Kubernetes (`384Mi`), in MiB. */
function mebibytes(quantity: string): number {
  const m = /^(\d+)(Mi|M|Gi|G)$/.exec(quantity);
  if (!m) throw new Error(`not a memory quantity: ${quantity}`);
  return Number(m[1]) * (m[2]!.startsWith('G') ? 1024 : 1);
}

/**
 * A container memory limit leaves the image's V8 old-space cap room: the rest of the process (the
 * node binary, the young generation, code, native buffers) takes about 100 MiB, and a kernel OOM
 * kill below the cap would cut reconciles off where V8 would have collected instead.
 */
function leavesHeapRoom(limit: string): void {
  const cap = v8SizeFlag(imageNodeOptions(), 'max-old-space-size');
  expect(cap).toBeDefined();
  expect(mebibytes(limit)).toBeGreaterThanOrEqual(cap! + 128);
}

/** Variables whose value is a URL the daemon connects to. */
const URL_VARIABLES = ['POCKETBASE_URL', 'COOLIFY_URL', 'ROUTER_BASE_URL'];

describe('deploy/compose.yaml', () => {
  const compose = load(read('deploy', 'compose.yaml')) as { services: Record<string, Record<string, unknown>> };
  const service = compose.services['cf-reconciler'];

  it("the daemon's service has a health check on /healthz, a restart policy and a stop grace of at least 40 s", () => {
    expect(service).toBeDefined();
    const healthcheck = service!.healthcheck as { test: string[]; interval: string };
    expect(healthcheck.test.join(' ')).toContain('/healthz');
    expect(seconds(healthcheck.interval)).toBeGreaterThan(0);
    expect(seconds(service!.stop_grace_period as string)).toBeGreaterThanOrEqual(40);
    expect(service!.restart).toBe('unless-stopped');
  });

  it("its memory limit leaves room for the image's V8 heap cap", () => {
    const limits = (service!.deploy as { resources: { limits: { memory: string } } }).resources.limits;
    leavesHeapRoom(limits.memory);
  });

  it('no loopback URL in its environment or its env file (the example it is copied from)', () => {
    const environment = service!.environment as Record<string, string>;
    const fromFile = envFile(read('deploy', `${service!.env_file as string}.example`));
    for (const name of URL_VARIABLES) {
      expect(fromFile.get(name) ?? '').not.toMatch(LOOPBACK);
      expect(environment[name] ?? '').not.toMatch(LOOPBACK);
    }
    expect(fromFile.get('POCKETBASE_URL')).toMatch(/^https?:\/\//);
    expect(fromFile.get('COOLIFY_URL')).toMatch(/^https?:\/\//);
    // The health check and the published port need the daemon listening beyond the container's loopback.
    expect(environment.HTTP_ADDR).toBe('0.0.0.0:9464');
    for (const name of fromFile.keys()) expect(CONFIG_VARIABLES).toContain(name);
  });
});

describe('deploy/kubernetes.yaml', () => {
  const docs = loadAll(read('deploy', 'kubernetes.yaml')) as { kind: string; data?: Record<string, string>; spec?: Record<string, unknown> }[];
  const deployment = docs.find((d) => d.kind === 'Deployment');

  it('a rolling update that never drops the running daemon first, probes on /healthz and /readyz, a grace of at least 40 s, resources, a lease identity per pod', () => {
    const spec = deployment!.spec as {
      replicas: number;
      strategy: { type: string; rollingUpdate: { maxUnavailable: number } };
      template: { spec: { terminationGracePeriodSeconds: number; containers: Record<string, unknown>[] } };
    };
    expect(spec.replicas).toBeGreaterThanOrEqual(1);
    // The lease lets the new pod wait as a standby until the old one releases it on SIGTERM.
    expect(spec.strategy.type).toBe('RollingUpdate');
    expect(spec.strategy.rollingUpdate.maxUnavailable).toBe(0);
    expect(spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(40);
    const container = spec.template.spec.containers[0] as {
      livenessProbe: { httpGet: { path: string } };
      readinessProbe: { httpGet: { path: string } };
      resources: { requests: Record<string, string>; limits: Record<string, string> };
      env: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
    };
    expect(container.env.find((e) => e.name === 'LEASE_IDENTITY')?.valueFrom?.fieldRef?.fieldPath).toBe('metadata.name');
    expect(container.livenessProbe.httpGet.path).toBe('/healthz');
    expect(container.readinessProbe.httpGet.path).toBe('/readyz');
    leavesHeapRoom(container.resources.limits.memory!);
    expect(container.resources.requests.cpu).toBeDefined();
  });

  it('no loopback URL in its configuration', () => {
    const config = docs.find((d) => d.kind === 'ConfigMap')!.data!;
    for (const name of URL_VARIABLES) expect(config[name] ?? '').not.toMatch(LOOPBACK);
    expect(config.HTTP_ADDR).toBe('0.0.0.0:9464');
  });
});

describe('.env.example', () => {
  it('sets no loopback URL, so `docker run --env-file .env` cannot point the daemon at the container itself', () => {
    const example = envFile(read('.env.example'));
    for (const [name, value] of example) expect(`${name}=${value}`).not.toMatch(LOOPBACK);
  });
});

describe('README', () => {
  it('points at no file outside the repository', () => {
    const readme = read('README.md');
    expect(readme).not.toMatch(/shared\/reference|SPEC §|reference\/[a-z-]+\.md/);
    // Every repository path it names in backquotes exists.
    for (const m of readme.matchAll(/`((?:deploy|pocketbase|templates|src|test|bench)\/[\w./-]+)`/g)) {
      const path = m[1]!.replace(/\*.*$/, '');
      expect(existsSync(join(root, path))).toBe(true);
    }
  });
});
