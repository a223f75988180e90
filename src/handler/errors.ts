/*
 * The handler's error codes, and how an error becomes one.
 *
 * `QUERY_ERROR_CODES` is the one list of codes the handler answers with and
 * publishes as the `ErrorCode` dimension of its failure metric; the
 * construct's `HandlerErrorCode` has one constant per entry, and a unit test
 * fails when the two differ.
 */

/** Every `error.code` the handler answers with, in the order the README's table lists them. */
export const QUERY_ERROR_CODES = [
  'CONFIGURATION_ERROR',
  'ACCESS_DENIED',
  'DATABASE_ACCESS_DENIED',
  'UNKNOWN_DATABASE',
  'PROXY_BORROW_TIMEOUT',
  'AUTH_RATE_LIMITED',
  'TOO_MANY_CONNECTIONS',
  'PROXY_UNKNOWN_ERROR',
  'TLS_REQUIRED',
  'TLS_VERIFICATION_FAILED',
  'DATABASE_UNREACHABLE',
  'CONNECTION_LOST',
  'QUERY_TIMEOUT',
  'INTERNAL_ERROR',
] as const;

/** Stable error codes returned by the handler. */
export type QueryErrorCode = typeof QUERY_ERROR_CODES[number];

/** Missing or invalid environment. */
export class ConfigError extends Error {}

/** A query that outlived its timeout (the invocation's remaining time, or DB_QUERY_TIMEOUT_MS). */
export class QueryTimeoutError extends Error {
  readonly code = 'QUERY_TIMEOUT';
}

const STALE_CONNECTION_CODES = new Set(['PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE', 'ERR_STREAM_DESTROYED']);

/** True when an error means "this connection is dead, a new one may work". */
export function isStaleConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string; fatal?: boolean };
  if (e?.code && STALE_CONNECTION_CODES.has(e.code)) return true;
  if (typeof e?.message === 'string' && /closed state|connection is closed/i.test(e.message)) return true;
  return false;
}

/*
 * Error numbers and messages, as RDS Proxy documents them for MySQL clients
 * ("Troubleshooting for RDS Proxy", Amazon RDS and Aurora user guides, table
 * "You might encounter the following issues while connecting to a MySQL
 * proxy"):
 *   1040 "Connections rate limit exceeded (limit_value)"
 *   1040 "IAM authentication rate limit exceeded"
 *   1040 "Number simultaneous connections exceeded (limit_value)"
 *   1045 "Access denied for user 'DB_USER'@'%' (using password: YES)"
 *   1105 "Unknown error" (documented only as "An unknown error occurred")
 *   3159 "This RDS Proxy requires TLS connections."
 *   9501 "Timed-out waiting to acquire database connection"
 * 1044 (ER_DBACCESS_DENIED_ERROR, "Access denied for user ... to database
 * ...") and 1049 (ER_BAD_DB_ERROR, "Unknown database ...") are MySQL's own
 * answers to a default database the user may not use or that does not exist;
 * the proxy page does not list them.
 */
const BY_ERRNO: ReadonlyMap<number, QueryErrorCode> = new Map<number, QueryErrorCode>([
  [1045, 'ACCESS_DENIED'],
  [1044, 'DATABASE_ACCESS_DENIED'],
  [1049, 'UNKNOWN_DATABASE'],
  [9501, 'PROXY_BORROW_TIMEOUT'],
  [1040, 'TOO_MANY_CONNECTIONS'],
  [1105, 'PROXY_UNKNOWN_ERROR'],
  [3159, 'TLS_REQUIRED'],
]);

/** Map an error to a stable code and a message safe to return and log. */
export function classifyError(err: unknown): { code: QueryErrorCode; message: string } {
  const e = err as { code?: string; errno?: number; message?: string };
  const message = String(e?.message ?? err);
  if (err instanceof ConfigError) return { code: 'CONFIGURATION_ERROR', message };
  if (err instanceof QueryTimeoutError) return { code: 'QUERY_TIMEOUT', message };
  const byErrno = typeof e?.errno === 'number' ? BY_ERRNO.get(e.errno) : undefined;
  if (byErrno === 'TOO_MANY_CONNECTIONS' && /IAM authentication rate limit/i.test(message)) {
    return { code: 'AUTH_RATE_LIMITED', message };
  }
  if (byErrno) return { code: byErrno, message };
  if (/Connections using insecure transport are prohibited|requires TLS|require_secure_transport/i.test(message)) {
    return { code: 'TLS_REQUIRED', message };
  }
  if (/Server does not support secure connection/i.test(message)) {
    return { code: 'TLS_REQUIRED', message };
  }
  const code = e?.code ?? '';
  if (
    /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|ERR_SSL|EPROTO/.test(code) ||
    /certificate|Hostname\/IP does not match/i.test(message)
  ) {
    return { code: 'TLS_VERIFICATION_FAILED', message };
  }
  if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code)) {
    return { code: 'DATABASE_UNREACHABLE', message };
  }
  if (code === 'PROTOCOL_SEQUENCE_TIMEOUT') return { code: 'QUERY_TIMEOUT', message };
  if (isStaleConnectionError(err)) return { code: 'CONNECTION_LOST', message };
  return { code: 'INTERNAL_ERROR', message };
}
