import { Duration, aws_cloudwatch as cloudwatch, aws_rds as rds } from 'aws-cdk-lib';
import { QUERY_FAILURES_METRIC, writerCpuMetric } from './metrics';
import type { DashboardOptions } from '../monitoring';
import type { ProxyBase } from '../proxy-base';
import type { ServerlessLampDatabase } from '../serverless-lamp-database';

const WIDTH = 6;
const HEIGHT = 6;
const minute = Duration.minutes(1);

/**
 * The dashboard of a `ServerlessLampDatabase`: a first row with the handler
 * and the cluster side by side, then one row per proxy, the database's own
 * first, then each added proxy in the order it was created. A proxy added after
 * the dashboard appends its row (`addProxyRow`), so nothing waits for synthesis.
 */
export class DatabaseDashboard {
  public readonly dashboard: cloudwatch.Dashboard;

  constructor(private readonly db: ServerlessLampDatabase, options: DashboardOptions) {
    this.dashboard = new cloudwatch.Dashboard(db, 'Dashboard', {
      dashboardName: options.dashboardName,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(...this.handlerAndClusterRow());
    this.addProxyRow(db);
  }

  /** One row of four graphs for `proxy`. */
  public addProxyRow(proxy: ProxyBase): void {
    const title = (what: string) => `Proxy ${proxy.node.path}: ${what}`;
    const readers = proxy === this.db && this.db.readOnlyEndpoint !== undefined;
    this.dashboard.addWidgets(
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

  private handlerAndClusterRow(): cloudwatch.IWidget[] {
    const db = this.db;
    const handler = db.handler;
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
      db.cluster.metricServerlessDatabaseCapacity({ label: 'Serverless v2 capacity (ACU, cluster average)', period: minute }),
    ];
    return [
      graph(`Handler ${db.node.path}: invocations`, [
        handler.metricInvocations({ label: 'Invocations', period: minute }),
        db.metricHandlerFailures({ label: 'Failed answers (QueryFailures)', period: minute }),
        db.metricHandlerErrors({ label: 'Function errors', period: minute }),
        db.metricHandlerThrottles({ label: 'Throttles', period: minute }),
      ]),
      graph(`Handler ${db.node.path}: failed answers by error code`, [failuresByCode]),
      graph(`Cluster ${db.node.path}: capacity`, capacity, undefined, [
        db.cluster.metricACUUtilization({ label: 'ACUUtilization (%, cluster average)', period: minute }),
      ]),
      graph(`Cluster ${db.node.path}: writer CPU (%) and connections`, [
        writerCpuMetric(db.cluster).with({ label: 'Writer CPU' }),
      ], { min: 0, max: 100 }, [
        db.cluster.metricDatabaseConnections({ label: 'Database connections (cluster)', statistic: 'Maximum', period: minute }),
      ]),
    ];
  }
}

function graph(
  title: string,
  left: cloudwatch.IMetric[],
  leftYAxis?: cloudwatch.YAxisProps,
  right?: cloudwatch.IMetric[],
): cloudwatch.GraphWidget {
  return new cloudwatch.GraphWidget({ title, left, right, leftYAxis, width: WIDTH, height: HEIGHT });
}
