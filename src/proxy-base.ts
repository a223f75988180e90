import { Duration, aws_cloudwatch as cloudwatch, aws_ec2 as ec2, aws_iam as iam, aws_rds as rds } from 'aws-cdk-lib';
import { Construct } from 'constructs';

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
   * Grants `rds-db:connect` through the proxy as a database user.
   *
   * The permission names the proxy's resource id (`prx-...`), as IAM requires.
   * Without `dbUser`, the grant names `defaultDatabaseUser`.
   *
   * @param grantee who may connect
   * @param dbUser the database user to connect as; `defaultDatabaseUser` when omitted
   */
  public grantConnect(grantee: iam.IGrantable, dbUser?: string): iam.Grant {
    return this.proxy.grantConnect(grantee, dbUser ?? this.defaultDatabaseUser);
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
}
