/*
 * The resource properties of one application database user, as CloudFormation
 * passes them to the users provider, parsed and validated.
 *
 * Pure and dependency-free: the provider function checks every request with
 * it before it reads a secret or opens a connection, and construct code may
 * run the same checks at synth.
 *
 * Every name that ends up in SQL is held to a small alphabet here, on top of
 * the quoting in `sql.ts`: letters, digits and underscores, starting with a
 * letter (table names may also start with a digit or an underscore).
 */

/** Raised for a request the provider refuses before touching anything. */
export class InvalidRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidRequestError';
  }
}

/** How the user authenticates to the database. */
export type Authentication = 'IAM' | 'PASSWORD';

/** One declared grant: privileges on the whole database, or on one of its tables. */
export interface GrantSpec {
  /** The table, or undefined for the whole database (`db`.*). */
  readonly table?: string;
  /** Upper-case privilege names, without duplicates, in the allow-list's order. */
  readonly privileges: readonly string[];
}

/** Where and as whom the provider connects: the cluster writer, with the master secret. */
export interface ConnectionSpec {
  /** ARN of the master secret (JSON with `username` and `password`). */
  readonly secretArn: string;
  /** The cluster writer endpoint (not the proxy: the proxy admits only IAM). */
  readonly host: string;
  readonly port: number;
}

/** The declared state of one database user. */
export interface UserSpec extends ConnectionSpec {
  readonly userName: string;
  readonly database: string;
  /** Database-level grant first (if any), then tables by name; one entry per table. */
  readonly grants: readonly GrantSpec[];
  readonly authentication: Authentication;
  /** ARN of the secret whose JSON `password` the user logs in with (PASSWORD only). */
  readonly passwordSecretArn?: string;
}

/**
 * Privileges a user may hold on its whole database (`GRANT ... ON db.*`):
 * data privileges and schema changes within the database. Never GRANT OPTION,
 * nor anything global (SUPER, FILE, PROCESS, CREATE USER, RELOAD, ...).
 * The order here is the order of the generated statements.
 */
export const DATABASE_PRIVILEGES: readonly string[] = [
  'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'EXECUTE', 'SHOW VIEW', 'CREATE TEMPORARY TABLES', 'LOCK TABLES',
  'CREATE', 'ALTER', 'DROP', 'INDEX', 'REFERENCES', 'CREATE VIEW', 'TRIGGER', 'EVENT', 'CREATE ROUTINE',
  'ALTER ROUTINE',
];

/** Privileges a user may hold on one table: data privileges only. */
export const TABLE_PRIVILEGES: readonly string[] = ['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'SHOW VIEW'];

/**
 * Properties CloudFormation itself puts in every custom resource request:
 * the template's `ServiceToken` and `ServiceTimeout` arrive in
 * `ResourceProperties` like any other property (as strings).
 * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudformation-customresource.html
 */
export const CLOUDFORMATION_PROPERTIES: readonly string[] = ['ServiceToken', 'ServiceTimeout'];

/** The resource type of one application database user. */
export const USER_RESOURCE_TYPE = 'Custom::ServerlessLampDatabaseUser';

/**
 * The resource type of the retention marker: a resource that depends on
 * every user resource of a database whose removal policy keeps it (RETAIN,
 * SNAPSHOT), so that CloudFormation deletes it first when the stack (or the
 * database construct) goes, and its Delete tells the users' Deletes to keep
 * their accounts.
 */
export const RETENTION_RESOURCE_TYPE = 'Custom::ServerlessLampDatabaseUsersRetention';

/** Properties of a user resource. */
const USER_PROPERTIES = ['SecretArn', 'Host', 'Port', 'UserName', 'Database', 'Grants', 'Authentication', 'PasswordSecretArn'];

/** Properties of the retention resource (the connection only). */
const RETENTION_PROPERTIES = ['SecretArn', 'Host', 'Port'];

/** The provider's own schema: who manages which user, and which stacks are leaving. Never an application database. */
export const PROVIDER_SCHEMA = 'serverless_lamp';

/** Names Aurora MySQL or Amazon RDS keep for themselves (compared in lower case). */
export const RESERVED_USER_NAMES: ReadonlySet<string> = new Set([
  'rdsadmin', 'rdsproxyadmin', 'rdsrepladmin', 'root', 'mysql', 'mysql.sys', 'mysql.session', 'mysql.infoschema',
  'aws_comprehend', 'aws_sagemaker', 'aws_bedrock', 'rds_superuser_role', 'public',
]);

/** Prefixes of accounts and roles Amazon RDS creates (`rdsadmin`, `rds_superuser_role`, ...). */
const RESERVED_USER_PREFIXES = ['rds', 'mysql', 'aws_'];

/**
 * MySQL reserved words most likely to be chosen as a name; the same list the
 * construct checks database and master user names against at synth.
 * @see https://dev.mysql.com/doc/refman/8.0/en/keywords.html
 */
export const MYSQL_RESERVED_WORDS: ReadonlySet<string> = new Set([
  'add', 'all', 'alter', 'and', 'as', 'asc', 'between', 'by', 'case', 'check', 'column', 'create', 'cross',
  'current_user', 'database', 'databases', 'default', 'delete', 'desc', 'distinct', 'drop', 'else', 'exists',
  'false', 'for', 'foreign', 'from', 'grant', 'group', 'having', 'in', 'index', 'inner', 'insert', 'interval',
  'into', 'is', 'join', 'key', 'keys', 'left', 'like', 'limit', 'lock', 'not', 'null', 'on', 'or', 'order',
  'outer', 'primary', 'references', 'rename', 'revoke', 'right', 'schema', 'schemas', 'select', 'set', 'show',
  'table', 'then', 'to', 'true', 'union', 'unique', 'update', 'usage', 'use', 'user', 'using', 'values',
  'when', 'where', 'with',
]);

/** Schemas that exist on every MySQL server; granting on them hands out the server. */
export const SYSTEM_SCHEMAS: ReadonlySet<string> = new Set(['mysql', 'information_schema', 'performance_schema', 'sys', 'tmp', PROVIDER_SCHEMA]);

const USER_NAME = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;
const DATABASE_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const TABLE_NAME = /^[A-Za-z0-9_]{1,64}$/;
const HOST_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
/** arn:<partition>:secretsmanager:<region>:<account>:secret:<name>-<6 characters> */
const SECRET_ARN = /^arn:[a-z][a-z0-9-]{1,31}:secretsmanager:[a-z0-9-]{1,32}:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$/;

/** A value, printed safely in a message: JSON-quoted, at most 80 characters. */
export function show(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Why `name` cannot be a database user name, or undefined when it can. */
export function userNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || !USER_NAME.test(name)) {
    return 'must be 1 to 32 letters, digits or underscores, starting with a letter';
  }
  const lower = name.toLowerCase();
  if (RESERVED_USER_NAMES.has(lower) || MYSQL_RESERVED_WORDS.has(lower) || RESERVED_USER_PREFIXES.some((p) => lower.startsWith(p))) {
    return `is reserved by MySQL or Amazon RDS (reserved: ${[...RESERVED_USER_NAMES].join(', ')}, ` +
      `names starting with ${RESERVED_USER_PREFIXES.join(', ')}, and MySQL reserved words)`;
  }
  return undefined;
}

/** Why `name` cannot be the user's database, or undefined when it can. */
export function databaseNameProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || !DATABASE_NAME.test(name)) {
    return 'must be 1 to 64 letters, digits or underscores, starting with a letter';
  }
  const lower = name.toLowerCase();
  if (SYSTEM_SCHEMAS.has(lower) || MYSQL_RESERVED_WORDS.has(lower)) {
    return 'is a system schema or a MySQL reserved word';
  }
  return undefined;
}

function requireString(props: Record<string, unknown>, name: string): string {
  const value = props[name];
  if (typeof value !== 'string' || value === '') {
    throw new InvalidRequestError(`${name} is required (a non-empty string), got ${show(value)}`);
  }
  return value;
}

function secretArn(props: Record<string, unknown>, name: string): string {
  const value = requireString(props, name);
  if (!SECRET_ARN.test(value)) {
    throw new InvalidRequestError(`${name} (${show(value)}) must be the ARN of a Secrets Manager secret`);
  }
  return value;
}

/**
 * Refuses properties the provider does not know, so that a typo or a
 * property of a newer construct version fails loudly. CloudFormation's own
 * (`ServiceToken`, `ServiceTimeout`) are always accepted.
 */
function checkProperties(props: Record<string, unknown> | undefined, known: readonly string[]): asserts props is Record<string, unknown> {
  if (typeof props !== 'object' || props === null) {
    throw new InvalidRequestError('ResourceProperties are missing');
  }
  const unknown = Object.keys(props).filter((k) => !known.includes(k) && !CLOUDFORMATION_PROPERTIES.includes(k));
  if (unknown.length > 0) {
    throw new InvalidRequestError(`unknown properties ${show(unknown)}; known: ${known.join(', ')}`);
  }
}

/** The properties of the retention resource: where the database is. */
export function parseRetention(props: Record<string, unknown> | undefined): ConnectionSpec {
  checkProperties(props, RETENTION_PROPERTIES);
  return parseConnection(props);
}

/** The connection properties alone (all a Delete needs). */
export function parseConnection(props: Record<string, unknown>): ConnectionSpec {
  const { host, port } = parseEndpoint(props);
  return { secretArn: secretArn(props, 'SecretArn'), host, port };
}

/** The `Host` and `Port` properties: the cluster writer's endpoint. */
export function parseEndpoint(props: Record<string, unknown>): { host: string; port: number } {
  const host = requireString(props, 'Host');
  if (host.length > 253 || !host.split('.').every((label) => HOST_LABEL.test(label))) {
    throw new InvalidRequestError(`Host (${show(host)}) must be a DNS host name`);
  }
  // CloudFormation passes numbers to custom resources as strings.
  const rawPort = props.Port;
  const port = typeof rawPort === 'number' ? rawPort : typeof rawPort === 'string' && /^\d{1,5}$/.test(rawPort) ? Number(rawPort) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidRequestError(`Port (${show(rawPort)}) must be a TCP port number (1 to 65535)`);
  }
  return { host, port };
}

/** Parse the `Grants` property: a JSON string (or the list itself) of `{ Privileges, Table? }`. */
export function parseGrants(raw: unknown): GrantSpec[] {
  let list: unknown = raw;
  if (typeof raw === 'string') {
    try {
      list = JSON.parse(raw);
    } catch {
      throw new InvalidRequestError(`Grants must be a JSON list of { "Privileges": [...], "Table"?: "..." }, got ${show(raw)}`);
    }
  }
  if (!Array.isArray(list)) {
    throw new InvalidRequestError(`Grants must be a list of { "Privileges": [...], "Table"?: "..." }, got ${show(raw)}`);
  }
  const byTable = new Map<string, Set<string>>();
  list.forEach((entry, i) => {
    const where = `Grants[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new InvalidRequestError(`${where} must be an object { "Privileges": [...], "Table"?: "..." }, got ${show(entry)}`);
    }
    const e = entry as Record<string, unknown>;
    const unknown = Object.keys(e).filter((k) => k !== 'Privileges' && k !== 'Table');
    if (unknown.length > 0) {
      throw new InvalidRequestError(`${where} has unknown keys ${show(unknown)}: only Privileges and Table are allowed`);
    }
    const table = e.Table;
    if (table !== undefined && (typeof table !== 'string' || !TABLE_NAME.test(table))) {
      throw new InvalidRequestError(`${where}.Table (${show(table)}) must be 1 to 64 letters, digits or underscores`);
    }
    const allowed = table === undefined ? DATABASE_PRIVILEGES : TABLE_PRIVILEGES;
    const scope = table === undefined ? 'on the whole database' : 'on a table';
    if (!Array.isArray(e.Privileges) || e.Privileges.length === 0) {
      throw new InvalidRequestError(`${where}.Privileges must be a non-empty list, got ${show(e.Privileges)}`);
    }
    const set = byTable.get(table ?? '') ?? new Set<string>();
    for (const p of e.Privileges) {
      const privilege = typeof p === 'string' ? p.toUpperCase() : p;
      if (typeof privilege !== 'string' || !allowed.includes(privilege)) {
        throw new InvalidRequestError(
          `${where}.Privileges: ${show(p)} is not allowed ${scope}; allowed: ${allowed.join(', ')}` +
            (typeof privilege === 'string' && /^ALL( PRIVILEGES)?$/.test(privilege) ? ' (list the privileges instead of ALL)' : ''),
        );
      }
      set.add(privilege);
    }
    byTable.set(table ?? '', set);
  });
  return [...byTable.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([table, set]) => ({
      ...(table === '' ? {} : { table }),
      privileges: (table === '' ? DATABASE_PRIVILEGES : TABLE_PRIVILEGES).filter((p) => set.has(p)),
    }));
}

/**
 * Parse and validate the resource properties of a Create or Update.
 * Throws `InvalidRequestError` naming the property, the value and what is allowed.
 */
export function parseUserSpec(props: Record<string, unknown> | undefined): UserSpec {
  checkProperties(props, USER_PROPERTIES);
  const connection = parseConnection(props);

  const userName = requireString(props, 'UserName');
  const userProblem = userNameProblem(userName);
  if (userProblem) throw new InvalidRequestError(`UserName (${show(userName)}) ${userProblem}`);

  const database = requireString(props, 'Database');
  const databaseProblem = databaseNameProblem(database);
  if (databaseProblem) throw new InvalidRequestError(`Database (${show(database)}) ${databaseProblem}`);

  const grants = parseGrants(props.Grants ?? '[]');

  const authentication = props.Authentication;
  if (authentication !== 'IAM' && authentication !== 'PASSWORD') {
    throw new InvalidRequestError(`Authentication (${show(authentication)}) must be 'IAM' or 'PASSWORD'`);
  }
  if (authentication === 'IAM') {
    if (props.PasswordSecretArn !== undefined && props.PasswordSecretArn !== '') {
      throw new InvalidRequestError("PasswordSecretArn applies only to Authentication 'PASSWORD'");
    }
    return { ...connection, userName, database, grants, authentication };
  }
  const passwordSecretArn = secretArn(props, 'PasswordSecretArn');
  return { ...connection, userName, database, grants, authentication, passwordSecretArn };
}

/**
 * Why `password` cannot be set as a user's password, or undefined when it can.
 * The message never contains the password.
 */
export function passwordProblem(password: unknown): string | undefined {
  if (typeof password !== 'string' || password.length === 0) return 'must be a non-empty string';
  if (password.length > 256) return 'must be at most 256 characters';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(password)) return 'must not contain control characters';
  return undefined;
}

/** The resource type of a database's schema: its migrations, applied at deploy time. */
export const SCHEMA_RESOURCE_TYPE = 'Custom::ServerlessLampDatabaseSchema';

/** Properties of the schema resource. */
const SCHEMA_PROPERTIES = ['Bucket', 'Key', 'Host', 'Port', 'Database', 'UserName', 'Authentication', 'PasswordSecretArn', 'OutOfOrder'];

/** Where the migration files are, where they run, and as whom. */
export interface SchemaSpec {
  /** The asset's bucket and key: a zip archive of the migrations directory. */
  readonly bucket: string;
  readonly key: string;
  /** The cluster writer endpoint. */
  readonly host: string;
  readonly port: number;
  readonly database: string;
  /** The migration user (declared like the application users), never the master user. */
  readonly userName: string;
  /** IAM: the provider signs an authentication token; PASSWORD: it reads the user's secret. */
  readonly authentication: Authentication;
  /** ARN of the migration user's secret (PASSWORD only). */
  readonly passwordSecretArn?: string;
  /** Whether a version lower than the newest applied may still run. */
  readonly outOfOrder: boolean;
}

const BUCKET_NAME = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const OBJECT_KEY = /^[A-Za-z0-9!_.*'()/-]{1,1024}$/;

/**
 * Parse and validate the schema resource's properties (Create and Update).
 * Throws `InvalidRequestError` naming the property, the value and what is allowed.
 */
export function parseSchemaSpec(props: Record<string, unknown> | undefined): SchemaSpec {
  checkProperties(props, SCHEMA_PROPERTIES);
  const bucket = requireString(props, 'Bucket');
  if (!BUCKET_NAME.test(bucket)) throw new InvalidRequestError(`Bucket (${show(bucket)}) must be an S3 bucket name`);
  const key = requireString(props, 'Key');
  if (!OBJECT_KEY.test(key)) throw new InvalidRequestError(`Key (${show(key)}) must be an S3 object key of safe characters`);
  // Where to connect; the schema never uses the master secret.
  const { host, port } = parseEndpoint(props);
  const userName = requireString(props, 'UserName');
  const userProblem = userNameProblem(userName);
  if (userProblem) throw new InvalidRequestError(`UserName (${show(userName)}) ${userProblem}`);
  const database = requireString(props, 'Database');
  const databaseProblem = databaseNameProblem(database);
  if (databaseProblem) throw new InvalidRequestError(`Database (${show(database)}) ${databaseProblem}`);
  const outOfOrder = props.OutOfOrder ?? 'false';
  if (outOfOrder !== 'true' && outOfOrder !== 'false' && outOfOrder !== true && outOfOrder !== false) {
    throw new InvalidRequestError(`OutOfOrder (${show(outOfOrder)}) must be 'true' or 'false'`);
  }
  const authentication = props.Authentication;
  if (authentication !== 'IAM' && authentication !== 'PASSWORD') {
    throw new InvalidRequestError(`Authentication (${show(authentication)}) must be 'IAM' or 'PASSWORD'`);
  }
  const base = { bucket, key, host, port, database, userName, authentication, outOfOrder: String(outOfOrder) === 'true' } as const;
  if (authentication === 'IAM') {
    if (props.PasswordSecretArn !== undefined && props.PasswordSecretArn !== '') {
      throw new InvalidRequestError("PasswordSecretArn applies only to Authentication 'PASSWORD'");
    }
    return base;
  }
  return { ...base, passwordSecretArn: secretArn(props, 'PasswordSecretArn') };
}
