/**
 * A tenant value that would read the operator's Coolify shared variables never reaches Coolify:
 * the simulator holds a seeded team variable and resolves `{{team.X}}` exactly where Coolify does
 * (compose env values, env API values); stacks carrying such a value end in `error` naming the
 * param, and the variable's value is found in no service the daemon created. And every shipped
 * template, as the simulator parses it the way Coolify does, has no host bind, no generated route,
 * and the plan's process and swap limits on every container.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { load } from 'js-yaml';
import { realValue } from '../../src/coolify-sim/shared-variables.js';
import { createPlan, createStack, createTenant } from '../helpers/pb-fixtures.js';
import { BOT_TOKEN, startHarness, type Harness } from './harness.js';

const TEAM_SECRET = 'operator-team-secret-7f3a9c';

describe('tenant values and Coolify shared variables', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
    h.sim.edits.setSharedVariable('team', 'OPERATOR_SECRET', TEAM_SECRET);
  });
  afterAll(async () => {
    await h.cleanup();
  });

  /** Every text the simulator would deploy: stored and generated compose, every env var's `.env` text. */
  function deployedTexts(): string[] {
    return h.sim.state.services.flatMap((s) => [s.composeRaw, s.compose, ...s.envs.map((e) => realValue(h.sim.state, s, e) ?? '')]);
  }

  it('refuses {{team.X}} in a param, a secret param and the router key, and the team secret reaches no service', async () => {
    const plan = await createPlan(h.admin, { allowed_templates: ['telegram-bot', 'openclaw-agent'], max_stacks: 10, cpu_limit: 4, memory_mb: 8192 });
    const tenant = await createTenant(h.admin, { plan: plan.id });
    const viaCompose = await createStack(h.admin, {
      tenant_id: tenant.id,
      name: 'prompt',
      template: 'telegram-bot',
      params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN, ASSISTANT_PROMPT: 'Tell everyone {{ team.OPERATOR_SECRET }}' },
    });
    const viaEnv = await createStack(h.admin, {
      tenant_id: tenant.id,
      name: 'agent',
      template: 'openclaw-agent',
      params: { AUTH_PASSWORD: 'pw-{{team.OPERATOR_SECRET}}', OPENCLAW_GATEWAY_TOKEN: 'gw0123456789abcdef0123456789abcdef' },
    });
    const fine = await createStack(h.admin, { tenant_id: tenant.id, name: 'fine', template: 'telegram-bot', params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });
    const keyTenant = await createTenant(h.admin, { plan: plan.id, router_api_key: 'rk-{{team.OPERATOR_SECRET}}' });
    const viaKey = await createStack(h.admin, { tenant_id: keyTenant.id, name: 'bot', template: 'telegram-bot', params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } });

    const a = await h.waitStack(viaCompose.id, (r) => r.status === 'error', 20_000);
    expect(String(a.status_message)).toMatch(/param ASSISTANT_PROMPT \(in services\.bot\.environment\.ASSISTANT_PROMPT\): an environment value with \{\{ goes through Coolify's shared-variable resolution/);
    const b = await h.waitStack(viaEnv.id, (r) => r.status === 'error', 20_000);
    expect(String(b.status_message)).toMatch(/param AUTH_PASSWORD: contains \{\{, which Coolify resolves as a shared variable/);
    const c = await h.waitStack(viaKey.id, (r) => r.status === 'error', 20_000);
    expect(String(c.status_message)).toMatch(/the tenant's router_api_key: contains \{\{, which Coolify resolves as a shared variable/);
    await h.waitStack(fine.id, (r) => r.status === 'running', 30_000);

    for (const r of [a, b, c]) {
      expect(String(r.status_message)).not.toContain('OPERATOR_SECRET');
      expect(r.coolify_service_uuid).toBe('');
    }
    for (const id of [viaCompose.id, viaEnv.id, viaKey.id]) expect(h.servicesOf(id)).toEqual([]);
    expect(h.servicesOf(fine.id)).toHaveLength(1);
    for (const text of deployedTexts()) {
      expect(text).not.toContain(TEAM_SECRET);
      expect(text).not.toMatch(/\{\{\s*team\./);
    }
    for (const event of await h.events()) expect(String(event.message)).not.toContain(TEAM_SECRET);

    // Fixed by the admin, the stack deploys, and still nothing of the team secret is deployed.
    await h.admin.collection('stacks').update(viaCompose.id, { params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN, ASSISTANT_PROMPT: 'Tell everyone hello' } });
    await h.waitStack(viaCompose.id, (r) => r.status === 'running', 30_000);
    for (const text of deployedTexts()) expect(text).not.toContain(TEAM_SECRET);
    const [service] = h.servicesOf(viaCompose.id);
    expect(service?.compose).toMatch(/pids_limit: 512/);
    expect(service?.compose).toMatch(/memswap_limit: 512m/);
  });

  it('deploys every shipped template, as the simulator parses it, without host binds or generated routes, with the plan\'s limits', async () => {
    const plan = await createPlan(h.admin, { allowed_templates: ['telegram-bot', 'openclaw-agent', 'base-llm'], max_stacks: 10, cpu_limit: 4, memory_mb: 8192, pids_limit: 300 });
    const tenant = await createTenant(h.admin, { plan: plan.id });
    const stacks = await Promise.all([
      createStack(h.admin, { tenant_id: tenant.id, name: 'tg', template: 'telegram-bot', params: { TELEGRAM_BOT_TOKEN: BOT_TOKEN } }),
      createStack(h.admin, {
        tenant_id: tenant.id,
        name: 'claw',
        template: 'openclaw-agent',
        params: { AUTH_PASSWORD: 'a-long-password-123', OPENCLAW_GATEWAY_TOKEN: 'gw0123456789abcdef0123456789abcdef' },
      }),
      createStack(h.admin, { tenant_id: tenant.id, name: 'llm', template: 'base-llm', params: { LITELLM_MASTER_KEY: 'sk-e2e0123456789abcdefgh' } }),
    ]);
    for (const stack of stacks) {
      await h.waitStack(stack.id, (r) => r.status === 'running', 30_000);
      const [service] = h.servicesOf(stack.id);
      const deployed = load(service!.compose) as { services: Record<string, Record<string, unknown>> };
      for (const [name, svc] of Object.entries(deployed.services)) {
        for (const volume of (svc.volumes as unknown[] | undefined) ?? []) {
          const source = typeof volume === 'string' ? volume.split(':')[0]! : String((volume as { source?: string }).source ?? '');
          expect([name, source]).not.toEqual([name, expect.stringMatching(/^[/.~]/)]);
        }
        expect([name, svc.pids_limit]).toEqual([name, 300]);
        expect(svc.memswap_limit).toBe(svc.mem_limit);
        expect(svc.pid ?? svc.ipc ?? svc.network_mode).toBeUndefined();
      }
      expect(service!.envs.map((e) => e.key).filter((k) => /^SERVICE_(URL|FQDN)_/.test(k))).toEqual([]);
      for (const sub of service!.subs) {
        for (const url of (sub.fqdn ?? '').split(',').filter(Boolean)) expect(url).toMatch(new RegExp(`^https://[a-z0-9.-]+\\.${String(tenant.domain).replace(/\./g, '\\.')}:\\d+$`));
      }
    }
  });
});
