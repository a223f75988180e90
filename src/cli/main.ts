/*
 * The `serverless-lamp-database` command: applies a migrations directory to a
 * MySQL or MariaDB database with the same engine, history table and
 * validation as the deploy-time provider, and prints progress per file.
 * Bundled by esbuild (with mysql2 and the statement splitter) into
 * assets/cli/main/serverless-lamp-database.js, the package's `bin`.
 */
import { readFileSync } from 'node:fs';
import { createConnection } from 'mysql2/promise';
import type { Connection, ConnectionOptions } from 'mysql2/promise';
import {
  migrate, migrationStatus, MigrationError, readMigrationDirectory, type MigrationProgress, type VersionStatus,
} from '../migrations';
import { parseCli, USAGE, UsageError, type CliOptions } from './args';

/** Where the command writes (the process's streams, or a test's). */
export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
}

const PROCESS_IO: CliIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
};

async function connect(options: CliOptions, env: CliIo['env']): Promise<Connection> {
  const connection: ConnectionOptions = {
    host: options.host,
    port: options.port,
    user: options.user,
    database: options.database,
    ...(options.passwordEnv !== undefined ? { password: env[options.passwordEnv] } : {}),
    connectTimeout: 10_000,
    multipleStatements: false,
    ...(options.ssl
      ? {
        ssl: {
          ...(options.sslCa !== undefined ? { ca: readFileSync(options.sslCa, 'utf8') } : {}),
          rejectUnauthorized: true,
          verifyIdentity: true,
          minVersion: 'TLSv1.2',
        },
      }
      : {}),
  };
  return createConnection(connection);
}

function printProgress(io: CliIo, event: MigrationProgress): void {
  switch (event.kind) {
    case 'plan':
      io.out(`Database ${event.database}: ${event.appliedCount} version(s) applied, ${event.pending.length} pending`);
      break;
    case 'warning':
      io.err(`warning: ${event.message}`);
      break;
    case 'start':
      io.out(`[${event.index}/${event.total}] ${event.file.script}: ${event.statements} statement(s)`);
      break;
    case 'applied':
      io.out(`[done] ${event.file.script} (version ${event.file.version}) in ${event.executionTimeMs} ms`);
      break;
    case 'failed':
      io.out(`[failed] ${event.file.script}`);
      break;
  }
}

function printStatus(io: CliIo, database: string, historyExists: boolean, versions: readonly VersionStatus[]): void {
  io.out(`Database ${database}${historyExists ? '' : ' (no migration has run yet)'}`);
  const rows = versions.map((v) => [
    v.version,
    v.state,
    v.row ? v.row.installedOn.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '',
    v.script,
  ]);
  const header = ['Version', 'State', 'Installed on', 'Script'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('  ');
  io.out(line(header));
  for (const r of rows) io.out(line(r));
  const count = (state: string) => versions.filter((v) => v.state === state).length;
  io.out(`${count('applied')} applied, ${count('pending') + count('out-of-order')} pending, ${count('failed')} failed, ` +
    `${count('changed')} changed, ${count('missing')} missing`);
}

/** Runs the command; resolves to the exit code (0 done, 1 failed, 2 usage). */
export async function main(argv: readonly string[], io: CliIo = PROCESS_IO): Promise<number> {
  let options: CliOptions | 'help';
  try {
    options = parseCli(argv, io.env);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.err(`error: ${err.message}\n`);
    io.err(USAGE);
    return 2;
  }
  if (options === 'help') {
    io.out(USAGE);
    return 0;
  }
  let conn: Connection | undefined;
  try {
    const sources = readMigrationDirectory(options.directory);
    conn = await connect(options, io.env);
    if (options.command === 'status') {
      const status = await migrationStatus(conn, sources);
      printStatus(io, status.database, status.historyExists, status.versions);
      return 0;
    }
    const result = await migrate(conn, sources, {
      outOfOrder: options.outOfOrder,
      lockTimeoutSeconds: options.lockTimeoutSeconds,
      onProgress: (event) => printProgress(io, event),
    });
    io.out(result.applied.length === 0
      ? `Database ${result.database} is up to date`
      : `Applied ${result.applied.length} migration(s) to ${result.database}`);
    return 0;
  } catch (err) {
    io.err(`error: ${err instanceof MigrationError ? err.message : (err as Error).message ?? String(err)}`);
    return 1;
  } finally {
    await conn?.end().catch(() => undefined);
  }
}

if (require.main === module) {
  void main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
