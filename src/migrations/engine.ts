/*
 * The migration engine: validates the files against the history table and
 * applies the pending ones, in version order, each statement on its own,
 * under a named lock. It takes an open connection (mysql2's promise API, or
 * anything with the same `query`) and the files, so that the deploy-time
 * provider can pass files from its asset and the command line files from a
 * directory. It never drops anything: the only statements it runs besides the
 * files' are the history table's CREATE TABLE IF NOT EXISTS, INSERT and the
 * DELETE of a failed version's row when that version runs again.
 */
import { createHash } from 'node:crypto';
import { MigrationError } from './errors';
import { migrationFiles, type MigrationFile, type MigrationSource } from './files';
import {
  createHistoryTableSql, deleteFailedSql, historyRowOf, insertHistorySql, quoteIdentifier, selectHistorySql, type HistoryRow,
} from './history';
import { planMigrations, versionStatuses, type PlanOptions, type VersionStatus } from './plan';
import { splitStatements, statementSummary, type Statement } from './split';

/** The part of a mysql2 promise connection the engine uses. */
export interface MigrationConnection {
  query(options: { sql: string; values?: unknown[]; timeout?: number }): Promise<[unknown, unknown]>;
  /** Closes the connection at once (after a statement overran the deadline, whose reply would hold up anything sent after it). */
  destroy?(): void;
}

/** What the engine reports while it works. */
export type MigrationProgress =
  /** Validation passed: `pending` files will run. */
  | { readonly kind: 'plan'; readonly database: string; readonly pending: readonly MigrationFile[]; readonly appliedCount: number }
  | { readonly kind: 'warning'; readonly message: string }
  /** A file starts (`index` counts from 1 among the pending ones). */
  | { readonly kind: 'start'; readonly file: MigrationFile; readonly index: number; readonly total: number; readonly statements: number }
  | { readonly kind: 'applied'; readonly file: MigrationFile; readonly executionTimeMs: number }
  | { readonly kind: 'failed'; readonly file: MigrationFile; readonly message: string };

export interface MigrateOptions extends PlanOptions {
  /**
   * How long to wait for another run holding the database's migration lock,
   * in seconds, before failing.
   * @default 60
   */
  readonly lockTimeoutSeconds?: number;
  /**
   * The time (milliseconds since the epoch, as `Date.now()`) by which the run
   * must be over; the deploy-time provider passes the function's remaining
   * time. No file starts with less than `minimumFileTimeMs` left, and each
   * statement's timeout is the time left.
   * @default - no deadline
   */
  readonly deadline?: number;
  /**
   * Do not start a file with less than this many milliseconds left before
   * `deadline`.
   * @default 10000
   */
  readonly minimumFileTimeMs?: number;
  /** Called as the run progresses (the command line prints each event). */
  readonly onProgress?: (event: MigrationProgress) => void;
}

export interface AppliedMigration {
  readonly version: string;
  readonly script: string;
  readonly executionTimeMs: number;
}

export interface MigrateResult {
  /** The database migrated (the connection's current database). */
  readonly database: string;
  /** The files this run applied, in order (empty: the database was up to date). */
  readonly applied: readonly AppliedMigration[];
  /** Messages for the reader (missing files, out-of-order runs). */
  readonly warnings: readonly string[];
}

export interface StatusResult {
  readonly database: string;
  /** False: no migration has run on this database yet. */
  readonly historyExists: boolean;
  readonly versions: readonly VersionStatus[];
}

/** Longest name GET_LOCK accepts (MySQL 5.7 and later). */
const MAX_LOCK_NAME = 64;

/** The named lock of one database's migrations: `serverless_lamp.migrate.<database>` (hashed when too long). */
export function lockNameOf(database: string): string {
  const name = `serverless_lamp.migrate.${database}`;
  if (name.length <= MAX_LOCK_NAME) return name;
  return `serverless_lamp.migrate.${createHash('sha256').update(database).digest('hex').slice(0, 40)}`;
}

async function rowsOf(conn: MigrationConnection, sql: string, values?: unknown[], timeout?: number): Promise<Array<Record<string, unknown>>> {
  const [rows] = await conn.query({ sql, ...(values ? { values } : {}), ...(timeout !== undefined ? { timeout } : {}) });
  return rows as Array<Record<string, unknown>>;
}

async function currentDatabase(conn: MigrationConnection): Promise<string> {
  const [row] = await rowsOf(conn, 'SELECT DATABASE() AS db');
  const db = row?.db;
  if (typeof db !== 'string' || db === '') {
    throw new MigrationError('setup', 'no database selected: connect with the database to migrate as the default database');
  }
  return db;
}

async function readHistory(conn: MigrationConnection, database: string): Promise<HistoryRow[] | undefined> {
  try {
    return (await rowsOf(conn, selectHistorySql(database))).map(historyRowOf);
  } catch (err) {
    if ((err as { errno?: number }).errno === 1146) return undefined; // ER_NO_SUCH_TABLE
    throw err;
  }
}

/** What the server said: `ER_BAD_FIELD_ERROR (1054): Unknown column ...`. */
export function describeServerError(err: unknown): string {
  const e = err as { code?: string; errno?: number; sqlMessage?: string; message?: string };
  const what = e.sqlMessage ?? e.message ?? String(err);
  if (e.code && e.errno) return `${e.code} (${e.errno}): ${what}`;
  return e.code ? `${e.code}: ${what}` : what;
}

/**
 * Records a failed file (success = 0, replacing an earlier failed row of its
 * version) and returns the message that names the file, the statement, the
 * server's error and what to do next. After a statement overran the deadline
 * the connection is closed instead: the statement still runs on the server
 * and its reply would hold up anything sent after it; no row is written, and
 * the version runs again from its first statement, as a failed one does.
 */
async function recordFailure(
  conn: MigrationConnection,
  database: string,
  file: MigrationFile,
  failed: { index: number; statements: readonly Statement[]; started: number; error: unknown; timedOut?: number },
): Promise<string> {
  const { index: n, statements: list } = failed;
  const statement = list[n];
  let recorded: string;
  let what: string;
  let next: string;
  if (failed.timedOut !== undefined) {
    conn.destroy?.();
    recorded = 'The connection was closed without recording the version, which counts as not applied';
    what = `did not finish within the time budget (${Math.round(failed.timedOut / 1000)} s were left when it started; ` +
      'the server may still finish it)';
    next = 'run again with more time, or split the file';
  } else {
    recorded = 'The history records the version as failed';
    what = `failed: ${describeServerError(failed.error)}`;
    next = 'fix the file and run again';
    try {
      await rowsOf(conn, deleteFailedSql(database), [file.version]);
      await rowsOf(conn, insertHistorySql(database), [file.version, file.description, file.script, file.checksum, Date.now() - failed.started, 0]);
    } catch (historyErr) {
      recorded = `Recording the failure in the history failed too (${describeServerError(historyErr)})`;
    }
  }
  return `${file.script}: statement ${n + 1} of ${list.length} (line ${statement.line}: ${statementSummary(statement)}) ${what}. ` +
    (n > 0 ? `Statements 1 to ${n} of this file ran and stay applied (MySQL commits DDL statements implicitly). ` : '') +
    `${recorded}; ${next}: version ${file.version} then runs again from its first statement` +
    (n > 0 ? ', so its statements must be safe to repeat (IF NOT EXISTS), or fix forward in a new version' : '');
}

/**
 * The versions of `sources` and the history, with their states; reads only
 * (no lock, no history table made).
 */
export async function migrationStatus(conn: MigrationConnection, sources: readonly MigrationSource[]): Promise<StatusResult> {
  const files = migrationFiles(sources);
  const database = await currentDatabase(conn);
  const history = await readHistory(conn, database);
  return { database, historyExists: history !== undefined, versions: versionStatuses(files, history ?? []) };
}

/**
 * Applies the pending migrations of `sources` to the connection's current
 * database: takes the database's named lock (waiting up to
 * `lockTimeoutSeconds`), makes the history table if missing, validates every
 * file against it (nothing runs if any check fails), then runs each pending
 * file statement by statement and records it. Throws a `MigrationError`
 * naming the file, the statement and the server's error when a statement
 * fails, after recording the version as failed.
 */
export async function migrate(conn: MigrationConnection, sources: readonly MigrationSource[], options: MigrateOptions = {}): Promise<MigrateResult> {
  const files = migrationFiles(sources);
  // Split every file before anything runs, so a file the splitter refuses stops the run up front.
  const statements = new Map<MigrationFile, Statement[]>(files.map((f) => [f, splitStatements(f.sql, f.script)]));
  const progress = options.onProgress ?? (() => undefined);
  const database = await currentDatabase(conn);
  const lock = lockNameOf(database);
  const lockTimeout = options.lockTimeoutSeconds ?? 60;
  const reserve = options.minimumFileTimeMs ?? 10_000;
  const left = () => (options.deadline === undefined ? undefined : options.deadline - Date.now());

  const before = left();
  const waitSeconds = before === undefined ? lockTimeout : Math.max(0, Math.min(lockTimeout, Math.floor((before - reserve) / 1000)));
  const [got] = await rowsOf(conn, 'SELECT GET_LOCK(?, ?) AS got', [lock, waitSeconds]);
  if (Number(got?.got) !== 1) {
    throw new MigrationError('lock', `another migration of database ${quoteIdentifier(database)} is running (it holds the lock ` +
      `'${lock}'); waited ${waitSeconds} s for it. Run again when it has finished`);
  }
  try {
    await rowsOf(conn, createHistoryTableSql(database));
    const history = (await readHistory(conn, database)) ?? [];
    const plan = planMigrations(files, history, options);
    for (const message of plan.warnings) progress({ kind: 'warning', message });
    progress({ kind: 'plan', database, pending: plan.pending, appliedCount: plan.applied.length });

    const applied: AppliedMigration[] = [];
    for (const [i, file] of plan.pending.entries()) {
      const remaining = left();
      if (remaining !== undefined && remaining < reserve) {
        const rest = plan.pending.slice(i).map((f) => f.script).join(', ');
        throw new MigrationError('deadline', `stopped before ${file.script}: ${Math.max(0, Math.round(remaining / 1000))} s of the time ` +
          `budget left, less than the ${Math.round(reserve / 1000)} s a file is given. ${applied.length} file(s) applied in this run; ` +
          `not started: ${rest}. Run again to continue (nothing is half-applied)`);
      }
      const list = statements.get(file)!;
      progress({ kind: 'start', file, index: i + 1, total: plan.pending.length, statements: list.length });
      const started = Date.now();
      for (const [n, statement] of list.entries()) {
        const timeLeft = left();
        try {
          await rowsOf(conn, statement.sql, undefined, timeLeft === undefined ? undefined : Math.max(1, timeLeft));
        } catch (err) {
          const timedOut = timeLeft !== undefined && (err as { code?: string }).code === 'PROTOCOL_SEQUENCE_TIMEOUT';
          const message = await recordFailure(conn, database, file, {
            index: n, statements: list, started, error: err, timedOut: timedOut ? timeLeft : undefined,
          });
          progress({ kind: 'failed', file, message });
          throw new MigrationError(timedOut ? 'deadline' : 'statement', message);
        }
      }
      const executionTimeMs = Date.now() - started;
      await rowsOf(conn, deleteFailedSql(database), [file.version]);
      await rowsOf(conn, insertHistorySql(database), [file.version, file.description, file.script, file.checksum, executionTimeMs, 1]);
      applied.push({ version: file.version, script: file.script, executionTimeMs });
      progress({ kind: 'applied', file, executionTimeMs });
    }
    return { database, applied, warnings: plan.warnings };
  } finally {
    try {
      await rowsOf(conn, 'DO RELEASE_LOCK(?)', [lock]);
    } catch {
      // The connection is gone (a statement timed out): the server released the lock with the session.
    }
  }
}
