import { Annotations, Duration, RemovalPolicy, Token, aws_lambda as lambda } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { ServerlessLampValidationError } from './errors';
import { LOWEST_NODE_MAJOR, nodeMajor } from './function-runtime';
import { MYSQL_RESERVED_WORDS, RESERVED_USER_NAMES, SYSTEM_SCHEMAS } from '../provider/properties';
import type { ServerlessLampDatabaseProps } from '../serverless-lamp-database-props';

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


// RESERVED_USER_NAMES, MYSQL_RESERVED_WORDS and SYSTEM_SCHEMAS: the users provider's lists (src/provider/properties.ts),
// so that the construct and the provider refuse the same names.

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
  if (RESERVED_USER_NAMES.has(lower) || MYSQL_RESERVED_WORDS.has(lower)) {
    throw new ServerlessLampValidationError(
      `${prop} ('${value}') is reserved by MySQL or Amazon RDS; choose another name (${allowed})`,
    );
  }
}

/**
 * Validates an RDS Proxy name or a cluster identifier: 1 to 63 letters, digits
 * or hyphens, starting with a letter, not ending with a hyphen, without two
 * consecutive hyphens.
 * @see https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBProxy.html
 * @see https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html
 */
export function validateRdsIdentifier(prop: string, value: string | undefined): void {
  if (value === undefined || Token.isUnresolved(value)) return;
  const ok = /^[A-Za-z][A-Za-z0-9-]{0,62}$/.test(value) && !value.endsWith('-') && !value.includes('--');
  if (!ok) {
    throw new ServerlessLampValidationError(
      `${prop} ('${value}') must be 1 to 63 letters, digits or hyphens, start with a letter, ` +
        'not end with a hyphen and not contain two consecutive hyphens',
    );
  }
}

/**
 * Validates the runtime of the functions the construct deploys: a Node.js
 * runtime (`lambda.RuntimeFamily.NODEJS`) from Node.js 22 on, the oldest their
 * bundles are built for.
 * @see https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html
 */
export function validateFunctionRuntime(prop: string, runtime: lambda.Runtime | undefined): void {
  if (runtime === undefined || Token.isUnresolved(runtime.name)) return;
  const major = nodeMajor(runtime.name);
  if (runtime.family === lambda.RuntimeFamily.NODEJS && major !== undefined && major >= LOWEST_NODE_MAJOR) return;
  const family = runtime.family === undefined ? 'no family' : `family ${lambda.RuntimeFamily[runtime.family]}`;
  throw new ServerlessLampValidationError(
    `${prop} (${runtime.name}, ${family}) must be a Node.js runtime (lambda.RuntimeFamily.NODEJS), ` +
      `nodejs${LOWEST_NODE_MAJOR}.x or newer, such as lambda.Runtime.NODEJS_${LOWEST_NODE_MAJOR}_X`,
  );
}

/**
 * The log types Aurora MySQL exports to CloudWatch Logs.
 * @see https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Integrating.CloudWatch.html
 */
const LOG_EXPORT_TYPES = ['audit', 'error', 'general', 'slowquery', 'iam-db-auth-error'];

/** Whether a duration can be checked now (it is set and not a token). */
function known(d: Duration | undefined): d is Duration {
  return d !== undefined && !d.isUnresolved();
}

/**
 * The checks of a `ServerlessLampDatabaseProps` beyond the range of one value:
 * each returns the message of what is wrong, or nothing.
 */
const DATABASE_RULES: Array<(p: ServerlessLampDatabaseProps) => string | undefined> = [
  (p) => {
    const handler = p.handler?.timeout ?? Duration.seconds(15);
    const borrow = p.proxy?.borrowTimeout ?? Duration.seconds(10);
    if (!known(handler) || !known(borrow) || handler.toMilliseconds() >= borrow.toMilliseconds() + 3000) return undefined;
    return `handler.timeout (${handler.toHumanString()}) must be at least 3 seconds longer than ` +
      `proxy.borrowTimeout (${borrow.toHumanString()}), so the handler can report a borrow timeout before Lambda stops it`;
  },
  (p) => {
    if (!known(p.monitoringInterval) || [0, 1, 5, 10, 15, 30, 60].includes(p.monitoringInterval.toMilliseconds() / 1000)) return undefined;
    return `monitoringInterval (${p.monitoringInterval.toHumanString()}) must be 0, 1, 5, 10, 15, 30 or 60 seconds`;
  },
  (p) => {
    const min = p.serverlessV2MinCapacity ?? 0.5;
    const max = p.serverlessV2MaxCapacity ?? 2;
    if (Token.isUnresolved(min) || Token.isUnresolved(max) || min <= max) return undefined;
    return `serverlessV2MinCapacity (${min} ACU) must be <= serverlessV2MaxCapacity (${max} ACU)`;
  },
  (p) => {
    if (!known(p.secretRotationInterval)) return undefined;
    const hours = p.secretRotationInterval.toHours({ integral: false });
    if (hours >= 4 && hours <= 24000) return undefined;
    return `secretRotationInterval (${p.secretRotationInterval.toHumanString()}) must be between 4 hours and 1000 days`;
  },
  (p) => p.vpc && p.vpcFlowLogs !== undefined
    ? `vpcFlowLogs (${p.vpcFlowLogs}) applies only to the VPC this construct creates; with your own vpc, manage its flow logs there`
    : undefined,
  (p) => {
    const tls = p.clusterParameters?.require_secure_transport;
    if (tls === undefined || Token.isUnresolved(tls) || ['ON', '1'].includes(tls.toUpperCase())) return undefined;
    return `clusterParameters.require_secure_transport ('${tls}') must be 'ON': this construct always requires TLS`;
  },
  (p) => {
    const unknown = (p.cloudwatchLogsExports ?? []).filter((t) => !Token.isUnresolved(t) && !LOG_EXPORT_TYPES.includes(t));
    if (unknown.length === 0) return undefined;
    return `cloudwatchLogsExports (${unknown.map((t) => `'${t}'`).join(', ')}) must name Aurora MySQL log types: ${LOG_EXPORT_TYPES.join(', ')}`;
  },
  (p) => p.removalPolicy === RemovalPolicy.DESTROY && p.deletionProtection === true
    ? 'Either set removalPolicy to RemovalPolicy.DESTROY or deletionProtection to true, but not both: ' +
      'a protected cluster cannot be destroyed with its stack'
    : undefined,
];

/**
 * Throws a `ServerlessLampValidationError` for the first invalid value or
 * combination of the database's props (the proxy's pool options are checked
 * where each proxy is made); warns, on `scope`, of legal but risky choices.
 */
export function validateDatabaseProps(scope: IConstruct, p: ServerlessLampDatabaseProps): void {
  validateSeconds('handler.timeout', p.handler?.timeout, 4, 900);
  validateNumber('handler.memorySize', p.handler?.memorySize, { min: 128, max: 10240, integer: true, unit: 'MiB' });
  validateNumber('handler.reservedConcurrentExecutions', p.handler?.reservedConcurrentExecutions, { min: 0, max: 100000, integer: true });
  if (known(p.backupRetention)) {
    validateNumber('backupRetention', p.backupRetention.toDays({ integral: false }), { min: 1, max: 35, integer: true, unit: 'days' });
  }
  validateNumber('serverlessV2MinCapacity', p.serverlessV2MinCapacity, { min: 0, max: 256, step: 0.5, unit: 'ACU' });
  validateNumber('serverlessV2MaxCapacity', p.serverlessV2MaxCapacity, { min: 1, max: 256, step: 0.5, unit: 'ACU' });
  if (known(p.backtrackWindow)) validateSeconds('backtrackWindow', p.backtrackWindow, 0, 72 * 3600);
  validateDatabaseName('defaultDatabaseName', p.defaultDatabaseName);
  validateUsername('masterUsername', p.masterUsername);
  validateRdsIdentifier('clusterIdentifier', p.clusterIdentifier);
  validateFunctionRuntime('functionRuntime', p.functionRuntime);
  for (const rule of DATABASE_RULES) {
    const message = rule(p);
    if (message) throw new ServerlessLampValidationError(message);
  }

  // Legal but risky: say so, in a way users can acknowledge.
  const warn = (id: string, message: string) => Annotations.of(scope).addWarningV2(`serverless-lamp:${id}`, message);
  if (p.removalPolicy === RemovalPolicy.DESTROY) {
    warn('removal-policy-destroy', 'removalPolicy is RemovalPolicy.DESTROY: the cluster and its data are deleted with the stack, without a final snapshot');
  }
  if (p.masterUsername?.toLowerCase() === 'admin') {
    warn('admin-username', "masterUsername is 'admin', a well-known default that AWS Control Tower control CT.RDS.PR.21 rejects");
  }
  if (p.serverlessV2MinCapacity === 0) {
    warn('auto-pause', 'serverlessV2MinCapacity is 0 (auto-pause): the RDS Proxy keeps database connections open, which can keep the cluster from pausing');
  }
}
