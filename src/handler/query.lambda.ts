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
 * - Logs are JSON lines and never contain the token.
 */
import { readFileSync } from 'node:fs';
import { Signer } from '@aws-sdk/rds-signer';
import { createConnection } from 'mysql2/promise';
import type { Connection, ConnectionOptions } from 'mysql2/promise';

/** Stable error codes returned by the handler. */
export type QueryErrorCode =
  | 'CONFIGURATION_ERROR'
  | 'ACCESS_DENIED'
  | 'PROXY_BORROW_TIMEOUT'
  | 'TOO_MANY_CONNECTIONS'
  | 'TLS_REQUIRED'
  | 'TLS_VERIFICATION_FAILED'
  | 'DATABASE_UNREACHABLE'
  | 'CONNECTION_LOST'
  | 'QUERY_TIMEOUT'
  | 'INTERNAL_ERROR';

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

/** Configuration, read from the environment once per execution environment. */
export interface HandlerConfig {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  readonly region: string;
  /** PEM bundle to trust instead of Node's default store (private CAs, tests). */
  readonly ca?: string;
  /** Upper bound of the connect timeout, in milliseconds. */
  readonly connectTimeoutMs: number;
  /** Upper bound of the query timeout, in milliseconds. */
  readonly queryTimeoutMs: number;
}

/** Tokens are valid for 15 minutes; refresh this long before that. */
export const TOKEN_VALIDITY_MS = 15 * 60 * 1000;
export const TOKEN_REFRESH_MARGIN_MS = 3 * 60 * 1000;
/** Time kept back from the invocation's remaining time to build the answer. */
const SAFETY_MARGIN_MS = 1000;

export function readConfig(env: NodeJS.ProcessEnv = process.env): HandlerConfig {
  const missing = ['DB_HOST', 'DB_USER', 'DB_NAME', 'AWS_REGION'].filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new ConfigError(`missing environment variables: ${missing.join(', ')}`);
  }
  const port = Number(env.DB_PORT ?? '3306');
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(`DB_PORT must be a TCP port, got '${env.DB_PORT}'`);
  }
  return {
    host: env.DB_HOST!,
    port,
    user: env.DB_USER!,
    database: env.DB_NAME!,
    region: env.AWS_REGION!,
    ca: env.DB_CA_BUNDLE_FILE ? readFileSync(env.DB_CA_BUNDLE_FILE, 'utf8') : undefined,
    connectTimeoutMs: positiveInt(env.DB_CONNECT_TIMEOUT_MS, 5000, 'DB_CONNECT_TIMEOUT_MS'),
    queryTimeoutMs: positiveInt(env.DB_QUERY_TIMEOUT_MS, 30000, 'DB_QUERY_TIMEOUT_MS'),
  };
}

function positiveInt(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) {
    throw new ConfigError(`${name} must be a positive integer, got '${value}'`);
  }
  return n;
}

class ConfigError extends Error {}

/* ------------------------------------------------------------------------ */
/* Module-scope state: survives between invocations of a warm environment.   */
/* ------------------------------------------------------------------------ */

let config: HandlerConfig | undefined;
let signer: Signer | undefined;
let cachedToken: { value: string; refreshAt: number } | undefined;
let connection: Connection | undefined;

/** Counters for tests and logs; they describe this execution environment. */
export const stats = { tokensMinted: 0, connectionsOpened: 0, retries: 0 };

/** Forget all module state (tests only). */
export async function resetForTests(): Promise<void> {
  const c = connection;
  connection = undefined;
  config = undefined;
  signer = undefined;
  cachedToken = undefined;
  stats.tokensMinted = 0;
  stats.connectionsOpened = 0;
  stats.retries = 0;
  if (c) {
    c.destroy();
  }
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
      ...(cfg.ca ? { ca: cfg.ca } : {}),
    },
  };
  const conn = await createConnection(options);
  stats.connectionsOpened++;
  // An idle connection can be closed by the server while the environment is
  // frozen. Without a listener that error would crash the process.
  conn.on('error', (err: Error & { code?: string }) => {
    log('warn', 'connection error while idle', { code: err.code });
    if (connection === conn) connection = undefined;
  });
  log('info', 'connection opened', { host: cfg.host, port: cfg.port, user: cfg.user, database: cfg.database });
  return conn;
}

const STALE_CONNECTION_CODES = new Set(['PROTOCOL_CONNECTION_LOST', 'ECONNRESET', 'EPIPE', 'ERR_STREAM_DESTROYED']);

/** True when an error means "this connection is dead, a new one may work". */
export function isStaleConnectionError(err: unknown): boolean {
  const e = err as { code?: string; message?: string; fatal?: boolean };
  if (e?.code && STALE_CONNECTION_CODES.has(e.code)) return true;
  if (typeof e?.message === 'string' && /closed state|connection is closed/i.test(e.message)) return true;
  return false;
}

async function showTables(conn: Connection, timeoutMs: number): Promise<string[]> {
  // Text protocol: no server-side prepared statement, so no session pinning.
  const [rows] = await conn.query({ sql: 'SHOW TABLES', rowsAsArray: true, timeout: timeoutMs });
  return (rows as unknown[][]).map((row) => String(row[0]));
}

/** Map an error to a stable code and a message safe to return and log. */
export function classifyError(err: unknown): { code: QueryErrorCode; message: string } {
  const e = err as { code?: string; errno?: number; message?: string };
  const message = String(e?.message ?? err);
  if (err instanceof ConfigError) return { code: 'CONFIGURATION_ERROR', message };
  switch (e?.errno) {
    case 1045:
      return { code: 'ACCESS_DENIED', message };
    case 9501:
      return { code: 'PROXY_BORROW_TIMEOUT', message };
    case 1040:
      return { code: 'TOO_MANY_CONNECTIONS', message };
    case 3159:
      return { code: 'TLS_REQUIRED', message };
    default:
      break;
  }
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

/**
 * Lambda entry point: returns the names of the tables of the configured
 * database, or a `{ ok: false, error: { code, message } }` answer.
 */
export async function handler(_event: unknown = {}, context: InvocationContext = {}): Promise<QueryResponse> {
  const deadline = Date.now() + (context.getRemainingTimeInMillis?.() ?? 60_000) - SAFETY_MARGIN_MS;
  const remaining = () => Math.max(1, deadline - Date.now());
  try {
    config ??= readConfig();
    const cfg = config;
    const attempt = async (): Promise<QueryResponse> => {
      connection ??= await openConnection(cfg, remaining());
      const tables = await showTables(connection, Math.min(cfg.queryTimeoutMs, remaining()));
      return { ok: true, database: cfg.database, tables };
    };
    const reused = connection !== undefined;
    try {
      return await attempt();
    } catch (err) {
      dropConnection();
      if (!reused || !isStaleConnectionError(err)) throw err;
      // The connection died while frozen: one retry, on a fresh connection.
      stats.retries++;
      log('warn', 'stale connection, retrying once', { code: (err as { code?: string }).code });
      return await attempt();
    }
  } catch (err) {
    dropConnection();
    const error = classifyError(err);
    log('error', 'query failed', { code: error.code, detail: error.message, requestId: context.awsRequestId });
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
