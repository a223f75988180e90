import { Duration, RemovalPolicy, aws_ec2 as ec2, aws_kms as kms, aws_rds as rds } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { closedSecurityGroup, rotationEndpoint } from './network';
import { MYSQL_PORT } from './proxy';
import type { ServerlessLampDatabaseProps } from '../serverless-lamp-database';

export interface ClusterProps {
  readonly props: ServerlessLampDatabaseProps;
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
  readonly encryptionKey: kms.IKey;
  readonly databaseName: string;
  readonly masterUsername: string;
  readonly removalPolicy: RemovalPolicy;
}

/**
 * The Aurora MySQL 3 cluster: TLS required by its parameter group, IAM
 * database authentication, encrypted storage, generated credentials.
 */
export function createCluster(scope: Construct, c: ClusterProps): rds.DatabaseCluster {
  const props = c.props;
  const engine = rds.DatabaseClusterEngine.auroraMysql({
    version: props.engineVersion ?? rds.AuroraMysqlEngineVersion.VER_3_10_4,
  });
  const parameterGroup = new rds.ParameterGroup(scope, 'ClusterParameters', {
    engine,
    description: 'Serverless LAMP database: TLS required for every connection, audit log on',
    parameters: {
      // The audit log records connections and DDL/DCL statements.
      server_audit_logging: '1',
      server_audit_events: 'CONNECT,QUERY_DCL,QUERY_DDL',
      ...props.clusterParameters,
      require_secure_transport: 'ON',
    },
  });
  const monitoringInterval = props.monitoringInterval ?? Duration.seconds(60);
  return new rds.DatabaseCluster(scope, 'Cluster', {
    engine,
    port: MYSQL_PORT,
    vpc: c.vpc,
    vpcSubnets: c.vpcSubnets,
    securityGroups: props.clusterSecurityGroups ?? [
      closedSecurityGroup(scope, 'ClusterSecurityGroup', c.vpc, 'Aurora MySQL cluster: inbound only from the RDS Proxy'),
    ],
    writer: props.writer ?? rds.ClusterInstance.serverlessV2('Writer'),
    readers: props.readers,
    serverlessV2MinCapacity: props.serverlessV2MinCapacity ?? 0.5,
    serverlessV2MaxCapacity: props.serverlessV2MaxCapacity ?? 2,
    credentials: rds.Credentials.fromGeneratedSecret(c.masterUsername, { encryptionKey: c.encryptionKey }),
    defaultDatabaseName: c.databaseName,
    iamAuthentication: true,
    storageEncrypted: true,
    storageEncryptionKey: c.encryptionKey,
    parameterGroup,
    backup: { retention: props.backupRetention ?? Duration.days(7) },
    backtrackWindow: props.backtrackWindow,
    cloudwatchLogsExports: props.cloudwatchLogsExports ?? ['audit', 'error', 'general', 'slowquery'],
    // Duration.seconds(0) means "off": then no monitoring role is created either.
    monitoringInterval: monitoringInterval.isUnresolved() || monitoringInterval.toMilliseconds() > 0
      ? monitoringInterval
      : undefined,
    deletionProtection: props.deletionProtection ?? c.removalPolicy !== RemovalPolicy.DESTROY,
    removalPolicy: c.removalPolicy,
    copyTagsToSnapshot: true,
  });
}

export interface RotationProps {
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
  readonly endpoint?: ec2.IInterfaceVpcEndpoint;
  readonly interval?: Duration;
}

/**
 * Rotates the master password with AWS's single-user rotation function, in the
 * VPC, reaching Secrets Manager through an interface endpoint where the
 * subnets have no internet access.
 */
export function addRotation(scope: Construct, cluster: rds.DatabaseCluster, r: RotationProps): void {
  const endpoint = rotationEndpoint(scope, r.vpc, r.vpcSubnets, r.endpoint);
  const securityGroup = closedSecurityGroup(scope, 'RotationSecurityGroup', r.vpc,
    'Secret rotation function: no inbound, outbound only to the cluster and Secrets Manager');
  // Opens the cluster's port to the rotation function.
  cluster.addRotationSingleUser({
    automaticallyAfter: r.interval ?? Duration.days(30),
    vpcSubnets: r.vpcSubnets,
    endpoint,
    securityGroup,
  });
  endpoint?.connections.allowDefaultPortFrom(securityGroup, 'Secret rotation function to Secrets Manager');
}
