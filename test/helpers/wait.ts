/**
 * Polls `condition` until it returns a truthy value (which is returned) or `timeoutMs` passes.
 * For waiting on real servers in tests; never a fixed sleep. A condition that throws counts as
 * "not yet"; the last error is included in the timeout message.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  timeoutMs = 10_000,
  options: { intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const interval = options.intervalMs ?? 25;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await condition();
      if (value) return value as NonNullable<T>;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() >= deadline) {
      const why = lastError instanceof Error ? `; last error: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.what ?? 'condition'}${why}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}
