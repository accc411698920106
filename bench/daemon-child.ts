/**
 * The daemon as its own process for the scale benchmark, so its CPU time, RSS and heap are its
 * alone (the simulator runs in the parent, PocketBase in its own process). Configured from the
 * environment like `cf-reconciler run`; started with `--expose-gc` so the parent can ask for the
 * heap retained after a full collection, apart from garbage not yet collected.
 *
 * IPC: the parent sends `{ id, cmd }`; the child answers `{ id, ... }`:
 * - `memory`: RSS, heap used before and after a forced GC (bytes);
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
import { mkdtempSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { loadConfig } from '../src/config.js';
import { startDaemon } from '../src/engine/daemon.js';
import { silentLogger } from '../src/logging/logger.js';

interface Request {
  id: number;
  cmd: 'memory' | 'cpu' | 'resync' | 'queue' | 'envcheck' | 'heapsnapshot' | 'stop' | 'profile-start' | 'profile-stop';
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
    logger: silentLogger(),
    ...(envChecksPerMinute !== undefined ? { envChecksPerMinute: Number(envChecksPerMinute) } : {}),
  },
});
send({ ready: true });

process.on('message', (raw: unknown) => {
  const { id, cmd, path } = raw as Request;
  void (async () => {
    switch (cmd) {
      case 'memory': {
        const before = process.memoryUsage();
        gc?.();
        gc?.();
        const after = process.memoryUsage();
        send({ id, rss: after.rss, heapBefore: before.heapUsed, heapAfter: after.heapUsed, heapTotal: after.heapTotal, external: after.external, arrayBuffers: after.arrayBuffers, rssBefore: before.rss, heapTotalBefore: before.heapTotal });
        return;
      }
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
