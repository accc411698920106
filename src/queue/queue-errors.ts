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

/**
 * A failure whose retry delay the handler chose: a correction Coolify did not take after several
 * tries is retried on an escalating schedule of its own (up to an hour), not the queue's default
 * backoff. Counted as a failure like any other error, so resync (low) adds wait for the retry.
 */
export class RetryAfterError extends Error {
  override name = 'RetryAfterError';
  constructor(
    message: string,
    /** ms until the key should run again. */
    readonly retryInMs: number,
  ) {
    super(message);
  }
}
