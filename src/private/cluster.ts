import {
  CfnResource, Duration, RemovalPolicy, aws_ec2 as ec2, aws_kms as kms, aws_logs as logs, aws_rds as rds, aws_sam as sam,
  aws_secretsmanager as secretsmanager,
} from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';
import { MYSQL_PORT, withLiteralPort } from './mysql';
import { rdsPhysicalName } from './names';
import { SecretsManagerAccess, allowSecretsManager, closedSecurityGroup } from './network';
import type { ServerlessLampDatabaseProps } from '../serverless-lamp-database-props';

/** The log types exported by default. */
export const DEFAULT_LOG_EXPORTS = ['audit', 'error', 'general', 'slowquery'];

export interface ClusterProps {
  readonly props: ServerlessLampDatabaseProps;
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
  readonly encryptionKey: kms.IKey;
  readonly databaseName: string;
  readonly masterUsername: string;
  readonly removalPolicy: RemovalPolicy;
  readonly logRetention: logs.RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
}

/**
 * The Aurora MySQL 3 cluster: TLS required by its parameter group, IAM
 * database authentication, encrypted storage, generated credentials, and a
 * log group of our own for each exported log type.
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
  // Known at synth time, so that the log groups can be created before the cluster.
  const clusterIdentifier = (props.clusterIdentifier ?? rdsPhysicalName(scope, 'cluster')).toLowerCase();
  const logExports = props.cloudwatchLogsExports ?? DEFAULT_LOG_EXPORTS;
  const monitoringInterval = props.monitoringInterval ?? Duration.seconds(60);
  const cluster = new rds.DatabaseCluster(scope, 'Cluster', {
    engine,
    clusterIdentifier,
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
    cloudwatchLogsExports: logExports,
    // Duration.seconds(0) means "off": then no monitoring role is created either.
    monitoringInterval: monitoringInterval.isUnresolved() || monitoringInterval.toMilliseconds() > 0
      ? monitoringInterval
      : undefined,
    deletionProtection: props.deletionProtection ?? c.removalPolicy !== RemovalPolicy.DESTROY,
    removalPolicy: c.removalPolicy,
    copyTagsToSnapshot: true,
  });
  // RDS writes exported logs to /aws/rds/cluster/<identifier>/<type> and
  // creates the group itself (never expiring, not encrypted with the key, left
  // behind with the stack) unless it exists: so it exists first.
  for (const type of logExports) {
    const group = new logs.LogGroup(scope, `${type.split(/[^A-Za-z0-9]/).map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('')}Logs`, {
      logGroupName: `/aws/rds/cluster/${clusterIdentifier}/${type}`,
      encryptionKey: c.encryptionKey,
      retention: c.logRetention,
      removalPolicy: c.logRemovalPolicy,
    });
    // node.addDependency: CfnResource.addDependency is deprecated from aws-cdk-lib
    // 2.27x on, and its successor (addResourceDependency) is not in the peer floor.
    (cluster.node.defaultChild as CfnResource).node.addDependency(group.node.defaultChild as CfnResource);
  }
  return cluster;
}

export interface RotationProps {
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
  readonly secretsManager: SecretsManagerAccess;
  readonly interval?: Duration;
}

/**
 * Rotates the master password with AWS's single-user rotation function, in the
 * VPC, as `cluster.addRotationSingleUser()` would, but with the cluster's port
 * written as 3306 in the rules it opens, and told the URL of the Secrets
 * Manager endpoint it must call. Returns the rotation function's security
 * group, which the rotations of application users' secrets share.
 */
export function addRotation(scope: Construct, cluster: rds.DatabaseCluster, r: RotationProps): ec2.ISecurityGroup {
  const securityGroup = closedSecurityGroup(scope, 'RotationSecurityGroup', r.vpc,
    'Secret rotation function: no inbound, outbound only to the cluster and Secrets Manager');
  rotateSingleUser(cluster, 'RotationSingleUser', cluster.secret!, cluster, { ...r, securityGroup });
  allowSecretsManager(r.secretsManager, securityGroup, 'Secret rotation function to Secrets Manager');
  return securityGroup;
}

/**
 * A single-user rotation of `secret` (the master's, or an application user's
 * attached to the cluster) every `interval`, by AWS's rotation function in the
 * VPC, calling Secrets Manager at the endpoint's own URL when there is one.
 */
export function rotateSingleUser(
  scope: Construct,
  id: string,
  secret: secretsmanager.ISecret,
  cluster: rds.DatabaseCluster,
  r: RotationProps & { readonly securityGroup: ec2.ISecurityGroup },
): void {
  const rotation = new secretsmanager.SecretRotation(scope, id, {
    // aws-cdk-lib's defaults for a cluster's rotation (aws-rds/lib/private/util.ts).
    excludeCharacters: ' %+~`#$&*()|[]{}:;<>?!\'/@"\\',
    vpcSubnets: r.vpcSubnets,
    secret,
    application: secretsmanager.SecretRotationApplication.MYSQL_ROTATION_SINGLE_USER,
    vpc: r.vpc,
    // Opens the cluster's port (as 3306) to the rotation function.
    target: withLiteralPort(cluster),
    automaticallyAfter: r.interval ?? Duration.days(30),
    securityGroup: r.securityGroup,
  });
  if (r.secretsManager.url) {
    (rotation.node.defaultChild as sam.CfnApplication).addPropertyOverride('Parameters.endpoint', r.secretsManager.url);
  }
}

/**
 * With `RemovalPolicy.RETAIN` the cluster outlives the stack: so must what it
 * uses, or the stack deletion fails on resources still in use (its security
 * groups, parameter group, subnets and VPC) and the master credentials are
 * lost with the secret. `alsoRetain`: the parts the construct created that the
 * cluster uses (its VPC, when created).
 */
export function retainWithCluster(scope: Construct, cluster: rds.DatabaseCluster, alsoRetain: Construct[]): void {
  const resources: Array<IConstruct | undefined> = [
    // The secret itself; its rotation schedule goes with the rotation function.
    cluster.node.findChild('Secret').node.defaultChild,
    ...scope.node.findChild('ClusterParameters').node.findAll(),
    // The groups, not their rules: a rule naming a deleted group would keep that group from being deleted.
    ...cluster.connections.securityGroups.filter((sg) => sg.node.scope === scope).map((sg) => sg.node.defaultChild),
    cluster.node.tryFindChild('MonitoringRole')?.node.defaultChild,
    ...alsoRetain.flatMap((part) => part.node.findAll()),
  ];
  for (const resource of resources) {
    if (resource instanceof CfnResource) resource.applyRemovalPolicy(RemovalPolicy.RETAIN);
  }
}
