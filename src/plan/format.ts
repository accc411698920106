/** `plan`'s human output: one block per key, one line per action, then orphans, the guard and a summary. */
import type { PlanAction, PlanResult } from './run-plan.js';

function symbol(a: PlanAction): string {
  if (a.action === 'refuse') return '!';
  if (a.action === 'adopt') return '=';
  if (a.action.startsWith('create')) return '+';
  if (a.action.startsWith('delete') || a.action === 'delete_record') return '-';
  if (a.action === 'start' || a.action === 'deploy' || a.action === 'restart') return '>';
  if (a.action.includes('stop')) return '#';
  return '~';
}

export function formatPlan(plan: PlanResult, header: string): string {
  const lines = [header, ''];
  for (const entry of plan.entries) {
    lines.push(`${entry.label} (${entry.key})`);
    for (const a of entry.actions) {
      const target = a.request ? `  [${a.request.method} ${a.request.route}${a.coolifyUuid ? ` ${a.coolifyUuid}` : ''}]` : '';
      lines.push(`  ${symbol(a)} ${a.action}: ${a.message}${target}`);
      for (const c of a.changes) lines.push(`      ${c}`);
    }
    if (entry.error !== undefined) lines.push(`  ERROR: could not plan this key: ${entry.error}`);
    lines.push('');
  }
  if (plan.orphans.length > 0) {
    lines.push(
      `Orphans: ${plan.orphans.length} managed service group${plan.orphans.length === 1 ? '' : 's'} without a stack record (${plan.orphans.map((id) => `stack:${id}`).join(', ')}).`,
    );
  }
  lines.push(plan.guard.allowed ? 'Orphan guard: allows acting on orphans.' : `Orphan guard: REFUSES to act on orphans (${plan.guard.guard}): ${plan.guard.message}`);
  if (plan.errors > 0) {
    lines.push(`Plan incomplete: ${plan.errors} key${plan.errors === 1 ? '' : 's'} could not be planned (see ERROR above).`);
  } else if (!plan.pending) {
    lines.push('No changes: Coolify and PocketBase already match the records; nothing to do.');
  } else if (plan.changes === 0) {
    lines.push('No actions, but orphans wait for the guard: check PocketBase (see the guard above).');
  } else {
    const keys = plan.entries.length;
    lines.push(`Plan: ${plan.changes} action${plan.changes === 1 ? '' : 's'} on ${keys} key${keys === 1 ? '' : 's'}. Nothing was written; the daemon would do this on its next pass.`);
  }
  return lines.join('\n') + '\n';
}
