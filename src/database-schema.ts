import * as path from 'node:path';
import { Token } from 'aws-cdk-lib';
import { readMigrationDirectory } from './migrations/directory';
import { migrationFiles } from './migrations/files';
import { ServerlessLampValidationError } from './private/errors';
import { userNameProblem } from './provider/properties';

/** Options of `DatabaseSchema.fromDirectory()`. */
export interface DatabaseSchemaOptions {
  /**
   * Whether a new version lower than the newest one applied may still run
   * (Flyway's `outOfOrder`). Off, such a file fails the deploy and nothing runs.
   *
   * @default false
   */
  readonly outOfOrder?: boolean;

  /**
   * The database user the migrations run as, declared like an application
   * user (see `DatabasePrivilege.schemaChanges()` for its privileges, on the
   * construct's database only). Never the master user.
   *
   * @default 'lamp_migrator'
   */
  readonly migrationUser?: string;
}

/**
 * The database's schema as code: a directory of versioned plain-SQL
 * migration files (`V1__create_orders.sql`, `V2__add_status.sql`, ...,
 * Flyway's naming), applied in version order at deploy time, each exactly
 * once, recorded in the history table `serverless_lamp_schema_history`.
 *
 * The `serverless-lamp-database migrate` command applies the same directory
 * to a local MySQL or MariaDB with the same engine and history.
 *
 * @example
 * new ServerlessLampDatabase(this, 'Db', {
 *   schema: DatabaseSchema.fromDirectory(path.join(__dirname, 'db', 'migrations')),
 * });
 */
export class DatabaseSchema {
  /**
   * The migration files directly in `directory` (subdirectories are not
   * read; files not ending in `.sql` are ignored). Checked now: the directory
   * must exist and hold at least one migration, every `.sql` file must be
   * named `V<version>__<description>.sql`, and no two may share a version.
   *
   * @param directory the migrations directory
   * @param options out-of-order runs, the migration user
   */
  public static fromDirectory(directory: string, options: DatabaseSchemaOptions = {}): DatabaseSchema {
    if (Token.isUnresolved(directory)) {
      throw new ServerlessLampValidationError('DatabaseSchema.fromDirectory: directory must be a path on this machine, not a token');
    }
    const resolved = path.resolve(directory);
    let count: number;
    try {
      count = migrationFiles(readMigrationDirectory(resolved)).length;
    } catch (err) {
      throw new ServerlessLampValidationError(`DatabaseSchema.fromDirectory('${directory}'): ${(err as Error).message}`);
    }
    if (count === 0) {
      throw new ServerlessLampValidationError(
        `DatabaseSchema.fromDirectory('${directory}'): the directory holds no migration file (V<version>__<description>.sql)`);
    }
    const migrationUser = options.migrationUser ?? 'lamp_migrator';
    const problem = userNameProblem(migrationUser);
    if (problem) throw new ServerlessLampValidationError(`DatabaseSchema.fromDirectory: migrationUser ('${migrationUser}') ${problem}`);
    return new DatabaseSchema(resolved, options.outOfOrder ?? false, migrationUser, count);
  }

  private constructor(
    /** The migrations directory, as an absolute path. */
    public readonly directory: string,
    /** Whether versions lower than the newest applied may still run. */
    public readonly outOfOrder: boolean,
    /** The database user the migrations run as. */
    public readonly migrationUser: string,
    /** How many migration files the directory held at synth time. */
    public readonly migrationCount: number,
  ) {}
}
