/**
 * `npm run bench`: every benchmark in one process, one after another, so figures printed side by
 * side come from the same machine state. Each figure is a median; ratios compare two sizes of the
 * same scenario measured in this run. Speed targets live here, never in tests.
 *
 * Options: --quick (fewer runs, smaller sizes; for a smoke check).
 */
import { runEngineBench } from './engine.bench.js';
import { runMemoryBench } from './memory.bench.js';
import { runQueueBench } from './queue.bench.js';
import { runTemplatesBench } from './templates.bench.js';

const quick = process.argv.includes('--quick');
const out = (line = '') => process.stdout.write(`${line}\n`);
const fixed = (n: number, digits = 1) => n.toFixed(digits);

out(`cf-reconciler benchmarks (node ${process.version}, ${quick ? 'quick' : 'full'} run)`);

out('\n## Work queue overhead (handlers do nothing)');
const queueSmall = await runQueueBench({ keys: quick ? 1_000 : 10_000, runs: quick ? 3 : 7 });
const queueLarge = await runQueueBench({ keys: quick ? 10_000 : 100_000, runs: quick ? 3 : 5 });
out('scenario                                  keys     median ms   reconciles/s   time ratio (10x keys)');
for (const [i, small] of queueSmall.entries()) {
  const large = queueLarge[i];
  out(`${small.scenario.padEnd(40)} ${String(small.keys).padStart(7)} ${fixed(small.medianMs).padStart(12)} ${String(small.reconcilesPerSecond).padStart(14)}`);
  if (large) {
    out(
      `${''.padEnd(40)} ${String(large.keys).padStart(7)} ${fixed(large.medianMs).padStart(12)} ${String(large.reconcilesPerSecond).padStart(14)}   ${fixed(large.medianMs / small.medianMs, 2).padStart(8)}x`,
    );
  }
}

out('\n## Policy gate per stack (render + harden + validate + hash), and the drift compare');
out('template          decideStack µs   composeEquals µs');
for (const r of await runTemplatesBench(quick ? { perBatch: 50, batches: 3 } : {})) {
  out(`${r.template.padEnd(17)} ${fixed(r.decideMicros).padStart(14)} ${fixed(r.compareMicros).padStart(18)}`);
}

out('\n## Engine: cold convergence and a converged drift resync (real PocketBase, simulator)');
const sizes = quick ? [5, 20] : [10, 50];
const runs = quick ? 1 : 3;
const engine = [];
for (const stacks of sizes) engine.push(await runEngineBench({ stacks, runs }));
out('stacks   converge median ms   per stack ms   resync median ms');
for (const r of engine) {
  out(`${String(r.stacks).padStart(6)} ${String(r.convergeMedianMs).padStart(20)} ${fixed(r.convergeMedianMs / r.stacks).padStart(14)} ${fixed(r.resyncMedianMs).padStart(18)}`);
}
const [a, b] = engine;
if (a && b) {
  out(
    `ratio ${b.stacks}/${a.stacks} stacks: convergence ${fixed(b.convergeMedianMs / a.convergeMedianMs, 2)}x, resync ${fixed(b.resyncMedianMs / a.resyncMedianMs, 2)}x ` +
      `(stacks grew ${fixed(b.stacks / a.stacks, 1)}x; Coolify calls per converged resync stay constant, see test/e2e/scale.test.ts)`,
  );
}

out('\n## Daemon memory after convergence (daemon as its own process; medians of 5 samples)');
const memory = await runMemoryBench(quick ? [5, 20] : [10, 100]);
out('stacks   RSS MiB   heap used MiB');
for (const r of memory) out(`${String(r.stacks).padStart(6)} ${fixed(r.rssMiB).padStart(9)} ${fixed(r.heapUsedMiB).padStart(15)}`);
const [m1, m2] = memory;
if (m1 && m2) {
  out(`ratio ${m2.stacks}/${m1.stacks} stacks: RSS ${fixed(m2.rssMiB / m1.rssMiB, 2)}x, heap ${fixed(m2.heapUsedMiB / m1.heapUsedMiB, 2)}x (about ${fixed(((m2.heapUsedMiB - m1.heapUsedMiB) * 1024) / (m2.stacks - m1.stacks), 0)} KiB of heap per extra stack)`);
}
