/**
 * The streamed JSON array reader: whatever the chunking, it yields exactly what JSON.parse of the
 * whole body yields, element by element; a body that is not one complete array is a clear error.
 */
import { describe, expect, it } from '@jest/globals';
import { JsonArrayError, JsonArraySplitter, readJsonArray } from '../../../src/coolify/json-array-stream.js';

/** Splits `bytes` into chunks of the given sizes (cycled). */
function chunked(bytes: Uint8Array, sizes: number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let at = 0, k = 0; at < bytes.length; k++) {
    const size = sizes[k % sizes.length]!;
    out.push(bytes.slice(at, at + size));
    at += size;
  }
  return out;
}

function streamOf(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]!);
      else controller.close();
    },
  });
}

/** Every element the splitter hands out for `text` fed in chunks of `sizes`. */
function split(text: string, sizes: number[]): unknown[] {
  const out: unknown[] = [];
  const s = new JsonArraySplitter((v) => out.push(v));
  for (const c of chunked(Buffer.from(text, 'utf8'), sizes)) s.push(c);
  s.end();
  return out;
}

const tricky = [
  { uuid: 'a', description: 'managed-by=cf-reconciler stack=s1 tenant=t1', docker_compose_raw: 'services:\n  app:\n    image: "nginx:1.27"\n    command: ["sh", "-c", "echo \\"[}{]\\" , done"]\n' },
  { uuid: 'b', name: 'Grüße, 日本語 and 🚀 emoji', nested: { list: [[1, 2], [], [{ x: [] }]], empty: {} }, escaped: '\\u005d ] } , " \\' },
  'a bare string with ] and , and \\"',
  42,
  -1.5e3,
  true,
  null,
  [],
  {},
];

describe('JsonArraySplitter', () => {
  const body = JSON.stringify(tricky, null, 1);

  it.each([
    ['whole body in one chunk', [1 << 20]],
    ['one byte at a time', [1]],
    ['two and three bytes (splits inside escapes and multi-byte characters)', [2, 3]],
    ['odd sizes', [7, 1, 13, 2]],
  ])('yields what JSON.parse yields: %s', (_name, sizes) => {
    expect(split(body, sizes)).toEqual(tricky);
  });

  it('splits every multi-byte character at every offset', () => {
    const text = JSON.stringify(['é', '日本', '🚀x', { k: 'ü🚀' }]);
    const bytes = Buffer.from(text, 'utf8');
    for (let cut = 1; cut < bytes.length; cut++) {
      const out: unknown[] = [];
      const s = new JsonArraySplitter((v) => out.push(v));
      s.push(bytes.subarray(0, cut));
      s.push(bytes.subarray(cut));
      s.end();
      expect(out).toEqual(JSON.parse(text));
    }
  });

  it('reads an empty array, with or without whitespace', () => {
    expect(split('[]', [1])).toEqual([]);
    expect(split(' \n[ \t\r\n ]\n ', [2])).toEqual([]);
  });

  it('hands out elements as soon as they are complete, with their index', () => {
    const seen: [unknown, number][] = [];
    const s = new JsonArraySplitter((v, i) => seen.push([v, i]));
    s.push(Buffer.from('[{"a":1},{"b":'));
    expect(seen).toEqual([[{ a: 1 }, 0]]);
    s.push(Buffer.from('2}]'));
    expect(seen).toEqual([[{ a: 1 }, 0], [{ b: 2 }, 1]]);
    s.end();
    expect(s.count).toBe(2);
  });

  it.each([
    ['an object', '{"data":[]}', /not a JSON array/],
    ['an empty body', '', /empty, not a JSON array/],
    ['HTML', '<html>oops</html>', /not a JSON array/],
    ['a truncated element', '[{"a":1},{"b":"xy', /ends inside the array, after 1 complete elements \(truncated\)/],
    ['a missing closing bracket', '[1,2', /ends inside the array, after 1 complete elements/],
    ['a trailing comma', '[1,]', /element 1 is missing/],
    ['a leading comma', '[,1]', /element 0 is missing/],
    ['an invalid element', '[{"a":1},{b:2}]', /element 1 is not valid JSON/],
    ['data after the array', '[1] [2]', /unexpected data after the end of the array \(1 elements\)/],
    ['an unbalanced brace', '[1},2]', /element 0 is not valid JSON/],
  ])('rejects %s with a clear error', (_name, text, message) => {
    for (const sizes of [[1 << 20], [1]]) {
      let caught: unknown;
      try {
        split(text, sizes);
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(JsonArrayError);
      expect((caught as Error).message).toMatch(message);
    }
  });
});

describe('readJsonArray', () => {
  it('maps each element as it is read and keeps only what map returns', async () => {
    const body = Buffer.from(JSON.stringify(tricky), 'utf8');
    const out = await readJsonArray(streamOf(chunked(body, [5, 11])), (v, i) => `${i}:${typeof v}`);
    expect(out).toEqual(tricky.map((v, i) => `${i}:${typeof v}`));
  });

  it('passes errors from map through unchanged, and stops reading', async () => {
    const boom = new Error('boom');
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled++;
        controller.enqueue(Buffer.from(pulled === 1 ? '[1,2,' : '3,'));
      },
    });
    await expect(
      readJsonArray(body, (v) => {
        if (v === 2) throw boom;
        return v;
      }),
    ).rejects.toBe(boom);
    expect(pulled).toBeLessThanOrEqual(2);
  });

  it('rejects a truncated body', async () => {
    await expect(readJsonArray(streamOf([Buffer.from('[{"a":')]), (v) => v)).rejects.toThrow(JsonArrayError);
  });
});
