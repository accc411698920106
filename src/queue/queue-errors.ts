/**
 * Abort reasons the work queue puts on a reconcile's signal. Handlers see them as `signal.reason`; the
 * queue reports a timed-out run with ReconcileTimeoutError as its DoneEvent error.
 */
export class ReconcileTimeoutError extends Error {
  override name = 'ReconcileTimeoutError';
  constructor(
    readonly key: string,
    readonly timeoutMs: number,
    options?: ErrorOptions,
  ) {
    super(`reconcile of ${key} timed out after ${timeoutMs} ms`, options);
  }
}

export class QueueShutdownError extends Error {
  override name = 'QueueShutdownError';
  constructor(readonly key: string) {
    super(`reconcile of ${key} aborted: the queue is shutting down and its deadline passed`);
  }
}
