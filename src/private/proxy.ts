import {
  Annotations, CfnResource, Duration, RemovalPolicy, Stack, Token,
  aws_ec2 as ec2, aws_iam as iam, aws_kms as kms, aws_logs as logs, aws_rds as rds, aws_secretsmanager as secretsmanager,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ServerlessLampValidationError } from './errors';
import { MYSQL_PORT, withLiteralPort } from './mysql';
import { rdsPhysicalName } from './names';
import { closedSecurityGroup } from './network';
import { validateNumber, validateRdsIdentifier, validateSeconds } from './validation';
import type { ProxyOptions } from '../proxy-options';

/** What a proxy needs from the database it fronts. */
export interface ProxyTarget {
  readonly cluster: rds.DatabaseCluster;
  /** How the proxy authenticates to the cluster: end-to-end IAM, or secrets. */
  readonly authentication: { readonly defaultAuthScheme?: rds.DefaultAuthScheme; readonly secrets?: secretsmanager.ISecret[] };
  readonly role: iam.IRole;
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
  readonly options: ProxyOptions;
  /** The construct id of the security group created when `options.securityGroups` is not given. */
  readonly securityGroupId: string;
  readonly encryptionKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
  /** How the user spelled the options, for error messages: `proxy.` or nothing. */
  readonly propPrefix: string;
}

/** A proxy and the network access to it. */
export interface CreatedProxy {
  readonly proxy: rds.DatabaseProxy;
  /**
   * Access to the proxy on the MySQL port. (DatabaseProxy.connections has no
   * default port, so allowDefaultPortFrom() on it would throw.)
   */
  readonly connections: ec2.Connections;
}

/**
 * Creates an RDS Proxy named `Proxy` in `scope` that requires IAM
 * authentication and TLS, after validating its pool options, with its own
 * security group unless given some.
 */
export function createProxy(scope: Construct, target: ProxyTarget): CreatedProxy {
  const options = target.options;
  validateProxyPool(scope, options, target.propPrefix);
  const securityGroups = options.securityGroups ?? [
    closedSecurityGroup(scope, target.securityGroupId, target.vpc,
      'RDS Proxy: inbound only from allowed clients, outbound only to the cluster'),
  ];
  const maxConnectionsPercent = options.maxConnectionsPercent ?? 100;
  const dbProxyName = options.dbProxyName ?? rdsPhysicalName(scope, 'proxy');
  // RDS Proxy writes its logs to this group, and creates it (never expiring,
  // not encrypted with the key) unless it exists.
  const logGroup = new logs.LogGroup(scope, 'ProxyLogs', {
    logGroupName: `/aws/rds/proxy/${dbProxyName}`,
    encryptionKey: target.encryptionKey,
    retention: target.logRetention,
    removalPolicy: target.logRemovalPolicy,
  });
  const proxy = new rds.DatabaseProxy(scope, 'Proxy', {
    proxyTarget: rds.ProxyTarget.fromCluster(withLiteralPort(target.cluster)),
    // With secrets: grants the role secretsmanager:GetSecretValue/DescribeSecret
    // on each secret only, plus kms:Decrypt when it uses a customer key.
    ...target.authentication,
    role: target.role,
    vpc: target.vpc,
    vpcSubnets: target.vpcSubnets,
    securityGroups,
    dbProxyName,
    iamAuth: true,
    requireTLS: true,
    borrowTimeout: options.borrowTimeout ?? Duration.seconds(10),
    idleClientTimeout: options.idleClientTimeout ?? Duration.minutes(30),
    maxConnectionsPercent,
    maxIdleConnectionsPercent: options.maxIdleConnectionsPercent ??
      (Token.isUnresolved(maxConnectionsPercent) ? undefined : Math.floor(maxConnectionsPercent / 2)),
    sessionPinningFilters: options.sessionPinningFilters,
    initQuery: options.initQuery,
    debugLogging: options.debugLogging ?? false,
  });
  // Between the two resources only (see the log groups in cluster.ts).
  (proxy.node.defaultChild as CfnResource).node.addDependency(logGroup.node.defaultChild as CfnResource);
  return { proxy, connections: new ec2.Connections({ securityGroups, defaultPort: ec2.Port.tcp(MYSQL_PORT) }) };
}

/** Validation of the pool options of any proxy; warnings go on `scope`. */
function validateProxyPool(scope: Construct, options: ProxyOptions, prefix: string): void {
  const maxConnections = options.maxConnectionsPercent;
  validateNumber(`${prefix}maxConnectionsPercent`, maxConnections, { min: 1, max: 100, integer: true });
  validateNumber(`${prefix}maxIdleConnectionsPercent`, options.maxIdleConnectionsPercent, { min: 0, max: 100, integer: true });
  const effectiveMax = maxConnections ?? 100;
  const idle = options.maxIdleConnectionsPercent;
  if (idle !== undefined && !Token.isUnresolved(idle) && !Token.isUnresolved(effectiveMax) && idle > effectiveMax) {
    throw new ServerlessLampValidationError(
      `${prefix}maxIdleConnectionsPercent (${idle}) must be <= ${prefix}maxConnectionsPercent (${effectiveMax})`,
    );
  }
  validateSeconds(`${prefix}borrowTimeout`, options.borrowTimeout, 0, 300);
  validateSeconds(`${prefix}idleClientTimeout`, options.idleClientTimeout, 1, 28800);
  validateRdsIdentifier(`${prefix}dbProxyName`, options.dbProxyName);
  if (options.debugLogging) {
    Annotations.of(scope).addWarningV2(
      'serverless-lamp:debug-logging',
      'debugLogging is on: the proxy logs SQL statements, which may contain sensitive data. Turn it off after debugging',
    );
  }
}

/**
 * Warns, once per database, when its proxies together may ask the cluster for
 * more connections than `max_connections` allows. Runs as a validation, when
 * every proxy exists, and reads each target group's pool settings.
 */
export function warnWhenOversubscribed(database: Construct): void {
  database.node.addValidation({
    validate: () => {
      const stack = Stack.of(database);
      const pools = database.node.findAll()
        .filter((c): c is rds.CfnDBProxyTargetGroup => c instanceof rds.CfnDBProxyTargetGroup)
        .map((group) => {
          const info = stack.resolve(group.connectionPoolConfigurationInfo) as { maxConnectionsPercent?: unknown } | undefined;
          return { path: group.node.scope!.node.scope!.node.path, percent: info?.maxConnectionsPercent };
        });
      if (pools.length < 2 || pools.some((p) => typeof p.percent !== 'number')) return [];
      const total = pools.reduce((sum, p) => sum + (p.percent as number), 0);
      if (total > 100) {
        Annotations.of(database).addWarningV2(
          'serverless-lamp:proxies-oversubscribed',
          `The proxies' maxConnectionsPercent add up to ${total} (${pools.map((p) => `${p.path}: ${p.percent}`).join(', ')}); ` +
            'above 100, together they can ask the cluster for more connections than max_connections allows',
        );
      }
      return [];
    },
  });
}
