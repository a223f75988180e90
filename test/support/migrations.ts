/*
 * Shared helpers of the migration tests: a least-privilege migration user on
 * the MariaDB stand-in, connections as that user over verified TLS, and the
 * history rows as plain values to compare.
 */
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import type { MariaDbServer } from './mariadb';
import type { MigrationSource } from '../../src/migrations';

export const MIGRATION_USER = 'migrator';
export const MIGRATION_PASSWORD = `mig'pw\\${process.pid}`;

/** The fixture directory of the shop migrations (V1..V3). */
export const SHOP_MIGRATIONS = join(__dirname, '..', 'fixtures', 'migrations', 'shop');

function literal(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** Creates the migration user (TLS required), with every privilege on each of `databases` only, which are created. */
export async function createMigrationUser(server: MariaDbServer, databases: readonly string[]): Promise<void> {
  await server.adminQuery(`CREATE USER '${MIGRATION_USER}'@'%' IDENTIFIED BY ${literal(MIGRATION_PASSWORD)} REQUIRE SSL`);
  for (const db of databases) {
    await server.adminQuery(`CREATE DATABASE \`${db}\``);
    await server.adminQuery(`GRANT ALL PRIVILEGES ON \`${db}\`.* TO '${MIGRATION_USER}'@'%'`);
  }
}

/** A connection as the migration user, TLS verified against the test CA, `database` as its default. */
export async function connectAsMigrator(server: MariaDbServer, database: string): Promise<Connection> {
  return createConnection({
    host: server.host,
    port: server.port,
    user: MIGRATION_USER,
    password: MIGRATION_PASSWORD,
    database,
    ssl: { ca: server.caPem, rejectUnauthorized: true, verifyIdentity: true },
  });
}

/** The history rows, without the columns that differ from run to run (time of day, duration). */
export async function historyOf(server: MariaDbServer, database: string): Promise<Array<Record<string, unknown>>> {
  const rows = await server.adminQuery<RowDataPacket[]>(
    'SELECT installed_rank, version, description, script, checksum, installed_by, success ' +
    `FROM \`${database}\`.serverless_lamp_schema_history ORDER BY installed_rank`);
  return rows.map((r) => ({ ...r }));
}

/** A temporary directory holding copies of `from`'s files, plus `extra` files (name → text). */
export function migrationDirectory(from: string, extra: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'lamp-migrations-'));
  cpSync(from, dir, { recursive: true });
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text);
  return dir;
}

/** Sources with `extra` files added, or replacing those of the same name. */
export function withFiles(sources: readonly MigrationSource[], extra: Record<string, string>): MigrationSource[] {
  const kept = sources.filter((s) => !(s.name in extra));
  return [...kept, ...Object.entries(extra).map(([name, content]) => ({ name, content }))];
}
