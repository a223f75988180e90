/*
 * The SQL the users provider runs, built by pure functions from the declared
 * state (`UserSpec`) and the state read from the server (`CurrentState`).
 *
 * Quoting: identifiers in backticks with backticks doubled; strings as
 * single-quoted literals with quotes doubled (and backslashes doubled unless
 * the session's sql_mode has NO_BACKSLASH_ESCAPES). Names are validated to a
 * small alphabet before they get here (`properties.ts`); the quoting holds anyway.
 *
 * Current privileges are read from the INFORMATION_SCHEMA privilege views
 * (USER_PRIVILEGES, SCHEMA_PRIVILEGES, TABLE_PRIVILEGES, COLUMN_PRIVILEGES),
 * not by parsing SHOW GRANTS: they are the standard views over mysql.user,
 * mysql.db, mysql.tables_priv and mysql.columns_priv, identical on Aurora
 * MySQL 3 and MariaDB, one row per privilege named exactly as GRANT spells it,
 * with the grant option as a column. SHOW GRANTS is text meant for people,
 * and its quoting and layout differ between servers and versions.
 * Not covered: routine-level privileges and roles (no such view); the
 * provider never grants them.
 */
import { DATABASE_PRIVILEGES, TABLE_PRIVILEGES, type UserSpec } from './properties';

/** Accounts are created for any host: the RDS Proxy connects from addresses of its own. */
export const ACCOUNT_HOST = '%';

/** The plugin and string Aurora MySQL uses for IAM database authentication. */
export const IAM_IDENTIFICATION = "IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'";

/** One statement: the SQL to run and the same with secrets masked, for logs and errors. */
export interface Statement {
  readonly sql: string;
  readonly redacted: string;
}

/** How strings are quoted: depends on the session's sql_mode. */
export interface QuotingOptions {
  /** True when sql_mode contains NO_BACKSLASH_ESCAPES (backslash is then an ordinary character). */
  readonly noBackslashEscapes: boolean;
}

/** What the server's settings change in the SQL: quoting, and how database and table names are stored. */
export interface ServerSettings extends QuotingOptions {
  /**
   * partial_revokes=ON (MySQL 8): `_` and `%` in database-level grants are
   * read literally, so names are granted as they are, not as escaped patterns.
   */
  readonly literalDatabaseGrants: boolean;
  /** lower_case_table_names is 1 or 2: the grant tables hold database and table names in lower case. */
  readonly lowerCaseNames: boolean;
}

/** The settings from the server's variables (`partialRevokes` undefined: the server has no such variable, as MariaDB). */
export function serverSettings(vars: { sqlMode: string; lowerCaseTableNames: number | string; partialRevokes?: string }): ServerSettings {
  return {
    noBackslashEscapes: /(^|,)NO_BACKSLASH_ESCAPES(,|$)/i.test(vars.sqlMode),
    literalDatabaseGrants: /^(ON|1)$/i.test(vars.partialRevokes ?? ''),
    lowerCaseNames: Number(vars.lowerCaseTableNames) !== 0,
  };
}

/** What a GRANT or REVOKE applies to. */
export type GrantTarget =
  | { readonly kind: 'global' }
  /** `pattern` is the database name as the grant tables store it (wildcards escaped). */
  | { readonly kind: 'database'; readonly pattern: string }
  | { readonly kind: 'table'; readonly database: string; readonly table: string };

/** One privilege on one target (for column privileges, on one column). */
export interface PrivilegeGrant {
  readonly target: GrantTarget;
  /** As GRANT spells it (`SELECT`, `SHOW VIEW`, ...), or `GRANT OPTION`. */
  readonly privilege: string;
  readonly column?: string;
}

/** The user as the server has it. */
export interface CurrentState {
  readonly exists: boolean;
  readonly privileges: readonly PrivilegeGrant[];
}

/** `name` as a quoted identifier. */
export function quoteIdentifier(name: string): string {
  if (name.length === 0 || name.includes('\u0000')) {
    throw new Error(`not a valid identifier: ${JSON.stringify(name)}`);
  }
  return `\`${name.replace(/`/g, '``')}\``;
}

/** `value` as a quoted string literal. */
export function quoteString(value: string, options: QuotingOptions): string {
  if (value.includes('\u0000')) throw new Error('a string literal cannot contain NUL');
  const escaped = options.noBackslashEscapes ? value : value.replace(/\\/g, '\\\\');
  return `'${escaped.replace(/'/g, "''")}'`;
}

/** `'user'@'%'`. */
export function accountName(user: string, options: QuotingOptions): string {
  return `${quoteString(user, options)}@${quoteString(ACCOUNT_HOST, options)}`;
}

/**
 * A database name as a database-level GRANT reads it: `_` and `%` are
 * wildcards there (`shop_db` would also match `shopXdb`), so escape them and
 * the escape character. MySQL with partial_revokes=ON reads them literally,
 * "as if they had been escaped", so the escaped form is right either way.
 */
export function databasePattern(database: string): string {
  return database.replace(/[\\_%]/g, (c) => `\\${c}`);
}

/** The ON clause of a target. */
export function targetSql(target: GrantTarget): string {
  switch (target.kind) {
    case 'global':
      return '*.*';
    case 'database':
      return `${quoteIdentifier(target.pattern)}.*`;
    case 'table':
      return `${quoteIdentifier(target.database)}.${quoteIdentifier(target.table)}`;
  }
}

function targetKey(target: GrantTarget): string {
  switch (target.kind) {
    case 'global':
      return '0';
    case 'database':
      return `1 ${target.pattern}`;
    case 'table':
      return `2 ${target.database}\u0000${target.table}`;
  }
}

function grantKey(g: PrivilegeGrant): string {
  return `${targetKey(g.target)}\u0001${g.column ?? ''}\u0001${g.privilege}`;
}

/**
 * The privileges `spec` declares, one entry per privilege, with names as the
 * server stores them (so that they compare with what it reads back).
 */
export function declaredPrivileges(
  spec: Pick<UserSpec, 'database' | 'grants'>,
  settings: Pick<ServerSettings, 'literalDatabaseGrants' | 'lowerCaseNames'>,
): PrivilegeGrant[] {
  const name = (n: string) => (settings.lowerCaseNames ? n.toLowerCase() : n);
  const database = name(spec.database);
  return spec.grants.flatMap((grant) => {
    const target: GrantTarget = grant.table === undefined
      ? { kind: 'database', pattern: settings.literalDatabaseGrants ? database : databasePattern(database) }
      : { kind: 'table', database, table: name(grant.table) };
    return grant.privileges.map((privilege) => ({ target, privilege }));
  });
}

/** Privilege names read from the server must look like privilege names before they go into SQL. */
const PRIVILEGE_NAME = /^[A-Z][A-Z_ ]{0,62}[A-Z]$/;

/** Sort privileges in the allow-lists' order, then alphabetically; `GRANT OPTION` is never in these lists. */
function privilegeOrder(a: string, b: string): number {
  const known = [...DATABASE_PRIVILEGES, ...TABLE_PRIVILEGES];
  const ia = known.indexOf(a);
  const ib = known.indexOf(b);
  if (ia !== ib) return (ia === -1 ? Infinity : ia) - (ib === -1 ? Infinity : ib) || (a < b ? -1 : 1);
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareTargets(a: GrantTarget, b: GrantTarget): number {
  const ka = targetKey(a);
  const kb = targetKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** Group privileges by target (in a stable order) and render `p1, p2 (col), ...` per target. */
function grouped(privileges: readonly PrivilegeGrant[]): Array<{ target: GrantTarget; list: string }> {
  const byTarget = new Map<string, { target: GrantTarget; privileges: Map<string, string[]> }>();
  for (const g of privileges) {
    if (!PRIVILEGE_NAME.test(g.privilege)) {
      throw new Error(`unexpected privilege name from the server: ${JSON.stringify(g.privilege)}`);
    }
    const key = targetKey(g.target);
    const entry = byTarget.get(key) ?? { target: g.target, privileges: new Map<string, string[]>() };
    const columns = entry.privileges.get(g.privilege) ?? [];
    if (g.column !== undefined) columns.push(g.column);
    entry.privileges.set(g.privilege, columns);
    byTarget.set(key, entry);
  }
  return [...byTarget.values()]
    .sort((a, b) => compareTargets(a.target, b.target))
    .map(({ target, privileges: map }) => ({
      target,
      list: [...map.keys()]
        .sort(privilegeOrder)
        .map((p) => {
          const columns = map.get(p)!;
          return columns.length > 0 ? `${p} (${[...columns].sort().map(quoteIdentifier).join(', ')})` : p;
        })
        .join(', '),
    }));
}

function plain(sql: string): Statement {
  return { sql, redacted: sql };
}

/** How `userStatements` treats an existing account. */
export interface UserStatementOptions {
  /** The user's password; required for PASSWORD authentication unless the password is kept. */
  readonly password?: string;
  /** An existing PASSWORD user keeps the password it has (no `IDENTIFIED BY`). */
  readonly keepPassword?: boolean;
  /** The account was locked by an earlier Delete and is unlocked again. */
  readonly unlock?: boolean;
}

/**
 * The statements that make the server's user match `spec`, given its current
 * state, in order:
 *
 * 1. `CREATE USER` when it does not exist, else `ALTER USER` (the password or
 *    plugin cannot be read back to compare, so it is always set), both with
 *    the declared authentication and `REQUIRE SSL`;
 * 2. `GRANT` of each declared privilege it lacks, one statement per target;
 * 3. `REVOKE` of each privilege it holds that is not declared, on any target
 *    (global, any database, table or column), and of any grant option.
 *
 * Grants come before revokes so that moving a privilege between targets
 * (database to table) never leaves a moment without it.
 *
 * @param password the user's password; required for PASSWORD authentication
 */
export function userStatements(
  spec: UserSpec,
  current: CurrentState,
  options: ServerSettings & UserStatementOptions,
): Statement[] {
  const account = accountName(spec.userName, options);
  const statements: Statement[] = [];

  // An existing password user keeps its password when asked to: the
  // rotation function owns it once the user exists, and setting AWSCURRENT
  // while a rotation has set AWSPENDING would undo that rotation.
  let identified = '';
  let identifiedRedacted = '';
  if (spec.authentication === 'IAM') {
    identified = identifiedRedacted = ` ${IAM_IDENTIFICATION}`;
  } else if (!(current.exists && options.keepPassword)) {
    if (options.password === undefined) throw new Error('PASSWORD authentication needs the password');
    identified = ` IDENTIFIED BY ${quoteString(options.password, options)}`;
    identifiedRedacted = " IDENTIFIED BY '***'";
  }
  const verb = current.exists ? 'ALTER USER' : 'CREATE USER';
  const unlock = current.exists && options.unlock === true ? ' ACCOUNT UNLOCK' : '';
  statements.push({
    sql: `${verb} ${account}${identified} REQUIRE SSL${unlock}`,
    redacted: `${verb} ${account}${identifiedRedacted} REQUIRE SSL${unlock}`,
  });

  const declared = declaredPrivileges(spec, options);
  const declaredKeys = new Set(declared.map(grantKey));
  const currentKeys = new Set(current.privileges.map(grantKey));

  const missing = declared.filter((g) => !currentKeys.has(grantKey(g)));
  for (const { target, list } of grouped(missing)) {
    statements.push(plain(`GRANT ${list} ON ${targetSql(target)} TO ${account}`));
  }

  const extra = current.privileges.filter((g) => !declaredKeys.has(grantKey(g)));
  const grantOptions = extra.filter((g) => g.privilege === 'GRANT OPTION' && g.column === undefined);
  const others = extra.filter((g) => !grantOptions.includes(g));
  for (const { target, list } of grouped(others)) {
    statements.push(plain(`REVOKE ${list} ON ${targetSql(target)} FROM ${account}`));
  }
  for (const g of [...grantOptions].sort((a, b) => compareTargets(a.target, b.target))) {
    statements.push(plain(`REVOKE GRANT OPTION ON ${targetSql(g.target)} FROM ${account}`));
  }
  return statements;
}

/** The statement that removes a user (and with it all its privileges). */
export function dropUserStatement(userName: string, options: QuotingOptions): Statement {
  return plain(`DROP USER IF EXISTS ${accountName(userName, options)}`);
}

/**
 * The statements that retire a user who cannot be dropped without breaking
 * stored objects it defines: every privilege and the grant option revoked,
 * the account locked. The account stays, so the objects keep a definer that
 * exists; they fail with a privilege error (SQL SECURITY DEFINER) instead.
 */
export function retireUserStatements(userName: string, options: QuotingOptions): Statement[] {
  const account = accountName(userName, options);
  return [
    plain(`REVOKE ALL PRIVILEGES, GRANT OPTION FROM ${account}`),
    plain(`ALTER USER ${account} ACCOUNT LOCK`),
  ];
}

/**
 * The stored objects (routines, views, triggers, events) whose DEFINER is
 * the user, as `KIND schema.name` rows (column `object`). Since MySQL 8.0.22,
 * which Aurora MySQL 3 is based on, `DROP USER` refuses such an account
 * unless the caller holds SET_USER_ID (Aurora's master user does, and the
 * objects would then be left with a definer that does not exist).
 */
export function definedObjectsQuery(userName: string, options: QuotingOptions): string {
  const definer = quoteString(`${userName}@${ACCOUNT_HOST}`, options);
  return [
    `SELECT CONCAT('routine ', ROUTINE_SCHEMA, '.', ROUTINE_NAME) AS object FROM information_schema.ROUTINES WHERE DEFINER = ${definer}`,
    `SELECT CONCAT('view ', TABLE_SCHEMA, '.', TABLE_NAME) FROM information_schema.VIEWS WHERE DEFINER = ${definer}`,
    `SELECT CONCAT('trigger ', TRIGGER_SCHEMA, '.', TRIGGER_NAME) FROM information_schema.TRIGGERS WHERE DEFINER = ${definer}`,
    `SELECT CONCAT('event ', EVENT_SCHEMA, '.', EVENT_NAME) FROM information_schema.EVENTS WHERE DEFINER = ${definer}`,
  ].join(' UNION ALL ');
}

/** The `GRANTEE` value of the INFORMATION_SCHEMA privilege views for a user: `'name'@'%'`. */
export function granteeOf(userName: string): string {
  return `'${userName.replace(/'/g, "''")}'@'${ACCOUNT_HOST}'`;
}

/**
 * The queries that read a user's state: whether it exists, and its privileges
 * at each level. Literals are quoted here, for the session's sql_mode, rather
 * than by the driver's placeholders, which always escape with backslashes.
 */
export function stateQueries(userName: string, options: QuotingOptions) {
  const grantee = quoteString(granteeOf(userName), options);
  return {
    exists: `SELECT 1 FROM mysql.user WHERE User = ${quoteString(userName, options)} AND Host = ${quoteString(ACCOUNT_HOST, options)}`,
    privileges: {
      global: `SELECT PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.USER_PRIVILEGES WHERE GRANTEE = ${grantee}`,
      database: `SELECT TABLE_SCHEMA, PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.SCHEMA_PRIVILEGES WHERE GRANTEE = ${grantee}`,
      table: `SELECT TABLE_SCHEMA, TABLE_NAME, PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = ${grantee}`,
      column: `SELECT TABLE_SCHEMA, TABLE_NAME, COLUMN_NAME, PRIVILEGE_TYPE FROM information_schema.COLUMN_PRIVILEGES WHERE GRANTEE = ${grantee}`,
    },
  };
}

/** Rows of the four privilege queries. */
export interface PrivilegeRows {
  readonly global: ReadonlyArray<{ PRIVILEGE_TYPE: string; IS_GRANTABLE: string }>;
  readonly database: ReadonlyArray<{ TABLE_SCHEMA: string; PRIVILEGE_TYPE: string; IS_GRANTABLE: string }>;
  readonly table: ReadonlyArray<{ TABLE_SCHEMA: string; TABLE_NAME: string; PRIVILEGE_TYPE: string; IS_GRANTABLE: string }>;
  readonly column: ReadonlyArray<{ TABLE_SCHEMA: string; TABLE_NAME: string; COLUMN_NAME: string; PRIVILEGE_TYPE: string }>;
}

/** The privileges the rows describe; `USAGE` (no privilege) is left out, a grant option becomes `GRANT OPTION`. */
export function privilegesFromRows(rows: PrivilegeRows): PrivilegeGrant[] {
  const out: PrivilegeGrant[] = [];
  const add = (target: GrantTarget, privilege: string, grantable: string) => {
    if (privilege.toUpperCase() !== 'USAGE') out.push({ target, privilege: privilege.toUpperCase() });
    if (grantable.toUpperCase() === 'YES') out.push({ target, privilege: 'GRANT OPTION' });
  };
  for (const r of rows.global) add({ kind: 'global' }, r.PRIVILEGE_TYPE, r.IS_GRANTABLE);
  for (const r of rows.database) add({ kind: 'database', pattern: r.TABLE_SCHEMA }, r.PRIVILEGE_TYPE, r.IS_GRANTABLE);
  for (const r of rows.table) {
    add({ kind: 'table', database: r.TABLE_SCHEMA, table: r.TABLE_NAME }, r.PRIVILEGE_TYPE, r.IS_GRANTABLE);
  }
  for (const r of rows.column) {
    out.push({ target: { kind: 'table', database: r.TABLE_SCHEMA, table: r.TABLE_NAME }, privilege: r.PRIVILEGE_TYPE.toUpperCase(), column: r.COLUMN_NAME });
  }
  // A grant option is listed once per privilege row: keep one per target.
  const seen = new Set<string>();
  return out.filter((g) => {
    const key = grantKey(g);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
