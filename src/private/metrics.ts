/*
 * The metrics the alarms and the dashboard read, beyond the proxy's own
 * (those are `ProxyBase` methods): the handler's failures, and the cluster's.
 */
import { Duration, aws_cloudwatch as cloudwatch, aws_lambda as lambda, aws_rds as rds } from 'aws-cdk-lib';
import type { HandlerFailuresMetricOptions } from '../monitoring';

/**
 * The handler's failure metric, written by the handler as CloudWatch embedded
 * metric format: the one place in this library that names it. The handler's
 * own constants (`src/handler/failure-metric.ts`) say the same, and a unit
 * test fails when they differ.
 */
export const QUERY_FAILURES_METRIC = {
  namespace: 'ServerlessLampDatabase',
  metricName: 'QueryFailures',
  functionNameDimension: 'FunctionName',
  errorCodeDimension: 'ErrorCode',
} as const;

/** A metric or an expression an alarm can evaluate over a period of its choice. */
export type AlarmMetric = cloudwatch.Metric | cloudwatch.MathExpression;

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
