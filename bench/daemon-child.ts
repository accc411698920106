/**
 * The daemon as its own process for the scale benchmark, so its CPU time, RSS and heap are its
 * alone (the simulator runs in the parent, PocketBase in its own process). Configured from the
 * environment like `cf-reconciler run`; started with `--expose-gc` so the parent can ask for the
 * heap retained after a full collection, apart from garbage not yet collected.
 *
 * IPC: the parent sends `{ id, cmd }`; the child answers `{ id, ... }`:
 * - `memory`: RSS, heap used before and after a forced GC (bytes);
 * - `rss`: RSS now, without collecting garbage first (bytes);
 * - `cpu`: process.cpuUsage() since start (µs);
 * - `resync`: runs one drift resync, answers with the differing keys and the CPU it took;
 * - `queue`: depth, in flight, delayed;
 * - `envcheck`: the env checker's spacing between two turns (ms) and its number of services; it
 *   also forgets the reads reconciles reported, so every turn costs a call (steady state after an hour);
 * - `profile-start`, `profile-stop` (with `path`): a CPU profile of what runs in between, written
 *   to `path` as a .cpuprofile (open it in Chrome DevTools), e.g. around the idle window;
 * - `heapsnapshot`: writes a V8 heap snapshot (after a forced GC) into a new temporary directory and
 *   answers with its path (summarise it with bench/heap-summary.ts);
 * - `stop`: stops the daemon and exits.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { loadConfig } from '../src/config.js';
import { startDaemon } from '../src/engine/daemon.js';
import { createLogger, silentLogger } from '../src/logging/logger.js';
import { Redactor } from '../src/logging/redactor.js';

interface Request {
  id: number;
  cmd: 'memory' | 'rss' | 'cpu' | 'resync' | 'queue' | 'envcheck' | 'heapsnapshot' | 'stop' | 'profile-start' | 'profile-stop';
  path?: string;
}
const session = new Session();

const send = (msg: unknown) => process.send?.(msg);
const gc = (globalThis as { gc?: () => void }).gc;

const config = loadConfig(process.env);
const envChecksPerMinute = process.env.BENCH_ENV_CHECKS_PER_MINUTE;
const daemon = await startDaemon({
  config,
  deps: {
    // BENCH_DAEMON_LOG=<level>: the daemon's log as text on stdout (with BENCH_CHILD_STDOUT=1).
    logger: process.env.BENCH_DAEMON_LOG ? createLogger({ level: process.env.BENCH_DAEMON_LOG, format: 'text', redactor: new Redactor() }) : silentLogger(),
    ...(envChecksPerMinute !== undefined ? { envChecksPerMinute: Number(envChecksPerMinute) } : {}),
  },
});
send({ ready: true });

/**
 * Resident MiB per kind of mapping (/proc/self/smaps), largest first: tells V8's heap from native
 * allocations (anonymous mappings outside it) and the node binary. Linux only; empty elsewhere.
 */
function residentByMapping(): Record<string, number> {
  let text: string;
  try {
    text = readFileSync('/proc/self/smaps', 'utf8');
  } catch {
    return {};
  }
  const kb = new Map<string, number>();
  let name = '';
  for (const line of text.split('\n')) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (header) {
      const path = header[1] ?? '';
      name = path === '' ? '[anon]' : path.startsWith('/') ? path.split('/').pop()! : path;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) kb.set(name, (kb.get(name) ?? 0) + Number(rss[1]));
  }
  return Object.fromEntries([...kb].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => [k, Math.round(v / 1024)]));
}

process.on('message', (raw: unknown) => {
  const { id, cmd, path } = raw as Request;
  void (async () => {
    switch (cmd) {
      case 'memory': {
        const before = process.memoryUsage();
        gc?.();
        gc?.();
        const after = process.memoryUsage();
        const mib = (b: number) => Math.round(b / 2 ** 20);
        // Per V8 space: committed / used MiB, to tell fragmentation from young-generation reserve.
        const spaces = Object.fromEntries(getHeapSpaceStatistics().map((s) => [s.space_name, `${mib(s.physical_space_size)}/${mib(s.space_used_size)}`]));
        send({ id, spaces, mappings: residentByMapping(), maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024), rss: after.rss, heapBefore: before.heapUsed, heapAfter: after.heapUsed, heapTotal: after.heapTotal, external: after.external, arrayBuffers: after.arrayBuffers, rssBefore: before.rss, heapTotalBefore: before.heapTotal });
        return;
      }
      case 'rss':
        send({ id, rss: process.memoryUsage.rss() });
        return;
      case 'cpu': {
        const u = process.cpuUsage();
        send({ id, micros: u.user + u.system });
        return;
      }
      case 'resync': {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const plan = await daemon.resync();
        const c1 = process.cpuUsage(c0);
        send({ id, keys: plan?.keys.size ?? -1, cpuMicros: c1.user + c1.system, ms: performance.now() - t0 });
        return;
      }
      case 'heapsnapshot': {
        gc?.();
        send({ id, path: writeHeapSnapshot(join(mkdtempSync(join(tmpdir(), 'cf-bench-heap-')), 'daemon.heapsnapshot')) });
        return;
      }
      case 'profile-start':
        session.connect();
        await session.post('Profiler.enable');
        await session.post('Profiler.start');
        send({ id });
        return;
      case 'profile-stop': {
        const { profile } = await session.post('Profiler.stop');
        writeFileSync(path ?? 'daemon.cpuprofile', JSON.stringify(profile));
        session.disconnect();
        send({ id });
        return;
      }
      case 'queue':
        send({ id, depth: daemon.queue.depth, inFlight: daemon.queue.inFlight, delayed: daemon.queue.delayed });
        return;
      case 'envcheck':
        // Steady state after the hour in which adoption's reads let turns pass without a call.
        daemon.envChecker.forgetReads();
        send({ id, spacingMs: daemon.envChecker.spacingMs, targets: daemon.envChecker.targets });
        return;
      case 'stop':
        await daemon.stop();
        send({ id });
        process.exit(0);
    }
  })().catch((e: unknown) => send({ id, error: String(e) }));
});
