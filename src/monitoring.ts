import { Duration, aws_cloudwatch as cloudwatch, aws_rds as rds, aws_sns as sns } from 'aws-cdk-lib';
import { HandlerErrorCode } from './handler-error-code';

/**
 * Options of the handler's `QueryFailures` metric.
 */
export interface HandlerFailuresMetricOptions extends cloudwatch.MetricOptions {
  /**
   * Only the failures answered with this `error.code`.
   *
   * @default - failures of every code
   */
  readonly errorCode?: HandlerErrorCode;
}

/**
 * Options of a proxy's `AvailabilityPercentage` metric.
 */
export interface ProxyAvailabilityMetricOptions extends cloudwatch.MetricOptions {
  /**
   * The role of the targets: the writer (`READ_WRITE`) or the readers (`READ_ONLY`).
   *
   * @default rds.ProxyEndpointTargetRole.READ_WRITE
   */
  readonly targetRole?: rds.ProxyEndpointTargetRole;
}

/**
 * Adjusts one alarm: its threshold and how many periods of what length it
 * evaluates, or turns it off. Unset fields keep the alarm's documented default.
 */
export interface AlarmSettings {
  /**
   * Whether the alarm is created.
   *
   * @default true
   */
  readonly enabled?: boolean;

  /**
   * The value the statistic is compared with, in the metric's unit.
   *
   * @default - the alarm's own default (see the README's alarm table)
   */
  readonly threshold?: number;

  /**
   * The length of each evaluated period: a whole number of minutes.
   *
   * @default - the alarm's own default (see the README's alarm table)
   */
  readonly period?: Duration;

  /**
   * How many of the latest periods are evaluated. Together with `period`, at most one day.
   *
   * @default - the alarm's own default (see the README's alarm table)
   */
  readonly evaluationPeriods?: number;

  /**
   * How many of the evaluated periods must breach for the alarm to fire: 1 to `evaluationPeriods`.
   *
   * @default - the alarm's own default (see the README's alarm table); when only
   * `evaluationPeriods` is set, all of them
   */
  readonly datapointsToAlarm?: number;
}

/**
 * The alarm on one error code of the handler's `QueryFailures` metric.
 */
export interface HandlerFailureCodeAlarmSettings extends AlarmSettings {
  /** The error code the alarm counts. */
  readonly errorCode: HandlerErrorCode;
}

/**
 * The alarms of one RDS Proxy. Every alarm is on unless turned off with
 * `enabled: false`; thresholds, periods and the reason for each are in the
 * README's alarm table and on each property.
 */
export interface ProxyAlarmsOptions {
  /**
   * An SNS topic every alarm notifies when it goes into ALARM.
   *
   * @default - no alarm action: the alarms show in the console and on the dashboard only
   */
  readonly alarmTopic?: sns.ITopic;

  /**
   * The writer stops answering the proxy's health checks:
   * `AvailabilityPercentage` (target group `default`, role `READ_WRITE`), average over
   * the proxy's nodes, below 100 % in each of 3 consecutive minutes. A failover
   * normally completes well inside that window; longer means the proxy cannot
   * reach its writer.
   *
   * @default - on: Average < 100, period 1 minute, 3 of 3
   */
  readonly availability?: AlarmSettings;

  /**
   * The proxy's pool is nearly exhausted: `100 * DatabaseConnections /
   * MaxDatabaseConnectionsAllowed` (both summed over the proxy's nodes per
   * minute) above 90 % in each of 5 consecutive minutes. The shape of AWS's
   * recommended RDS `DatabaseConnections` alarm (90-95 % of the maximum, 5 of 5
   * minutes), applied to the proxy's own limit.
   *
   * @default - on: > 90 %, period 1 minute, 5 of 5
   */
  readonly databaseConnectionsUtilization?: AlarmSettings;

  /**
   * Session pinning has lasted: `DatabaseConnectionsCurrentlySessionPinned`
   * (summed over the proxy's nodes) at 1 or more in each of 15 consecutive
   * minutes. A pinned connection serves one client only, which defeats the pool;
   * the construct's handler never pins, so lasting pinning means a client uses
   * prepared statements, `SET`, temporary tables or locks.
   *
   * @default - on: Sum >= 1, period 1 minute, 15 of 15
   */
  readonly sessionPinning?: AlarmSettings;

  /**
   * Clients wait for a database connection: `DatabaseConnectionsBorrowLatency`
   * averaging above 100,000 microseconds (100 ms) in each of 5 consecutive
   * minutes. Borrowing an idle pooled connection takes well under a millisecond
   * and opening a new one (TLS and authentication) tens of milliseconds, so a
   * sustained average above 100 ms means clients queue for a connection to free up.
   *
   * @default - on: Average > 100000 microseconds, period 1 minute, 5 of 5
   */
  readonly borrowLatency?: AlarmSettings;

  /**
   * Clients fail to authenticate: `ClientConnectionsSetupFailedAuth` (IAM
   * token or TLS setup failures, summed over the proxy's nodes) at 5 or more
   * within 5 minutes. One failure can be a client retrying with an expired
   * token; repeated failures mean a missing grant, a wrong user, a client
   * without TLS, or someone probing.
   *
   * @default - on: Sum >= 5, period 5 minutes, 1 of 1
   */
  readonly failedClientAuthentications?: AlarmSettings;
}
/**
 * The alarms of a `ServerlessLampDatabase`: its handler and cluster, its own
 * proxy (`proxy`), and by default every proxy added with `addProxy()`.
 */
export interface DatabaseAlarmsOptions extends ProxyAlarmsOptions {
  /**
   * The handler keeps answering with failures: its `QueryFailures` metric (any
   * `error.code`) at 1 or more in each of 3 consecutive minutes. The shape of
   * AWS's recommended Lambda `Errors` alarm (period 1 minute, 3 of 3). Each
   * failure is an answer a caller received after the handler's own retry.
   *
   * @default - on: Sum >= 1, period 1 minute, 3 of 3
   */
  readonly handlerFailures?: AlarmSettings;

  /**
   * One alarm per error code that means the path to the database is broken:
   * `QueryFailures` with that `ErrorCode` at 1 or more in 2 of 3 consecutive
   * minutes. There is no healthy rate for these codes; 2 of 3 lets one blip
   * (a single failed connection during a failover) pass.
   *
   * @default - one alarm for each of `HandlerErrorCode.databasePathCodes()`: Sum >= 1, period 1 minute, 2 of 3
   */
  readonly handlerFailuresByCode?: HandlerFailureCodeAlarmSettings[];

  /**
   * The handler function itself fails (timeouts, crashes), which it is built
   * never to do: Lambda `Errors` at 1 or more in each of 3 consecutive minutes
   * (AWS's recommended Lambda `Errors` shape).
   *
   * @default - on: Sum >= 1, period 1 minute, 3 of 3
   */
  readonly handlerErrors?: AlarmSettings;

  /**
   * Lambda rejects invocations of the handler: `Throttles` at 1 or more in
   * each of 5 consecutive minutes (AWS's recommended Lambda `Throttles` shape).
   *
   * @default - on: Sum >= 1, period 1 minute, 5 of 5
   */
  readonly handlerThrottles?: AlarmSettings;

  /**
   * An Aurora Serverless v2 instance runs at its maximum capacity:
   * `ACUUtilization` (its capacity as a percentage of `serverlessV2MaxCapacity`),
   * maximum per minute, at 90 % or more for 15 consecutive minutes; with several
   * Serverless v2 instances, the highest of them. AWS's guidance: near 100 the
   * instance "has scaled up as high as it can"; raise the maximum or add readers.
   * Created only when the cluster has Serverless v2 instances.
   *
   * @default - on: Maximum >= 90 %, period 1 minute, 15 of 15
   */
  readonly capacityAtMaximum?: AlarmSettings;

  /**
   * The writer's CPU is saturated: `CPUUtilization` of the cluster's `WRITER`
   * role (it follows the writer across failovers) above 90 % for 5 of 5
   * minutes, AWS's recommended RDS `CPUUtilization` alarm. Missing data is
   * kept missing: a running writer always publishes CPU, so a gap (a stopped or
   * paused writer) shows as insufficient data rather than OK.
   *
   * @default - on: Average > 90 %, period 1 minute, 5 of 5
   */
  readonly writerCpu?: AlarmSettings;

  /**
   * Whether every proxy added with `addProxy()` (or `new ApplicationProxy()`),
   * before or after these alarms, gets the proxy alarms too, with the same
   * settings. Turn off to give an added proxy its own settings with
   * `proxy.addProxyAlarms()`.
   *
   * @default true
   */
  readonly alarmAddedProxies?: boolean;
}

/**
 * Options of the CloudWatch dashboard of a `ServerlessLampDatabase`.
 */
export interface DashboardOptions {
  /**
   * The dashboard's name.
   *
   * @default - a name CloudFormation generates
   */
  readonly dashboardName?: string;
}

/**
 * Alarms and a dashboard for a `ServerlessLampDatabase`: the `monitoring` prop.
 * The alarm settings are those of `DatabaseAlarmsOptions`.
 */
export interface MonitoringOptions extends DatabaseAlarmsOptions {
  /**
   * Whether to create the alarms (`db.addAlarms()`).
   *
   * @default true
   */
  readonly alarms?: boolean;

  /**
   * Whether to create the dashboard (`db.addDashboard()`): the handler and the
   * cluster side by side, then one row per proxy, including proxies added later.
   *
   * @default false
   */
  readonly dashboard?: boolean;

  /**
   * The dashboard's name.
   *
   * @default - a name CloudFormation generates
   */
  readonly dashboardName?: string;
}
