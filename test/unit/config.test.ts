import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { CONFIG_VARIABLES, ConfigError, loadConfig } from '../../src/config.js';

const minimal = {
  POCKETBASE_URL: 'http://127.0.0.1:8090',
  POCKETBASE_SUPERUSER_EMAIL: 'admin@example.com',
  POCKETBASE_SUPERUSER_PASSWORD: 'pw-123456789',
  COOLIFY_URL: 'https://coolify.example.com/',
  COOLIFY_TOKEN: '1|abcdef',
  COOLIFY_SERVER_UUID: 'srv0000000000000000000001',
};

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe('loadConfig', () => {
  it('applies the SPEC §5 defaults', () => {
    const c = loadConfig(minimal);
    expect(c.coolify.url).toBe('https://coolify.example.com');
    expect(c.coolify.environment).toBe('production');
    expect(c.coolify.rateLimitPerMinute).toBe(120);
    expect(c.coolify.destinationUuid).toBeUndefined();
    expect(c.reconcileConcurrency).toBe(4);
    expect(c.resyncIntervalSeconds).toBe(300);
    expect(c.statusPollSeconds).toBe(15);
    expect(c.envCheckIntervalSeconds).toBe(3600);
    expect(c.deleteRetentionSeconds).toBe(604800);
    expect(c.eventsRetentionDays).toBe(30);
    expect(c.routerBaseUrl).toBe('https://router.cloudfreedom.de');
    expect(c.templatesDir).toBe('./templates');
    expect(c.http).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(c.logLevel).toBe('info');
    expect(c.logFormat).toBe('json');
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('names every missing required variable in one error', () => {
    const problems = problemsOf({});
    for (const name of [
      'POCKETBASE_URL',
      'POCKETBASE_SUPERUSER_EMAIL',
      'POCKETBASE_SUPERUSER_PASSWORD',
      'COOLIFY_URL',
      'COOLIFY_TOKEN',
      'COOLIFY_SERVER_UUID',
    ]) {
      expect(problems).toContain(`${name} is required`);
    }
    expect(problems).toHaveLength(6);
  });

  it('names every malformed variable and why', () => {
    const problems = problemsOf({
      ...minimal,
      POCKETBASE_URL: 'not a url',
      COOLIFY_RATE_LIMIT_PER_MINUTE: '0',
      RECONCILE_CONCURRENCY: 'four',
      RESYNC_INTERVAL_SECONDS: '1.5',
      HTTP_ADDR: 'localhost',
      LOG_LEVEL: 'loud',
      LOG_FORMAT: 'xml',
      COOLIFY_ENVIRONMENT: 'Production',
      ROUTER_BASE_URL: 'ftp://router',
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^POCKETBASE_URL must be an http\(s\) URL, got "not a url"/),
        expect.stringMatching(/^COOLIFY_RATE_LIMIT_PER_MINUTE must be an integer between 1/),
        expect.stringMatching(/^RECONCILE_CONCURRENCY must be an integer .* got "four"/),
        expect.stringMatching(/^RESYNC_INTERVAL_SECONDS must be an integer/),
        expect.stringMatching(/^HTTP_ADDR must be host:port/),
        expect.stringMatching(/^LOG_LEVEL must be one of/),
        expect.stringMatching(/^LOG_FORMAT must be one of json, text/),
        expect.stringMatching(/^COOLIFY_ENVIRONMENT must be a lower-case/),
        expect.stringMatching(/^ROUTER_BASE_URL must be an http\(s\) URL/),
      ]),
    );
    expect(problems).toHaveLength(9);
  });

  it('never echoes secret values in its message', () => {
    try {
      loadConfig({ ...minimal, COOLIFY_URL: '' });
      throw new Error('expected a ConfigError');
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as Error).message).not.toContain(minimal.COOLIFY_TOKEN);
      expect((e as Error).message).not.toContain(minimal.POCKETBASE_SUPERUSER_PASSWORD);
    }
  });

  it('does not print credentials embedded in a malformed URL', () => {
    const problems = problemsOf({ ...minimal, POCKETBASE_URL: 'ftp://admin:hunter2@pb.example.com' });
    expect(problems).toEqual(['POCKETBASE_URL must be an http(s) URL, got "ftp://***@pb.example.com"']);
  });

  it('parses HTTP_ADDR with an IPv6 host', () => {
    expect(loadConfig({ ...minimal, HTTP_ADDR: '[::1]:9000' }).http).toEqual({ host: '::1', port: 9000 });
  });

  it('DEFAULT_HOST_TEMPLATE: {stack}.{domain} by default; a template that cannot make host names stops start-up', () => {
    expect(loadConfig(minimal).defaultHostTemplate).toBe('{stack}.{domain}');
    expect(loadConfig({ ...minimal, DEFAULT_HOST_TEMPLATE: '{stack}-{tenant}.apps.example.test' }).defaultHostTemplate).toBe('{stack}-{tenant}.apps.example.test');
    expect(problemsOf({ ...minimal, DEFAULT_HOST_TEMPLATE: '{tenant}.example.test' })).toEqual([
      'DEFAULT_HOST_TEMPLATE must contain {stack}, or every stack would get the same host, got "{tenant}.example.test"',
    ]);
  });

  it('is documented: .env.example and the README list every variable', () => {
    const example = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8');
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    for (const name of CONFIG_VARIABLES) {
      expect(example).toMatch(new RegExp(`^#? ?${name}=`, 'm'));
      expect(readme).toContain(`\`${name}\``);
    }
  });
});
