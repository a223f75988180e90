import {
  CfnOutput,
  Duration,
  RemovalPolicy,
  aws_ec2 as ec2,
  aws_cloudwatch as cloudwatch,
  aws_iam as iam,
  aws_kms as kms,
  aws_lambda as lambda,
  aws_logs as logs,
  aws_rds as rds,
  aws_secretsmanager as secretsmanager,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { DashboardOptions, DatabaseAlarms, DatabaseAlarmsOptions, HandlerErrorCode, HandlerFailuresMetricOptions, MonitoringOptions } from './monitoring';
import { acknowledgeCluster, acknowledgeCreatedVpc, acknowledgeInlinePolicies } from './private/acknowledgments';
import { addRotation, createCluster, retainWithCluster } from './private/cluster';
import { encryptionKey } from './private/encryption';
import { addDashboard, applyMonitoring, assertNoDatabaseAlarms, dashboardOf, databaseAlarmsOf, handlerFailuresMetric } from './private/monitoring';
import { createNetwork, secretsManagerAccess } from './private/network';
import { createProxy, warnWhenOversubscribed } from './private/proxy';
import { createQueryHandler } from './private/query-handler';
import { addReadOnlyEndpoint } from './private/read-only-endpoint';
import { recordSettings } from './private/settings';
import { validateDatabaseProps } from './private/validation';
import { ApplicationProxy, ProxyOptions } from './proxy';
import { ProxyBase } from './proxy-base';
import { QueryHandlerOptions } from './query-handler';

/**
 * Properties for a `ServerlessLampDatabase`.
 *
 * Every property is optional: `new ServerlessLampDatabase(this, 'Db')` builds the
 * whole tier with secure defaults.
 */
export interface ServerlessLampDatabaseProps {
  // ---------------------------------------------------------------- network

  /**
   * The VPC to place the cluster, the proxy and the handler in.
   *
   * @default - a new VPC across 2 Availability Zones with isolated subnets only
   * (no internet gateway, no NAT gateway): nothing in this construct needs the
   * internet, so nothing pays for a NAT gateway.
   */
  readonly vpc?: ec2.IVpc;

  /**
   * The subnets for the cluster, the proxy and the handler.
   *
   * @default - the VPC's isolated subnets if it has any, otherwise its private
   * subnets with egress. Never public subnets.
   */
  readonly vpcSubnets?: ec2.SubnetSelection;

  /**
   * Security groups for the Aurora cluster.
   *
   * @default - a security group is created that admits only the proxy on port 3306
   */
  readonly clusterSecurityGroups?: ec2.ISecurityGroup[];

  /**
   * Whether the VPC the construct creates records flow logs to CloudWatch Logs.
   * Only for the created VPC: with your own `vpc`, its flow logs are yours to manage.
   *
   * @default true
   */
  readonly vpcFlowLogs?: boolean;

  /**
   * An interface endpoint for Secrets Manager, for the functions of this
   * construct that call it from inside the VPC (the secret rotation function).
   * They are given the endpoint's own DNS name when it is an endpoint of this
   * app; an imported endpoint must have private DNS on.
   *
   * @default - for subnets without internet access, an endpoint is created in
   * them, with private DNS off (so it captures no other workload's calls) and
   * admitting only this construct's functions; for subnets with internet egress,
   * none: the functions may leave on port 443 through the subnets' egress path
   */
  readonly secretsManagerEndpoint?: ec2.IInterfaceVpcEndpoint;

  // --------------------------------------------------------------- database

  /**
   * The Aurora MySQL engine version. Only version 3.x (MySQL 8.0 compatible) is
   * supported: version 2 left standard support on 2024-10-31.
   *
   * @default rds.AuroraMysqlEngineVersion.VER_3_10_4 (3.10 is a long-term-support release)
   * @see https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraMySQL.Update.SpecialVersions.html
   */
  readonly engineVersion?: rds.AuroraMysqlEngineVersion;

  /**
   * The writer instance.
   *
   * @default - an Aurora Serverless v2 writer, `rds.ClusterInstance.serverlessV2('Writer')`
   */
  readonly writer?: rds.IClusterInstance;

  /**
   * Reader instances, provisioned (`rds.ClusterInstance.provisioned`) or
   * Aurora Serverless v2 (`rds.ClusterInstance.serverlessV2`).
   *
   * @default - no readers
   */
  readonly readers?: rds.IClusterInstance[];

  /**
   * The minimum capacity of Aurora Serverless v2 instances, in Aurora capacity units.
   * Allowed: 0 to 256 in steps of 0.5. 0 lets an idle cluster pause, which an
   * RDS Proxy can keep from happening (it holds connections open), so it draws a warning.
   *
   * @default 0.5
   */
  readonly serverlessV2MinCapacity?: number;

  /**
   * The maximum capacity of Aurora Serverless v2 instances, in Aurora capacity units.
   * Allowed: 1 to 256 in steps of 0.5, and not below `serverlessV2MinCapacity`.
   *
   * @default 2
   */
  readonly serverlessV2MaxCapacity?: number;

  /**
   * The cluster identifier: 1 to 63 letters, digits or hyphens, starting with a
   * letter, not ending with a hyphen and without two consecutive hyphens; stored
   * in lowercase. It names the cluster's log groups
   * (`/aws/rds/cluster/<identifier>/<type>`), which the construct creates before
   * the cluster. Changing it replaces the cluster.
   *
   * @default - a name unique to the construct path, such as `mystack-db-1a2b3c4d-cluster`
   */
  readonly clusterIdentifier?: string;

  /**
   * The name of the database created in the cluster, which the handler queries.
   * 1 to 64 letters, digits or underscores, starting with a letter, not a MySQL reserved word.
   *
   * @default 'lamp'
   */
  readonly defaultDatabaseName?: string;

  /**
   * The master user name. Its password is generated into Secrets Manager; the
   * proxy reads it from there and the handler connects as this user with an IAM
   * token. 1 to 16 letters, digits or underscores, starting with a letter; `admin`
   * is allowed but draws a warning (AWS Control Tower rejects it).
   *
   * @default 'lampadmin'
   */
  readonly masterUsername?: string;

  /**
   * The KMS key that encrypts the cluster's storage, the generated secret and
   * the log groups the construct creates.
   *
   * @default - a customer managed key with yearly rotation is created
   */
  readonly encryptionKey?: kms.IKey;

  /**
   * Whether Secrets Manager rotates the master password. The proxy picks up
   * the new password by itself. The rotation function runs in the VPC and
   * reaches Secrets Manager through an interface endpoint (see
   * `secretsManagerEndpoint`).
   *
   * @default true
   */
  readonly secretRotation?: boolean;

  /**
   * How often the master password is rotated. Allowed: 4 hours to 1000 days.
   *
   * @default Duration.days(30)
   */
  readonly secretRotationInterval?: Duration;

  /**
   * How long automated backups are kept. Allowed: 1 to 35 days.
   *
   * @default Duration.days(7)
   */
  readonly backupRetention?: Duration;

  /**
   * Extra cluster parameters for the `aurora-mysql8.0` parameter group; they
   * may override the audit-log settings. `require_secure_transport` is always
   * `ON` and cannot be turned off here.
   *
   * @default - `require_secure_transport: ON`, `server_audit_logging: 1`,
   * `server_audit_events: CONNECT,QUERY_DCL,QUERY_DDL`
   */
  readonly clusterParameters?: { [name: string]: string };

  /**
   * The log types exported to CloudWatch Logs (`audit`, `error`, `general`,
   * `slowquery`). A type is written only when the database produces it: the
   * audit log is on (connections, DDL and DCL statements); the general log and
   * the slow query log stay off until you set `general_log` or `slow_query_log`
   * in `clusterParameters`. Allowed: `audit`, `error`, `general`,
   * `slowquery`, `iam-db-auth-error`. The construct creates each type's log
   * group (`/aws/rds/cluster/<clusterIdentifier>/<type>`), encrypted with the
   * key and kept for `logRetention`, before the cluster exports to it.
   *
   * @default ['audit', 'error', 'general', 'slowquery']
   */
  readonly cloudwatchLogsExports?: string[];

  /**
   * How far back the cluster can be rewound in place ("backtrack"). Allowed:
   * up to 72 hours. Backtracking is not available in every AWS Region and does
   * not combine with binary log replication, so it is off unless you set it.
   *
   * @default - no backtracking
   */
  readonly backtrackWindow?: Duration;

  /**
   * The interval of enhanced monitoring, or `Duration.seconds(0)` to turn it off.
   * Allowed: 0, 1, 5, 10, 15, 30 or 60 seconds.
   *
   * @default Duration.seconds(60)
   */
  readonly monitoringInterval?: Duration;

  /**
   * What happens to the cluster when it leaves the stack. `RemovalPolicy.DESTROY`
   * deletes the data with the stack and draws a warning. `RemovalPolicy.RETAIN`
   * keeps the cluster, and with it everything it uses that the construct
   * created: the secret, the parameter group, its security group, its
   * monitoring role and the created VPC; resources you pass in must outlive it too.
   *
   * @default RemovalPolicy.SNAPSHOT
   */
  readonly removalPolicy?: RemovalPolicy;

  /**
   * Whether the cluster refuses to be deleted.
   *
   * @default - true, unless `removalPolicy` is `RemovalPolicy.DESTROY`
   */
  readonly deletionProtection?: boolean;

  // ------------------------------------------------------------------ proxy

  /**
   * The name, network and connection pool of the construct's RDS Proxy.
   *
   * @default - a proxy named after the construct path, with the defaults of `ProxyOptions`
   */
  readonly proxy?: ProxyOptions;

  /**
   * The IAM role every proxy of this construct assumes to read the database
   * secret. The construct grants it read access to that secret (and decrypt on its key).
   *
   * @default - a role assumable only by `rds.amazonaws.com`, allowed to read only that secret
   */
  readonly proxyRole?: iam.IRole;

  // ---------------------------------------------------------------- handler

  /**
   * The query handler's timeout, memory, concurrency, dead-letter queue, tracing
   * and security groups.
   *
   * @default - the defaults of `QueryHandlerOptions`
   */
  readonly handler?: QueryHandlerOptions;

  /**
   * How long the logs of the handler and of the VPC flow logs are kept.
   * AWS Control Tower (CT.CLOUDWATCH.PR.2) asks for at least a year.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;

  // ------------------------------------------------------------- operations

  /**
   * Whether the proxy gets a read-only endpoint, which spreads connections
   * over the cluster's readers. It admits the clients the proxy admits and
   * needs readers; the handler learns its host name as `DB_READER_HOST`.
   *
   * @default - true when `readers` is not empty, otherwise false
   */
  readonly readOnlyEndpoint?: boolean;

  /**
   * Alarms (on by default here) and a dashboard (off by default here) for the
   * proxies, the cluster and the handler; the same as `addAlarms()` and
   * `addDashboard()`.
   *
   * @default - no alarms and no dashboard
   */
  readonly monitoring?: MonitoringOptions;
}

/**
 * The serverless LAMP database tier in one construct: an encrypted Aurora MySQL 3
 * cluster with generated credentials, an RDS Proxy in front of it that requires
 * IAM authentication and TLS, and a VPC-attached Lambda handler that connects
 * through the proxy with an IAM token.
 *
 * @example
 * new ServerlessLampDatabase(this, 'Db');
 */
export class ServerlessLampDatabase extends ProxyBase {
  /** The VPC everything runs in. */
  public readonly vpc: ec2.IVpc;

  /** The subnets of the cluster, the proxies and the handler. */
  public readonly vpcSubnets: ec2.SubnetSelection;

  /** The key that encrypts the storage, the secret and the log groups. */
  public readonly encryptionKey: kms.IKey;

  /** The Aurora MySQL cluster. */
  public readonly cluster: rds.DatabaseCluster;

  /** The secret holding the master credentials (`username`, `password`, `host`, ...). */
  public readonly secret: secretsmanager.ISecret;

  /** The RDS Proxy in front of the cluster. */
  public readonly proxy: rds.DatabaseProxy;

  /** The role every proxy of this construct assumes to read the secret. */
  public readonly proxyRole: iam.IRole;

  /** The Lambda function that queries the database through the proxy. */
  public readonly handler: lambda.Function;

  /**
   * Network access to the proxy on port 3306. Use
   * `db.connections.allowDefaultPortFrom(myFunction)` to let another client in.
   */
  public readonly connections: ec2.Connections;

  /**
   * The proxy's endpoint host name.
   * @attribute
   */
  public readonly proxyEndpoint: string;

  /** The name of the database created in the cluster. */
  public readonly databaseName: string;

  /** The master user name, which the handler connects as. */
  public readonly masterUsername: string;

  /** The database user `grantConnect()` names when given none: the master user. */
  public readonly defaultDatabaseUser: string;

  /** The proxy's read-only endpoint, when the cluster has readers (see `readOnlyEndpoint`). */
  public readonly readOnlyEndpoint?: rds.DatabaseProxyEndpoint;

  /**
   * The host name of the proxy's read-only endpoint, when there is one.
   * @attribute
   */
  public readonly proxyReadOnlyEndpoint?: string;

  constructor(scope: Construct, id: string, props: ServerlessLampDatabaseProps = {}) {
    super(scope, id);
    validateDatabaseProps(this, props);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.SNAPSHOT;
    const logging = {
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      logRemovalPolicy: removalPolicy === RemovalPolicy.DESTROY ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    };
    this.databaseName = props.defaultDatabaseName ?? 'lamp';
    this.masterUsername = this.defaultDatabaseUser = props.masterUsername ?? 'lampadmin';

    this.encryptionKey = encryptionKey(this, props.encryptionKey, removalPolicy);
    ({ vpc: this.vpc, vpcSubnets: this.vpcSubnets } = createNetwork(this, { ...props, ...logging, encryptionKey: this.encryptionKey }));
    if (!props.vpc) acknowledgeCreatedVpc(this.vpc);
    const network = { vpc: this.vpc, vpcSubnets: this.vpcSubnets };
    const secretsManager = () => secretsManagerAccess(this, this.vpc, this.vpcSubnets, props.secretsManagerEndpoint);
    recordSettings(this, { ...logging, secretsManager });

    this.cluster = createCluster(this, {
      ...network,
      ...logging,
      props,
      encryptionKey: this.encryptionKey,
      databaseName: this.databaseName,
      masterUsername: this.masterUsername,
      removalPolicy,
    });
    this.secret = this.cluster.secret!;
    const rotation = props.secretRotation ?? true;
    if (rotation) addRotation(this, this.cluster, { ...network, secretsManager: secretsManager(), interval: props.secretRotationInterval });
    if (removalPolicy === RemovalPolicy.RETAIN) retainWithCluster(this, this.cluster, props.vpc ? [] : [this.vpc]);
    acknowledgeCluster(this.cluster, {
      backtrack: props.backtrackWindow !== undefined,
      rotation,
      deletionProtection: props.deletionProtection ?? removalPolicy !== RemovalPolicy.DESTROY,
    });

    this.proxyRole = props.proxyRole ?? new iam.Role(this, 'ProxyRole', {
      assumedBy: new iam.ServicePrincipal('rds.amazonaws.com'),
      description: 'Lets the RDS Proxy read the database credentials secret',
    });
    ({ proxy: this.proxy, connections: this.connections } = createProxy(this, {
      ...network,
      cluster: this.cluster,
      secret: this.secret,
      role: this.proxyRole,
      ...logging,
      encryptionKey: this.encryptionKey,
      options: props.proxy ?? {},
      propPrefix: 'proxy.',
      securityGroupId: 'ProxySecurityGroup',
    }));
    this.proxyEndpoint = this.proxy.endpoint;
    warnWhenOversubscribed(this);

    this.handler = createQueryHandler(this, {
      ...network,
      ...logging,
      options: props.handler ?? {},
      encryptionKey: this.encryptionKey,
      host: this.proxy.endpoint,
      databaseName: this.databaseName,
      user: this.masterUsername,
    });
    this.connections.allowDefaultPortFrom(this.handler, 'Query handler to the RDS Proxy');
    this.grantConnect(this.handler);
    this.readOnlyEndpoint = addReadOnlyEndpoint(this, {
      ...network, enabled: props.readOnlyEndpoint, readers: props.readers, proxy: this.proxy, connections: this.connections, handler: this.handler,
    });
    this.proxyReadOnlyEndpoint = this.readOnlyEndpoint?.endpoint;

    acknowledgeInlinePolicies(this);
    this.addOutputs();
    applyMonitoring(this, props.monitoring, HandlerErrorCode.databasePathCodes);
  }

  /**
   * Adds another RDS Proxy in front of the cluster, for another application.
   *
   * One proxy per application divides the database's connections between
   * them (`maxConnectionsPercent`) and keeps their metrics apart. The proxy
   * requires IAM authentication and TLS, uses the same secret and role, and
   * admits nobody until you allow a client with `connections.allowDefaultPortFrom()`
   * and `grantConnect()`. When the proxies' `maxConnectionsPercent` add up to
   * more than 100, synthesis warns (`serverless-lamp:proxies-oversubscribed`).
   *
   * @param id the construct id of the new proxy
   * @param options its name, network and connection pool
   */
  public addProxy(id: string, options: ProxyOptions = {}): ApplicationProxy {
    return new ApplicationProxy(this, id, { ...options, database: this });
  }

  /**
   * Adds the alarms of the handler, the cluster and every proxy (see
   * `DatabaseAlarmsOptions` for each, its threshold and why), optionally
   * notifying an SNS topic. Proxies added with `addProxy()` later get their
   * alarms when they are created.
   *
   * @param options thresholds, which alarms, and an SNS topic to notify
   */
  public addAlarms(options: DatabaseAlarmsOptions = {}): DatabaseAlarms {
    assertNoDatabaseAlarms(this);
    return new DatabaseAlarms(this, 'Alarms', { ...options, database: this });
  }

  /** The alarms added with `addAlarms()` or the `monitoring` prop, if any. */
  public get alarms(): DatabaseAlarms | undefined {
    return databaseAlarmsOf(this);
  }

  /**
   * Adds a CloudWatch dashboard: the handler and the cluster side by side,
   * then one row per proxy, including proxies added later.
   *
   * @param options the dashboard's name
   */
  public addDashboard(options: DashboardOptions = {}): cloudwatch.Dashboard {
    return addDashboard(this, options);
  }

  /** The dashboard added with `addDashboard()` or the `monitoring` prop, if any. */
  public get dashboard(): cloudwatch.Dashboard | undefined {
    return dashboardOf(this);
  }

  /**
   * Answers of the handler with `ok: false`, of every error code or of one
   * (`errorCode`). The handler writes one data point per failure to its logs in
   * CloudWatch embedded metric format (namespace `ServerlessLampDatabase`, metric
   * `QueryFailures`, dimensions `FunctionName` and `FunctionName, ErrorCode`).
   *
   * Default: sum over 5 minutes.
   *
   * @param props options of the metric, and the error code
   */
  public metricHandlerFailures(props?: HandlerFailuresMetricOptions): cloudwatch.Metric {
    return handlerFailuresMetric(this.handler, props);
  }

  /**
   * Invocations of the handler that failed outright (Lambda `Errors`:
   * timeouts, crashes), not answers with `ok: false`.
   *
   * Default: sum over 5 minutes.
   *
   * @param props options of the metric
   */
  public metricHandlerErrors(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.handler.metricErrors(props);
  }

  /**
   * Invocations of the handler that Lambda throttled.
   *
   * Default: sum over 5 minutes.
   *
   * @param props options of the metric
   */
  public metricHandlerThrottles(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.handler.metricThrottles(props);
  }

  private addOutputs(): void {
    new CfnOutput(this, 'ProxyEndpoint', {
      description: 'Host name of the RDS Proxy endpoint (port 3306, IAM auth and TLS required)',
      value: this.proxy.endpoint,
    });
    new CfnOutput(this, 'SecretArn', {
      description: 'ARN of the Secrets Manager secret holding the master credentials',
      value: this.secret.secretArn,
    });
    new CfnOutput(this, 'HandlerFunctionName', {
      description: 'Name of the Lambda function that queries the database through the proxy',
      value: this.handler.functionName,
    });
  }
}
