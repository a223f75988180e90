import {
  CustomResource,
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
import { DatabaseAuthentication } from './database-authentication';
import { DatabaseSchema } from './database-schema';
import { DatabasePrivilege, DatabaseUser, DatabaseUserOptions } from './database-user';
import { HandlerErrorCode } from './handler-error-code';
import { DashboardOptions, DatabaseAlarmsOptions, HandlerFailuresMetricOptions, MonitoringOptions, ProxyAlarmsOptions } from './monitoring';
import { acknowledgeCluster, acknowledgeCreatedVpc, acknowledgeInlinePolicies } from './private/acknowledgments';
import { validateDatabaseAlarmsOptions } from './private/alarms';
import { addRotation, createCluster, retainWithCluster } from './private/cluster';
import { addProxyRow, createDashboard } from './private/dashboard';
import { encryptionKey } from './private/encryption';
import { ServerlessLampValidationError } from './private/errors';
import { functionRuntime } from './private/function-runtime';
import { handlerFailuresMetric } from './private/metrics';
import { SecretsManagerAccess, createNetwork, createdS3Endpoint, secretsManagerAccess } from './private/network';
import { addOutputs } from './private/outputs';
import { createProxy, warnWhenOversubscribed } from './private/proxy';
import { createQueryHandler } from './private/query-handler';
import { warnAtProxyQuota } from './private/quotas';
import { addReadOnlyEndpoint } from './private/read-only-endpoint';
import { addSchema } from './private/schema';
import { DatabaseState, Logging, Rotation, newDatabaseState } from './private/state';
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

  /**
   * The user the schema's migrations run as, when there is a `schema`: DDL
   * and data privileges on the database only (`DatabasePrivilege.schemaChanges()`).
   */
  public readonly migrationUser?: DatabaseUser;

  /**
   * The custom resource that applies the schema's migrations at deploy time,
   * when there is a `schema`. Depend on it for anything that needs the tables.
   */
  public readonly schemaResource?: CustomResource;

  /** The database user `grantConnect()` names when given none: the application user. */
  public readonly defaultDatabaseUser: string;

  /**
   * The S3 gateway endpoint the construct added to the subnets' route tables
   * for the users provider's answers to CloudFormation, if it added one (see
   * `s3Route`). Its policy allows only `s3:PutObject` to CloudFormation's
   * custom resource response bucket of the Region (and, with a `schema`,
   * `s3:GetObject` on its migration files' asset object): if other workloads in
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

  /**
   * What the parts added later (users, proxies) share with this database.
   * @internal
   */
  public readonly _state: DatabaseState;

  /** The proxies added with `addProxy()` (or `new ApplicationProxy()`), in the order they were created. */
  private readonly addedProxies: ApplicationProxy[] = [];

  /** What each added proxy gets, now and when it comes: its alarms, its dashboard row. */
  private readonly forAddedProxies: Array<(proxy: ApplicationProxy) => void> = [];

  private addedAlarms?: DatabaseAlarms;
  private addedDashboard?: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: ServerlessLampDatabaseProps = {}) {
    super(scope, id);
    validateDatabaseProps(this, props);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.SNAPSHOT;
    const logging: Logging = {
      logRetention: props.logRetention ?? logs.RetentionDays.ONE_YEAR,
      logRemovalPolicy: removalPolicy === RemovalPolicy.DESTROY ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
    };
    this.databaseName = props.defaultDatabaseName ?? 'lamp';
    this.masterUsername = props.masterUsername ?? 'lampadmin';

    // Foundation: the key, and the network everything runs in.
    this.encryptionKey = encryptionKey(this, props.encryptionKey, removalPolicy);
    ({ vpc: this.vpc, vpcSubnets: this.vpcSubnets } = createNetwork(this, { ...props, ...logging, encryptionKey: this.encryptionKey }));
    if (!props.vpc) acknowledgeCreatedVpc(this.vpc);
    const network = { vpc: this.vpc, vpcSubnets: this.vpcSubnets };
    const secretsManager = () => secretsManagerAccess(this, this.vpc, this.vpcSubnets, props.secretsManagerEndpoint);

    // Data: the cluster, its master secret and their rotation.
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
    const rotation = this.rotateSecrets(props, secretsManager);
    if (removalPolicy === RemovalPolicy.RETAIN) retainWithCluster(this, this.cluster, props.vpc ? [] : [this.vpc]);
    acknowledgeCluster(this.cluster, {
      backtrack: props.backtrackWindow !== undefined,
      rotation: rotation !== undefined,
      deletionProtection: props.deletionProtection ?? removalPolicy !== RemovalPolicy.DESTROY,
    });

    // Access: who may connect (the users), and through what (the proxy).
    this._state = newDatabaseState({
      ...network,
      scope: this,
      databaseName: this.databaseName,
      masterUsername: this.masterUsername,
      logging,
      functionRuntime: functionRuntime(props.functionRuntime),
      secretsManager,
      s3Route: props.s3Route,
      usersOutliveStack: removalPolicy !== RemovalPolicy.DESTROY,
      rotation,
    }, props.authentication ?? DatabaseAuthentication.IAM, props.masterUserThroughProxy ?? false);
    this.proxyRole = setUpUsers(this._state, { proxyRole: props.proxyRole, cluster: this.cluster, secret: this.secret });
    this.applicationUser = this.addUser(props.applicationUser ?? 'lamp_app');
    this.defaultDatabaseUser = this.applicationUser.userName;
    if (props.schema) ({ migrationUser: this.migrationUser, schemaResource: this.schemaResource } = this.applySchema(props.schema));
    this.s3Endpoint = createdS3Endpoint(this);
    ({ proxy: this.proxy, connections: this.connections } = createProxy(this, {
      ...network,
      ...logging,
      cluster: this.cluster,
      authentication: proxyAuthentication(this._state.users),
      role: this.proxyRole,
      encryptionKey: this.encryptionKey,
      options: props.proxy ?? {},
      propPrefix: 'proxy.',
      securityGroupId: 'ProxySecurityGroup',
    }));
    registerProxySecrets(this._state.users, this.proxy);
    this.proxyEndpoint = this.proxy.endpoint;
    warnWhenOversubscribed(this);
    warnAtProxyQuota(this);

    // Query: the handler, connected through the proxy as the application user.
    this.handler = createQueryHandler(this, {
      ...network,
      ...logging,
      options: props.handler ?? {},
      runtime: this._state.functionRuntime,
      encryptionKey: this.encryptionKey,
      host: this.proxy.endpoint,
      databaseName: this.databaseName,
      user: this.applicationUser.userName,
    });
    this.admitHandler();
    this.readOnlyEndpoint = addReadOnlyEndpoint(this, {
      ...network, enabled: props.readOnlyEndpoint, readers: props.readers, proxy: this.proxy, connections: this.connections, handler: this.handler,
    });
    this.proxyReadOnlyEndpoint = this.readOnlyEndpoint?.endpoint;
    acknowledgeInlinePolicies(this);
    addOutputs(this, { proxyEndpoint: this.proxy.endpoint, secretArn: this.secret.secretArn, handlerName: this.handler.functionName });

    // Monitoring: the `monitoring` prop.
    this.applyMonitoring(props.monitoring);
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
    this.assertNoAlarms();
    return new DatabaseAlarms(this, 'Alarms', { ...options, database: this });
  }

  /** The alarms added with `addAlarms()` or the `monitoring` prop, if any. */
  public get alarms(): DatabaseAlarms | undefined {
    return this.addedAlarms;
  }

  /**
   * Adds a CloudWatch dashboard: the handler and the cluster side by side,
   * then one row per proxy, including proxies added later.
   *
   * @param options the dashboard's name
   */
  public addDashboard(options: DashboardOptions = {}): cloudwatch.Dashboard {
    if (this.addedDashboard) {
      throw new ServerlessLampValidationError(`${this.node.path} already has its dashboard`);
    }
    const dashboard = createDashboard(this, options, { path: this.node.path, handler: this.handler, cluster: this.cluster });
    addProxyRow(dashboard, this.node.path, this, this.readOnlyEndpoint !== undefined);
    this.eachAddedProxy((proxy) => addProxyRow(dashboard, proxy.node.path, proxy, false));
    this.addedDashboard = dashboard;
    return dashboard;
  }

  /** The dashboard added with `addDashboard()` or the `monitoring` prop, if any. */
  public get dashboard(): cloudwatch.Dashboard | undefined {
    return this.addedDashboard;
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

  /**
   * Records the alarms of this database (`DatabaseAlarms` records itself here); it has one set of them.
   * @internal
   */
  public _addedAlarms(alarms: DatabaseAlarms): void {
    this.assertNoAlarms();
    this.addedAlarms = alarms;
  }

  /**
   * Gives every added proxy, now and later, the proxy alarms (unless it has some).
   * @internal
   */
  public _alarmAddedProxies(options: ProxyAlarmsOptions): void {
    this.eachAddedProxy((proxy) => {
      if (!proxy.proxyAlarms) proxy.addProxyAlarms(options);
    });
  }

  /**
   * Called by every `ApplicationProxy` of this database, last in its constructor.
   * @internal
   */
  public _addedProxy(proxy: ApplicationProxy): void {
    this.addedProxies.push(proxy);
    for (const give of this.forAddedProxies) give(proxy);
  }

  /** @internal */
  protected _readOnlyEndpoint(): string | undefined {
    return this.proxyReadOnlyEndpoint;
  }

  /** Runs `give` for each proxy added so far, and for each one added later. */
  private eachAddedProxy(give: (proxy: ApplicationProxy) => void): void {
    this.forAddedProxies.push(give);
    for (const proxy of this.addedProxies) give(proxy);
  }

  private assertNoAlarms(): void {
    if (this.addedAlarms) {
      throw new ServerlessLampValidationError(`${this.node.path} already has its alarms; adjust them with the options of the first addAlarms()`);
    }
  }

  /** The `schema` prop: its migration user, declared like the application users, and the resource that migrates as it. */
  private applySchema(schema: DatabaseSchema): { migrationUser: DatabaseUser; schemaResource: CustomResource } {
    if (schema.migrationUser.toLowerCase() === this.applicationUser.userName.toLowerCase()) {
      throw new ServerlessLampValidationError(
        `schema: migrationUser ('${schema.migrationUser}') is the application user's name: migrations run as a user of their own`);
    }
    const migrationUser = this.addUser(schema.migrationUser, { privileges: DatabasePrivilege.schemaChanges(), proxyAccess: false });
    const schemaResource = addSchema(this, {
      state: this._state,
      cluster: this.cluster,
      directory: schema.directory,
      outOfOrder: schema.outOfOrder,
      // Its user resource alone: its secret is referenced already (PasswordSecretArn).
      migrationUser: { userName: migrationUser.userName, resource: migrationUser.node.defaultChild ?? migrationUser, secret: migrationUser.secret },
    });
    return { migrationUser, schemaResource };
  }

  /** The handler's way in: the network path to the proxy, `rds-db:connect` as the application user, the user first. */
  private admitHandler(): void {
    this.connections.allowDefaultPortFrom(this.handler, 'Query handler to the RDS Proxy');
    this.grantConnect(this.handler);
    // No invocation before its user exists, nor after it was dropped; nor
    // before the schema's tables are there.
    this.handler.node.addDependency(this.applicationUser);
    if (this.schemaResource) this.handler.node.addDependency(this.schemaResource);
  }

  /** Master and application secrets rotate unless turned off; returns how, or nothing. */
  private rotateSecrets(props: ServerlessLampDatabaseProps, secretsManager: () => SecretsManagerAccess): Rotation | undefined {
    if (!(props.secretRotation ?? true)) return undefined;
    const interval = props.secretRotationInterval;
    const network = { vpc: this.vpc, vpcSubnets: this.vpcSubnets };
    const securityGroup = addRotation(this, this.cluster, { ...network, secretsManager: secretsManager(), interval });
    return { securityGroup, interval };
  }

  /** The `monitoring` prop: checked with its own property names, then applied. */
  private applyMonitoring(m: MonitoringOptions | undefined): void {
    if (m === undefined) return;
    validateDatabaseAlarmsOptions(m, 'monitoring.', HandlerErrorCode.databasePathCodes);
    if (m.dashboardName !== undefined && !m.dashboard) {
      throw new ServerlessLampValidationError(
        `monitoring.dashboardName ('${m.dashboardName}') applies only with monitoring.dashboard: true`);
    }
    if (m.alarms ?? true) this.addAlarms(m);
    if (m.dashboard) this.addDashboard({ dashboardName: m.dashboardName });
  }

}
