/*
 * The schema resource (`Custom::ServerlessLampDatabaseSchema`): the
 * database's migrations, applied at deploy time by the users provider, as the
 * migration user, with the engine the `serverless-lamp-database migrate`
 * command uses (src/migrations), so the same files give the same history.
 *
 * - Create / Update: fetch the migration files (the directory asset, through
 *   the S3 gateway endpoint), log in as the migration user (an IAM
 *   authentication token it signs, or the password in the user's secret),
 *   over TLS verified against the Amazon RDS certificate authorities, with
 *   the application database as the default database, and run `migrate()`
 *   with the invocation's remaining time, less what answering CloudFormation
 *   needs, as its deadline. SUCCESS carries a summary; a failure is answered
 *   FAILED with the engine's message (the file, the statement, the server's
 *   error), and the history records the version as failed.
 * - Delete: nothing. Removing the schema from the code, or deleting the
 *   stack, drops no table and no history row.
 *
 * The physical id is `schema:<database>`, the same for every request, so an
 * Update never makes CloudFormation send a Delete for an older id.
 */
import { Signer } from '@aws-sdk/rds-signer';
import { fetchMigrationSources } from './asset';
import { withMasterConnection, type Budget } from './connection';
import { ProviderError, log, maskLater } from './log';
import { parseSchemaSpec, type SchemaSpec } from './properties';
import type { MasterCredentials } from './secrets';
import { migrate } from '../migrations/engine';
import { MigrationError } from '../migrations/errors';

/**
 * The request fields the schema resource reads: `RequestType`,
 * `PhysicalResourceId` (Update, Delete) and `ResourceProperties` (every
 * property of the template resource, `ServiceToken` and `ServiceTimeout`
 * included, every scalar a string).
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requests.html
 */
export interface SchemaEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties: Record<string, unknown>;
}

/** Its answer's physical id and data (every value a string, as CloudFormation wants). */
export interface SchemaResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: Record<string, string>;
}

/** A file is not started with less than this much time left (the engine then stops cleanly, naming what is left). */
const MINIMUM_FILE_TIME_MS = 5_000;
/** How long a second deploy waits for the migration lock of the first, at most. */
const LOCK_TIMEOUT_SECONDS = 60;
/**
 * Data values stay short: the whole answer must stay under 4,096 bytes.
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-responses.html
 */
const MAX_LIST = 500;

/** The physical id of a database's schema resource. */
export function schemaIdOf(database: string): string {
  return `schema:${database}`;
}

/** Handles one request of the schema resource. */
export async function onSchemaEvent(event: SchemaEvent, budget: Budget): Promise<SchemaResponse> {
  if (event.RequestType === 'Delete') {
    log('info', 'schema resource deleted: nothing in the database is dropped', { physicalResourceId: event.PhysicalResourceId });
    return { PhysicalResourceId: event.PhysicalResourceId ?? '' };
  }
  const spec = parseSchemaSpec(event.ResourceProperties);
  const sources = await fetchMigrationSources(spec.bucket, spec.key, budget.deadline);
  log('info', 'migration files fetched', { files: sources.length, key: spec.key });
  const outcome = await withMasterConnection({ host: spec.host, port: spec.port, secretArn: spec.passwordSecretArn ?? '' }, budget, async (conn) => {
    try {
      return {
        result: await migrate(conn, sources, {
          deadline: budget.deadline,
          minimumFileTimeMs: MINIMUM_FILE_TIME_MS,
          lockTimeoutSeconds: Math.max(0, Math.min(LOCK_TIMEOUT_SECONDS, Math.floor((budget.left() - MINIMUM_FILE_TIME_MS) / 1000))),
          outOfOrder: spec.outOfOrder,
          onProgress: (p) => {
            switch (p.kind) {
              case 'plan': log('info', 'migration plan', { database: p.database, applied: p.appliedCount, pending: p.pending.map((f) => f.script) }); break;
              case 'warning': log('warn', p.message); break;
              case 'start': log('info', 'migration started', { script: p.file.script, statements: p.statements, index: p.index, total: p.total }); break;
              case 'applied': log('info', 'migration applied', { script: p.file.script, executionTimeMs: p.executionTimeMs }); break;
              case 'failed': log('error', 'migration failed', { script: p.file.script, message: p.message }); break;
            }
          },
        }),
      };
    } catch (err) {
      // Returned, not thrown: a migration is never retried, and its message
      // (the file, the statement, the server's error, what to do) is the answer's reason as it is.
      if (err instanceof MigrationError) return { failure: err };
      throw err;
    }
  }, { database: spec.database, ...(spec.authentication === 'IAM' ? { login: () => iamLogin(spec) } : {}) });
  if (outcome.failure) throw new ProviderError(outcome.failure.message);
  const result = outcome.result!;
  const applied = result.applied.map((a) => a.script).join(', ');
  log('info', 'schema up to date', { database: result.database, applied: result.applied.length, warnings: result.warnings.length });
  return {
    PhysicalResourceId: schemaIdOf(spec.database),
    Data: {
      Database: result.database,
      AppliedCount: String(result.applied.length),
      Applied: applied.length > MAX_LIST ? `${applied.slice(0, MAX_LIST - 3)}...` : applied,
      Warnings: result.warnings.join(' | ').slice(0, MAX_LIST),
    },
  };
}

/**
 * The migration user's credentials with end-to-end IAM: an authentication
 * token the function signs for the cluster writer (local SigV4 presigning,
 * valid 15 minutes), which needs `rds-db:connect` on
 * `dbuser:<cluster resource id>/<user>`.
 */
async function iamLogin(spec: SchemaSpec): Promise<MasterCredentials> {
  const region = process.env.AWS_REGION;
  if (!region) throw new ProviderError('AWS_REGION is not set: the IAM authentication token is signed for the function\'s Region');
  const token = await new Signer({ hostname: spec.host, port: spec.port, username: spec.userName, region }).getAuthToken();
  maskLater(token);
  return { username: spec.userName, password: token };
}
