/*
 * The history table: one row per applied (or failed) version, in the target
 * database, modelled on Flyway's schema history table
 * (https://documentation.red-gate.com/fd/flyway-schema-history-table-273973417.html).
 * Its name and checksum differ from Flyway's (SHA-256 text, not CRC32), so
 * that neither tool mistakes the other's table for its own.
 */

/** The history table's name, in the database being migrated. */
export const HISTORY_TABLE = 'serverless_lamp_schema_history';

/** One row of the history table. */
export interface HistoryRow {
  /** The order in which rows were written (auto-increment). */
  readonly installedRank: number;
  /** The version with dots (`1.1`). */
  readonly version: string;
  readonly description: string;
  /** The file name. */
  readonly script: string;
  /** The file's checksum when it ran (see `checksumOf`). */
  readonly checksum: string;
  /** The account that ran it (`CURRENT_USER()`: `user@host`). */
  readonly installedBy: string;
  readonly installedOn: Date;
  readonly executionTimeMs: number;
  /** False: the version failed part way; it runs again from its first statement on the next run. */
  readonly success: boolean;
}

/** `name` as a quoted identifier. */
export function quoteIdentifier(name: string): string {
  if (name.length === 0 || name.includes('\u0000')) throw new Error(`not a valid identifier: ${JSON.stringify(name)}`);
  return `\`${name.replace(/`/g, '``')}\``;
}

/** The history table, qualified with its database. */
export function historyTable(database: string): string {
  return `${quoteIdentifier(database)}.${quoteIdentifier(HISTORY_TABLE)}`;
}

/** Makes the history table when it is missing (never alters or drops one). */
export function createHistoryTableSql(database: string): string {
  return `CREATE TABLE IF NOT EXISTS ${historyTable(database)} (` +
    'installed_rank INT NOT NULL AUTO_INCREMENT PRIMARY KEY, ' +
    'version VARCHAR(50) NOT NULL, ' +
    'description VARCHAR(200) NOT NULL, ' +
    'script VARCHAR(1000) NOT NULL, ' +
    'checksum CHAR(64) NOT NULL, ' +
    'installed_by VARCHAR(400) NOT NULL, ' +
    'installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, ' +
    'execution_time_ms INT NOT NULL, ' +
    'success TINYINT(1) NOT NULL, ' +
    'KEY serverless_lamp_schema_history_version (version)' +
    ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4';
}

export function selectHistorySql(database: string): string {
  return 'SELECT installed_rank, version, description, script, checksum, installed_by, installed_on, execution_time_ms, success ' +
    `FROM ${historyTable(database)} ORDER BY installed_rank`;
}

/** Inserts one row; placeholders: version, description, script, checksum, execution_time_ms, success. */
export function insertHistorySql(database: string): string {
  return `INSERT INTO ${historyTable(database)} ` +
    '(version, description, script, checksum, installed_by, execution_time_ms, success) ' +
    'VALUES (?, ?, ?, ?, CURRENT_USER(), ?, ?)';
}

/** Removes the failed rows of one version (placeholder: version) before it is recorded again. */
export function deleteFailedSql(database: string): string {
  return `DELETE FROM ${historyTable(database)} WHERE version = ? AND success = 0`;
}

export function historyRowOf(row: Record<string, unknown>): HistoryRow {
  return {
    installedRank: Number(row.installed_rank),
    version: String(row.version),
    description: String(row.description),
    script: String(row.script),
    checksum: String(row.checksum),
    installedBy: String(row.installed_by),
    installedOn: row.installed_on instanceof Date ? row.installed_on : new Date(String(row.installed_on)),
    executionTimeMs: Number(row.execution_time_ms),
    success: Number(row.success) === 1,
  };
}
