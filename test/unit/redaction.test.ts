import { describe, expect, it } from '@jest/globals';
import winston from 'winston';
import Transport from 'winston-transport';
import { createLogger } from '../../src/logging/logger.js';
import { REDACTED, Redactor } from '../../src/logging/redactor.js';

/** Collects what the logger would write, after all formats ran. */
class Capture extends Transport {
  lines: string[] = [];
  override log(info: Record<symbol | string, unknown>, next: () => void): void {
    this.lines.push(String(info[Symbol.for('message')]));
    next();
  }
}

function setup(format: 'json' | 'text' = 'json') {
  const redactor = new Redactor();
  const capture = new Capture();
  const logger = createLogger({ level: 'debug', format, redactor, transports: [capture as winston.transport] });
  return { redactor, capture, logger };
}

describe('log redaction', () => {
  it('masks registered secrets in messages, metadata, nested objects and errors', () => {
    const { redactor, capture, logger } = setup();
    redactor.add('pb-superuser-pass', '7|coolifytokenvalue', 'sk-router-key-123', 'tg-bot-secret-999');
    logger.info('login with pb-superuser-pass failed', {
      header: 'Bearer 7|coolifytokenvalue',
      nested: { list: ['x', 'key=sk-router-key-123'] },
    });
    logger.error('request failed', { err: new Error('token tg-bot-secret-999 rejected') });
    logger.child({ key: 'stack:abc' }).warn('retry', { detail: 'sk-router-key-123' });
    const all = capture.lines.join('\n');
    for (const s of ['pb-superuser-pass', '7|coolifytokenvalue', 'sk-router-key-123', 'tg-bot-secret-999']) {
      expect(all).not.toContain(s);
    }
    expect(all).toContain(REDACTED);
    expect(all).toContain('"key":"stack:abc"');
  });

  it('masks credential-named fields whatever their value', () => {
    const { capture, logger } = setup();
    logger.info('config', { password: 'hunter22', COOLIFY_TOKEN: 'abc', router_api_key: 'k', name: 'visible' });
    const line = JSON.parse(capture.lines[0] ?? '{}') as Record<string, unknown>;
    expect(line.password).toBe(REDACTED);
    expect(line.COOLIFY_TOKEN).toBe(REDACTED);
    expect(line.router_api_key).toBe(REDACTED);
    expect(line.name).toBe('visible');
  });

  it('masks a secret that contains another secret whole', () => {
    const r = new Redactor();
    r.add('abcd', 'abcdefgh');
    expect(r.redact('x abcdefgh y abcd')).toBe(`x ${REDACTED} y ${REDACTED}`);
  });

  it('treats regex metacharacters in secrets literally', () => {
    const r = new Redactor();
    r.add('a.b*c(d)');
    expect(r.redact('a.b*c(d) and aXbbc')).toBe(`${REDACTED} and aXbbc`);
  });

  it('writes readable text when asked, still redacted', () => {
    const { redactor, capture, logger } = setup('text');
    redactor.add('s3cr3t-value');
    logger.info('hello s3cr3t-value', { stack: 'a' });
    expect(capture.lines[0]).toMatch(/ info hello \[REDACTED\] \{"stack":"a"\}$/);
  });

  it('masks overlapping and adjacent secrets, a secret at either end, and many secrets sharing a prefix', () => {
    const r = new Redactor();
    r.add('abcd', 'bcdefg', 'wxyz');
    // Leftmost first: the secret starting first is masked, the one it overlaps is cut and shown.
    expect(r.redact('abcdefg')).toBe(`${REDACTED}efg`);
    expect(r.redact('wxyzabcd')).toBe(`${REDACTED}${REDACTED}`);
    expect(r.redact('abc')).toBe('abc');
    for (let i = 0; i < 1000; i++) r.track(`rk-tenant-${i}-key`);
    expect(r.redact('keys rk-tenant-7-key, rk-tenant-77-key and rk-tenant-777-key; not rk-tenant-7777-key')).toBe(
      `keys ${REDACTED}, ${REDACTED} and ${REDACTED}; not rk-tenant-7777-key`,
    );
  });

  it('formats and redacts only lines of an enabled level', () => {
    let redactions = 0;
    class CountingRedactor extends Redactor {
      override redactValue(value: unknown, seen?: WeakSet<object>): unknown {
        if (seen === undefined) redactions++;
        return super.redactValue(value, seen);
      }
    }
    const capture = new Capture();
    const logger = createLogger({ level: 'info', format: 'json', redactor: new CountingRedactor(), transports: [capture as winston.transport] });
    for (let i = 0; i < 10; i++) logger.debug('coolify request', { route: 'services/{uuid}/envs' });
    logger.child({ key: 'stack:a' }).debug('reconcile started');
    expect(redactions).toBe(0);
    logger.info('drift resync done');
    logger.child({ key: 'stack:a' }).warn('reconcile failed');
    expect(redactions).toBe(2);
    expect(capture.lines.map((l) => (JSON.parse(l) as { message: string }).message)).toEqual(['drift resync done', 'reconcile failed']);
    logger.level = 'debug';
    logger.debug('now shown');
    expect(capture.lines).toHaveLength(3);
  });

  it('survives cyclic metadata', () => {
    const { capture, logger } = setup();
    const a: Record<string, unknown> = { n: 1 };
    a.self = a;
    logger.info('cyclic', { a });
    expect(capture.lines[0]).toContain('[Circular]');
  });
});

describe('tracked secrets', () => {
  it('keep masking until two sweeps pass without seeing them, then are forgotten', () => {
    const r = new Redactor();
    r.add('process-secret');
    r.track('router-key-old');
    r.sweep();
    expect(r.redact('router-key-old')).toBe(REDACTED); // seen one sweep ago: still masked
    r.track('router-key-new');
    r.sweep();
    expect(r.redact('router-key-old')).toBe('router-key-old'); // rotated away two sweeps ago
    expect(r.redact('router-key-new')).toBe(REDACTED);
    expect(r.redact('process-secret')).toBe(REDACTED); // permanent secrets never expire
    for (let i = 0; i < 5; i++) r.sweep();
    expect(r.redact('process-secret')).toBe(REDACTED);
    expect(r.size).toBe(1);
  });

  it('a secret seen on every sweep is never forgotten', () => {
    const r = new Redactor();
    for (let i = 0; i < 10; i++) {
      r.track('still-in-use');
      r.sweep();
    }
    expect(r.redact('x still-in-use')).toBe(`x ${REDACTED}`);
  });

  it('keeps one auth token per slot: a refreshed token replaces the previous one', () => {
    const r = new Redactor();
    r.add('process-secret');
    for (let i = 0; i < 100; i++) r.set('pocketbase token store', `token-number-${i}`);
    r.set('pocketbase token feed', 'feed-token');
    expect(r.size).toBe(3);
    expect(r.redact('token-number-99 feed-token')).toBe(`${REDACTED} ${REDACTED}`);
    expect(r.redact('token-number-98')).toBe('token-number-98');
  });
});
