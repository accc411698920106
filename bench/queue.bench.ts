/**
 * Throughput of the work queue's own bookkeeping (dedupe, priority picks, p-queue hand-off) with
 * handlers that do no work, so the number is the queue's overhead per reconcile, not Coolify's.
 *
 * Run: `npm run build && node dist/bench/queue.bench.js [--keys 10000] [--runs 7]`, or import
 * `runQueueBench` from another bench runner. Each scenario reports the median of its runs.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { WorkQueue, type Priority } from '../src/queue/work-queue.js';
import { median } from './stats.js';

export interface QueueBenchResult {
  scenario: string;
  keys: number;
  /** add() calls made per run (more than `keys` where duplicates are part of the scenario). */
  adds: number;
  runs: number;
  medianMs: number;
  /** Reconciles completed per second at the median. */
  reconcilesPerSecond: number;
}

interface Scenario {
  name: string;
  /** Enqueues work; returns the number of add() calls made. */
  fill(queue: WorkQueue, keys: number): number;
}

const scenarios: Scenario[] = [
  {
    name: 'unique keys, high priority',
    fill(queue, keys) {
      for (let i = 0; i < keys; i++) queue.add(`stack:${i}`);
      return keys;
    },
  },
  {
    name: 'each key added 3 times (dedupe)',
    fill(queue, keys) {
      for (let round = 0; round < 3; round++) for (let i = 0; i < keys; i++) queue.add(`stack:${i}`);
      return keys * 3;
    },
  },
  {
    name: 'resync: 90% low, 10% high interleaved',
    fill(queue, keys) {
      for (let i = 0; i < keys; i++) {
        const priority: Priority = i % 10 === 0 ? 'high' : 'low';
        queue.add(`stack:${i}`, { priority });
      }
      return keys;
    },
  },
];

async function timeOnce(scenario: Scenario, keys: number, concurrency: number): Promise<{ ms: number; adds: number; ran: number }> {
  let ran = 0;
  const queue = new WorkQueue(
    async () => {
      ran++;
    },
    { concurrency },
  );
  const started = performance.now();
  const adds = scenario.fill(queue, keys);
  queue.start();
  await queue.onIdle();
  const ms = performance.now() - started;
  await queue.shutdown({ deadlineMs: 0 });
  if (ran !== keys) throw new Error(`${scenario.name}: expected ${keys} reconciles, got ${ran}`);
  return { ms, adds, ran };
}

export async function runQueueBench(options: { keys?: number; runs?: number; concurrency?: number } = {}): Promise<QueueBenchResult[]> {
  const keys = options.keys ?? 10_000;
  const runs = options.runs ?? 7;
  const concurrency = options.concurrency ?? 4;
  const results: QueueBenchResult[] = [];
  for (const scenario of scenarios) {
    await timeOnce(scenario, Math.min(keys, 1000), concurrency); // warm-up: JIT and p-queue internals
    const times: number[] = [];
    let adds = 0;
    for (let r = 0; r < runs; r++) {
      const t = await timeOnce(scenario, keys, concurrency);
      times.push(t.ms);
      adds = t.adds;
    }
    const medianMs = median(times);
    results.push({
      scenario: scenario.name,
      keys,
      adds,
      runs,
      medianMs: Math.round(medianMs * 100) / 100,
      reconcilesPerSecond: Math.round((keys / medianMs) * 1000),
    });
  }
  return results;
}

function argValue(name: string): number | undefined {
  const i = process.argv.indexOf(`--${name}`);
  const raw = i >= 0 ? process.argv[i + 1] : undefined;
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} expects a positive integer, got ${raw}`);
  return n;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const results = await runQueueBench({ keys: argValue('keys'), runs: argValue('runs'), concurrency: argValue('concurrency') });
  for (const r of results) {
    process.stdout.write(
      `${r.scenario.padEnd(40)} ${String(r.keys).padStart(6)} keys  median ${r.medianMs.toFixed(1).padStart(8)} ms  ${String(r.reconcilesPerSecond).padStart(8)} reconciles/s\n`,
    );
  }
  process.stdout.write(`${JSON.stringify({ bench: 'queue', results })}\n`);
}
