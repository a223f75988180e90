/*
 * The users provider's logic: one custom resource per application database
 * user, plus one retention resource per database that outlives its stack;
 * the schema resource's requests are handed to schema.ts.
 * The bundle's entry point (users.lambda.ts) loads this module when a
 * request arrives, so that a failure while it loads is answered too.
 *
 * It runs in the VPC, possibly in isolated subnets without NAT, and talks to
 * two things only: Secrets Manager (through the interface endpoint named by
 * SECRETS_MANAGER_ENDPOINT when set) for the master secret and a user's
 * password secret, and the cluster writer over TLS verified against the
 * Amazon RDS certificate authorities, as the master user.
 *
 * - Create / Update: make the user exactly as declared (authentication,
 *   REQUIRE SSL, and exactly the declared grants). Idempotent: a retried
 *   Create ends in the declared state. The physical id is unique per
 *   resource (`<user>@<hash of stack id and logical id>`), and the provider
 *   records in the cluster which resource manages which account
 *   (ownership.ts): an account it did not create is never taken over.
 *   A new user name gives a new physical id; CloudFormation then deletes the
 *   old one.
 * - Delete: drops the account, unless another resource manages it now, the
 *   stack leaves a database that outlives it (the retention resource said
 *   so), or stored objects name it as their definer (then every privilege is
 *   revoked and the account locked). A cluster whose endpoint no longer
 *   resolves is gone, and so is the account: success, at once.
 *
 * Environment:
 * - SECRETS_MANAGER_ENDPOINT (optional): the Secrets Manager endpoint URL
 *   (`https://vpce-....secretsmanager.<region>.vpce.amazonaws.com`) or host
 *   name; without it the SDK's regional endpoint. Checked when this module loads.
 * - DB_CA_BUNDLE_FILE (optional, tests and private CAs only): a PEM file to
 *   trust instead of the Amazon RDS certificate authorities.
 * - AWS_REGION and the role's credentials, which Lambda sets.
 *
 * Logs are JSON lines; no log line and no error message contains a password
 * or a secret's content (every text passes through `redact`).
 */
import type { Connection, RowDataPacket } from 'mysql2/promise';
import { ClusterGoneError, currentState, MIN_ATTEMPT_MS, run, settingsOf, withMasterConnection } from './connection';
import type { Budget } from './connection';
import { ProviderError, describeError, log } from './log';
import {
  claim, departedQuery, forgetOwnerStatement, lockName, ownerQuery, ownerRowOf, physicalIdOf, recordDepartureStatement,
  recordOwnerStatement, release, retentionIdOf, schemaStatements, userOfPhysicalId,
  type OwnerRow, type Requester,
} from './ownership';
import {
  InvalidRequestError, parseConnection, parseRetention, parseUserSpec, passwordProblem, RETENTION_RESOURCE_TYPE, SCHEMA_RESOURCE_TYPE, show,
} from './properties';
import type { ConnectionSpec, UserSpec } from './properties';
import { reserveMs } from './retry';
import { onSchemaEvent } from './schema';
import { checkEnvironment, readSecret } from './secrets';
import { definedObjectsQuery, dropUserStatement, retireUserStatements, userStatements } from './sql';
import type { ServerSettings } from './sql';

// A misconfigured environment fails here, while the module loads; the entry
// point answers CloudFormation with the reason.
checkEnvironment();

/**
 * The custom resource request, as CloudFormation sends it (the fields the
 * logic reads; `ResponseURL` is the entry point's).
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requests.html
 */
export interface UsersEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly StackId: string;
  readonly LogicalResourceId: string;
  readonly RequestId?: string;
  readonly ResourceType?: string;
  readonly PhysicalResourceId?: string;
  readonly ResourceProperties: Record<string, unknown>;
  readonly OldResourceProperties?: Record<string, unknown>;
}

/** What is reported to CloudFormation. */
export interface UsersResponse {
  readonly PhysicalResourceId: string;
  /** A user's name; the schema's summary (`Database`, `AppliedCount`, `Applied`, `Warnings`). */
  readonly Data?: Readonly<Record<string, string>>;
}

/** The subset of the Lambda context the provider reads. */
export interface InvocationContext {
  getRemainingTimeInMillis?: () => number;
  awsRequestId?: string;
}

/* ------------------------------------------------------------------------ */
/* Create, Update, Delete                                                     */
/* ------------------------------------------------------------------------ */

/** The provider's schema and tables, made when missing. */
async function ensureSchema(conn: Connection, budget: Budget): Promise<void> {
  for (const statement of schemaStatements()) await run(conn, statement, budget.left(), false);
}

/** The provider's schema, the named lock on one account (held until the connection closes). */
async function prepare(conn: Connection, userName: string, budget: Budget): Promise<void> {
  await ensureSchema(conn, budget);
  const seconds = Math.max(1, Math.min(60, Math.floor((budget.left() - MIN_ATTEMPT_MS) / 1000)));
  const [rows] = await conn.query<RowDataPacket[]>({ sql: 'SELECT GET_LOCK(?, ?) AS got', values: [lockName(userName), seconds], timeout: budget.left() });
  if (Number(rows[0]?.got) !== 1) {
    throw new ProviderError(`another request has held the lock on user ${show(userName)} for ${seconds} s; try again`);
  }
}

async function ownerOf(conn: Connection, userName: string, settings: ServerSettings, budget: Budget): Promise<OwnerRow | undefined> {
  const [rows] = await conn.query<RowDataPacket[]>({ sql: ownerQuery(userName, settings), timeout: budget.left() });
  return ownerRowOf(rows[0]);
}

async function departed(conn: Connection, stackId: string, settings: ServerSettings, budget: Budget): Promise<boolean> {
  const [rows] = await conn.query<RowDataPacket[]>({ sql: departedQuery(stackId, settings), timeout: budget.left() });
  return rows.length > 0;
}

/**
 * Make the user match `spec`, as the resource `requester`; returns its
 * physical id.
 *
 * If this request created the account and then failed, the account is
 * dropped again: the failed request's answer names no account, so nothing
 * else would.
 */
async function applyUser(spec: UserSpec, requester: Requester, keepPassword: boolean, budget: Budget): Promise<string> {
  const me = physicalIdOf(spec.userName, requester);
  let created = false;
  try {
    await withMasterConnection(spec, budget, async (conn, master) => {
      created = false;
      if (master.username === spec.userName) {
        throw new ProviderError(`UserName (${show(spec.userName)}) is the master user; the provider never changes it`);
      }
      const settings = await settingsOf(conn, budget.left());
      await prepare(conn, spec.userName, budget);
      const current = await currentState(conn, spec.userName, settings, budget.left());
      const row = await ownerOf(conn, spec.userName, settings, budget);
      const ownerStackDeparted = row ? await departed(conn, row.stackId, settings, budget) : false;
      const decision = claim(spec.userName, me, requester, { exists: current.exists, row, ownerStackDeparted }, settings);
      if (decision.kind === 'refuse') throw new ProviderError(decision.reason);
      // Only the resource that set the password keeps it (its secret did not change).
      const keep = keepPassword && decision.kind === 'own' && current.exists;
      const password = keep ? undefined : await userPassword(spec, budget);
      const statements = userStatements(spec, current, { ...settings, password, keepPassword: keep, unlock: row?.state === 'locked' });
      for (const statement of statements) {
        await run(conn, statement, budget.left());
        if (!current.exists && statement === statements[0]) created = true;
      }
      const previousOwner = decision.kind === 'take-over' || decision.kind === 'own' ? decision.previousOwner : undefined;
      await run(conn, recordOwnerStatement(spec.userName, { owner: me, stackId: requester.stackId, previousOwner, state: 'active' }, settings), budget.left(), false);
      if (decision.kind !== 'own') {
        log('warn', decision.kind === 'take-over' ? 'took the account over from another resource of this stack' : 'adopted an account its departed stack kept', {
          userName: spec.userName, from: row?.owner,
        });
      }
      log('info', 'user in declared state', { userName: spec.userName, physicalResourceId: me, changes: statements.length - 1 });
    });
  } catch (err) {
    if (created) await dropCreatedUser(spec, budget);
    throw err;
  }
  return me;
}

async function userPassword(spec: UserSpec, budget: Budget): Promise<string | undefined> {
  if (spec.authentication !== 'PASSWORD') return undefined;
  const json = await readSecret(spec.passwordSecretArn!, budget.deadline);
  const problem = passwordProblem(json?.password);
  if (problem) throw new ProviderError(`the "password" of secret ${spec.passwordSecretArn} ${problem}`);
  return json!.password as string;
}

async function dropCreatedUser(spec: UserSpec, budget: Budget): Promise<void> {
  try {
    if (budget.left() < MIN_ATTEMPT_MS) throw new Error('no time left in this invocation');
    await withMasterConnection(spec, budget, async (conn) => {
      const settings = await settingsOf(conn, budget.left());
      await run(conn, dropUserStatement(spec.userName, settings), budget.left());
    });
    log('warn', 'dropped the user this failed request had created, so that nothing is left behind', { userName: spec.userName });
  } catch (cleanupError) {
    log('error', 'could not drop the user this failed request had created; drop it by hand', {
      userName: spec.userName,
      error: describeError(cleanupError),
    });
  }
}

/** What a Delete did. */
type Outcome = 'dropped' | 'retired' | 'retained' | 'handed back' | 'left in place' | 'cluster gone';

/** Release the account of the resource `physicalId`: drop it, or leave, hand back, keep or retire it (ownership.ts). */
async function deleteUser(physicalId: string, userName: string, target: ConnectionSpec, requester: Requester, budget: Budget): Promise<Outcome> {
  try {
    return await withMasterConnection(target, budget, async (conn, master): Promise<Outcome> => {
      if (master.username === userName) return 'left in place';
      const settings = await settingsOf(conn, budget.left());
      await prepare(conn, userName, budget);
      const row = await ownerOf(conn, userName, settings, budget);
      const decision = release(physicalId, { row, stackDeparted: await departed(conn, requester.stackId, settings, budget) });
      switch (decision.kind) {
        case 'leave':
          if (decision.clearPrevious) {
            await run(conn, recordOwnerStatement(userName, { ...row!, previousOwner: undefined }, settings), budget.left(), false);
          }
          log('info', `not dropping the account: ${decision.reason}`, { userName });
          return 'left in place';
        case 'hand-back':
          await run(conn, recordOwnerStatement(userName, { ...row!, owner: decision.to, previousOwner: undefined }, settings), budget.left(), false);
          return 'handed back';
        case 'retain':
          await run(conn, recordOwnerStatement(userName, { ...row!, state: 'retained' }, settings), budget.left(), false);
          return 'retained';
        case 'drop': {
          const [objects] = await conn.query<RowDataPacket[]>({ sql: definedObjectsQuery(userName, settings), timeout: budget.left() });
          if (objects.length > 0) {
            for (const statement of retireUserStatements(userName, settings)) await run(conn, statement, budget.left());
            await run(conn, recordOwnerStatement(userName, { ...row!, state: 'locked' }, settings), budget.left(), false);
            log('warn', 'stored objects name the account as their definer: every privilege revoked and the account locked, not dropped', {
              userName, objects: objects.map((o) => String(o.object)).slice(0, 20),
            });
            return 'retired';
          }
          await run(conn, dropUserStatement(userName, settings), budget.left());
          await run(conn, forgetOwnerStatement(userName, settings), budget.left(), false);
          return 'dropped';
        }
      }
    }, { goneWhenNotFound: true });
  } catch (err) {
    if (err instanceof ClusterGoneError) return 'cluster gone';
    throw err;
  }
}

/** The retention resource's Delete: the stack is leaving a database that outlives it. */
async function recordDeparture(target: ConnectionSpec, requester: Requester, budget: Budget): Promise<Outcome | 'recorded'> {
  try {
    return await withMasterConnection(target, budget, async (conn) => {
      const settings = await settingsOf(conn, budget.left());
      await ensureSchema(conn, budget);
      await run(conn, recordDepartureStatement(requester.stackId, settings), budget.left(), false);
      return 'recorded' as const;
    }, { goneWhenNotFound: true });
  } catch (err) {
    if (err instanceof ClusterGoneError) return 'cluster gone';
    throw err;
  }
}

/** Creates, updates or drops the user of one request; returns its physical id, or throws a redacted error. */
export async function onEvent(event: UsersEvent, context: InvocationContext = {}): Promise<UsersResponse> {
  const remaining = context.getRemainingTimeInMillis?.() ?? 60_000;
  const deadline = Date.now() + remaining - reserveMs(remaining);
  const budget: Budget = { deadline, left: () => Math.max(1, deadline - Date.now()) };
  const requestType = event?.RequestType;
  const fields = {
    requestType,
    resourceType: event?.ResourceType,
    logicalResourceId: event?.LogicalResourceId,
    physicalResourceId: event?.PhysicalResourceId,
    requestId: context.awsRequestId,
  };
  log('info', 'request', fields);
  try {
    if (typeof event?.StackId !== 'string' || typeof event.LogicalResourceId !== 'string') {
      throw new InvalidRequestError('StackId and LogicalResourceId are required (CloudFormation sends both)');
    }
    const requester: Requester = { stackId: event.StackId, logicalId: event.LogicalResourceId };
    if (event.ResourceType === RETENTION_RESOURCE_TYPE) return await onRetentionEvent(event, requester, budget, fields);
    if (event.ResourceType === SCHEMA_RESOURCE_TYPE) return await onSchemaEvent(event, budget);
    switch (requestType) {
      case 'Create':
      case 'Update': {
        const spec = parseUserSpec(event.ResourceProperties);
        const old = event.OldResourceProperties;
        // The same password user with the same secret: its password belongs to rotation now.
        const keepPassword = requestType === 'Update' && spec.authentication === 'PASSWORD' && old !== undefined &&
          old.Authentication === 'PASSWORD' && old.PasswordSecretArn === spec.passwordSecretArn && old.UserName === spec.userName;
        const physicalId = await applyUser(spec, requester, keepPassword, budget);
        return { PhysicalResourceId: physicalId, Data: { UserName: spec.userName } };
      }
      case 'Delete': {
        const physicalId = event.PhysicalResourceId ?? '';
        const userName = userOfPhysicalId(physicalId);
        if (userName === undefined) {
          // Not an id this provider answers with for a user: a failed Create's. Nothing was made.
          log('info', 'physical id names no user this provider made; nothing to drop', fields);
          return { PhysicalResourceId: physicalId };
        }
        const outcome = await deleteUser(physicalId, userName, parseConnection(event.ResourceProperties ?? {}), requester, budget);
        log('info', `user ${outcome}`, { ...fields, userName });
        return { PhysicalResourceId: physicalId };
      }
      default:
        throw new InvalidRequestError(`RequestType (${show(requestType)}) must be Create, Update or Delete`);
    }
  } catch (err) {
    const message = err instanceof ProviderError || err instanceof InvalidRequestError ? err.message : describeError(err);
    log('error', 'request failed', { ...fields, error: message });
    throw new ProviderError(message);
  }
}

async function onRetentionEvent(event: UsersEvent, requester: Requester, budget: Budget, fields: Record<string, unknown>): Promise<UsersResponse> {
  const me = retentionIdOf(requester);
  if (event.RequestType !== 'Delete') {
    // Nothing to do until the stack leaves; the properties are checked all the same.
    parseRetention(event.ResourceProperties);
    return { PhysicalResourceId: me };
  }
  if (event.PhysicalResourceId !== me) {
    log('info', 'physical id is no retention resource of this stack; nothing to record', fields);
    return { PhysicalResourceId: event.PhysicalResourceId ?? '' };
  }
  const outcome = await recordDeparture(parseConnection(event.ResourceProperties ?? {}), requester, budget);
  log('info', outcome === 'recorded' ? 'stack departure recorded: its users keep their accounts' : 'cluster gone; nothing to record', fields);
  return { PhysicalResourceId: me };
}
