/**
 * Reads a JSON array from a byte stream one element at a time, so a list response of tens of
 * megabytes (GET /services carries every compose) never exists in memory as one string or one
 * parsed tree. At any moment the reader holds one chunk, the bytes of the element being read and
 * whatever the caller's `map` kept of the elements before it.
 *
 * Splitting works on bytes: every structural character of JSON (`[ ] { } , " \`) is ASCII, and no
 * byte of a multi-byte UTF-8 sequence is below 0x80, so scanning bytes never mistakes part of a
 * character for structure. An element's bytes are decoded to text only once complete, so a
 * character split across two chunks is decoded whole. Each element is checked by `JSON.parse`;
 * the splitter only tracks depth, strings and escapes, enough to find where top-level elements end.
 */

/** The body is not a JSON array, or not a complete one. */
export class JsonArrayError extends Error {
  override name = 'JsonArrayError';
}

const OPEN_ARRAY = 0x5b; // [
const CLOSE_ARRAY = 0x5d; // ]
const OPEN_OBJECT = 0x7b; // {
const CLOSE_OBJECT = 0x7d; // }
const COMMA = 0x2c;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

const enum State {
  /** Before the opening `[`: only whitespace may come. */
  Before,
  /** Inside the top-level array. */
  Inside,
  /** After the closing `]`: only whitespace may come. */
  After,
}

/**
 * Incremental splitter: `push` each chunk, then `end`. Complete elements are handed to `onElement`
 * as parsed values, in order, as soon as their last byte arrives.
 */
export class JsonArraySplitter {
  readonly #onElement: (value: unknown, index: number) => void;
  /** Not fatal, like `Response.text()`: the non-streamed read decodes the same way. */
  readonly #decoder = new TextDecoder('utf-8');
  #state = State.Before;
  /** Nesting depth inside the current element (0 = between elements of the top-level array). */
  #depth = 0;
  #inString = false;
  #escaped = false;
  /** Bytes of the current element from earlier chunks. */
  #carried: Uint8Array[] = [];
  #carriedBytes = 0;
  /** Elements handed out so far. */
  #count = 0;
  /** A comma was read, so another element must follow before `]`. */
  #expectElement = false;

  constructor(onElement: (value: unknown, index: number) => void) {
    this.#onElement = onElement;
  }

  get count(): number {
    return this.#count;
  }

  push(chunk: Uint8Array): void {
    let i = 0;
    const n = chunk.length;
    if (this.#state === State.Before) {
      while (i < n && isSpace(chunk[i]!)) i++;
      if (i === n) return;
      if (chunk[i] !== OPEN_ARRAY) throw new JsonArrayError('the body is not a JSON array');
      this.#state = State.Inside;
      i++;
    }
    if (this.#state === State.Inside) i = this.#scan(chunk, i);
    if (this.#state === State.After) {
      for (; i < n; i++) {
        if (!isSpace(chunk[i]!)) throw new JsonArrayError(`unexpected data after the end of the array (${this.#count} elements)`);
      }
    }
  }

  /** Call once the stream has ended: throws when the array was not closed. */
  end(): void {
    if (this.#state === State.Before) throw new JsonArrayError('the body is empty, not a JSON array');
    if (this.#state === State.Inside) {
      throw new JsonArrayError(`the body ends inside the array, after ${this.#count} complete elements (truncated)`);
    }
  }

  /** Scans from `start`; returns where the top-level array ended, or the chunk's length. */
  #scan(chunk: Uint8Array, start: number): number {
    const n = chunk.length;
    // Start of the current element's bytes within this chunk.
    let from = start;
    for (let i = start; i < n; i++) {
      if (this.#inString) {
        i = this.#skipString(chunk, i);
        continue;
      }
      const b = chunk[i]!;
      if (b === QUOTE) this.#inString = true;
      else if (b === OPEN_ARRAY || b === OPEN_OBJECT) this.#depth++;
      else if (b === CLOSE_OBJECT || (b === CLOSE_ARRAY && this.#depth > 0)) {
        if (this.#depth === 0) throw new JsonArrayError(`element ${this.#count} is not valid JSON: unbalanced '}'`);
        this.#depth--;
      } else if (this.#depth === 0 && (b === COMMA || b === CLOSE_ARRAY)) {
        this.#finish(chunk.subarray(from, i), b === CLOSE_ARRAY);
        from = i + 1;
        if (b === CLOSE_ARRAY) {
          this.#state = State.After;
          return i + 1;
        }
      }
    }
    if (from < n) {
      // Copied: the stream may reuse the chunk's memory once we return.
      this.#carried.push(chunk.slice(from));
      this.#carriedBytes += n - from;
    }
    return n;
  }

  /**
   * Inside a string from `i`: returns the index of its closing quote (leaving the string), or the
   * chunk's last index when the string goes on in the next chunk. Compose texts make strings most
   * of a listing's bytes, so they are skipped with a native search for the next quote rather than
   * byte by byte; a quote is escaped when an odd run of backslashes precedes it.
   */
  #skipString(chunk: Uint8Array, i: number): number {
    const n = chunk.length;
    if (this.#escaped) {
      // The previous chunk ended in the backslash escaping this byte.
      this.#escaped = false;
      i++;
    }
    for (let from = i; ; ) {
      const q = chunk.indexOf(QUOTE, from);
      if (q < 0) {
        this.#escaped = oddBackslashesBefore(chunk, n, from);
        return n - 1;
      }
      if (!oddBackslashesBefore(chunk, q, from)) {
        this.#inString = false;
        return q;
      }
      from = q + 1;
    }
  }

  /** The element ending at `tail` (plus any carried bytes); `closing` when `]` ended it. */
  #finish(tail: Uint8Array, closing: boolean): void {
    const bytes = this.#carried.length === 0 ? tail : concat(this.#carried, this.#carriedBytes, tail);
    this.#carried = [];
    this.#carriedBytes = 0;
    if (isBlank(bytes)) {
      // `[]` is the empty array; `[1,]` and `[,1]` are not JSON.
      if (closing && !this.#expectElement) return;
      throw new JsonArrayError(`element ${this.#count} is missing (a stray comma)`);
    }
    let value: unknown;
    try {
      value = JSON.parse(this.#decoder.decode(bytes));
    } catch (e) {
      throw new JsonArrayError(`element ${this.#count} is not valid JSON: ${(e as Error).message}`);
    }
    this.#expectElement = !closing;
    this.#onElement(value, this.#count++);
  }
}

/** Whether the run of backslashes ending just before `end` (and not before `from`) is of odd length. */
function oddBackslashesBefore(chunk: Uint8Array, end: number, from: number): boolean {
  let k = end - 1;
  while (k >= from && chunk[k] === BACKSLASH) k--;
  return (end - 1 - k) % 2 === 1;
}

function isBlank(bytes: Uint8Array): boolean {
  for (const b of bytes) if (!isSpace(b)) return false;
  return true;
}

function concat(parts: Uint8Array[], partsBytes: number, tail: Uint8Array): Uint8Array {
  const out = new Uint8Array(partsBytes + tail.length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  out.set(tail, at);
  return out;
}

/**
 * Reads the whole stream as a JSON array, mapping each element as it completes: only what `map`
 * returns is kept. Throws JsonArrayError for a body that is not one complete JSON array, and
 * whatever `map` or the stream throws, unchanged.
 */
export async function readJsonArray<T>(
  body: ReadableStream<Uint8Array>,
  map: (value: unknown, index: number) => T,
): Promise<T[]> {
  const out: T[] = [];
  const splitter = new JsonArraySplitter((value, index) => out.push(map(value, index)));
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      splitter.push(value);
    }
    splitter.end();
    return out;
  } finally {
    // On an early throw, stop the download rather than leave the socket streaming.
    reader.cancel().catch(() => undefined);
  }
}
