/**
 * `npm run bench`: every benchmark in one process, one after another, so figures printed side by
 * side come from the same machine state. Each figure is a median; ratios compare two sizes of the
 * same scenario measured in this run. Speed targets live here, never in tests.
 *
 * Options: --quick (fewer runs, smaller sizes; for a smoke check).
 */
import { runEngineBench } from './engine.bench.js';
import { runColdBench } from './cold.bench.js';
import { runQueueBench } from './queue.bench.js';
import { runScaleBench } from './scale.bench.js';
import { runTemplatesBench } from './templates.bench.js';
import { imageNodeOptions } from './image-options.js';

const quick = process.argv.includes('--quick');
/** Tenants of the scale world (5 stacks each). */
const SCALE_TENANTS = 2000;
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

out('\n## Scale: each figure against its bound (ratio = measured ÷ bound; at most 1 meets it)');
const row = (what: string, measured: number, bound: number, unit = '', digits = 1) =>
  out(
    `${what.padEnd(58)} ${`${fixed(measured, digits)}${unit}`.padStart(12)} ${`${fixed(bound, digits)}${unit}`.padStart(12)} ${
      bound > 0 ? fixed(measured / bound, 2).padStart(8) : (measured <= bound ? 'met' : 'over').padStart(8)
    }`,
  );
out(`${'scenario'.padEnd(58)} ${'measured'.padStart(12)} ${'bound'.padStart(12)} ${'ratio'.padStart(8)}`);
const cold = await runColdBench(quick ? { tenants: 3, perTenant: 10 } : {});
row(
  `cold: ${cold.stacks} stacks/${cold.tenants} tenants at ${cold.limit} calls per window, time ÷ ideal`,
  cold.convergeMs / cold.idealMs,
  1.15,
  '',
  2,
);
row(`cold: Coolify calls made (needed: projects + 3 per stack + 3)`, cold.callsMade, cold.callsNeeded, '', 0);
const scale = await runScaleBench({ tenants: quick ? 40 : SCALE_TENANTS, perTenant: 5, latencySamples: quick ? 10 : 100 });
const n = scale.stacks;
out(`(world: ${n} stacks / ${scale.tenants} tenants; PocketBase seeded by migration SQL in ${scale.seedPocketBaseMs} ms, simulator in ${scale.seedCoolifyMs} ms; daemon NODE_OPTIONS "${process.env.BENCH_NODE_OPTIONS ?? imageNodeOptions()}", as in the Docker image)`);
row(`adoption of ${n} matching services: Coolify writes`, scale.adoption.writes, 0, '', 0);
row(`adoption: env reads per service`, scale.adoption.envReads / n, 1, '', 2);
// Coolify's service list names no project, only an environment id: one project read per tenant maps them (notes §5.1).
row(`adoption: Coolify calls (env read per service + project per tenant + 10)`, scale.adoption.calls, n + scale.tenants + 10, '', 0);
row(`steady: Coolify calls of one converged resync (env checks apart)`, scale.steady.resyncCalls.length, 3, '', 0);
row(`steady: env reads per second (services ÷ ENV_CHECK_INTERVAL_SECONDS)`, scale.steady.envReadsPerSecond, scale.steady.envReadsBound, '', 2);
row(`steady: daemon CPU, default settings (idle + 2 full passes/300 s)`, scale.steady.cpuPercent, 2, ' %', 2);
row(`memory: daemon RSS while idle, median of 1 s samples`, scale.memory.idleRssMiB, 150, ' MiB');
out(`memory: RSS at most ${fixed(scale.memory.idleRssMaxMiB)} MiB (idle, and the 15 s after a resync); peak since start (adoption) ${fixed(scale.memory.peakRssMiB)} MiB; after a forced GC ${fixed(scale.memory.rssAfterGcMiB)} MiB`);
out(`memory: heap retained after a forced GC ${fixed(scale.memory.retainedHeapMiB)} MiB (${fixed((scale.memory.retainedHeapMiB * 1024) / n, 1)} KiB per stack), garbage ${fixed(scale.memory.garbageMiB)} MiB`);
row(`burst of 200 edits in ${scale.burst.editMs} ms: deploys`, scale.burst.deploys, 2, '', 0);
out(`burst: ${scale.burst.patches} PATCHes`);
row(`burst: last edit → final value deployed`, scale.burst.finalAppliedMs, 2000, ' ms', 0);
row(`change → first Coolify write, p99 of ${scale.latency.samples}`, scale.latency.p99Ms, 50, ' ms', 0);
out(`change → first Coolify write, p50: ${fixed(scale.latency.p50Ms, 0)} ms; converged resync took ${scale.steady.resyncMs} ms (${scale.steady.resyncCpuMs} ms CPU; ${scale.steady.resyncTotalCpuMs} ms with the collections it caused)`);
