/*
 * The Lambda handler of ServerlessLampDatabase.
 *
 * It connects to the RDS Proxy with an IAM authentication token over verified
 * TLS, runs `SHOW TABLES` and returns the table names.
 *
 * Design notes (each one is a failure seen in the wild):
 * - One connection per execution environment, opened lazily and reused across
 *   invocations: a warm invocation opens no connection and mints no token.
 * - The token (valid 15 minutes) is cached and refreshed ahead of expiry; it
 *   matters only when a connection is opened.
 * - A connection that died while the environment was frozen is dropped and the
 *   call retried exactly once on a fresh connection.
 * - `query()` (text protocol, client-side escaping), never `execute()`: server
 *   side prepared statements pin the proxy session to one database connection.
 * - Connect and query timeouts are derived from the invocation's remaining time,
 *   so the function answers with an error before Lambda stops it.
 * - A failure is answered as `{ ok: false }` (the invocation itself succeeds),
 *   so it also writes one CloudWatch embedded-metric-format line: the failures
 *   show as a metric, per error code, without an extra network call.
 * - Logs are JSON lines and never contain the token.
 * - The warm path is mysql2's callback API under one promise of our own, and
 *   the query timeout is one watchdog timer per execution environment rather
 *   than one timer per query (see `showTables`): measured, mysql2's promise
 *   wrapper and its per-query timer were most of what a warm invocation cost
 *   over a bare query.
 */
import { performance } from 'node:perf_hooks';
import { Signer } from '@aws-sdk/rds-signer';
import { createConnection } from 'mysql2';
import type { Connection, ConnectionOptions } from 'mysql2';
import { readConfig } from './config';
import type { HandlerConfig } from './config';
import { classifyError, isStaleConnectionError, QueryTimeoutError } from './errors';
import type { QueryErrorCode } from './errors';
import { functionNameOf, writeFailureMetric } from './failure-metric';

/*
 * The handler's parts, in their own modules, re-exported here: this file is
 * the bundle's entry point, and tests and the benchmark load the bundle.
 */
export { readConfig } from './config';
export type { HandlerConfig } from './config';
export { classifyError, isStaleConnectionError, QUERY_ERROR_CODES } from './errors';
export type { QueryErrorCode } from './errors';
export {
  ERROR_CODE_DIMENSION,
  failureMetricLine,
  FUNCTION_NAME_DIMENSION,
  FUNCTION_NAME_OUTSIDE_LAMBDA,
  METRIC_NAMESPACE,
  QUERY_FAILURES_DIMENSIONS,
  QUERY_FAILURES_METRIC,
} from './failure-metric';

/** A successful answer. */
export interface QuerySuccess {
  readonly ok: true;
  /** The database the tables belong to. */
  readonly database: string;
  /** Table names, in the order the server returned them. */
  readonly tables: string[];
}

/** A failed answer: a stable code and a human-readable message. */
export interface QueryFailure {
  readonly ok: false;
  readonly error: {
    readonly code: QueryErrorCode;
    readonly message: string;
  };
}

/** What the handler returns. */
export type QueryResponse = QuerySuccess | QueryFailure;

/** The subset of the Lambda context the handler reads. */
export interface InvocationContext {
  getRemainingTimeInMillis?: () => number;
  awsRequestId?: string;
}

/** Tokens are valid for 15 minutes; refresh this long before that. */
export const TOKEN_VALIDITY_MS = 15 * 60 * 1000;
export const TOKEN_REFRESH_MARGIN_MS = 3 * 60 * 1000;
/** Time kept back from the invocation's remaining time to build the answer. */
const SAFETY_MARGIN_MS = 1000;

/* ------------------------------------------------------------------------ */
/* Module-scope state: survives between invocations of a warm environment.   */
/* ------------------------------------------------------------------------ */

let config: HandlerConfig | undefined;
let signer: Signer | undefined;
let cachedToken: { value: string; refreshAt: number } | undefined;
let connection: Connection | undefined;
/** PEM to trust instead of Node's default store; set by tests only (see `trustCaForTests`). */
let testCa: string | undefined;

/** Counters for tests and logs; they describe this execution environment. */
export const stats = { tokensMinted: 0, connectionsOpened: 0, retries: 0 };

/** Forget all module state (tests only). */
export async function resetForTests(): Promise<void> {
  const c = connection;
  connection = undefined;
  config = undefined;
  signer = undefined;
  cachedToken = undefined;
  testCa = undefined;
  stats.tokensMinted = 0;
  stats.connectionsOpened = 0;
  stats.retries = 0;
  inFlight = undefined;
  if (watchdog !== undefined) {
    clearTimeout(watchdog);
    watchdog = undefined;
  }
  if (c) {
    c.destroy();
  }
}

/**
 * Tests and benchmarks only: trust `pem` instead of Node's default store for
 * connections opened from now on (their MariaDB stand-in has its own CA).
 *
 * Deliberately not an environment variable: in Lambda the proxy's certificates
 * chain to the Amazon roots in Node's default store, and replacing that store
 * (with the RDS CA bundle, say) breaks proxy connections. An extra CA, if ever
 * needed, belongs in Node's own NODE_EXTRA_CA_CERTS, which adds to the store.
 */
export function trustCaForTests(pem: string | undefined): void {
  testCa = pem;
}

/** The open connection of this execution environment, if any (benchmarks compare bare queries on it). */
export function currentConnection(): Connection | undefined {
  return connection;
}

function log(level: 'info' | 'warn' | 'error', message: string, fields: Record<string, unknown> = {}): void {
  // One JSON object per line; fields never include the token or a password.
  const line = JSON.stringify({ level, message, ...fields });
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
}

async function authToken(cfg: HandlerConfig): Promise<string> {
  const now = Date.now();
  if (cachedToken && now < cachedToken.refreshAt) {
    return cachedToken.value;
  }
  signer ??= new Signer({ hostname: cfg.host, port: cfg.port, username: cfg.user, region: cfg.region });
  const value = await signer.getAuthToken();
  stats.tokensMinted++;
  cachedToken = { value, refreshAt: now + TOKEN_VALIDITY_MS - TOKEN_REFRESH_MARGIN_MS };
  return value;
}

async function openConnection(cfg: HandlerConfig, remainingMs: number): Promise<Connection> {
  const password = await authToken(cfg);
  const options: ConnectionOptions = {
    host: cfg.host,
    port: cfg.port,
    user: cfg.user,
    password,
    database: cfg.database,
    connectTimeout: Math.max(1, Math.min(cfg.connectTimeoutMs, remainingMs)),
    // RDS Proxy asks for the token in clear text, which is safe only inside TLS.
    enableCleartextPlugin: true,
    ssl: {
      // Verify the chain (Node's default trust store holds the Amazon roots the
      // proxy's certificates chain to) and the host name.
      rejectUnauthorized: true,
      verifyIdentity: true,
      minVersion: 'TLSv1.2',
      ...(testCa ? { ca: testCa } : {}),
    },
  };
  const conn = await new Promise<Connection>((resolve, reject) => {
    const c = createConnection(options);
    let connected = false;
    // One listener for the connection's whole life: an 'error' event without
    // a listener would crash the process. Before the handshake completes it
    // fails the connect; afterwards the connection died while idle (the server
    // may close it while the environment is frozen): forget it, the next
    // invocation opens a new one.
    c.on('error', (err: Error & { code?: string }) => {
      if (!connected) {
        reject(err);
        return;
      }
      if (connection !== c) return; // already dropped
      connection = undefined;
      log('warn', 'connection error while idle', { code: err.code });
    });
    c.once('connect', () => {
      connected = true;
      resolve(c);
    });
  });
  stats.connectionsOpened++;
  log('info', 'connection opened', { host: cfg.host, port: cfg.port, user: cfg.user, database: cfg.database });
  return conn;
}

/*
 * The query timeout. mysql2's per-query `timeout` arms and clears a timer for
 * every query; here one watchdog timer serves every query of the execution
 * environment: a query records its deadline, and the watchdog, armed for the
 * earliest deadline it has been asked for, fails the query in flight if its
 * deadline has passed, or re-arms itself for it. In steady state a query costs
 * one clock read, and the watchdog fires about once per timeout period.
 * Deadlines use the monotonic clock (immune to wall-clock steps).
 */
let inFlight: { readonly deadline: number; readonly fail: (err: Error) => void } | undefined;
let watchdog: ReturnType<typeof setTimeout> | undefined;
let watchdogAt = 0;

function armWatchdog(deadline: number): void {
  if (watchdog !== undefined) {
    if (watchdogAt <= deadline) return; // it fires in time, and re-arms if need be
    clearTimeout(watchdog);
  }
  watchdogAt = deadline;
  watchdog = setTimeout(onWatchdog, Math.max(1, Math.ceil(deadline - performance.now())));
  // A hung query keeps the process alive through its socket; the watchdog
  // alone must not (tests, local runs).
  watchdog.unref();
}

function onWatchdog(): void {
  watchdog = undefined;
  const query = inFlight;
  if (query === undefined) return;
  if (performance.now() >= query.deadline) {
    inFlight = undefined;
    query.fail(new QueryTimeoutError('the query did not answer within the invocation\'s remaining time'));
  } else {
    armWatchdog(query.deadline);
  }
}

/** Text protocol: no server-side prepared statement, so no session pinning. */
const SHOW_TABLES = { sql: 'SHOW TABLES', rowsAsArray: true } as const;

function showTables(conn: Connection, timeoutMs: number): Promise<string[]> {
  return new Promise<string[]>((resolve, reject) => {
    let settled = false;
    const query = {
      deadline: performance.now() + timeoutMs,
      fail: (err: Error) => {
        if (settled) return;
        settled = true;
        reject(err);
      },
    };
    inFlight = query;
    armWatchdog(query.deadline);
    conn.query(SHOW_TABLES, (err: Error | null, rows: unknown) => {
      if (inFlight === query) inFlight = undefined;
      if (settled) return; // timed out already: the connection is being dropped
      settled = true;
      if (err) {
        reject(err);
        return;
      }
      const list = rows as unknown[][];
      const tables = new Array<string>(list.length);
      for (let i = 0; i < list.length; i++) tables[i] = String(list[i][0]);
      resolve(tables);
    });
  });
}

/** Milliseconds left before `deadline` (monotonic clock), at least 1. */
function remaining(deadline: number): number {
  return Math.max(1, deadline - performance.now());
}

/** One try: the environment's connection (opened if need be), then the query. */
async function attempt(cfg: HandlerConfig, deadline: number): Promise<QuerySuccess> {
  const conn = connection ?? (connection = await openConnection(cfg, remaining(deadline)));
  const tables = await showTables(conn, Math.min(cfg.queryTimeoutMs, remaining(deadline)));
  return { ok: true, database: cfg.database, tables };
}

/**
 * Lambda entry point: returns the names of the tables of the configured
 * database, or a `{ ok: false, error: { code, message } }` answer.
 */
export async function handler(_event: unknown = {}, context: InvocationContext = {}): Promise<QueryResponse> {
  const deadline = performance.now() + (context.getRemainingTimeInMillis?.() ?? 60_000) - SAFETY_MARGIN_MS;
  try {
    const cfg = (config ??= readConfig());
    const reused = connection !== undefined;
    try {
      return await attempt(cfg, deadline);
    } catch (err) {
      dropConnection();
      if (!reused || !isStaleConnectionError(err)) throw err;
      // The connection died while frozen: one retry, on a fresh connection.
      stats.retries++;
      log('warn', 'stale connection, retrying once', { code: (err as { code?: string }).code });
      return await attempt(cfg, deadline);
    }
  } catch (err) {
    dropConnection();
    const error = classifyError(err);
    log('error', 'query failed', { code: error.code, detail: error.message, requestId: context.awsRequestId });
    writeFailureMetric(error.code, config?.functionName ?? functionNameOf(), context.awsRequestId);
    return { ok: false, error };
  }
}

function dropConnection(): void {
  const c = connection;
  connection = undefined;
  if (c) {
    try {
      c.destroy();
    } catch {
      // already gone
    }
  }
}
