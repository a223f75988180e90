import { Duration, Token, aws_cloudwatch as cloudwatch, aws_cloudwatch_actions as cloudwatchActions, aws_lambda as lambda, aws_rds as rds, aws_sns as sns } from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';
import { DatabaseDashboard } from './dashboard';
import { ServerlessLampValidationError } from './errors';
import { validateNumber } from './validation';
import type {
  AlarmSettings,
  DatabaseAlarms,
  DatabaseAlarmsOptions,
  DashboardOptions,
  HandlerErrorCode,
  HandlerFailureCodeAlarmSettings,
  HandlerFailuresMetricOptions,
  MonitoringOptions,
  ProxyAlarms,
  ProxyAlarmsOptions,
} from '../monitoring';
import type { ProxyBase } from '../proxy-base';
import type { ServerlessLampDatabase } from '../serverless-lamp-database';

/**
 * The handler's failure metric, written by the handler as CloudWatch embedded
 * metric format: the one place in this library that names it. The handler's
 * own constants (`src/handler/query.lambda.ts`) must say the same.
 */
export const QUERY_FAILURES_METRIC = {
  namespace: 'ServerlessLampDatabase',
  metricName: 'QueryFailures',
  functionNameDimension: 'FunctionName',
  errorCodeDimension: 'ErrorCode',
} as const;

/** How the handler spells an error code. */
export const errorCodePattern = /^[A-Z][A-Z0-9_]{0,63}$/;

// -------------------------------------------------------------------- metrics

/** The handler's `QueryFailures`, all codes or one, summed. */
export function handlerFailuresMetric(handler: lambda.IFunction, props: HandlerFailuresMetricOptions = {}): cloudwatch.Metric {
  const { errorCode, ...options } = props;
  const m = QUERY_FAILURES_METRIC;
  return new cloudwatch.Metric({
    namespace: m.namespace,
    metricName: m.metricName,
    dimensionsMap: errorCode
      ? { [m.functionNameDimension]: handler.functionName, [m.errorCodeDimension]: errorCode.code }
      : { [m.functionNameDimension]: handler.functionName },
    statistic: 'Sum',
    ...options,
  });
}

/**
 * `ACUUtilization` of each Aurora Serverless v2 instance of the cluster
 * (maximum per period), or of the highest of them; none without such instances.
 *
 * Per instance, not the cluster-level metric: at cluster level Aurora
 * averages its Serverless v2 instances, which would hide one of them at its maximum.
 */
export function capacityUtilizationMetric(cluster: rds.DatabaseCluster): AlarmMetric | undefined {
  const serverless = cluster.node.findAll()
    .filter((c): c is rds.CfnDBInstance => c instanceof rds.CfnDBInstance && c.dbInstanceClass === 'db.serverless');
  const metrics = serverless.map((instance) => new cloudwatch.Metric({
    namespace: 'AWS/RDS',
    metricName: 'ACUUtilization',
    dimensionsMap: { DBInstanceIdentifier: instance.ref },
    statistic: 'Maximum',
    period: Duration.minutes(1),
  }));
  if (metrics.length <= 1) return metrics[0];
  const usingMetrics = Object.fromEntries(metrics.map((m, i) => [`acu${i}`, m]));
  return new cloudwatch.MathExpression({
    expression: `MAX([${Object.keys(usingMetrics).join(', ')}])`,
    usingMetrics,
    label: 'Highest ACUUtilization of the Serverless v2 instances',
    period: Duration.minutes(1),
  });
}

/** CPU of the cluster's writer, whichever instance that is (dimension `Role`). */
export function writerCpuMetric(cluster: rds.DatabaseCluster): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: 'AWS/RDS',
    metricName: 'CPUUtilization',
    dimensionsMap: { DBClusterIdentifier: cluster.clusterIdentifier, Role: 'WRITER' },
    statistic: 'Average',
    period: Duration.minutes(1),
  });
}

// ---------------------------------------------------------- alarm defaults

/** A metric or an expression an alarm can evaluate over a period of its choice. */
type AlarmMetric = cloudwatch.Metric | cloudwatch.MathExpression;

interface AlarmDefaults {
  readonly threshold: number;
  readonly comparisonOperator: cloudwatch.ComparisonOperator;
  readonly period: Duration;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  readonly treatMissingData: cloudwatch.TreatMissingData;
  /** The statistic, as the description names it. */
  readonly statistic: string;
  /** The unit of the threshold, as the description names it. */
  readonly unit: string;
  /** Why it matters and what to do, for the alarm description. */
  readonly reason: string;
}

const C = cloudwatch.ComparisonOperator;
const NOT_BREACHING = cloudwatch.TreatMissingData.NOT_BREACHING;
const minute = Duration.minutes(1);

/**
 * Every alarm's default, with its reason. The README's alarm table says the
 * same; `test/monitoring.test.ts` checks the synthesized alarms against it.
 */
export const ALARM_DEFAULTS = {
  availability: {
    threshold: 100,
    comparisonOperator: C.LESS_THAN_THRESHOLD,
    period: minute,
    evaluationPeriods: 3,
    datapointsToAlarm: 3,
    treatMissingData: NOT_BREACHING,
    statistic: 'Average',
    unit: '%',
    reason: 'The proxy cannot reach its writer: health checks fail for longer than a failover takes. ' +
      'Check the cluster (events, status), the proxy target health and the security groups between them.',
  },
  databaseConnectionsUtilization: {
    threshold: 90,
    comparisonOperator: C.GREATER_THAN_THRESHOLD,
    period: minute,
    evaluationPeriods: 5,
    datapointsToAlarm: 5,
    treatMissingData: NOT_BREACHING,
    statistic: '100 * Sum DatabaseConnections / Sum MaxDatabaseConnectionsAllowed',
    unit: '%',
    reason: 'The pool is nearly exhausted: new client requests will wait for a connection and then time out (9501). ' +
      'Raise serverlessV2MaxCapacity (max_connections follows it) or maxConnectionsPercent, or look for pinned sessions.',
  },
  sessionPinning: {
    threshold: 1,
    comparisonOperator: C.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    period: minute,
    evaluationPeriods: 15,
    datapointsToAlarm: 15,
    treatMissingData: NOT_BREACHING,
    statistic: 'Sum',
    unit: 'connections',
    reason: 'A pinned connection serves one client only, which defeats the pool. Some client uses server-side prepared ' +
      'statements, SET, temporary tables or locks; the proxy logs name the cause. Consider sessionPinningFilters.',
  },
  borrowLatency: {
    threshold: 100_000,
    comparisonOperator: C.GREATER_THAN_THRESHOLD,
    period: minute,
    evaluationPeriods: 5,
    datapointsToAlarm: 5,
    treatMissingData: NOT_BREACHING,
    statistic: 'Average',
    unit: 'microseconds',
    reason: 'Clients queue for a database connection (an idle pooled one takes well under 1 ms, a new one tens of ms). ' +
      'The pool is at its limit or connections are pinned.',
  },
  failedClientAuthentications: {
    threshold: 5,
    comparisonOperator: C.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    period: Duration.minutes(5),
    evaluationPeriods: 1,
    datapointsToAlarm: 1,
    treatMissingData: NOT_BREACHING,
    statistic: 'Sum',
    unit: 'failed setups',
    reason: 'Clients fail IAM or TLS setup: a missing rds-db:connect grant, a wrong user, an expired token reused, ' +
      'a client without TLS, or someone probing.',
  },
  handlerFailures: {
    threshold: 1,
    comparisonOperator: C.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    period: minute,
    evaluationPeriods: 3,
    datapointsToAlarm: 3,
    treatMissingData: NOT_BREACHING,
    statistic: 'Sum',
    unit: 'failed answers',
    reason: 'Callers keep receiving { ok: false } after the handler\'s own retry. The handler\'s log lines carry the code and detail.',
  },
  handlerFailureCode: {
    threshold: 1,
    comparisonOperator: C.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    period: minute,
    evaluationPeriods: 3,
    datapointsToAlarm: 2,
    treatMissingData: NOT_BREACHING,
    statistic: 'Sum',
    unit: 'failed answers',
    reason: 'This code means the path from the handler to the database is broken; it has no healthy rate.',
  },
  handlerErrors: {
    threshold: 1,
    comparisonOperator: C.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    period: minute,
    evaluationPeriods: 3,
    datapointsToAlarm: 3,
    treatMissingData: NOT_BREACHING,
    statistic: 'Sum',
    unit: 'errors',
    reason: 'The function itself failed (timeout, out of memory, crash), which the handler is built never to do. See its logs.',
  },
  handlerThrottles: {
    threshold: 1,
    comparisonOperator: C.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    period: minute,
    evaluationPeriods: 5,
    datapointsToAlarm: 5,
    treatMissingData: NOT_BREACHING,
    statistic: 'Sum',
    unit: 'throttles',
    reason: 'Lambda rejects invocations: the reserved concurrency or the account\'s concurrency quota is reached.',
  },
  capacityAtMaximum: {
    threshold: 90,
    comparisonOperator: C.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    period: minute,
    evaluationPeriods: 15,
    datapointsToAlarm: 15,
    treatMissingData: NOT_BREACHING,
    statistic: 'Maximum',
    unit: '% of serverlessV2MaxCapacity',
    reason: 'An Aurora Serverless v2 instance has scaled up as high as it can. Raise serverlessV2MaxCapacity, add readers or tune queries.',
  },
  writerCpu: {
    threshold: 90,
    comparisonOperator: C.GREATER_THAN_THRESHOLD,
    period: minute,
    evaluationPeriods: 5,
    datapointsToAlarm: 5,
    treatMissingData: cloudwatch.TreatMissingData.MISSING,
    statistic: 'Average',
    unit: '%',
    reason: 'Sustained high CPU on the writer slows every query (AWS recommended alarm). Look at Performance Insights or ' +
      'the slow query log; raise the capacity.',
  },
} satisfies Record<string, AlarmDefaults>;

const OPERATOR_TEXT: Record<string, string> = {
  [C.GREATER_THAN_THRESHOLD]: '>',
  [C.GREATER_THAN_OR_EQUAL_TO_THRESHOLD]: '>=',
  [C.LESS_THAN_THRESHOLD]: '<',
  [C.LESS_THAN_OR_EQUAL_TO_THRESHOLD]: '<=',
};

/** Throws for settings CloudWatch would refuse; `prop` is how the user spelled them. */
export function validateAlarmSettings(prop: string, s: AlarmSettings | undefined, defaults: AlarmDefaults): void {
  if (s === undefined) return;
  if (s.threshold !== undefined && !Token.isUnresolved(s.threshold) && !Number.isFinite(s.threshold)) {
    throw new ServerlessLampValidationError(`${prop}.threshold (${s.threshold}) must be a finite number`);
  }
  validateNumber(`${prop}.evaluationPeriods`, s.evaluationPeriods, { min: 1, max: 1440, integer: true });
  const evaluationPeriods = s.evaluationPeriods ?? defaults.evaluationPeriods;
  validateNumber(`${prop}.datapointsToAlarm`, s.datapointsToAlarm, { min: 1, max: 1440, integer: true });
  const datapoints = s.datapointsToAlarm ?? (s.evaluationPeriods === undefined ? defaults.datapointsToAlarm : evaluationPeriods);
  if (!Token.isUnresolved(datapoints) && !Token.isUnresolved(evaluationPeriods) && datapoints > evaluationPeriods) {
    throw new ServerlessLampValidationError(
      `${prop}.datapointsToAlarm (${datapoints}) must be <= ${prop}.evaluationPeriods (${evaluationPeriods})`);
  }
  const period = s.period ?? defaults.period;
  if (period.isUnresolved()) return;
  const seconds = period.toSeconds({ integral: false });
  if (seconds < 60 || seconds % 60 !== 0) {
    throw new ServerlessLampValidationError(`${prop}.period (${period.toHumanString()}) must be a whole number of minutes`);
  }
  if (!Token.isUnresolved(evaluationPeriods) && seconds * evaluationPeriods > 86_400) {
    throw new ServerlessLampValidationError(
      `${prop}.period (${period.toHumanString()}) times ${prop}.evaluationPeriods (${evaluationPeriods}) must be at most one day`);
  }
}

/**
 * One alarm from its defaults and the user's settings, or nothing when turned
 * off. Its description says what fired, on what, and what to do.
 */
function makeAlarm(
  scope: Construct,
  id: string,
  subject: string,
  metric: AlarmMetric,
  defaults: AlarmDefaults,
  settings: AlarmSettings | undefined,
  topic: sns.ITopic | undefined,
): cloudwatch.Alarm | undefined {
  if (settings?.enabled === false) return undefined;
  const threshold = settings?.threshold ?? defaults.threshold;
  const period = settings?.period ?? defaults.period;
  const evaluationPeriods = settings?.evaluationPeriods ?? defaults.evaluationPeriods;
  // A new evaluation window without its own datapoints means "all of them".
  const datapointsToAlarm = settings?.datapointsToAlarm ??
    (settings?.evaluationPeriods === undefined ? defaults.datapointsToAlarm : evaluationPeriods);
  const condition = `${defaults.statistic} ${OPERATOR_TEXT[defaults.comparisonOperator]} ${threshold} ${defaults.unit} ` +
    `in ${datapointsToAlarm} of ${evaluationPeriods} periods of ${period.toHumanString()}`;
  const alarm = new cloudwatch.Alarm(scope, id, {
    metric: metric.with({ period }),
    threshold,
    comparisonOperator: defaults.comparisonOperator,
    evaluationPeriods,
    datapointsToAlarm,
    treatMissingData: defaults.treatMissingData,
    alarmDescription: `${subject}: ${condition}. ${defaults.reason}`,
  });
  if (topic) alarm.addAlarmAction(new cloudwatchActions.SnsAction(topic));
  return alarm;
}

// ------------------------------------------------------------ proxy alarms

export interface MadeProxyAlarms {
  readonly availability?: cloudwatch.Alarm;
  readonly databaseConnectionsUtilization?: cloudwatch.Alarm;
  readonly sessionPinning?: cloudwatch.Alarm;
  readonly borrowLatency?: cloudwatch.Alarm;
  readonly failedClientAuthentications?: cloudwatch.Alarm;
}

const PROXY_ALARM_KEYS = ['availability', 'databaseConnectionsUtilization', 'sessionPinning', 'borrowLatency', 'failedClientAuthentications'] as const;

export function validateProxyAlarmsOptions(o: ProxyAlarmsOptions, prefix: string): void {
  for (const key of PROXY_ALARM_KEYS) validateAlarmSettings(`${prefix}${key}`, o[key], ALARM_DEFAULTS[key]);
}

/** The five alarms of one proxy. */
export function createProxyAlarms(scope: Construct, proxy: ProxyBase, o: ProxyAlarmsOptions, prefix: string): MadeProxyAlarms {
  validateProxyAlarmsOptions(o, prefix);
  const subject = `RDS Proxy ${proxy.node.path}`;
  const alarm = (id: string, what: string, metric: AlarmMetric, key: typeof PROXY_ALARM_KEYS[number]) =>
    makeAlarm(scope, id, `${subject}, ${what}`, metric, ALARM_DEFAULTS[key], o[key], o.alarmTopic);
  return {
    availability: alarm('Availability', 'availability of the writer (AvailabilityPercentage, READ_WRITE)',
      proxy.metricAvailabilityPercentage(), 'availability'),
    databaseConnectionsUtilization: alarm('DatabaseConnectionsUtilization', 'database connections near MaxDatabaseConnectionsAllowed',
      proxy.metricDatabaseConnectionsUtilization(), 'databaseConnectionsUtilization'),
    sessionPinning: alarm('SessionPinning', 'lasting session pinning (DatabaseConnectionsCurrentlySessionPinned)',
      proxy.metricDatabaseConnectionsCurrentlySessionPinned(), 'sessionPinning'),
    borrowLatency: alarm('BorrowLatency', 'waits for a database connection (DatabaseConnectionsBorrowLatency)',
      proxy.metricDatabaseConnectionsBorrowLatency(), 'borrowLatency'),
    failedClientAuthentications: alarm('FailedClientAuthentications', 'failed client authentications (ClientConnectionsSetupFailedAuth)',
      proxy.metricClientConnectionsSetupFailedAuth(), 'failedClientAuthentications'),
  };
}

export function alarmsOfProxy(a: MadeProxyAlarms): cloudwatch.Alarm[] {
  return PROXY_ALARM_KEYS.map((k) => a[k]).filter((x): x is cloudwatch.Alarm => x !== undefined);
}

// ---------------------------------------------- handler and cluster alarms

export interface MadeDatabaseAlarms {
  readonly handlerFailures?: cloudwatch.Alarm;
  readonly handlerFailuresByCode: Array<{ code: string; alarm: cloudwatch.Alarm }>;
  readonly handlerErrors?: cloudwatch.Alarm;
  readonly handlerThrottles?: cloudwatch.Alarm;
  readonly capacityAtMaximum?: cloudwatch.Alarm;
  readonly writerCpu?: cloudwatch.Alarm;
}

const DATABASE_ALARM_KEYS = ['handlerFailures', 'handlerErrors', 'handlerThrottles', 'capacityAtMaximum', 'writerCpu'] as const;

/** The per-code alarms asked for, or the default: one per database-path code. */
function codeAlarms(o: DatabaseAlarmsOptions, codes: () => HandlerErrorCode[]): HandlerFailureCodeAlarmSettings[] {
  return o.handlerFailuresByCode ?? codes().map((errorCode) => ({ errorCode }));
}

export function validateDatabaseAlarmsOptions(o: DatabaseAlarmsOptions, prefix: string, codes: () => HandlerErrorCode[]): void {
  validateProxyAlarmsOptions(o, prefix);
  for (const key of DATABASE_ALARM_KEYS) validateAlarmSettings(`${prefix}${key}`, o[key], ALARM_DEFAULTS[key]);
  const seen = new Set<string>();
  codeAlarms(o, codes).forEach((s, i) => {
    const prop = `${prefix}handlerFailuresByCode[${i}]`;
    validateAlarmSettings(prop, s, ALARM_DEFAULTS.handlerFailureCode);
    if (seen.has(s.errorCode.code)) {
      throw new ServerlessLampValidationError(`${prop}.errorCode (${s.errorCode.code}) appears twice; give each code one alarm`);
    }
    seen.add(s.errorCode.code);
  });
}

/** A construct id from an error code: `DATABASE_UNREACHABLE` -> `DatabaseUnreachable`. */
function pascal(code: string): string {
  return code.toLowerCase().split('_').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('');
}

/** The alarms of the handler and the cluster. */
export function createClusterAndHandlerAlarms(
  scope: Construct,
  db: ServerlessLampDatabase,
  o: DatabaseAlarmsOptions,
  prefix: string,
  codes: () => HandlerErrorCode[],
): MadeDatabaseAlarms {
  assertNoDatabaseAlarms(db);
  validateDatabaseAlarmsOptions(o, prefix, codes);
  const handler = `Query handler ${db.node.path}`;
  const alarm = (id: string, subject: string, metric: AlarmMetric, key: typeof DATABASE_ALARM_KEYS[number]) =>
    makeAlarm(scope, id, subject, metric, ALARM_DEFAULTS[key], o[key], o.alarmTopic);
  const capacity = capacityUtilizationMetric(db.cluster);
  const byCode = codeAlarms(o, codes).flatMap((s) => {
    const made = makeAlarm(scope, `HandlerFailures${pascal(s.errorCode.code)}`,
      `${handler}, failures answered with ${s.errorCode.code} (QueryFailures, ErrorCode=${s.errorCode.code})`,
      db.metricHandlerFailures({ errorCode: s.errorCode }), ALARM_DEFAULTS.handlerFailureCode, s, o.alarmTopic);
    return made ? [{ code: s.errorCode.code, alarm: made }] : [];
  });
  return {
    handlerFailures: alarm('HandlerFailures', `${handler}, failed answers of any code (QueryFailures)`,
      db.metricHandlerFailures(), 'handlerFailures'),
    handlerFailuresByCode: byCode,
    handlerErrors: alarm('HandlerErrors', `${handler}, function errors (Lambda Errors)`, db.metricHandlerErrors(), 'handlerErrors'),
    handlerThrottles: alarm('HandlerThrottles', `${handler}, throttled invocations (Lambda Throttles)`,
      db.metricHandlerThrottles(), 'handlerThrottles'),
    capacityAtMaximum: capacity
      ? alarm('CapacityAtMaximum', `Aurora cluster ${db.node.path}, Serverless v2 capacity (ACUUtilization)`, capacity, 'capacityAtMaximum')
      : undefined,
    writerCpu: alarm('WriterCpu', `Aurora cluster ${db.node.path}, writer CPU (CPUUtilization, Role=WRITER)`,
      writerCpuMetric(db.cluster), 'writerCpu'),
  };
}

// ----------------------------------------------- what each database watches

interface DatabaseMonitoringState {
  /** The proxies added to the database, in the order they were created. */
  readonly proxies: ProxyBase[];
  alarms?: DatabaseAlarms;
  /** The alarm options for proxies added from now on, when they get alarms. */
  addedProxyAlarms?: ProxyAlarmsOptions;
  dashboard?: DatabaseDashboard;
}

const databases = new WeakMap<IConstruct, DatabaseMonitoringState>();
const proxyAlarms = new WeakMap<IConstruct, ProxyAlarms>();

function stateOf(db: IConstruct): DatabaseMonitoringState {
  let state = databases.get(db);
  if (!state) {
    state = { proxies: [] };
    databases.set(db, state);
  }
  return state;
}

export function proxyAlarmsOf(proxy: ProxyBase): ProxyAlarms | undefined {
  return proxyAlarms.get(proxy);
}

export function registerProxyAlarms(proxy: ProxyBase, alarms: ProxyAlarms): void {
  if (proxyAlarms.has(proxy)) {
    throw new ServerlessLampValidationError(`${proxy.node.path} already has its proxy alarms`);
  }
  proxyAlarms.set(proxy, alarms);
}

/**
 * Records the database's alarms; gives its own proxy alarms (unless it has
 * some) and, unless turned off, every added proxy, now and later.
 * Returns the alarms of the database's own proxy.
 */
export function registerDatabaseAlarms(db: ServerlessLampDatabase, alarms: DatabaseAlarms, o: DatabaseAlarmsOptions): ProxyAlarms {
  const state = stateOf(db);
  state.alarms = alarms;
  const own = proxyAlarmsOf(db) ?? db.addProxyAlarms(o);
  if (o.alarmAddedProxies ?? true) {
    state.addedProxyAlarms = o;
    for (const proxy of state.proxies) {
      if (!proxyAlarmsOf(proxy)) proxy.addProxyAlarms(o);
    }
  }
  return own;
}

/** A database has one set of alarms. */
export function assertNoDatabaseAlarms(db: ServerlessLampDatabase): void {
  if (stateOf(db).alarms) {
    throw new ServerlessLampValidationError(`${db.node.path} already has its alarms; adjust them with the options of the first addAlarms()`);
  }
}

export function databaseAlarmsOf(db: ServerlessLampDatabase): DatabaseAlarms | undefined {
  return databases.get(db)?.alarms;
}

/** Called by every `ApplicationProxy` of a database, last in its constructor. */
export function registerApplicationProxy(db: IConstruct, proxy: ProxyBase): void {
  const state = stateOf(db);
  state.proxies.push(proxy);
  if (state.addedProxyAlarms && !proxyAlarmsOf(proxy)) proxy.addProxyAlarms(state.addedProxyAlarms);
  state.dashboard?.addProxyRow(proxy);
}

/** The database's dashboard, with rows for the proxies it has; later proxies add theirs. */
export function addDashboard(db: ServerlessLampDatabase, options: DashboardOptions): cloudwatch.Dashboard {
  const state = stateOf(db);
  if (state.dashboard) {
    throw new ServerlessLampValidationError(`${db.node.path} already has its dashboard`);
  }
  state.dashboard = new DatabaseDashboard(db, options);
  for (const proxy of state.proxies) state.dashboard.addProxyRow(proxy);
  return state.dashboard.dashboard;
}

export function dashboardOf(db: ServerlessLampDatabase): cloudwatch.Dashboard | undefined {
  return databases.get(db)?.dashboard?.dashboard;
}

/** The `monitoring` prop: checked with its own property names, then applied. */
export function applyMonitoring(db: ServerlessLampDatabase, m: MonitoringOptions | undefined, codes: () => HandlerErrorCode[]): void {
  if (m === undefined) return;
  validateDatabaseAlarmsOptions(m, 'monitoring.', codes);
  if (m.dashboardName !== undefined && !m.dashboard) {
    throw new ServerlessLampValidationError(
      `monitoring.dashboardName ('${m.dashboardName}') applies only with monitoring.dashboard: true`);
  }
  if (m.alarms ?? true) db.addAlarms(m);
  if (m.dashboard) db.addDashboard({ dashboardName: m.dashboardName });
}
