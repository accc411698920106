/**
 * Summarises a V8 heap snapshot (e.g. from the bench daemon child's `heapsnapshot` command):
 * - self size and count per constructor (strings, arrays and closures grouped by kind), and for
 *   the biggest groups who holds them: the first retainer's constructor and the edge name;
 * - the objects that retain the most (dominator tree: what would be freed with them), each with
 *   its chain of dominators and the edge it is held by, e.g. `Map ← ChangeFeed.#seen ← …`.
 *
 *   node --max-old-space-size=4096 dist/bench/heap-summary.js <file.heapsnapshot> [groups=25] [retainers=6] [dominators=40]
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

interface RawSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] } };
  nodes: number[];
  edges: number[];
  strings: string[];
}

export interface HeapGroup {
  group: string;
  count: number;
  bytes: number;
  /** `retainer constructor .edge` → bytes of this group held through it (first strong retainer only). */
  retainers: [string, number][];
}

export interface Dominator {
  /** Constructor or kind, with the edge it is first held by. */
  name: string;
  retainedBytes: number;
  selfBytes: number;
  /** Its dominators from the closest up, as `name .edge`. */
  chain: string[];
}

export function summariseHeap(raw: RawSnapshot, retainersPerGroup = 6, dominatorCount = 40): { totalBytes: number; groups: HeapGroup[]; dominators: Dominator[] } {
  const { meta } = raw.snapshot;
  const nf = meta.node_fields.length;
  const ef = meta.edge_fields.length;
  const nodeTypes = meta.node_types[0];
  const edgeTypes = meta.edge_types[0];
  const [typeAt, nameAt, sizeAt, edgeCountAt] = ['type', 'name', 'self_size', 'edge_count'].map((f) => meta.node_fields.indexOf(f)) as [number, number, number, number];
  const [edgeTypeAt, edgeNameAt, toAt] = ['type', 'name_or_index', 'to_node'].map((f) => meta.edge_fields.indexOf(f)) as [number, number, number];
  const { nodes, edges, strings } = raw;
  const count = nodes.length / nf;

  const groupOf = (node: number): string => {
    const type = nodeTypes[nodes[node * nf + typeAt]!]!;
    const name = strings[nodes[node * nf + nameAt]!]!;
    if (type === 'object' || type === 'native') return name;
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') return '(string)';
    if (type === 'closure') return '(closure)';
    if (type === 'array') return `(array ${name})`;
    return `(${type})`;
  };

  // First strong retainer of every node: enough to say who holds a group, cheap to compute.
  const retainer = new Int32Array(count).fill(-1);
  const retainerEdge = new Array<string>(count);
  for (let node = 0, e = 0; node < count; node++) {
    const edgeCount = nodes[node * nf + edgeCountAt]!;
    for (let k = 0; k < edgeCount; k++, e += ef) {
      const etype = edgeTypes[edges[e + edgeTypeAt]!]!;
      if (etype === 'weak' || etype === 'shortcut') continue;
      const to = edges[e + toAt]! / nf;
      if (retainer[to] !== -1) continue;
      retainer[to] = node;
      const nameOrIndex = edges[e + edgeNameAt]!;
      retainerEdge[to] = etype === 'element' || etype === 'hidden' ? `[${etype}]` : `.${strings[nameOrIndex] ?? nameOrIndex}`;
    }
  }

  const label = (node: number) => `${groupOf(node)}${retainerEdge[node] ?? ''}`;
  const dominators = dominatorSummary(raw, count, nf, ef, retainer, label, dominatorCount);

  const groups = new Map<string, { count: number; bytes: number; retainers: Map<string, number> }>();
  let totalBytes = 0;
  for (let node = 0; node < count; node++) {
    const size = nodes[node * nf + sizeAt]!;
    totalBytes += size;
    const key = groupOf(node);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { count: 0, bytes: 0, retainers: new Map() }));
    g.count++;
    g.bytes += size;
    const r = retainer[node]!;
    const via = r < 0 ? '(root)' : `${groupOf(r)} ${retainerEdge[node]}`;
    g.retainers.set(via, (g.retainers.get(via) ?? 0) + size);
  }
  return {
    totalBytes,
    dominators,
    groups: [...groups]
      .map(([group, g]) => ({
        group,
        count: g.count,
        bytes: g.bytes,
        retainers: [...g.retainers].sort((a, b) => b[1] - a[1]).slice(0, retainersPerGroup),
      }))
      .sort((a, b) => b.bytes - a.bytes),
  };
}

/**
 * Retained sizes through the dominator tree (Cooper, Harvey and Kennedy's iterative algorithm over
 * strong edges from the snapshot's root, node 0), and the top `top` nodes by retained size.
 */
function dominatorSummary(
  raw: RawSnapshot,
  count: number,
  nf: number,
  ef: number,
  retainer: Int32Array,
  label: (node: number) => string,
  top: number,
): Dominator[] {
  const { meta } = raw.snapshot;
  const { nodes, edges } = raw;
  const edgeTypes = meta.edge_types[0];
  const edgeCountAt = meta.node_fields.indexOf('edge_count');
  const sizeAt = meta.node_fields.indexOf('self_size');
  const [edgeTypeAt, toAt] = ['type', 'to_node'].map((f) => meta.edge_fields.indexOf(f)) as [number, number];
  const firstEdge = new Int32Array(count + 1);
  for (let n = 0; n < count; n++) firstEdge[n + 1] = firstEdge[n]! + nodes[n * nf + edgeCountAt]! * ef;
  const strong = (e: number) => {
    const t = edgeTypes[edges[e + edgeTypeAt]!];
    return t !== 'weak' && t !== 'shortcut';
  };

  // Post-order numbering by an iterative depth-first walk from the root.
  const order = new Int32Array(count).fill(-1);
  const byOrder = new Int32Array(count);
  const visited = new Uint8Array(count);
  const stack = new Int32Array(count);
  const cursor = new Int32Array(count);
  let sp = 0;
  let next = 0;
  stack[sp++] = 0;
  visited[0] = 1;
  cursor[0] = firstEdge[0]!;
  while (sp > 0) {
    const n = stack[sp - 1]!;
    let pushed = false;
    while (cursor[n]! < firstEdge[n + 1]!) {
      const e = cursor[n]!;
      cursor[n] = e + ef;
      if (!strong(e)) continue;
      const to = edges[e + toAt]! / nf;
      if (visited[to]) continue;
      visited[to] = 1;
      cursor[to] = firstEdge[to]!;
      stack[sp++] = to;
      pushed = true;
      break;
    }
    if (!pushed) {
      sp--;
      order[n] = next;
      byOrder[next++] = n;
    }
  }

  // Predecessors of reachable nodes, by strong edges.
  const predCount = new Int32Array(count + 1);
  for (let n = 0; n < count; n++) {
    if (!visited[n]) continue;
    for (let e = firstEdge[n]!; e < firstEdge[n + 1]!; e += ef) if (strong(e)) predCount[edges[e + toAt]! / nf + 1]!++;
  }
  for (let n = 0; n < count; n++) predCount[n + 1]! += predCount[n]!;
  const preds = new Int32Array(predCount[count]!);
  const fill = predCount.slice(0, count);
  for (let n = 0; n < count; n++) {
    if (!visited[n]) continue;
    for (let e = firstEdge[n]!; e < firstEdge[n + 1]!; e += ef) if (strong(e)) preds[fill[edges[e + toAt]! / nf]!++] = n;
  }

  const idom = new Int32Array(count).fill(-1);
  idom[0] = 0;
  const intersect = (a: number, b: number) => {
    while (a !== b) {
      while (order[a]! < order[b]!) a = idom[a]!;
      while (order[b]! < order[a]!) b = idom[b]!;
    }
    return a;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (let k = next - 1; k >= 0; k--) {
      const n = byOrder[k]!;
      if (n === 0) continue;
      let d = -1;
      for (let p = predCount[n]!; p < predCount[n + 1]!; p++) {
        const pred = preds[p]!;
        if (idom[pred] === -1) continue;
        d = d === -1 ? pred : intersect(pred, d);
      }
      if (d !== -1 && idom[n] !== d) {
        idom[n] = d;
        changed = true;
      }
    }
  }

  const retained = new Float64Array(count);
  for (let k = 0; k < next; k++) {
    const n = byOrder[k]!;
    retained[n]! += nodes[n * nf + sizeAt]!;
    if (n !== 0) retained[idom[n]!]! += retained[n]!;
  }
  // Synthetic roots and (GC roots) retain everything; skip nodes whose label says nothing.
  const candidates: number[] = [];
  for (let k = 0; k < next; k++) {
    const n = byOrder[k]!;
    if (n === 0 || retainer[n] === -1 || label(n).startsWith('(synthetic)')) continue;
    candidates.push(n);
  }
  candidates.sort((a, b) => retained[b]! - retained[a]!);
  return candidates.slice(0, top).map((n) => {
    const chain: string[] = [];
    for (let d = idom[n]!, depth = 0; d > 0 && depth < 6; d = idom[d]!, depth++) chain.push(label(d));
    return { name: label(n), retainedBytes: retained[n]!, selfBytes: nodes[n * nf + sizeAt]!, chain };
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [file, groupsArg, retainersArg, dominatorsArg] = process.argv.slice(2);
  if (!file) throw new Error('usage: heap-summary <file.heapsnapshot> [groups] [retainers] [dominators]');
  const raw = JSON.parse(readFileSync(file, 'utf8')) as RawSnapshot;
  const { totalBytes, groups, dominators } = summariseHeap(raw, Number(retainersArg ?? 6), Number(dominatorsArg ?? 40));
  const mib = (b: number) => (b / 2 ** 20).toFixed(2).padStart(7);
  process.stdout.write(`total self size ${mib(totalBytes)} MiB\n`);
  for (const g of groups.slice(0, Number(groupsArg ?? 25))) {
    process.stdout.write(`${mib(g.bytes)} MiB ${String(g.count).padStart(8)}  ${g.group}\n`);
    for (const [via, bytes] of g.retainers) process.stdout.write(`            ${mib(bytes)}  ← ${via}\n`);
  }
  process.stdout.write('\nretained (MiB) self (MiB)  object ← its dominators\n');
  for (const d of dominators) process.stdout.write(`${mib(d.retainedBytes)} ${mib(d.selfBytes)}  ${[d.name, ...d.chain].join(' ← ')}\n`);
}
