/*
 * Validation and planning: what the files and the history say must run, or
 * why nothing may run. Pure, so every rule is tested without a server.
 *
 * The rules (Flyway's, except where said):
 * - a version applied successfully whose file's checksum changed fails
 *   validation, naming the file and both checksums; nothing runs;
 * - a pending version lower than the newest applied one is refused unless
 *   out-of-order is allowed (Flyway's `outOfOrder`);
 * - a version applied but missing from the files is reported as a warning,
 *   not an error (Flyway fails by default): old files may be squashed or
 *   removed, and nothing is dropped either way;
 * - a version whose last row is a failure (success = 0) is pending again: it
 *   runs from its first statement, whatever its checksum now, and its failed
 *   row is replaced. MySQL commits each DDL statement on its own, so the
 *   statements before the failing one stayed applied: write migrations that
 *   can run again (`IF NOT EXISTS`), or fix forward.
 */
import { MigrationError } from './errors';
import { compareVersions, versionPartsOf, type MigrationFile } from './files';
import type { HistoryRow } from './history';

export interface PlanOptions {
  /**
   * Allow a pending version lower than the newest applied one to run (it
   * runs in version order among the pending ones).
   * @default false
   */
  readonly outOfOrder?: boolean;
}

/** What a run will do. */
export interface MigrationPlan {
  /** The files to run, in version order. */
  readonly pending: readonly MigrationFile[];
  /** Files applied successfully before, in version order. */
  readonly applied: readonly MigrationFile[];
  /** Pending versions that failed on an earlier run (their failed row is replaced when they run). */
  readonly retried: readonly string[];
  /** Versions applied in the database whose files are missing. */
  readonly missing: readonly HistoryRow[];
  /** Messages for the reader: missing files, out-of-order runs. */
  readonly warnings: readonly string[];
}

/** The version's row that counts: its latest successful one, else its latest row. */
function latestRows(history: readonly HistoryRow[]): Map<string, HistoryRow> {
  const byVersion = new Map<string, HistoryRow>();
  for (const row of [...history].sort((a, b) => a.installedRank - b.installedRank)) {
    const key = versionPartsOf(row.version).join('.').replace(/(\.0)+$/, '');
    const current = byVersion.get(key);
    if (!current || row.success || !current.success) byVersion.set(key, row);
  }
  return byVersion;
}

function keyOf(file: MigrationFile): string {
  return file.versionParts.join('.').replace(/(\.0)+$/, '');
}

/**
 * Validates `files` (in version order, from `migrationFiles`) against the
 * history rows and returns what to run, or throws a `MigrationError`
 * ('validation') listing every problem found.
 */
export function planMigrations(files: readonly MigrationFile[], history: readonly HistoryRow[], options: PlanOptions = {}): MigrationPlan {
  const rows = latestRows(history);
  const problems: string[] = [];
  const warnings: string[] = [];
  const pending: MigrationFile[] = [];
  const applied: MigrationFile[] = [];
  const retried: string[] = [];

  for (const file of files) {
    const row = rows.get(keyOf(file));
    if (row?.success) {
      applied.push(file);
      if (row.checksum !== file.checksum) {
        problems.push(`${file.script}: version ${row.version} was applied (as ${row.script}) with checksum ${row.checksum}, ` +
          `but the file's checksum is now ${file.checksum}. An applied migration must not change: ` +
          'restore the file, and put the change in a new version');
      }
    } else {
      pending.push(file);
      if (row) retried.push(file.version);
    }
  }

  const fileKeys = new Set(files.map(keyOf));
  const missing = [...rows.entries()].filter(([key, row]) => row.success && !fileKeys.has(key)).map(([, row]) => row);
  for (const row of missing) {
    warnings.push(`version ${row.version} (${row.script}) is applied in the database but its file is missing; it is left as it is`);
  }

  const newest = [...rows.values()].filter((r) => r.success)
    .map((r) => versionPartsOf(r.version))
    .sort(compareVersions)
    .pop();
  if (newest) {
    const late = pending.filter((f) => compareVersions(f.versionParts, newest) < 0);
    if (late.length > 0) {
      const names = late.map((f) => f.script).join(', ');
      if (options.outOfOrder) {
        warnings.push(`${names}: lower than the newest applied version ${newest.join('.')}, run out of order as allowed`);
      } else {
        problems.push(`${names}: version lower than the newest applied version (${newest.join('.')}). ` +
          'Give it a higher version, or allow out-of-order migrations');
      }
    }
  }

  if (problems.length > 0) {
    throw new MigrationError('validation', `validation failed, nothing was applied:\n- ${problems.join('\n- ')}`);
  }
  return { pending, applied, retried, missing, warnings };
}

/** The state of one version, as `status` lists it. */
export type VersionState =
  /** Applied, and its file unchanged. */
  | 'applied'
  /** Applied, but its file's checksum changed (a run would fail validation). */
  | 'changed'
  /** Its last run failed; it runs again from its first statement. */
  | 'failed'
  /** Not applied yet. */
  | 'pending'
  /** Not applied yet and lower than the newest applied version (refused unless out-of-order is allowed). */
  | 'out-of-order'
  /** Applied in the database, its file missing. */
  | 'missing';

export interface VersionStatus {
  readonly version: string;
  readonly description: string;
  readonly script: string;
  readonly state: VersionState;
  /** The history row that decides the state, if any. */
  readonly row?: HistoryRow;
  /** The file's checksum, if the file is there. */
  readonly checksum?: string;
}

/** Every version of the files and the history, in version order, with its state. Never throws on a problem: it lists it. */
export function versionStatuses(files: readonly MigrationFile[], history: readonly HistoryRow[]): VersionStatus[] {
  const rows = latestRows(history);
  const newest = [...rows.values()].filter((r) => r.success).map((r) => versionPartsOf(r.version)).sort(compareVersions).pop();
  const out: Array<VersionStatus & { parts: readonly bigint[] }> = [];
  for (const file of files) {
    const row = rows.get(keyOf(file));
    let state: VersionState;
    if (row?.success) state = row.checksum === file.checksum ? 'applied' : 'changed';
    else if (row) state = 'failed';
    else state = newest && compareVersions(file.versionParts, newest) < 0 ? 'out-of-order' : 'pending';
    out.push({
      version: file.version, description: file.description, script: file.script, state, row, checksum: file.checksum, parts: file.versionParts,
    });
  }
  const fileKeys = new Set(files.map(keyOf));
  for (const [key, row] of rows) {
    if (row.success && !fileKeys.has(key)) {
      out.push({ version: row.version, description: row.description, script: row.script, state: 'missing', row, parts: versionPartsOf(row.version) });
    }
  }
  return out.sort((a, b) => compareVersions(a.parts, b.parts)).map(({ parts: _parts, ...s }) => s);
}
