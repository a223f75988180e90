import { Duration, aws_cloudwatch as cloudwatch, aws_ec2 as ec2, aws_iam as iam, aws_lambda as lambda, aws_rds as rds } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ProxyAlarms } from './alarms';
import { ClientAdmission, ConnectFunctionOptions } from './connect-function';
import { ProxyAlarmsOptions, ProxyAvailabilityMetricOptions } from './monitoring';
import { assertInVpc, clientSecurityGroup, configureClient, joinSecurityGroup, readOnlyHost } from './private/clients';
import { ServerlessLampValidationError } from './private/errors';
import { warnAtRuleQuota } from './private/quotas';
import type { DatabaseState } from './private/state';
import { prepareConnect } from './private/users';

/**
 * What every RDS Proxy of a `ServerlessLampDatabase` offers its clients:
 * network access, `rds-db:connect` grants and CloudWatch metrics.
 *
 * `ServerlessLampDatabase` (for its own proxy) and `ApplicationProxy` (for each
 * proxy added with `addProxy()`) extend it, so every proxy is used and watched
 * the same way.
 */
export abstract class ProxyBase extends Construct implements ec2.IConnectable {
  /** The RDS Proxy. */
  public abstract readonly proxy: rds.DatabaseProxy;

  /**
   * Network access to the proxy on port 3306. Use
   * `connections.allowDefaultPortFrom(myFunction)` to let a client in.
   */
  public abstract readonly connections: ec2.Connections;

  /**
   * The database user that `grantConnect()` names when given none.
   */
  public abstract readonly defaultDatabaseUser: string;

  /**
   * The state of the database this proxy belongs to: its users, what it decided.
   * @internal
   */
  public abstract readonly _state: DatabaseState;

  /** The alarms of this proxy, once added (`ProxyAlarms` records itself here). */
  private alarmsOfProxy?: ProxyAlarms;

  constructor(scope: Construct, id: string) {
    super(scope, id);
    warnAtRuleQuota(this, () => this.connections.securityGroups);
  }

  /**
   * The client security group of this proxy, made on first use: the proxy
   * admits it on 3306 with one rule, and its members may send to the proxy on
   * 3306 and nowhere else through it. `connectFunction()` adds functions to
   * it; give it to functions you create (`securityGroups: [proxy.clientSecurityGroup]`)
   * to spare them a group of their own.
   */
  public get clientSecurityGroup(): ec2.ISecurityGroup {
    return clientSecurityGroup(this, this._state.vpc, this.connections);
  }

  /**
   * Grants `rds-db:connect` through the proxy as a database user.
   *
   * The permission names the proxy's resource id (`prx-...`), as IAM requires.
   * Without `dbUser`, the grant names `defaultDatabaseUser` (the application
   * user). With end-to-end IAM, a user created by hand is also added to those
   * the proxy may connect to the cluster as; with secrets, the user must be
   * declared with `addUser()`. The master user is refused unless the database
   * has `masterUserThroughProxy`.
   *
   * @param grantee who may connect
   * @param dbUser the database user to connect as; `defaultDatabaseUser` when omitted
   */
  public grantConnect(grantee: iam.IGrantable, dbUser?: string): iam.Grant {
    const user = dbUser ?? this.defaultDatabaseUser;
    prepareConnect(this._state.users, this._state.masterUsername, user);
    return this.proxy.grantConnect(grantee, user);
  }

  /**
   * Lets an existing Lambda function use the database through this proxy, in
   * one call: network access on 3306 (the function joins `clientSecurityGroup`,
   * unless `admission` says otherwise), `rds-db:connect` as a database user, and
   * the environment the query handler and the connectors read (`DB_HOST`,
   * `DB_PORT`, `DB_USER`, `DB_NAME`); with `phpConnector`, the PHP connector as
   * a layer. The function must run in the database's VPC: a function outside
   * any VPC, or in another VPC, is refused.
   *
   * @param fn the function, of any runtime
   * @param options the database user, the endpoint, the PHP connector
   */
  public connectFunction(fn: lambda.Function, options: ConnectFunctionOptions = {}): iam.Grant {
    assertInVpc(this._state, fn);
    const host = options.readOnly ? readOnlyHost(this._state, this.node.path, this._readOnlyEndpoint()) : this.proxy.endpoint;
    const admission = options.admission ?? ClientAdmission.CLIENT_SECURITY_GROUP;
    if (admission === ClientAdmission.CLIENT_SECURITY_GROUP) {
      joinSecurityGroup(fn, this.clientSecurityGroup);
    } else {
      this.connections.allowDefaultPortFrom(fn, `${fn.node.id} to the RDS Proxy`);
    }
    const user = options.databaseUser ?? this.defaultDatabaseUser;
    const grant = this.grantConnect(fn, user);
    configureClient(this._state, fn, { host, user, phpConnector: options.phpConnector });
    return grant;
  }

  /**
   * A CloudWatch metric of the proxy (namespace `AWS/RDS`, dimension `ProxyName`).
   *
   * @param metricName for example `DatabaseConnectionsCurrentlySessionPinned`
   * @param props options of the metric
   * @see https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-proxy.monitoring.html
   */
  public metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/RDS',
      metricName,
      dimensionsMap: { ProxyName: this.proxy.dbProxyName },
      ...props,
    });
  }

  /**
   * Database connections currently pinned to a client session. Pinned
   * connections cannot be shared, which defeats the pool.
   *
   * RDS Proxy publishes this count once per minute from each of the nodes that
   * serve the proxy, so the proxy's total is their sum over one minute.
   *
   * Default: sum over 1 minute.
   *
   * @param props options of the metric
   */
  public metricDatabaseConnectionsCurrentlySessionPinned(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('DatabaseConnectionsCurrentlySessionPinned', { statistic: 'Sum', period: Duration.minutes(1), ...props });
  }

  /**
   * Client connections to the proxy.
   *
   * RDS Proxy publishes this count once per minute from each of the nodes that
   * serve the proxy, so the proxy's total is their sum over one minute.
   *
   * Default: sum over 1 minute.
   *
   * @param props options of the metric
   */
  public metricClientConnections(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('ClientConnections', { statistic: 'Sum', period: Duration.minutes(1), ...props });
  }

  /**
   * Database connections from the proxy to the cluster.
   *
   * RDS Proxy publishes this count once per minute from each of the nodes that
   * serve the proxy, so the proxy's total is their sum over one minute.
   *
   * Default: sum over 1 minute.
   *
   * @param props options of the metric
   */
  public metricDatabaseConnections(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('DatabaseConnections', { statistic: 'Sum', period: Duration.minutes(1), ...props });
  }

  /**
   * Time, in microseconds, that the proxy waits to get a database connection.
   *
   * Default: average over 5 minutes.
   *
   * @param props options of the metric
   */
  public metricDatabaseConnectionsBorrowLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('DatabaseConnectionsBorrowLatency', { statistic: 'Average', ...props });
  }

  /**
   * The most database connections the proxy may open: its
   * `maxConnectionsPercent` of the cluster's `max_connections`.
   *
   * Published once per minute from each of the nodes that serve the proxy,
   * like `DatabaseConnections` (AWS names `Sum` its most useful statistic), so
   * the proxy's total is their sum over one minute.
   *
   * Default: sum over 1 minute.
   *
   * @param props options of the metric
   */
  public metricMaxDatabaseConnectionsAllowed(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('MaxDatabaseConnectionsAllowed', { statistic: 'Sum', period: Duration.minutes(1), ...props });
  }

  /**
   * How full the proxy's pool is: `100 * DatabaseConnections /
   * MaxDatabaseConnectionsAllowed`, both summed over the proxy's nodes per
   * minute, in percent.
   *
   * Default: 1 minute.
   *
   * @param props options of the expression
   */
  public metricDatabaseConnectionsUtilization(props?: cloudwatch.MathExpressionOptions): cloudwatch.MathExpression {
    return new cloudwatch.MathExpression({
      expression: '100 * connections / maxAllowed',
      usingMetrics: {
        connections: this.metricDatabaseConnections(),
        maxAllowed: this.metricMaxDatabaseConnectionsAllowed(),
      },
      label: 'Database connections, % of MaxDatabaseConnectionsAllowed',
      period: Duration.minutes(1),
      ...props,
    });
  }

  /**
   * Client connection attempts that failed IAM authentication or TLS setup.
   *
   * Default: sum over 1 minute.
   *
   * @param props options of the metric
   */
  public metricClientConnectionsSetupFailedAuth(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('ClientConnectionsSetupFailedAuth', { statistic: 'Sum', period: Duration.minutes(1), ...props });
  }

  /**
   * Time, in microseconds, that the database took to answer the queries the
   * proxy passed on (without the proxy's own time).
   *
   * Default: average over 5 minutes.
   *
   * @param props options of the metric
   */
  public metricQueryDatabaseResponseLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('QueryDatabaseResponseLatency', { statistic: 'Average', ...props });
  }

  /**
   * The percentage of time the proxy's targets in a role answered its health
   * checks, averaged over the proxy's nodes (one node of four failing for a
   * minute reads 75 %).
   *
   * Published only per target group and role: dimensions `ProxyName`,
   * `TargetGroup` (`default`, the proxy's only target group) and `TargetRole`.
   *
   * Default: average over 1 minute, the writer (`READ_WRITE`).
   *
   * @param props options of the metric, and the target role
   * @see https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-proxy-monitoring-dashboard.html
   */
  public metricAvailabilityPercentage(props: ProxyAvailabilityMetricOptions = {}): cloudwatch.Metric {
    const { targetRole, ...options } = props;
    return this.metric('AvailabilityPercentage', {
      statistic: 'Average',
      period: Duration.minutes(1),
      ...options,
      dimensionsMap: {
        ProxyName: this.proxy.dbProxyName,
        TargetGroup: 'default',
        TargetRole: targetRole ?? rds.ProxyEndpointTargetRole.READ_WRITE,
      },
    });
  }

  /**
   * Adds the alarms of this proxy: availability, connections near the
   * maximum, lasting session pinning, borrow latency and failed client
   * authentications (see `ProxyAlarmsOptions`). A proxy has one set of them.
   *
   * `db.addAlarms()` (or the `monitoring` prop) already does this for the
   * database's own proxy and, unless `alarmAddedProxies` is false, for every
   * proxy added with `addProxy()`.
   *
   * @param options thresholds, which alarms, and an SNS topic to notify
   */
  public addProxyAlarms(options: ProxyAlarmsOptions = {}): ProxyAlarms {
    this.assertNoProxyAlarms();
    return new ProxyAlarms(this, 'ProxyAlarms', { ...options, proxy: this });
  }

  /** The alarms of this proxy, once added. */
  public get proxyAlarms(): ProxyAlarms | undefined {
    return this.alarmsOfProxy;
  }

  /**
   * Records the alarms of this proxy; a proxy has one set of them.
   * @internal
   */
  public _addedProxyAlarms(alarms: ProxyAlarms): void {
    this.assertNoProxyAlarms();
    this.alarmsOfProxy = alarms;
  }

  private assertNoProxyAlarms(): void {
    if (this.alarmsOfProxy) {
      throw new ServerlessLampValidationError(`${this.node.path} already has its proxy alarms`);
    }
  }

  /**
   * The host name of this proxy's read-only endpoint, if it has one.
   * @internal
   */
  protected _readOnlyEndpoint(): string | undefined {
    return undefined;
  }
}
