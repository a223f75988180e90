/*
 * Reading a migrations directory from disk (the command line; the construct
 * at synth time). Only the directory's own files: subdirectories are not read.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MigrationError } from './errors';
import type { MigrationSource } from './files';

/** The files directly in `directory`, sorted by name. */
export function readMigrationDirectory(directory: string): MigrationSource[] {
  let entries;
  try {
    entries = readdirSync(directory, { withFileTypes: true });
  } catch (err) {
    throw new MigrationError('files', `cannot read the migrations directory ${directory}: ${(err as Error).message}`);
  }
  return entries
    .filter((e) => e.isFile())
    .map((e) => e.name)
    .sort()
    .map((name) => ({ name, content: readFileSync(join(directory, name)) }));
}
