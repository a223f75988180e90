/*
 * Every alarm's default threshold, period and evaluation, with the reason an
 * operator reads in the alarm's description.
 */
import { Duration, aws_cloudwatch as cloudwatch } from 'aws-cdk-lib';

export interface AlarmDefaults {
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

/** How an alarm description writes each comparison. */
export const OPERATOR_TEXT: Record<string, string> = {
  [C.GREATER_THAN_THRESHOLD]: '>',
  [C.GREATER_THAN_OR_EQUAL_TO_THRESHOLD]: '>=',
  [C.LESS_THAN_THRESHOLD]: '<',
  [C.LESS_THAN_OR_EQUAL_TO_THRESHOLD]: '<=',
};
