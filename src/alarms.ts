import { aws_cloudwatch as cloudwatch } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { HandlerErrorCode } from './handler-error-code';
import { DatabaseAlarmsOptions, ProxyAlarmsOptions } from './monitoring';
import { alarmsOfProxy, createClusterAndHandlerAlarms, createProxyAlarms } from './private/alarms';
import { capacityUtilizationMetric, writerCpuMetric } from './private/metrics';
import type { ProxyBase } from './proxy-base';
import type { ServerlessLampDatabase } from './serverless-lamp-database';

/**
 * Properties of `ProxyAlarms`.
 */
export interface ProxyAlarmsProps extends ProxyAlarmsOptions {
  /** The proxy to watch: a `ServerlessLampDatabase` (its own proxy) or an `ApplicationProxy`. */
  readonly proxy: ProxyBase;
}

/**
 * The alarms of one RDS Proxy (see `ProxyAlarmsOptions` for each alarm, its
 * threshold and why). Usually created by `db.addAlarms()` (or the `monitoring`
 * prop) for every proxy of the database, or by `proxy.addProxyAlarms()`.
 *
 * Every alarm treats missing data as not breaching: RDS Proxy publishes some
 * metrics only after its first client connection, and latency and
 * failure counts only while clients use it, so a healthy idle proxy has gaps.
 */
export class ProxyAlarms extends Construct {
  /** Proxy availability below 100 %, if enabled. */
  public readonly availability?: cloudwatch.Alarm;

  /** Database connections near `MaxDatabaseConnectionsAllowed`, if enabled. */
  public readonly databaseConnectionsUtilization?: cloudwatch.Alarm;

  /** Lasting session pinning, if enabled. */
  public readonly sessionPinning?: cloudwatch.Alarm;

  /** High borrow latency, if enabled. */
  public readonly borrowLatency?: cloudwatch.Alarm;

  /** Repeated failed client authentications, if enabled. */
  public readonly failedClientAuthentications?: cloudwatch.Alarm;

  /** The proxy these alarms watch. */
  public readonly proxy: ProxyBase;

  constructor(scope: Construct, id: string, props: ProxyAlarmsProps) {
    super(scope, id);
    const proxy = props.proxy;
    this.proxy = proxy;
    proxy._addedProxyAlarms(this);
    const made = createProxyAlarms(this, proxy.node.path, {
      availability: proxy.metricAvailabilityPercentage(),
      databaseConnectionsUtilization: proxy.metricDatabaseConnectionsUtilization(),
      sessionPinning: proxy.metricDatabaseConnectionsCurrentlySessionPinned(),
      borrowLatency: proxy.metricDatabaseConnectionsBorrowLatency(),
      failedClientAuthentications: proxy.metricClientConnectionsSetupFailedAuth(),
    }, props, '');
    this.availability = made.availability;
    this.databaseConnectionsUtilization = made.databaseConnectionsUtilization;
    this.sessionPinning = made.sessionPinning;
    this.borrowLatency = made.borrowLatency;
    this.failedClientAuthentications = made.failedClientAuthentications;
  }

  /** Every alarm created here. */
  public get alarms(): cloudwatch.Alarm[] {
    return alarmsOfProxy(this);
  }
}

/**
 * Properties of `DatabaseAlarms`.
 */
export interface DatabaseAlarmsProps extends DatabaseAlarmsOptions {
  /** The database to watch. */
  readonly database: ServerlessLampDatabase;
}

/**
 * The alarms of a `ServerlessLampDatabase` (see `DatabaseAlarmsOptions` for
 * each alarm, its threshold and why). Usually created with `db.addAlarms()` or
 * the `monitoring` prop.
 */
export class DatabaseAlarms extends Construct {
  /** The alarms of the database's own proxy. */
  public readonly proxy: ProxyAlarms;

  /** The handler's failures of any code, if enabled. */
  public readonly handlerFailures?: cloudwatch.Alarm;

  /** One alarm per error code in `handlerFailuresByCode`, in that order. */
  public readonly handlerFailuresByCode: cloudwatch.Alarm[];

  /** The handler function's own errors, if enabled. */
  public readonly handlerErrors?: cloudwatch.Alarm;

  /** The handler's throttles, if enabled. */
  public readonly handlerThrottles?: cloudwatch.Alarm;

  /** Serverless v2 capacity at its maximum, if enabled and the cluster has Serverless v2 instances. */
  public readonly capacityAtMaximum?: cloudwatch.Alarm;

  /** The writer's CPU, if enabled. */
  public readonly writerCpu?: cloudwatch.Alarm;

  private readonly byCode: Map<string, cloudwatch.Alarm>;

  constructor(scope: Construct, id: string, props: DatabaseAlarmsProps) {
    super(scope, id);
    const database = props.database;
    database._addedAlarms(this);
    const made = createClusterAndHandlerAlarms(this, database.node.path, {
      handlerFailures: (errorCode) => database.metricHandlerFailures({ errorCode }),
      handlerErrors: database.metricHandlerErrors(),
      handlerThrottles: database.metricHandlerThrottles(),
      capacityAtMaximum: capacityUtilizationMetric(database.cluster),
      writerCpu: writerCpuMetric(database.cluster),
    }, props, '', HandlerErrorCode.databasePathCodes);
    this.handlerFailures = made.handlerFailures;
    this.handlerFailuresByCode = made.handlerFailuresByCode.map((c) => c.alarm);
    this.byCode = new Map(made.handlerFailuresByCode.map((c) => [c.code, c.alarm]));
    this.handlerErrors = made.handlerErrors;
    this.handlerThrottles = made.handlerThrottles;
    this.capacityAtMaximum = made.capacityAtMaximum;
    this.writerCpu = made.writerCpu;
    // The database's own proxy, unless it has its alarms already; and its added proxies.
    this.proxy = database.proxyAlarms ?? database.addProxyAlarms(props);
    if (props.alarmAddedProxies ?? true) database._alarmAddedProxies(props);
  }

  /**
   * The alarm on one error code, if there is one.
   *
   * @param errorCode the code
   */
  public handlerFailureAlarm(errorCode: HandlerErrorCode): cloudwatch.Alarm | undefined {
    return this.byCode.get(errorCode.code);
  }

  /** Every alarm of the handler, the cluster and the database's own proxy. */
  public get alarms(): cloudwatch.Alarm[] {
    return [
      ...[this.handlerFailures, ...this.handlerFailuresByCode, this.handlerErrors, this.handlerThrottles, this.capacityAtMaximum, this.writerCpu]
        .filter((a): a is cloudwatch.Alarm => a !== undefined),
      ...this.proxy.alarms,
    ];
  }
}
