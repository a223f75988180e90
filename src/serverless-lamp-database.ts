import {
  CfnOutput,
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
import { DatabaseAlarms } from './alarms';
import { DatabaseUser, DatabaseUserOptions } from './database-user';
import { HandlerErrorCode } from './handler-error-code';
import { DashboardOptions, DatabaseAlarmsOptions, HandlerFailuresMetricOptions } from './monitoring';
import { acknowledgeCluster, acknowledgeCreatedVpc, acknowledgeInlinePolicies } from './private/acknowledgments';
import { addRotation, createCluster, retainWithCluster } from './private/cluster';
import { encryptionKey } from './private/encryption';
import { ServerlessLampValidationError } from './private/errors';
import { functionRuntime } from './private/function-runtime';
import { addDashboard, applyMonitoring, assertNoDatabaseAlarms, dashboardOf, databaseAlarmsOf, handlerFailuresMetric } from './private/monitoring';
import { createNetwork, createdS3Endpoint, secretsManagerAccess } from './private/network';
import { createProxy, warnWhenOversubscribed } from './private/proxy';
import { createQueryHandler } from './private/query-handler';
import { addReadOnlyEndpoint } from './private/read-only-endpoint';
import { recordSettings } from './private/settings';
import { proxyAuthentication, registerProxySecrets, setUpUsers } from './private/users';
import { validateDatabaseProps } from './private/validation';
import { ApplicationProxy } from './proxy';
import { ProxyBase } from './proxy-base';
import { ProxyOptions } from './proxy-options';
import { ServerlessLampDatabaseProps } from './serverless-lamp-database-props';

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

  /** The master user name. Only the users provider and the rotation function connect as it. */
  public readonly masterUsername: string;

  /** The least-privilege application user the handler connects as. */
  public readonly applicationUser: DatabaseUser;

  /** The database user `grantConnect()` names when given none: the application user. */
  public readonly defaultDatabaseUser: string;

  /**
   * The S3 gateway endpoint the construct added to the subnets' route tables
   * for the users provider's answers to CloudFormation, if it added one (see
   * `s3Route`). Its policy allows only `s3:PutObject` to CloudFormation's
   * custom resource response bucket of the Region: if other workloads in
   * these subnets use S3 through it, allow them with `addToPolicy()`.
   */
  public readonly s3Endpoint?: ec2.GatewayVpcEndpoint;

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
    this.masterUsername = props.masterUsername ?? 'lampadmin';

    this.encryptionKey = encryptionKey(this, props.encryptionKey, removalPolicy);
    ({ vpc: this.vpc, vpcSubnets: this.vpcSubnets } = createNetwork(this, { ...props, ...logging, encryptionKey: this.encryptionKey }));
    if (!props.vpc) acknowledgeCreatedVpc(this.vpc);
    const network = { vpc: this.vpc, vpcSubnets: this.vpcSubnets };
    const secretsManager = () => secretsManagerAccess(this, this.vpc, this.vpcSubnets, props.secretsManagerEndpoint);
    const settings = recordSettings(this, {
      ...logging,
      secretsManager,
      secretRotationInterval: props.secretRotationInterval,
      s3Route: props.s3Route,
      usersOutliveStack: removalPolicy !== RemovalPolicy.DESTROY,
      functionRuntime: functionRuntime(props.functionRuntime),
    });

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
    if (rotation) {
      const rotationProps = { ...network, secretsManager: secretsManager(), interval: props.secretRotationInterval };
      settings.rotationSecurityGroup = addRotation(this, this.cluster, rotationProps);
    }
    if (removalPolicy === RemovalPolicy.RETAIN) retainWithCluster(this, this.cluster, props.vpc ? [] : [this.vpc]);
    acknowledgeCluster(this.cluster, {
      backtrack: props.backtrackWindow !== undefined,
      rotation,
      deletionProtection: props.deletionProtection ?? removalPolicy !== RemovalPolicy.DESTROY,
    });

    this.proxyRole = setUpUsers(this, props);
    this.applicationUser = this.addUser(props.applicationUser ?? 'lamp_app');
    this.defaultDatabaseUser = this.applicationUser.userName;
    this.s3Endpoint = createdS3Endpoint(this);

    ({ proxy: this.proxy, connections: this.connections } = createProxy(this, {
      ...network,
      ...logging,
      cluster: this.cluster,
      authentication: proxyAuthentication(this),
      role: this.proxyRole,
      encryptionKey: this.encryptionKey,
      options: props.proxy ?? {},
      propPrefix: 'proxy.',
      securityGroupId: 'ProxySecurityGroup',
    }));
    registerProxySecrets(this, this.proxy);
    this.proxyEndpoint = this.proxy.endpoint;
    warnWhenOversubscribed(this);

    this.handler = createQueryHandler(this, {
      ...network,
      ...logging,
      options: props.handler ?? {},
      runtime: settings.functionRuntime,
      encryptionKey: this.encryptionKey,
      host: this.proxy.endpoint,
      databaseName: this.databaseName,
      user: this.applicationUser.userName,
    });
    this.connections.allowDefaultPortFrom(this.handler, 'Query handler to the RDS Proxy');
    this.grantConnect(this.handler);
    // No invocation before its user exists, nor after it was dropped.
    this.handler.node.addDependency(this.applicationUser);
    this.readOnlyEndpoint = addReadOnlyEndpoint(this, {
      ...network, enabled: props.readOnlyEndpoint, readers: props.readers, proxy: this.proxy, connections: this.connections, handler: this.handler,
    });
    this.proxyReadOnlyEndpoint = this.readOnlyEndpoint?.endpoint;

    acknowledgeInlinePolicies(this);
    this.addOutputs();
    applyMonitoring(this, props.monitoring, HandlerErrorCode.databasePathCodes);
  }

  /**
   * Declares an application database user, created at deploy time with
   * exactly these privileges on the construct's database, changed when they
   * change, dropped when it is removed. Connect as it with
   * `grantConnect(grantee, userName)` (or the user's own `grantConnect()`).
   *
   * @param userName 1 to 32 letters, digits or underscores, starting with a letter
   * @param options its privileges; SELECT, INSERT, UPDATE and DELETE on the database by default
   */
  public addUser(userName: string, options: DatabaseUserOptions = {}): DatabaseUser {
    if (this.node.tryFindChild(`User${userName}`)) {
      throw new ServerlessLampValidationError(`userName ('${userName}') is declared twice in ${this.node.path}`);
    }
    return new DatabaseUser(this, `User${userName}`, { ...options, database: this, userName });
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
