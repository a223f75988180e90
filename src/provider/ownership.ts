/*
 * Which resource manages which database user, so that the provider never
 * takes over or drops an account it did not create, and the rules that
 * decide what a Create, Update or Delete may do with an existing account.
 *
 * The record lives in the cluster itself, in the provider's own schema
 * (`serverless_lamp`), which no application user is granted:
 * - `managed_users`: one row per account the provider made: the physical id
 *   of the resource that owns it, that resource's stack, the
 *   owner it took over from (until that one's Delete arrives), and the
 *   account's state (`active`, `locked`: retired because stored objects name
 *   it as their definer, `retained`: kept when its stack left).
 * - `departed_stacks`: stacks whose database outlives them (removal policy
 *   RETAIN or SNAPSHOT): the retention resource, which CloudFormation deletes
 *   before any user, records the stack here, and users' Deletes that follow
 *   keep their accounts.
 *
 * Everything here is pure: the SQL text and the decisions. `users.ts` runs it.
 */
import { createHash } from 'node:crypto';
import { PROVIDER_SCHEMA, userNameProblem } from './properties';
import { accountName, quoteIdentifier, quoteString, type QuotingOptions, type Statement } from './sql';

/** The owner record of one account. */
export interface OwnerRow {
  /** The physical id of the resource that manages the account. */
  readonly owner: string;
  /** That resource's stack. */
  readonly stackId: string;
  /** The physical id of the resource it took the account over from, until that one's Delete arrives. */
  readonly previousOwner?: string;
  readonly state: 'active' | 'locked' | 'retained';
}

/** Who asks: the resource of a CloudFormation request. */
export interface Requester {
  readonly stackId: string;
  readonly logicalId: string;
}

/** The physical id of one resource's user: `<user>@<12 hex digits of its stack and logical id>`. */
export function physicalIdOf(userName: string, requester: Requester): string {
  const digest = createHash('sha256').update(`${requester.stackId}\u0000${requester.logicalId}`).digest('hex');
  return `${userName}@${digest.slice(0, 12)}`;
}

/** The user name a physical id of `physicalIdOf` names, or undefined for any other id (a failed Create's, say). */
export function userOfPhysicalId(physicalId: string | undefined): string | undefined {
  const m = /^([^@]+)@[0-9a-f]{12}$/.exec(physicalId ?? '');
  return m && userNameProblem(m[1]) === undefined ? m[1] : undefined;
}

/** The physical id of the retention resource of one stack. */
export function retentionIdOf(requester: Requester): string {
  return physicalIdOf('retention', requester);
}

const USERS_TABLE = `${quoteIdentifier(PROVIDER_SCHEMA)}.${quoteIdentifier('managed_users')}`;
const DEPARTED_TABLE = `${quoteIdentifier(PROVIDER_SCHEMA)}.${quoteIdentifier('departed_stacks')}`;

function plain(sql: string): Statement {
  return { sql, redacted: sql };
}

/** The provider's schema and tables, made when missing. */
export function schemaStatements(): Statement[] {
  return [
    plain(`CREATE DATABASE IF NOT EXISTS ${quoteIdentifier(PROVIDER_SCHEMA)}`),
    plain(`CREATE TABLE IF NOT EXISTS ${USERS_TABLE} (` +
      'user_name VARCHAR(32) NOT NULL PRIMARY KEY, owner VARCHAR(64) NOT NULL, stack_id VARCHAR(2048) NOT NULL, ' +
      'previous_owner VARCHAR(64) NULL, ' +
      "state VARCHAR(16) NOT NULL DEFAULT 'active', " +
      'updated_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP) ENGINE=InnoDB'),
    plain(`CREATE TABLE IF NOT EXISTS ${DEPARTED_TABLE} (` +
      'stack_hash CHAR(64) NOT NULL PRIMARY KEY, stack_id VARCHAR(2048) NOT NULL, ' +
      'departed_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP) ENGINE=InnoDB'),
  ];
}

/** A stack id is longer than an index may be: its SHA-256 is the key. */
function stackHash(stackId: string): string {
  return createHash('sha256').update(stackId).digest('hex');
}

/** Named lock held while one account is changed, so that two requests for it never interleave. */
export function lockName(userName: string): string {
  return `${PROVIDER_SCHEMA}.user.${userName}`;
}

export function ownerQuery(userName: string, q: QuotingOptions): string {
  return `SELECT owner, stack_id, previous_owner, state FROM ${USERS_TABLE} WHERE user_name = ${quoteString(userName, q)}`;
}

export function departedQuery(stackId: string, q: QuotingOptions): string {
  return `SELECT 1 FROM ${DEPARTED_TABLE} WHERE stack_hash = ${quoteString(stackHash(stackId), q)}`;
}

export function recordDepartureStatement(stackId: string, q: QuotingOptions): Statement {
  return plain(`INSERT IGNORE INTO ${DEPARTED_TABLE} (stack_hash, stack_id) VALUES (${quoteString(stackHash(stackId), q)}, ${quoteString(stackId, q)})`);
}

/** Records `row` as the owner of `userName` (insert or replace). */
export function recordOwnerStatement(userName: string, row: OwnerRow, q: QuotingOptions): Statement {
  const value = (v: string | undefined) => (v === undefined ? 'NULL' : quoteString(v, q));
  return plain(`REPLACE INTO ${USERS_TABLE} (user_name, owner, stack_id, previous_owner, state) VALUES (` +
    [userName, row.owner, row.stackId].map((v) => quoteString(v, q)).join(', ') +
    `, ${value(row.previousOwner)}, ${quoteString(row.state, q)})`);
}

export function forgetOwnerStatement(userName: string, q: QuotingOptions): Statement {
  return plain(`DELETE FROM ${USERS_TABLE} WHERE user_name = ${quoteString(userName, q)}`);
}

/** The row from the owner query's result. */
export function ownerRowOf(row: Record<string, unknown> | undefined): OwnerRow | undefined {
  if (!row) return undefined;
  const state = String(row.state);
  return {
    owner: String(row.owner),
    stackId: String(row.stack_id),
    ...(row.previous_owner === null || row.previous_owner === undefined ? {} : { previousOwner: String(row.previous_owner) }),
    state: state === 'locked' || state === 'retained' ? state : 'active',
  };
}

/** What a Create or Update may do with the account it names. */
export type Claim =
  /** The account is this resource's already, or does not exist: make it as declared. */
  | { readonly kind: 'own'; readonly previousOwner?: string }
  /** Another resource of the same stack owns it: the stack is replacing that resource (a new logical id, or two users swapping names). */
  | { readonly kind: 'take-over'; readonly previousOwner: string }
  /** Its owner's stack left and kept it: adopt it. */
  | { readonly kind: 'adopt' }
  | { readonly kind: 'refuse'; readonly reason: string };

/**
 * Decides whether the resource `me` (physical id) of `requester` may manage
 * `userName`, given whether the account exists, its owner record, and whether
 * the owner's stack has departed.
 */
export function claim(
  userName: string,
  me: string,
  requester: Requester,
  facts: { readonly exists: boolean; readonly row?: OwnerRow; readonly ownerStackDeparted: boolean },
  q: QuotingOptions,
): Claim {
  const { exists, row } = facts;
  if (!exists) return { kind: 'own' }; // a record without an account (dropped by hand) is stale
  if (!row) {
    return {
      kind: 'refuse',
      reason: `the account ${accountName(userName, q)} exists and was not created by this provider (made by hand or by another tool): ` +
        'it is never taken over. Drop it, or declare another user name',
    };
  }
  if (row.owner === me) return { kind: 'own', previousOwner: row.previousOwner };
  if (row.stackId === requester.stackId) return { kind: 'take-over', previousOwner: row.owner };
  if (facts.ownerStackDeparted) return { kind: 'adopt' };
  return {
    kind: 'refuse',
    reason: `the account ${accountName(userName, q)} is managed by resource ${row.owner} of stack ${row.stackId}: ` +
      'two stacks never manage one account',
  };
}

/** What a Delete does with the account its physical id names. */
export type Release =
  /** Not this resource's account (any more): leave it. `clearPrevious`: the owner that took it over no longer needs to hand it back. */
  | { readonly kind: 'leave'; readonly clearPrevious: boolean; readonly reason: string }
  /** The resource that took it over is deleted before the one it replaced (a rollback): hand the account back. */
  | { readonly kind: 'hand-back'; readonly to: string }
  /** The stack departs and the database outlives it: keep the account as it is. */
  | { readonly kind: 'retain' }
  /** Drop it (or retire it, when stored objects name it as their definer). */
  | { readonly kind: 'drop' };

export function release(physicalId: string, facts: { readonly row?: OwnerRow; readonly stackDeparted: boolean }): Release {
  const { row } = facts;
  if (!row) return { kind: 'leave', clearPrevious: false, reason: 'no record says this provider manages it' };
  if (row.owner !== physicalId) {
    return { kind: 'leave', clearPrevious: row.previousOwner === physicalId, reason: `it is managed by ${row.owner} now` };
  }
  if (row.previousOwner) return { kind: 'hand-back', to: row.previousOwner };
  if (facts.stackDeparted) return { kind: 'retain' };
  return { kind: 'drop' };
}
