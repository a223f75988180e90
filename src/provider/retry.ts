/*
 * Which failures of the users provider are worth another attempt, and when.
 *
 * A fresh cluster refuses connections for a while (its DNS name may not
 * resolve yet, the port may refuse or drop connections, the instance may be
 * read-only while it fails over), and the master password can change under
 * the provider while rotation runs. Everything else (a bad certificate, a SQL
 * error, a missing privilege, a secret that cannot be read) will not fix
 * itself within a deployment, so it fails at once with its code and message.
 */

/** How to handle a failure. */
export type FailureKind =
  /** Try again after a pause: the server is not there yet or dropped the connection. */
  | 'transient'
  /** MySQL refused the master password: read the secret again (rotation may be under way), then try again, a few times. */
  | 'credentials'
  /** Fail now. */
  | 'permanent';

/** Network and protocol error codes (Node.js and mysql2) that mean "not reachable now". */
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE',
  'ECONNABORTED', 'PROTOCOL_CONNECTION_LOST', 'ERR_STREAM_DESTROYED',
]);

/** MySQL server errors that pass: too many connections, shutting down, lock waits, a read-only (failing over) instance. */
const TRANSIENT_ERRNOS = new Set([1040, 1053, 1205, 1213, 1290, 2002, 2003, 2006, 2013]);

/** MySQL 1045: access denied (wrong user or password). */
export const ER_ACCESS_DENIED_ERROR = 1045;

/** Decide how to handle `err`, an error from mysql2, Node.js or the AWS SDK. */
export function classifyFailure(err: unknown): FailureKind {
  const e = err as { code?: unknown; errno?: unknown; sqlState?: unknown; name?: unknown; $metadata?: { httpStatusCode?: number } };
  if (typeof e !== 'object' || e === null) return 'permanent';
  if (e.errno === ER_ACCESS_DENIED_ERROR) return 'credentials';
  // A MySQL server error has a SQL state; only the listed ones pass.
  if (typeof e.sqlState === 'string' && typeof e.errno === 'number') {
    return TRANSIENT_ERRNOS.has(e.errno) ? 'transient' : 'permanent';
  }
  if (typeof e.code === 'string' && TRANSIENT_CODES.has(e.code)) return 'transient';
  // AWS SDK: it has already retried throttling, 5xx and network errors
  // itself. A 5xx that survived that may still pass, and so may the network
  // (the endpoint or its DNS name is new); 4xx (access denied, no such
  // secret, KMS refused) and anything else will not.
  if (e.$metadata !== undefined) {
    const status = e.$metadata.httpStatusCode;
    if (status !== undefined) return status >= 500 ? 'transient' : 'permanent';
  }
  if (e.name === 'TimeoutError') return 'transient';
  return 'permanent';
}

/** Backoff: the first pause's ceiling, the largest pause, in milliseconds. */
export const BACKOFF_BASE_MS = 250;
export const BACKOFF_CAP_MS = 8000;

/**
 * The pause before attempt `attempt + 1` (attempt counts from 1): exponential
 * backoff with full jitter, a uniformly random time between 0 and
 * min(cap, base * 2^(attempt-1)), so that retries from many deployments do not
 * arrive together.
 */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempt - 1));
  return Math.floor(random() * ceiling);
}

/** How much of the invocation's remaining time the provider keeps back to answer. */
export function reserveMs(remainingMs: number): number {
  return Math.min(5000, Math.max(1000, Math.floor(remainingMs / 10)));
}
