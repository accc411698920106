import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { handleShutdownSignals } from '../../../src/daemon/signals.js';
import { waitFor } from '../../helpers/wait.js';

/** A process stand-in: signals are emitted by the test, exits are recorded instead of performed. */
function fakeProcess() {
  const emitter = new EventEmitter();
  const exits: number[] = [];
  const source = {
    on: (event: NodeJS.Signals, listener: (s: NodeJS.Signals) => void) => emitter.on(event, listener),
    off: (event: NodeJS.Signals, listener: (s: NodeJS.Signals) => void) => emitter.off(event, listener),
  };
  return { emitter, source, exits, exit: (code: number) => exits.push(code) };
}

function deferred() {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('handleShutdownSignals with an emitter', () => {
  it('stops gracefully on the first SIGTERM and exits 0 only after stop() finished', async () => {
    const p = fakeProcess();
    const stopping = deferred();
    let stopCalls = 0;
    handleShutdownSignals({
      source: p.source,
      exit: p.exit,
      stop: () => {
        stopCalls++;
        return stopping.promise;
      },
    });
    p.emitter.emit('SIGTERM', 'SIGTERM');
    await settle();
    expect(stopCalls).toBe(1);
    expect(p.exits).toEqual([]);
    stopping.resolve();
    await settle();
    expect(p.exits).toEqual([0]);
  });

  it('exits 1 at once on a second signal while stopping, and never exits twice', async () => {
    const p = fakeProcess();
    const stopping = deferred();
    handleShutdownSignals({ source: p.source, exit: p.exit, stop: () => stopping.promise });
    p.emitter.emit('SIGINT', 'SIGINT');
    await settle();
    p.emitter.emit('SIGTERM', 'SIGTERM');
    expect(p.exits).toEqual([1]);
    stopping.resolve();
    p.emitter.emit('SIGINT', 'SIGINT');
    await settle();
    expect(p.exits).toEqual([1]);
  });

  it('exits 1 when stop() fails, and logs why', async () => {
    const p = fakeProcess();
    const logged: Array<[string, Record<string, unknown> | undefined]> = [];
    handleShutdownSignals({
      source: p.source,
      exit: p.exit,
      stop: () => {
        throw new Error('queue did not drain');
      },
      log: { info: (m, meta) => logged.push([m, meta]), error: (m, meta) => logged.push([m, meta]) },
    });
    p.emitter.emit('SIGTERM', 'SIGTERM');
    await settle();
    expect(p.exits).toEqual([1]);
    expect(logged).toContainEqual(['shutdown failed', { error: 'queue did not drain' }]);
  });

  it('removes its listeners when uninstalled', () => {
    const p = fakeProcess();
    const uninstall = handleShutdownSignals({ source: p.source, exit: p.exit, stop: async () => {} });
    expect(p.emitter.listenerCount('SIGTERM')).toBe(1);
    expect(p.emitter.listenerCount('SIGINT')).toBe(1);
    uninstall();
    expect(p.emitter.listenerCount('SIGTERM')).toBe(0);
    expect(p.emitter.listenerCount('SIGINT')).toBe(0);
  });
});

// The compiled module (npm test builds first) in a real child process receiving real signals.
const compiled = fileURLToPath(new URL('../../../dist/src/daemon/signals.js', import.meta.url));

function runChild(stopBody: string) {
  if (!existsSync(compiled)) throw new Error(`${compiled} is missing: run npm run build (npm test does it first)`);
  const script = `
    const { handleShutdownSignals } = await import(${JSON.stringify(compiled)});
    const keepAlive = setInterval(() => {}, 1 << 30);
    handleShutdownSignals({ stop: async () => { console.log('stopping'); ${stopBody}; clearInterval(keepAlive); console.log('stopped'); } });
    console.log('ready');
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

describe('handleShutdownSignals in a real process', () => {
  it('finishes stop() on SIGTERM and exits 0', async () => {
    const { child, output, exited } = runChild('await new Promise((r) => setTimeout(r, 100))');
    await waitFor(() => output().includes('ready'), 10_000, { what: 'child ready' });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(output()).toBe('ready\nstopping\nstopped\n');
  });

  it('exits 1 on a second signal while stop() is still running', async () => {
    const { child, output, exited } = runChild('await new Promise(() => {})');
    await waitFor(() => output().includes('ready'), 10_000, { what: 'child ready' });
    child.kill('SIGINT');
    await waitFor(() => output().includes('stopping'), 10_000, { what: 'child stopping' });
    child.kill('SIGTERM');
    expect(await exited).toBe(1);
    expect(output()).not.toContain('stopped');
  });
});
