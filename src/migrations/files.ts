/*
 * Migration files: their names, versions, order and checksums. Pure: no
 * file system, no connection, so that the deploy-time provider (files from
 * an S3 asset), the command line (files from a directory) and the construct
 * at synth time (the asset's fingerprint) read files the same way.
 *
 * Names follow Flyway's versioned-migration convention
 * (https://documentation.red-gate.com/fd/versioned-migrations-273973333.html):
 * `V<version>__<description>.sql`, the version made of numbers separated by
 * dots or underscores (`V1`, `V1.1`, `V2_3`), two underscores, then a
 * description whose underscores read as spaces. Repeatable (`R__`) and undo
 * (`U`) migrations are not supported.
 */
import { createHash } from 'node:crypto';
import { MigrationError } from './errors';

/** A file as read from wherever it lives. */
export interface MigrationSource {
  /** The file's name, without any directory (`V1__create_orders.sql`). */
  readonly name: string;
  /** The file's bytes (UTF-8 text). */
  readonly content: Uint8Array | string;
}

/** A migration file, parsed and checked. */
export interface MigrationFile {
  /** The file name (`V1_1__add_status.sql`): the history's `script`. */
  readonly script: string;
  /** The version with dots (`1.1`), as the history records it. */
  readonly version: string;
  /** The version's numbers, for ordering (`[1n, 1n]`). */
  readonly versionParts: readonly bigint[];
  /** The description, underscores read as spaces (`add status`). */
  readonly description: string;
  /** The SQL text as it runs: UTF-8, byte-order mark removed, line endings LF. */
  readonly sql: string;
  /** The checksum of `sql`: lowercase hex SHA-256 of its UTF-8 bytes. */
  readonly checksum: string;
}

/** Longest version string the history's `version` column holds. */
export const MAX_VERSION_LENGTH = 50;
/** Longest description the history's `description` column holds. */
export const MAX_DESCRIPTION_LENGTH = 200;

const NAME = /^V(\d+(?:[._]\d+)*)__([A-Za-z0-9_.-]+)\.sql$/;

/** What a file name means, or throws a `MigrationError` naming the file and the rule it breaks. */
export function parseMigrationName(name: string): Pick<MigrationFile, 'script' | 'version' | 'versionParts' | 'description'> {
  const m = NAME.exec(name);
  if (!m) {
    throw new MigrationError('files', `${name}: not a migration file name. Expected V<version>__<description>.sql, ` +
      'the version numbers separated by dots or underscores (V1__create_orders.sql, V1.1__add_status.sql), ' +
      'the description made of letters, digits, _ . - (underscores read as spaces); ' +
      'repeatable (R__) and undo (U) migrations are not supported');
  }
  const versionParts = m[1].split(/[._]/).map((p) => BigInt(p));
  const version = versionParts.map(String).join('.');
  const description = m[2].replace(/_/g, ' ').trim();
  if (description === '') throw new MigrationError('files', `${name}: the description is empty`);
  if (version.length > MAX_VERSION_LENGTH) {
    throw new MigrationError('files', `${name}: the version is longer than ${MAX_VERSION_LENGTH} characters`);
  }
  if (description.length > MAX_DESCRIPTION_LENGTH) {
    throw new MigrationError('files', `${name}: the description is longer than ${MAX_DESCRIPTION_LENGTH} characters`);
  }
  return { script: name, version, versionParts, description };
}

/**
 * Compares two versions part by part, numerically; missing trailing parts
 * count as 0, so `1` and `1.0` are the same version (as in Flyway).
 */
export function compareVersions(a: readonly bigint[], b: readonly bigint[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0n;
    const y = b[i] ?? 0n;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** The numbers of a version string as the history records it (`1.1`). */
export function versionPartsOf(version: string): bigint[] {
  if (!/^\d+(\.\d+)*$/.test(version)) throw new MigrationError('setup', `not a version: ${JSON.stringify(version)}`);
  return version.split('.').map((p) => BigInt(p));
}

/**
 * The text that runs and is checksummed: the bytes read as UTF-8, a leading
 * byte-order mark removed, CRLF and CR line endings made LF. A file checked
 * out with Windows line endings therefore has the same checksum as on Linux.
 */
export function normalizedSql(content: Uint8Array | string): string {
  const text = typeof content === 'string' ? content : new TextDecoder('utf-8', { fatal: true }).decode(content);
  return text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
}

/** Lowercase hex SHA-256 of the normalized text's UTF-8 bytes. */
export function checksumOf(sql: string): string {
  return createHash('sha256').update(sql, 'utf8').digest('hex');
}

/**
 * The migrations among `sources`, in version order. Files whose names do not
 * end in `.sql` are ignored (a README beside the migrations); every `.sql`
 * file must be a well-formed migration name, and no two may share a version.
 */
export function migrationFiles(sources: readonly MigrationSource[]): MigrationFile[] {
  const files: MigrationFile[] = [];
  for (const source of sources) {
    if (source.name.includes('/') || source.name.includes('\\')) {
      throw new MigrationError('files', `${source.name}: give the file name only, without a directory`);
    }
    if (!source.name.toLowerCase().endsWith('.sql')) continue;
    const parsed = parseMigrationName(source.name);
    let sql: string;
    try {
      sql = normalizedSql(source.content);
    } catch {
      throw new MigrationError('files', `${source.name}: not valid UTF-8 text`);
    }
    files.push({ ...parsed, sql, checksum: checksumOf(sql) });
  }
  files.sort((a, b) => compareVersions(a.versionParts, b.versionParts) || (a.script < b.script ? -1 : 1));
  for (let i = 1; i < files.length; i++) {
    if (compareVersions(files[i - 1].versionParts, files[i].versionParts) === 0) {
      throw new MigrationError('files', `${files[i - 1].script} and ${files[i].script} have the same version (${files[i].version}): ` +
        'each version must be in one file only');
    }
  }
  return files;
}
