/*
 * The one error type of the migration engine. Its message is written for the
 * person who reads a failed deploy or a failed command: it names the file,
 * the statement and what to do next.
 */

/** Why a run stopped. */
export type MigrationFailure =
  /** A file name or the set of files is not acceptable (malformed name, duplicate version). */
  | 'files'
  /** The files disagree with the history table (a changed checksum, an out-of-order version); nothing ran. */
  | 'validation'
  /** Another run held the database's migration lock past the wait bound. */
  | 'lock'
  /** A statement of a migration failed; the history records the version as failed. */
  | 'statement'
  /** Too little of the time budget was left to start the next file. */
  | 'deadline'
  /** The connection or the history table is not usable (no database selected, say). */
  | 'setup';

export class MigrationError extends Error {
  constructor(readonly failure: MigrationFailure, message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}
