import { Duration, aws_ec2 as ec2, aws_lambda as lambda, aws_sqs as sqs } from 'aws-cdk-lib';

/**
 * Options of the query handler: the Lambda function the construct deploys in
 * the VPC, which connects to the proxy with an IAM token over verified TLS.
 */
export interface QueryHandlerOptions {
  /**
   * The function's timeout. Allowed: 4 seconds to 15 minutes, and at least 3
   * seconds longer than the proxy's `borrowTimeout`, so the handler can report
   * a borrow timeout before Lambda stops it.
   *
   * @default Duration.seconds(15)
   */
  readonly timeout?: Duration;

  /**
   * The function's memory, in MiB. Allowed: 128 to 10240.
   *
   * @default 256
   */
  readonly memorySize?: number;

  /**
   * The function's reserved concurrency: a cap on its simultaneous executions.
   * Reserving concurrency takes it from the account's pool, so it is off unless
   * you set it; the proxy already keeps a burst of invocations from flooding
   * the database with connections.
   *
   * @default - no reserved concurrency
   */
  readonly reservedConcurrentExecutions?: number;

  /**
   * A queue for asynchronous invocations of the function that failed.
   *
   * @default - no dead-letter queue (the handler is meant to be invoked synchronously)
   */
  readonly deadLetterQueue?: sqs.IQueue;

  /**
   * AWS X-Ray tracing of the function.
   *
   * @default lambda.Tracing.ACTIVE
   */
  readonly tracing?: lambda.Tracing;

  /**
   * Security groups for the function.
   *
   * @default - a security group is created that admits nothing and may only reach
   * the proxy on port 3306
   */
  readonly securityGroups?: ec2.ISecurityGroup[];
}
