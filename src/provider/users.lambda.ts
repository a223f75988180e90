/*
 * The users provider: the function behind one custom resource per
 * application database user. CloudFormation invokes it directly, and it
 * answers CloudFormation itself (custom-resource.ts): no function outside the
 * VPC relays the answer.
 *
 * It runs in the VPC, possibly in isolated subnets without NAT, and talks to
 * two things only: Secrets Manager (through the interface endpoint named by
 * SECRETS_MANAGER_ENDPOINT when set) for the master secret and a user's
 * password secret, and the cluster writer over TLS verified against the
 * Amazon RDS certificate authorities, as the master user.
 *
 * - Create / Update: make the user exactly as declared (authentication,
 *   REQUIRE SSL, and exactly the declared grants). Idempotent: a retried
 *   Create or an existing user ends in the declared state. The physical id is
 *   the user name; an Update with a new name creates the new user and returns
 *   its name, and CloudFormation then sends a Delete for the old one.
 * - Delete: DROP USER IF EXISTS (the physical id).
 *
 * Environment:
 * - SECRETS_MANAGER_ENDPOINT (optional): the Secrets Manager endpoint URL
 *   (`https://vpce-....secretsmanager.<region>.vpce.amazonaws.com`) or host
 *   name; without it the SDK's regional endpoint.
 * - DB_CA_BUNDLE_FILE (optional, tests and private CAs only): a PEM file to
 *   trust instead of the Amazon RDS certificate authorities.
 * - AWS_REGION and the role's credentials, which Lambda sets.
 *
 * Logs are JSON lines; no log line and no error message contains a password
 * or a secret's content (every text passes through `redact`).
 */
import { currentState, MIN_ATTEMPT_MS, run, settingsOf, withMasterConnection } from './connection';
import type { Budget } from './connection';
import { answer } from './custom-resource';
import type { CustomResourceRequest } from './custom-resource';
import { ProviderError, describeError, log } from './log';
import { InvalidRequestError, parseConnection, parseUserSpec, passwordProblem, show, userNameProblem } from './properties';
import type { ConnectionSpec, UserSpec } from './properties';
import { reserveMs } from './retry';
import { readSecret } from './secrets';
import { dropUserStatement, userStatements } from './sql';

/*
 * The provider's parts, in their own modules: log.ts (log lines, errors and
 * counters, all redacted), secrets.ts (Secrets Manager), connection.ts (the
 * cluster, and the loop that waits for it). This file is the bundle's entry
 * point: what tests read from the bundle is re-exported here.
 */
export { describeError, redact, stats } from './log';

/** The custom resource request (CloudFormation's, see custom-resource.ts, without the fields only the answer needs). */
export interface UsersEvent {
  readonly RequestType: 'Create' | 'Update' | 'Delete';
  readonly PhysicalResourceId?: string;
  readonly LogicalResourceId?: string;
  readonly RequestId?: string;
  readonly ResourceProperties: Record<string, unknown>;
  readonly OldResourceProperties?: Record<string, unknown>;
}

/** What is reported to CloudFormation. */
export interface UsersResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: { readonly UserName: string };
}

/** The subset of the Lambda context the provider reads. */
export interface InvocationContext {
  getRemainingTimeInMillis?: () => number;
  awsRequestId?: string;
}

/* ------------------------------------------------------------------------ */
/* Create, Update, Delete                                                     */
/* ------------------------------------------------------------------------ */

async function userPassword(spec: UserSpec, budget: Budget): Promise<string | undefined> {
  if (spec.authentication !== 'PASSWORD') return undefined;
  const json = await readSecret(spec.passwordSecretArn!, budget.deadline);
  const problem = passwordProblem(json?.password);
  if (problem) throw new ProviderError(`the "password" of secret ${spec.passwordSecretArn} ${problem}`);
  return json!.password as string;
}

/**
 * Make the user match `spec`; returns the statements it ran (redacted).
 *
 * If this request created the user and then failed, the user is dropped
 * again: CloudFormation never sends a Delete for a resource whose Create (or
 * renaming Update) failed, so it would be left behind otherwise.
 */
async function applyUser(spec: UserSpec, budget: Budget): Promise<string[]> {
  let password: string | undefined;
  let created = false;
  try {
    return await withMasterConnection(spec, budget, async (conn, master) => {
      if (master.username === spec.userName) {
        throw new ProviderError(`UserName (${show(spec.userName)}) is the master user; the provider never changes it`);
      }
      password ??= await userPassword(spec, budget);
      const settings = await settingsOf(conn, budget.left());
      const current = await currentState(conn, spec.userName, settings, budget.left());
      const statements = userStatements(spec, current, { ...settings, password });
      for (const statement of statements) {
        await run(conn, statement, budget.left());
        if (!current.exists && statement === statements[0]) created = true;
      }
      return statements.map((s) => s.redacted);
    });
  } catch (err) {
    if (created) await dropCreatedUser(spec, budget);
    throw err;
  }
}

async function dropCreatedUser(spec: UserSpec, budget: Budget): Promise<void> {
  try {
    if (budget.left() < MIN_ATTEMPT_MS) throw new Error('no time left in this invocation');
    await deleteUser(spec.userName, spec, budget);
    log('warn', 'dropped the user this failed request had created, so that nothing is left behind', { userName: spec.userName });
  } catch (cleanupError) {
    log('error', 'could not drop the user this failed request had created; drop it by hand', {
      userName: spec.userName,
      error: describeError(cleanupError),
    });
  }
}

async function deleteUser(userName: string, target: ConnectionSpec, budget: Budget): Promise<void> {
  await withMasterConnection(target, budget, async (conn, master) => {
    if (master.username === userName) {
      log('warn', 'not dropping the master user', { userName });
      return;
    }
    const settings = await settingsOf(conn, budget.left());
    await run(conn, dropUserStatement(userName, settings), budget.left());
  });
}

/**
 * Lambda entry point. CloudFormation invokes it directly (the request has a
 * `ResponseURL`): it then answers there, success or failure, exactly once,
 * and returns nothing. Without a `ResponseURL` (tests, or a provider
 * framework) it returns the result, or throws.
 */
export async function handler(event: UsersEvent, context: InvocationContext = {}): Promise<UsersResponse | undefined> {
  if (typeof (event as Partial<CustomResourceRequest>)?.ResponseURL === 'string') {
    const req = event as unknown as CustomResourceRequest;
    // The reason CloudFormation shows is the error message, already redacted.
    await answer(req, () => onEvent(event, context), (level, message, fields) => log(level, message, fields));
    return undefined;
  }
  return onEvent(event, context);
}

/** Creates, updates or drops the user of one request; returns its physical id, or throws a redacted error. */
export async function onEvent(event: UsersEvent, context: InvocationContext = {}): Promise<UsersResponse> {
  const remaining = context.getRemainingTimeInMillis?.() ?? 60_000;
  const deadline = Date.now() + remaining - reserveMs(remaining);
  const budget: Budget = { deadline, left: () => Math.max(1, deadline - Date.now()) };
  const requestType = event?.RequestType;
  const fields = {
    requestType,
    logicalResourceId: event?.LogicalResourceId,
    physicalResourceId: event?.PhysicalResourceId,
    requestId: context.awsRequestId,
  };
  log('info', 'request', fields);
  try {
    switch (requestType) {
      case 'Create':
      case 'Update': {
        const spec = parseUserSpec(event.ResourceProperties);
        const renamed = requestType === 'Update' && event.PhysicalResourceId !== spec.userName;
        const statements = await applyUser(spec, budget);
        log('info', 'user in declared state', {
          ...fields,
          userName: spec.userName,
          ...(renamed ? { replaces: event.PhysicalResourceId } : {}),
          changes: statements.length - 1,
        });
        return { PhysicalResourceId: spec.userName, Data: { UserName: spec.userName } };
      }
      case 'Delete': {
        const userName = event.PhysicalResourceId ?? '';
        if (userNameProblem(userName)) {
          // This provider returns only valid user names as physical ids: it never created this one.
          log('warn', 'physical id is not a user name this provider creates; nothing to drop', fields);
          return { PhysicalResourceId: userName };
        }
        await deleteUser(userName, parseConnection(event.ResourceProperties ?? {}), budget);
        log('info', 'user dropped', { ...fields, userName });
        return { PhysicalResourceId: userName };
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
