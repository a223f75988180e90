import { Duration, aws_cloudwatch as cloudwatch, aws_lambda as lambda, aws_rds as rds } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { QUERY_FAILURES_METRIC, handlerFailuresMetric, writerCpuMetric } from './metrics';
import type { DashboardOptions, ProxyAvailabilityMetricOptions } from '../monitoring';

const WIDTH = 6;
const HEIGHT = 6;
const minute = Duration.minutes(1);

/** What the first row graphs: the handler and the cluster of the database at `path`. */
export interface DatabaseDashboardSource {
  readonly path: string;
  readonly handler: lambda.IFunction;
  readonly cluster: rds.DatabaseCluster;
}

/**
 * What a proxy's row graphs: the proxy's metrics, as `ProxyBase` offers them.
 */
export interface ProxyMetricSource {
  metricClientConnections(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricDatabaseConnections(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricMaxDatabaseConnectionsAllowed(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricDatabaseConnectionsBorrowLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricQueryDatabaseResponseLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricDatabaseConnectionsCurrentlySessionPinned(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricClientConnectionsSetupFailedAuth(props?: cloudwatch.MetricOptions): cloudwatch.Metric;
  metricAvailabilityPercentage(props?: ProxyAvailabilityMetricOptions): cloudwatch.Metric;
}

/**
 * The dashboard of a database: a first row with the handler and the cluster
 * side by side; the caller then adds one row per proxy (`addProxyRow`), the
 * database's own first, then each added proxy in the order it was created, so
 * nothing waits for synthesis.
 */
export function createDashboard(scope: Construct, options: DashboardOptions, source: DatabaseDashboardSource): cloudwatch.Dashboard {
  const dashboard = new cloudwatch.Dashboard(scope, 'Dashboard', {
    dashboardName: options.dashboardName,
    defaultInterval: Duration.hours(3),
  });
  dashboard.addWidgets(...handlerAndClusterRow(source));
  return dashboard;
}

/**
 * One row of four graphs for the proxy at `path`; with `readers`, its
 * availability graph shows the readers' too.
 */
export function addProxyRow(dashboard: cloudwatch.Dashboard, path: string, proxy: ProxyMetricSource, readers: boolean): void {
  const title = (what: string) => `Proxy ${path}: ${what}`;
  dashboard.addWidgets(
    graph(title('connections'), [
      proxy.metricClientConnections({ label: 'Client connections' }),
      proxy.metricDatabaseConnections({ label: 'Database connections' }),
      proxy.metricMaxDatabaseConnectionsAllowed({ label: 'Max database connections allowed' }),
    ]),
    graph(title('latency (microseconds)'), [
      proxy.metricDatabaseConnectionsBorrowLatency({ label: 'Borrow latency', period: minute }),
      proxy.metricQueryDatabaseResponseLatency({ label: 'Database response latency', period: minute }),
    ]),
    graph(title('pinned connections, failed client authentications'), [
      proxy.metricDatabaseConnectionsCurrentlySessionPinned({ label: 'Pinned connections' }),
      proxy.metricClientConnectionsSetupFailedAuth({ label: 'Failed client authentications' }),
    ]),
    graph(title('availability (%)'), [
      proxy.metricAvailabilityPercentage({ label: 'Writer (READ_WRITE)' }),
      ...(readers ? [proxy.metricAvailabilityPercentage({ label: 'Readers (READ_ONLY)', targetRole: rds.ProxyEndpointTargetRole.READ_ONLY })] : []),
    ], { min: 0, max: 100 }),
  );
}

function handlerAndClusterRow(source: DatabaseDashboardSource): cloudwatch.IWidget[] {
  const { path, handler, cluster } = source;
  const m = QUERY_FAILURES_METRIC;
  const failuresByCode = new cloudwatch.MathExpression({
    // Every code the handler has published, including codes added after
    // this dashboard was deployed.
    expression: `SEARCH('{${m.namespace},${m.errorCodeDimension},${m.functionNameDimension}} ` +
      `MetricName="${m.metricName}" ${m.functionNameDimension}="${handler.functionName}"', 'Sum', 60)`,
    label: '',
    period: minute,
  });
  const capacity = [
    cluster.metricServerlessDatabaseCapacity({ label: 'Serverless v2 capacity (ACU, cluster average)', period: minute }),
  ];
  return [
    graph(`Handler ${path}: invocations`, [
      handler.metricInvocations({ label: 'Invocations', period: minute }),
      handlerFailuresMetric(handler, { label: 'Failed answers (QueryFailures)', period: minute }),
      handler.metricErrors({ label: 'Function errors', period: minute }),
      handler.metricThrottles({ label: 'Throttles', period: minute }),
    ]),
    graph(`Handler ${path}: failed answers by error code`, [failuresByCode]),
    graph(`Cluster ${path}: capacity`, capacity, undefined, [
      cluster.metricACUUtilization({ label: 'ACUUtilization (%, cluster average)', period: minute }),
    ]),
    graph(`Cluster ${path}: writer CPU (%) and connections`, [
      writerCpuMetric(cluster).with({ label: 'Writer CPU' }),
    ], { min: 0, max: 100 }, [
      cluster.metricDatabaseConnections({ label: 'Database connections (cluster)', statistic: 'Maximum', period: minute }),
    ]),
  ];
}

function graph(
  title: string,
  left: cloudwatch.IMetric[],
  leftYAxis?: cloudwatch.YAxisProps,
  right?: cloudwatch.IMetric[],
): cloudwatch.GraphWidget {
  return new cloudwatch.GraphWidget({ title, left, right, leftYAxis, width: WIDTH, height: HEIGHT });
}
