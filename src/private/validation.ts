import { Duration, Token } from 'aws-cdk-lib';

/**
 * Thrown for invalid construct input at synth time.
 *
 * aws-cdk-lib's own `ValidationError` is `@internal`, so the library has its own.
 */
export class ServerlessLampValidationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServerlessLampValidationError';
  }
}

/** Throws when `value` (a resolved number) is outside [min, max] or not a multiple of `step`. */
export function validateNumber(
  prop: string,
  value: number | undefined,
  opts: { min: number; max: number; integer?: boolean; step?: number; unit?: string },
): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  const unit = opts.unit ? ` ${opts.unit}` : '';
  const range = `between ${opts.min} and ${opts.max}${unit}`;
  if (Number.isNaN(value) || value < opts.min || value > opts.max) {
    throw new ServerlessLampValidationError(`${prop} (${value}${unit}) must be ${range}`);
  }
  if (opts.integer && !Number.isInteger(value)) {
    throw new ServerlessLampValidationError(`${prop} (${value}${unit}) must be a whole number ${range}`);
  }
  if (opts.step !== undefined && !Number.isInteger(value / opts.step)) {
    throw new ServerlessLampValidationError(`${prop} (${value}${unit}) must be a multiple of ${opts.step}, ${range}`);
  }
}

/** Throws when a duration is outside [min, max] seconds or not a whole number of seconds. */
export function validateSeconds(prop: string, value: Duration | undefined, min: number, max: number): void {
  if (value === undefined || value.isUnresolved()) return;
  const ms = value.toMilliseconds();
  if (ms % 1000 !== 0) {
    throw new ServerlessLampValidationError(
      `${prop} (${value.toHumanString()}) must be a whole number of seconds between ${min} and ${max} seconds`,
    );
  }
  validateNumber(prop, ms / 1000, { min, max, integer: true, unit: 'seconds' });
}

/** Reserved words and names that Aurora MySQL refuses, or that RDS keeps for itself. */
const RESERVED_USERNAMES = new Set([
  'rdsadmin',
  'rdsproxyadmin',
  'rdsrepladmin',
  'root',
  'mysql',
  'mysql.sys',
  'mysql.session',
  'mysql.infoschema',
  'aws_comprehend',
  'aws_sagemaker',
  'aws_bedrock',
]);

/**
 * MySQL reserved words that may not be used unquoted as identifiers.
 * A subset that covers the words most likely to be chosen as a name.
 * @see https://dev.mysql.com/doc/refman/8.0/en/keywords.html
 */
const MYSQL_RESERVED_WORDS = new Set([
  'add', 'all', 'alter', 'and', 'as', 'asc', 'between', 'by', 'case', 'check', 'column', 'create', 'cross',
  'current_user', 'database', 'databases', 'default', 'delete', 'desc', 'distinct', 'drop', 'else', 'exists',
  'false', 'for', 'foreign', 'from', 'grant', 'group', 'having', 'in', 'index', 'inner', 'insert', 'interval',
  'into', 'is', 'join', 'key', 'keys', 'left', 'like', 'limit', 'lock', 'not', 'null', 'on', 'or', 'order',
  'outer', 'primary', 'references', 'rename', 'revoke', 'right', 'schema', 'schemas', 'select', 'set', 'show',
  'table', 'then', 'to', 'true', 'union', 'unique', 'update', 'usage', 'use', 'user', 'using', 'values',
  'when', 'where', 'with',
]);

/** Database schemas that exist on every MySQL server. */
const SYSTEM_SCHEMAS = new Set(['mysql', 'information_schema', 'performance_schema', 'sys', 'tmp']);

/**
 * Validates a database name for Aurora MySQL: 1 to 64 letters, digits or
 * underscores, starting with a letter, not a reserved word or system schema.
 * @see https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html
 */
export function validateDatabaseName(prop: string, value: string | undefined): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  const allowed = '1 to 64 letters, digits or underscores, starting with a letter';
  if (!/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(value)) {
    throw new ServerlessLampValidationError(`${prop} ('${value}') must be ${allowed}`);
  }
  const lower = value.toLowerCase();
  if (MYSQL_RESERVED_WORDS.has(lower) || SYSTEM_SCHEMAS.has(lower)) {
    throw new ServerlessLampValidationError(
      `${prop} ('${value}') is a MySQL reserved word or system schema; choose another name (${allowed})`,
    );
  }
}

/**
 * Validates the master user name for Aurora MySQL: 1 to 16 letters, digits or
 * underscores, starting with a letter, not reserved by MySQL or RDS.
 * @see https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html
 */
export function validateUsername(prop: string, value: string | undefined): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  const allowed = '1 to 16 letters, digits or underscores, starting with a letter';
  if (!/^[A-Za-z][A-Za-z0-9_]{0,15}$/.test(value)) {
    throw new ServerlessLampValidationError(`${prop} ('${value}') must be ${allowed}`);
  }
  const lower = value.toLowerCase();
  if (RESERVED_USERNAMES.has(lower) || MYSQL_RESERVED_WORDS.has(lower)) {
    throw new ServerlessLampValidationError(
      `${prop} ('${value}') is reserved by MySQL or Amazon RDS; choose another name (${allowed})`,
    );
  }
}

/**
 * Validates an RDS Proxy name: 1 to 63 letters, digits or hyphens, starting
 * with a letter, not ending with a hyphen, without two consecutive hyphens.
 * @see https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBProxy.html
 */
export function validateProxyName(prop: string, value: string | undefined): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  const ok = /^[A-Za-z][A-Za-z0-9-]{0,62}$/.test(value) && !value.endsWith('-') && !value.includes('--');
  if (!ok) {
    throw new ServerlessLampValidationError(
      `${prop} ('${value}') must be 1 to 63 letters, digits or hyphens, start with a letter, ` +
        'not end with a hyphen and not contain two consecutive hyphens',
    );
  }
}
