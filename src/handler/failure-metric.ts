/*
 * The handler's failure metric, written in CloudWatch embedded metric format
 * (EMF): one log line per failed answer, no network call. The names are
 * exported so that tests can check the construct alarms on the same ones.
 */
import type { QueryErrorCode } from './errors';

/** CloudWatch namespace of the handler's own metrics. */
export const METRIC_NAMESPACE = 'ServerlessLampDatabase';
/** Count of invocations answered with `{ ok: false }` (value 1 per failure). */
export const QUERY_FAILURES_METRIC = 'QueryFailures';
/** Dimension: the Lambda function's name. */
export const FUNCTION_NAME_DIMENSION = 'FunctionName';
/** Dimension: the answer's `error.code`. */
export const ERROR_CODE_DIMENSION = 'ErrorCode';
/** The dimension sets the failure metric is published under. */
export const QUERY_FAILURES_DIMENSIONS: ReadonlyArray<ReadonlyArray<string>> = [
  [FUNCTION_NAME_DIMENSION],
  [FUNCTION_NAME_DIMENSION, ERROR_CODE_DIMENSION],
];
/**
 * `FunctionName` when AWS_LAMBDA_FUNCTION_NAME is unset: outside Lambda only
 * (tests, local runs); Lambda always sets it.
 */
export const FUNCTION_NAME_OUTSIDE_LAMBDA = 'local';

/** The `FunctionName` dimension's value in this environment. */
export function functionNameOf(env: NodeJS.ProcessEnv = process.env): string {
  return env.AWS_LAMBDA_FUNCTION_NAME || FUNCTION_NAME_OUTSIDE_LAMBDA;
}

/**
 * One failure, as a CloudWatch embedded-metric-format document
 * (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
 * `_aws.Timestamp` (ms since the epoch) and `_aws.CloudWatchMetrics` (namespace,
 * dimension sets, metric definitions) name members of the root object, which
 * holds the dimension values and the metric value. It carries the code only,
 * never the error message, so it cannot carry a token either.
 */
export function failureMetricLine(code: QueryErrorCode, functionName: string, timestamp: number, requestId?: string): string {
  return JSON.stringify({
    _aws: {
      Timestamp: timestamp,
      CloudWatchMetrics: [
        {
          Namespace: METRIC_NAMESPACE,
          Dimensions: QUERY_FAILURES_DIMENSIONS,
          Metrics: [{ Name: QUERY_FAILURES_METRIC, Unit: 'Count' }],
        },
      ],
    },
    [FUNCTION_NAME_DIMENSION]: functionName,
    [ERROR_CODE_DIMENSION]: code,
    [QUERY_FAILURES_METRIC]: 1,
    ...(requestId ? { requestId } : {}),
  });
}

/** Writes one failure's metric line, now. */
export function writeFailureMetric(code: QueryErrorCode, functionName: string, requestId: string | undefined): void {
  // Straight to stdout, not console.log: the Lambda runtime prefixes console
  // lines (text log format) or wraps them in its own JSON (JSON log format);
  // a raw line is a valid EMF document either way.
  process.stdout.write(failureMetricLine(code, functionName, Date.now(), requestId) + '\n');
}
