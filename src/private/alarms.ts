/*
 * The alarms themselves: settings checked, each alarm made from its defaults
 * and the user's settings, per proxy and for the handler and the cluster.
 */
import { Token, aws_cloudwatch as cloudwatch, aws_cloudwatch_actions as cloudwatchActions, aws_sns as sns } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ALARM_DEFAULTS, AlarmDefaults, OPERATOR_TEXT } from './alarm-defaults';
import { ServerlessLampValidationError } from './errors';
import { AlarmMetric } from './metrics';
import { validateNumber } from './validation';
import type { HandlerErrorCode } from '../handler-error-code';
import type {
  AlarmSettings,
  DatabaseAlarmsOptions,
  HandlerFailureCodeAlarmSettings,
  ProxyAlarmsOptions,
} from '../monitoring';

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

/** The metrics of one proxy its alarms evaluate. */
export interface ProxyAlarmMetrics {
  /** `AvailabilityPercentage` of the writer. */
  readonly availability: AlarmMetric;
  readonly databaseConnectionsUtilization: AlarmMetric;
  readonly sessionPinning: AlarmMetric;
  readonly borrowLatency: AlarmMetric;
  readonly failedClientAuthentications: AlarmMetric;
}

/** The five alarms of one proxy; `proxyPath` names it in their descriptions. */
export function createProxyAlarms(
  scope: Construct,
  proxyPath: string,
  metrics: ProxyAlarmMetrics,
  o: ProxyAlarmsOptions,
  prefix: string,
): MadeProxyAlarms {
  validateProxyAlarmsOptions(o, prefix);
  const subject = `RDS Proxy ${proxyPath}`;
  const alarm = (id: string, what: string, key: typeof PROXY_ALARM_KEYS[number]) =>
    makeAlarm(scope, id, `${subject}, ${what}`, metrics[key], ALARM_DEFAULTS[key], o[key], o.alarmTopic);
  return {
    availability: alarm('Availability', 'availability of the writer (AvailabilityPercentage, READ_WRITE)', 'availability'),
    databaseConnectionsUtilization: alarm('DatabaseConnectionsUtilization', 'database connections near MaxDatabaseConnectionsAllowed',
      'databaseConnectionsUtilization'),
    sessionPinning: alarm('SessionPinning', 'lasting session pinning (DatabaseConnectionsCurrentlySessionPinned)', 'sessionPinning'),
    borrowLatency: alarm('BorrowLatency', 'waits for a database connection (DatabaseConnectionsBorrowLatency)', 'borrowLatency'),
    failedClientAuthentications: alarm('FailedClientAuthentications', 'failed client authentications (ClientConnectionsSetupFailedAuth)',
      'failedClientAuthentications'),
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

/** The metrics of the handler and the cluster their alarms evaluate. */
export interface DatabaseAlarmMetrics {
  /** The handler's `QueryFailures`, of every code or of one. */
  readonly handlerFailures: (errorCode?: HandlerErrorCode) => AlarmMetric;
  readonly handlerErrors: AlarmMetric;
  readonly handlerThrottles: AlarmMetric;
  /** None when the cluster has no Serverless v2 instances: then there is no alarm either. */
  readonly capacityAtMaximum?: AlarmMetric;
  readonly writerCpu: AlarmMetric;
}

/**
 * The alarms of the handler and the cluster; `databasePath` names them in
 * their descriptions, `codes` are the error codes alarmed on by default.
 */
export function createClusterAndHandlerAlarms(
  scope: Construct,
  databasePath: string,
  metrics: DatabaseAlarmMetrics,
  o: DatabaseAlarmsOptions,
  prefix: string,
  codes: () => HandlerErrorCode[],
): MadeDatabaseAlarms {
  validateDatabaseAlarmsOptions(o, prefix, codes);
  const handler = `Query handler ${databasePath}`;
  const alarm = (id: string, subject: string, metric: AlarmMetric, key: typeof DATABASE_ALARM_KEYS[number]) =>
    makeAlarm(scope, id, subject, metric, ALARM_DEFAULTS[key], o[key], o.alarmTopic);
  const byCode = codeAlarms(o, codes).flatMap((s) => {
    const made = makeAlarm(scope, `HandlerFailures${pascal(s.errorCode.code)}`,
      `${handler}, failures answered with ${s.errorCode.code} (QueryFailures, ErrorCode=${s.errorCode.code})`,
      metrics.handlerFailures(s.errorCode), ALARM_DEFAULTS.handlerFailureCode, s, o.alarmTopic);
    return made ? [{ code: s.errorCode.code, alarm: made }] : [];
  });
  const capacity = metrics.capacityAtMaximum;
  return {
    handlerFailures: alarm('HandlerFailures', `${handler}, failed answers of any code (QueryFailures)`,
      metrics.handlerFailures(), 'handlerFailures'),
    handlerFailuresByCode: byCode,
    handlerErrors: alarm('HandlerErrors', `${handler}, function errors (Lambda Errors)`, metrics.handlerErrors, 'handlerErrors'),
    handlerThrottles: alarm('HandlerThrottles', `${handler}, throttled invocations (Lambda Throttles)`,
      metrics.handlerThrottles, 'handlerThrottles'),
    capacityAtMaximum: capacity
      ? alarm('CapacityAtMaximum', `Aurora cluster ${databasePath}, Serverless v2 capacity (ACUUtilization)`, capacity, 'capacityAtMaximum')
      : undefined,
    writerCpu: alarm('WriterCpu', `Aurora cluster ${databasePath}, writer CPU (CPUUtilization, Role=WRITER)`,
      metrics.writerCpu, 'writerCpu'),
  };
}
