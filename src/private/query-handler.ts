import { Duration, RemovalPolicy, aws_ec2 as ec2, aws_iam as iam, aws_kms as kms, aws_lambda as lambda, aws_logs as logs } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { acknowledgeHandler } from './acknowledgments';
import { FunctionRuntime, acknowledgeFunctionRuntime } from './function-runtime';
import { MYSQL_PORT } from './mysql';
import { closedSecurityGroup } from './network';
import { QueryFunction } from '../handler/query-function';
import type { QueryHandlerOptions } from '../query-handler';

export interface QueryHandlerProps {
  readonly options: QueryHandlerOptions;
  readonly runtime: FunctionRuntime;
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
  readonly encryptionKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
  /** Where and as whom to connect: host, database and user. */
  readonly host: string;
  readonly databaseName: string;
  readonly user: string;
}

/**
 * The query handler: a Node.js function in the VPC, with its own role, log
 * group and security group, and an environment that names where and as whom
 * to connect but holds no secret.
 */
export function createQueryHandler(scope: Construct, p: QueryHandlerProps): lambda.Function {
  const options = p.options;
  const role = new iam.Role(scope, 'HandlerRole', {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: 'Serverless LAMP query handler: VPC networking, logs, rds-db:connect',
    managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole')],
  });
  const securityGroups = options.securityGroups ?? [
    closedSecurityGroup(scope, 'HandlerSecurityGroup', p.vpc, 'Query handler: no inbound, outbound only to the RDS Proxy'),
  ];
  const tracing = options.tracing ?? lambda.Tracing.ACTIVE;
  const handler = new QueryFunction(scope, 'Handler', {
    description: 'Serverless LAMP: queries Aurora MySQL through RDS Proxy with an IAM token',
    runtime: p.runtime.runtime,
    role,
    vpc: p.vpc,
    vpcSubnets: p.vpcSubnets,
    securityGroups,
    architecture: lambda.Architecture.ARM_64,
    timeout: options.timeout ?? Duration.seconds(15),
    memorySize: options.memorySize ?? 256,
    tracing,
    reservedConcurrentExecutions: options.reservedConcurrentExecutions,
    deadLetterQueue: options.deadLetterQueue,
    logGroup: new logs.LogGroup(scope, 'HandlerLogs', {
      retention: p.logRetention,
      encryptionKey: p.encryptionKey,
      removalPolicy: p.logRemovalPolicy,
    }),
    environment: {
      // Where and as whom to connect. No secret: the password is an IAM token
      // minted at run time.
      DB_HOST: p.host,
      DB_PORT: String(MYSQL_PORT),
      DB_USER: p.user,
      DB_NAME: p.databaseName,
    },
  });
  acknowledgeHandler(handler, role, {
    reservedConcurrency: options.reservedConcurrentExecutions !== undefined,
    deadLetterQueue: options.deadLetterQueue !== undefined,
    tracing,
  });
  acknowledgeFunctionRuntime(handler, p.runtime);
  return handler;
}
