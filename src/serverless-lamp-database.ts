import {
  Annotations,
  ArnFormat,
  Aws,
  CfnOutput,
  Duration,
  Names,
  RemovalPolicy,
  Stack,
  Token,
  aws_cloudwatch as cloudwatch,
  aws_ec2 as ec2,
  aws_iam as iam,
  aws_kms as kms,
  aws_lambda as lambda,
  aws_logs as logs,
  aws_rds as rds,
  aws_secretsmanager as secretsmanager,
  aws_sqs as sqs,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { QueryFunction } from './handler/query-function';
import { HIPAA, NIST, PCI, SERVERLESS, acknowledgeRules, acrossPacks } from './private/acknowledge';
import {
  ServerlessLampValidationError,
  validateDatabaseName,
  validateNumber,
  validateProxyName,
  validateSeconds,
  validateUsername,
} from './private/validation';

/** The MySQL port, used by the cluster and by the proxy. */
const MYSQL_PORT = 3306;

/**
 * The name and connection pool of an RDS Proxy. The same names, meanings and
 * limits as `rds.DatabaseProxyOptions`; invalid values fail at synth.
 */
export interface ProxyPoolOptions {
  /**
   * The name of the RDS Proxy: 1 to 63 letters, digits or hyphens, starting with a
   * letter, not ending with a hyphen and without two consecutive hyphens.
   *
   * @default - a name unique to the construct path, such as `mystack-db-1a2b3c4d-proxy`
   */
  readonly dbProxyName?: string;


  /**
   * The maximum size of the connection pool for each target in a target group,
   * as a percentage of the cluster's `max_connections`. Allowed: 1 to 100.
   * Give each application its own proxy and a share of 100 to divide the
   * database's connections between them.
   *
   * @default 100
   * @see https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-proxy-connections.html
   */
  readonly maxConnectionsPercent?: number;

  /**
   * How actively the proxy closes idle database connections, as a percentage of
   * `max_connections`. Allowed: 0 to `maxConnectionsPercent`.
   *
   * @default - half of `maxConnectionsPercent` (RDS Proxy's own rule), so 50 with the defaults
   */
  readonly maxIdleConnectionsPercent?: number;

  /**
   * How long the proxy waits for a free database connection before answering
   * `9501 Timed-out waiting to acquire database connection`. Allowed: 0 to 300
   * seconds; for the construct's own proxy, also at least 3 seconds shorter than
   * `handlerTimeout`, so that the handler can report the error before Lambda
   * stops it. Keep it below your clients' own timeouts too. RDS Proxy's own
   * default (120 seconds) is longer than a typical API timeout, hence this default.
   *
   * @default Duration.seconds(10)
   */
  readonly borrowTimeout?: Duration;

  /**
   * How long a client connection may sit idle before the proxy closes it.
   * Allowed: 1 second to 8 hours.
   *
   * @default Duration.minutes(30)
   */
  readonly idleClientTimeout?: Duration;

  /**
   * Operations that should not pin a client session to one database connection.
   *
   * @default - no session pinning filters
   */
  readonly sessionPinningFilters?: rds.SessionPinningFilter[];

  /**
   * One or more SQL statements the proxy runs when it opens each new database connection.
   *
   * @default - no initialization query
   */
  readonly initQuery?: string;

  /**
   * Whether the proxy logs detailed connection information, including SQL
   * statements. Turn on only to debug: the logs may hold sensitive data. Draws a warning.
   *
   * @default false
   */
  readonly debugLogging?: boolean;
}

/**
 * Properties for a `ServerlessLampDatabase`.
 *
 * Every property is optional: `new ServerlessLampDatabase(this, 'Db')` builds the
 * whole tier with secure defaults.
 */
export interface ServerlessLampDatabaseProps extends ProxyPoolOptions {
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
   * Security groups for the RDS Proxy.
   *
   * @default - a security group is created that admits only the handler on port 3306
   * and may only reach the cluster on port 3306
   */
  readonly proxySecurityGroups?: ec2.ISecurityGroup[];

  /**
   * Security groups for the handler function.
   *
   * @default - a security group is created that admits nothing and may only reach
   * the proxy on port 3306
   */
  readonly handlerSecurityGroups?: ec2.ISecurityGroup[];

  /**
   * Whether the VPC the construct creates records flow logs to CloudWatch Logs.
   * Only for the created VPC: with your own `vpc`, its flow logs are yours to manage.
   *
   * @default true
   */
  readonly vpcFlowLogs?: boolean;

  /**
   * An interface endpoint for Secrets Manager that the secret rotation function
   * uses. Rotation is the only part of this construct that calls an AWS API from
   * inside the VPC.
   *
   * @default - with `secretRotation` on and subnets without internet access, an
   * endpoint is created in them; otherwise none
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
   * in `clusterParameters`.
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
   * deletes the data with the stack and draws a warning.
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
   * The IAM role the proxy assumes to read the database secret. The construct
   * grants it read access to that secret (and decrypt on its key).
   *
   * @default - a role assumable only by `rds.amazonaws.com`, allowed to read only that secret
   */
  readonly proxyRole?: iam.IRole;

  // ---------------------------------------------------------------- handler

  /**
   * The handler's timeout. Allowed: 4 seconds to 15 minutes, and at least 3
   * seconds longer than `borrowTimeout`.
   *
   * @default Duration.seconds(15)
   */
  readonly handlerTimeout?: Duration;

  /**
   * The handler's memory, in MiB. Allowed: 128 to 10240.
   *
   * @default 256
   */
  readonly handlerMemorySize?: number;

  /**
   * How long the logs of the handler and of the VPC flow logs are kept.
   * AWS Control Tower (CT.CLOUDWATCH.PR.2) asks for at least a year.
   *
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly logRetention?: logs.RetentionDays;

  /**
   * The handler's reserved concurrency: a cap on its simultaneous executions.
   * Reserving concurrency takes it from the account's pool, so it is off unless
   * you set it; the proxy already keeps a burst of invocations from flooding
   * the database with connections.
   *
   * @default - no reserved concurrency
   */
  readonly handlerReservedConcurrency?: number;

  /**
   * A queue for asynchronous invocations of the handler that failed.
   *
   * @default - no dead-letter queue (the handler is meant to be invoked synchronously)
   */
  readonly handlerDeadLetterQueue?: sqs.IQueue;

  /**
   * AWS X-Ray tracing of the handler.
   *
   * @default lambda.Tracing.ACTIVE
   */
  readonly handlerTracing?: lambda.Tracing;
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
export class ServerlessLampDatabase extends Construct implements ec2.IConnectable {
  /** The VPC everything runs in. */
  public readonly vpc: ec2.IVpc;

  /** The Aurora MySQL cluster. */
  public readonly cluster: rds.DatabaseCluster;

  /** The secret holding the master credentials (`username`, `password`, `host`, ...). */
  public readonly secret: secretsmanager.ISecret;

  /** The RDS Proxy in front of the cluster. */
  public readonly proxy: rds.DatabaseProxy;

  /** The role the proxy assumes to read the secret. */
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

  /** The key that encrypts the storage, the secret and the log groups. */
  public readonly encryptionKey: kms.IKey;

  /** The subnets of the cluster, the proxies and the handler. */
  public readonly vpcSubnets: ec2.SubnetSelection;

  private readonly proxies: Array<{ path: string; maxConnectionsPercent: number }> = [];

  constructor(scope: Construct, id: string, props: ServerlessLampDatabaseProps = {}) {
    super(scope, id);

    const borrowTimeout = props.borrowTimeout ?? Duration.seconds(10);
    const handlerTimeout = props.handlerTimeout ?? Duration.seconds(15);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.SNAPSHOT;
    const monitoringInterval = props.monitoringInterval ?? Duration.seconds(60);
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;
    const logRemovalPolicy = removalPolicy === RemovalPolicy.DESTROY ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    const secretRotation = props.secretRotation ?? true;
    this.databaseName = props.defaultDatabaseName ?? 'lamp';
    this.masterUsername = props.masterUsername ?? 'lampadmin';

    this.validate(props, borrowTimeout, handlerTimeout, removalPolicy);

    // ------------------------------------------------------------ encryption
    if (props.encryptionKey) {
      this.encryptionKey = props.encryptionKey;
    } else {
      const key = new kms.Key(this, 'Key', {
        description: 'Serverless LAMP database: cluster storage, credentials secret and log groups',
        enableKeyRotation: true,
        removalPolicy: removalPolicy === RemovalPolicy.DESTROY ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
      });
      // CloudWatch Logs encrypts this construct's log groups with the key, and
      // only log groups of this account and Region.
      key.grantEncryptDecrypt(new iam.PrincipalWithConditions(
        new iam.ServicePrincipal(`logs.${Aws.REGION}.amazonaws.com`),
        {
          ArnLike: {
            'kms:EncryptionContext:aws:logs:arn': Stack.of(this).formatArn({
              service: 'logs',
              resource: 'log-group',
              resourceName: '*',
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
        },
      ));
      // Only AWS services may create grants on the key, and only for AWS
      // resources (AWS Control Tower control CT.KMS.PR.3).
      key.addToResourcePolicy(new iam.PolicyStatement({
        sid: 'DenyCreateGrantExceptForAwsServices',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['kms:CreateGrant'],
        resources: ['*'],
        conditions: {
          BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' },
        },
      }));
      this.encryptionKey = key;
    }

    // ------------------------------------------------------------- network
    let vpc = props.vpc;
    if (!vpc) {
      const created = new ec2.Vpc(this, 'Vpc', {
        maxAzs: 2,
        natGateways: 0,
        subnetConfiguration: [{ name: 'Isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
        // Whatever the app's feature flags say: closing the default security
        // group takes a custom resource, see the acknowledgment below.
        restrictDefaultSecurityGroup: false,
      });
      acknowledgeRules(created, [
        ...acrossPacks('VPCDefaultSecurityGroupClosed', [HIPAA, NIST, PCI],
          'No resource uses the VPC default security group: every resource of this construct has its own. ' +
          'Closing the default group takes a custom resource (a Lambda function outside the VPC), which adds more than it removes.'),
      ]);
      if (props.vpcFlowLogs ?? true) {
        created.addFlowLog('FlowLogs', {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(new logs.LogGroup(this, 'FlowLogsLogGroup', {
            retention: logRetention,
            encryptionKey: this.encryptionKey,
            removalPolicy: logRemovalPolicy,
          })),
          trafficType: ec2.FlowLogTrafficType.ALL,
        });
      }
      vpc = created;
    }
    this.vpc = vpc;
    const vpcSubnets: ec2.SubnetSelection = this.vpcSubnets = props.vpcSubnets ?? {
      subnetType: this.vpc.isolatedSubnets.length > 0
        ? ec2.SubnetType.PRIVATE_ISOLATED
        : ec2.SubnetType.PRIVATE_WITH_EGRESS,
    };

    const clusterSecurityGroups = props.clusterSecurityGroups ?? [
      new ec2.SecurityGroup(this, 'ClusterSecurityGroup', {
        vpc: this.vpc,
        description: 'Aurora MySQL cluster: inbound only from the RDS Proxy',
        allowAllOutbound: false,
      }),
    ];
    const proxySecurityGroups = props.proxySecurityGroups ?? [
      new ec2.SecurityGroup(this, 'ProxySecurityGroup', {
        vpc: this.vpc,
        description: 'RDS Proxy: inbound only from allowed clients, outbound only to the cluster',
        allowAllOutbound: false,
      }),
    ];
    const handlerSecurityGroups = props.handlerSecurityGroups ?? [
      new ec2.SecurityGroup(this, 'HandlerSecurityGroup', {
        vpc: this.vpc,
        description: 'Query handler: no inbound, outbound only to the RDS Proxy',
        allowAllOutbound: false,
      }),
    ];

    // ------------------------------------------------------------ database
    const engine = rds.DatabaseClusterEngine.auroraMysql({
      version: props.engineVersion ?? rds.AuroraMysqlEngineVersion.VER_3_10_4,
    });
    const parameterGroup = new rds.ParameterGroup(this, 'ClusterParameters', {
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

    this.cluster = new rds.DatabaseCluster(this, 'Cluster', {
      engine,
      port: MYSQL_PORT,
      vpc: this.vpc,
      vpcSubnets,
      securityGroups: clusterSecurityGroups,
      writer: props.writer ?? rds.ClusterInstance.serverlessV2('Writer'),
      readers: props.readers,
      serverlessV2MinCapacity: props.serverlessV2MinCapacity ?? 0.5,
      serverlessV2MaxCapacity: props.serverlessV2MaxCapacity ?? 2,
      credentials: rds.Credentials.fromGeneratedSecret(this.masterUsername, {
        encryptionKey: this.encryptionKey,
      }),
      defaultDatabaseName: this.databaseName,
      iamAuthentication: true,
      storageEncrypted: true,
      storageEncryptionKey: this.encryptionKey,
      parameterGroup,
      backup: { retention: props.backupRetention ?? Duration.days(7) },
      backtrackWindow: props.backtrackWindow,
      cloudwatchLogsExports: props.cloudwatchLogsExports ?? ['audit', 'error', 'general', 'slowquery'],
      // Duration.seconds(0) means "off": then no monitoring role is created either.
      monitoringInterval: monitoringInterval.isUnresolved() || monitoringInterval.toMilliseconds() > 0
        ? monitoringInterval
        : undefined,
      deletionProtection: props.deletionProtection ?? removalPolicy !== RemovalPolicy.DESTROY,
      removalPolicy,
      copyTagsToSnapshot: true,
    });
    this.secret = this.cluster.secret!;

    const clusterResource = this.cluster.node.defaultChild as rds.CfnDBCluster;
    acknowledgeRules(clusterResource, [
      {
        id: 'AwsSolutions-RDS11',
        reason: 'Clients never reach the cluster port: the cluster admits only the RDS Proxy, ' +
          'whose MySQL endpoint listens on 3306 whatever the cluster port is. A different port would add no protection.',
      },
      ...(props.backtrackWindow === undefined ? [{
        id: 'AwsSolutions-RDS14',
        reason: 'Backtracking is not available in every AWS Region and does not combine with binary log replication, ' +
          'so it is opt-in (backtrackWindow); automated backups with point-in-time restore are always on.',
      }] : []),
    ]);
    const instanceAck = acrossPacks('RDSInBackupPlan', [HIPAA, NIST],
      'Aurora backs the cluster up continuously (backupRetention, point-in-time restore) and snapshots it on removal. ' +
      'Add it to your organisation\'s AWS Backup plan with BackupResource.fromRdsDatabaseCluster(db.cluster) where one exists.');
    for (const child of this.cluster.node.findAll()) {
      if (child instanceof rds.CfnDBInstance) acknowledgeRules(child, instanceAck);
    }
    const monitoringRole = this.cluster.node.tryFindChild('MonitoringRole');
    if (monitoringRole) {
      acknowledgeRules(monitoringRole, [{
        id: 'AwsSolutions-IAM4',
        reason: 'AmazonRDSEnhancedMonitoringRole is the AWS managed policy made for enhanced monitoring (CloudWatch Logs for RDS only).',
        appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole'],
      }]);
    }

    if (secretRotation) {
      const rotationSubnets = this.vpc.selectSubnets(vpcSubnets);
      let endpoint = props.secretsManagerEndpoint;
      // Isolated subnets cannot reach Secrets Manager without an endpoint.
      if (!endpoint && !rotationSubnets.hasPublic && rotationSubnets.subnets.every((s) => this.vpc.isolatedSubnets.includes(s))) {
        endpoint = new ec2.InterfaceVpcEndpoint(this, 'SecretsManagerEndpoint', {
          vpc: this.vpc,
          service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
          subnets: vpcSubnets,
          privateDnsEnabled: true,
          open: false,
          securityGroups: [new ec2.SecurityGroup(this, 'SecretsManagerEndpointSecurityGroup', {
            vpc: this.vpc,
            description: 'Secrets Manager endpoint: inbound only from the secret rotation function',
            allowAllOutbound: false,
          })],
        });
      }
      const rotationSecurityGroup = new ec2.SecurityGroup(this, 'RotationSecurityGroup', {
        vpc: this.vpc,
        description: 'Secret rotation function: no inbound, outbound only to the cluster and Secrets Manager',
        allowAllOutbound: false,
      });
      // Opens the cluster's port to the rotation function.
      this.cluster.addRotationSingleUser({
        automaticallyAfter: props.secretRotationInterval ?? Duration.days(30),
        vpcSubnets,
        endpoint,
        securityGroup: rotationSecurityGroup,
      });
      if (endpoint) {
        endpoint.connections.allowDefaultPortFrom(rotationSecurityGroup, 'Secret rotation function to Secrets Manager');
      }
    }
    const secretAcks = props.secretRotation === false
      ? [
        { id: 'AwsSolutions-SMG4', reason: 'Secret rotation was turned off explicitly (secretRotation: false).' },
        ...acrossPacks('SecretsManagerRotationEnabled', [HIPAA, NIST], 'Secret rotation was turned off explicitly (secretRotation: false).'),
      ]
      : [];
    // (this.secret is the cluster's attachment of the secret; the secret itself is the cluster's child.)
    if (secretAcks.length > 0) acknowledgeRules(this.cluster.node.findChild('Secret'), secretAcks);

    // --------------------------------------------------------------- proxy
    this.proxyRole = props.proxyRole ?? new iam.Role(this, 'ProxyRole', {
      assumedBy: new iam.ServicePrincipal('rds.amazonaws.com'),
      description: 'Lets the RDS Proxy read the database credentials secret',
    });

    this.proxy = this._newProxy(this, props, proxySecurityGroups);
    this.proxyEndpoint = this.proxy.endpoint;

    // DatabaseProxy.connections has no default port, so allowDefaultPortFrom()
    // on it would throw; this Connections carries the MySQL port.
    this.connections = new ec2.Connections({
      securityGroups: proxySecurityGroups,
      defaultPort: ec2.Port.tcp(MYSQL_PORT),
    });

    // ------------------------------------------------------------- handler
    const handlerRole = new iam.Role(this, 'HandlerRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'Serverless LAMP query handler: VPC networking, logs, rds-db:connect',
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaVPCAccessExecutionRole')],
    });
    acknowledgeRules(handlerRole, [{
      id: 'AwsSolutions-IAM4',
      reason: 'AWSLambdaVPCAccessExecutionRole is the AWS managed policy Lambda documents for functions in a VPC ' +
        '(network interface management, which has no resource-level permissions, and writing logs).',
      appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole'],
    }]);

    const tracing = props.handlerTracing ?? lambda.Tracing.ACTIVE;
    this.handler = new QueryFunction(this, 'Handler', {
      description: 'Serverless LAMP: queries Aurora MySQL through RDS Proxy with an IAM token',
      role: handlerRole,
      vpc: this.vpc,
      vpcSubnets,
      securityGroups: handlerSecurityGroups,
      architecture: lambda.Architecture.ARM_64,
      timeout: handlerTimeout,
      memorySize: props.handlerMemorySize ?? 256,
      tracing,
      reservedConcurrentExecutions: props.handlerReservedConcurrency,
      deadLetterQueue: props.handlerDeadLetterQueue,
      logGroup: new logs.LogGroup(this, 'HandlerLogs', {
        retention: logRetention,
        encryptionKey: this.encryptionKey,
        removalPolicy: logRemovalPolicy,
      }),
      environment: {
        // Where and as whom to connect. No secret: the password is an IAM token
        // minted at run time.
        DB_HOST: this.proxy.endpoint,
        DB_PORT: String(MYSQL_PORT),
        DB_USER: this.masterUsername,
        DB_NAME: this.databaseName,
      },
    });
    this.connections.allowDefaultPortFrom(this.handler, 'Query handler to the RDS Proxy');
    this.grantConnect(this.handler);

    const handlerAcks = [
      ...(props.handlerReservedConcurrency === undefined
        ? acrossPacks('LambdaConcurrency', [HIPAA, NIST],
          'Reserved concurrency is opt-in (handlerReservedConcurrency): it takes capacity from the account pool ' +
          'and fails to deploy in accounts with low limits. The RDS Proxy pool is what shields the database from bursts.')
        : []),
      ...(props.handlerDeadLetterQueue === undefined
        ? acrossPacks('LambdaDLQ', [HIPAA, NIST, SERVERLESS],
          'The handler answers synchronous invocations, whose errors go back to the caller; a dead-letter queue ' +
          'only receives failed asynchronous invocations. Set handlerDeadLetterQueue for asynchronous use.')
        : []),
      ...(tracing !== lambda.Tracing.ACTIVE
        ? [{ id: 'Serverless-LambdaTracing', reason: `Tracing was set to ${tracing} explicitly (handlerTracing).` }]
        : []),
    ];
    if (handlerAcks.length > 0) acknowledgeRules(this.handler, handlerAcks);
    if (tracing === lambda.Tracing.ACTIVE) {
      // Lambda adds xray:PutTraceSegments and xray:PutTelemetryRecords on "*" to the role.
      acknowledgeRules(handlerRole.node.findChild('DefaultPolicy').node.defaultChild as iam.CfnPolicy, [{
        id: 'AwsSolutions-IAM5',
        reason: 'xray:PutTraceSegments and xray:PutTelemetryRecords, added for active tracing, support no resource-level permissions.',
        appliesTo: ['Resource::*'],
      }]);
    }

    // aws-cdk-lib grant methods write least-privilege statements into each
    // role's inline "DefaultPolicy".
    const inlineReason = 'Statements written by aws-cdk-lib grant methods, each naming this construct\'s own resources; ' +
      'an inline policy belongs to its one role and cannot be attached elsewhere by mistake.';
    for (const child of this.node.findAll()) {
      if (child instanceof iam.CfnPolicy) {
        acknowledgeRules(child, acrossPacks('IAMNoInlinePolicy', [HIPAA, NIST, PCI], inlineReason));
      }
    }

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

  /**
   * Grants `rds-db:connect` through the proxy as `dbUser`.
   *
   * The permission names the proxy's resource id (`prx-...`), as IAM requires.
   *
   * @param grantee who may connect
   * @param dbUser the database user to connect as
   * @default dbUser - the master user name
   */
  public grantConnect(grantee: iam.IGrantable, dbUser?: string): iam.Grant {
    return this.proxy.grantConnect(grantee, dbUser ?? this.masterUsername);
  }

  /**
   * A CloudWatch metric of the proxy (namespace `AWS/RDS`, dimension `ProxyName`).
   *
   * @param metricName for example `DatabaseConnectionsCurrentlySessionPinned`
   * @see https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/rds-proxy.monitoring.html
   */
  public metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return proxyMetric(this.proxy, metricName, props);
  }

  /**
   * Database connections currently pinned to a client session. Pinned
   * connections cannot be shared, which defeats the pool.
   *
   * RDS Proxy publishes this count once per minute from each of the nodes that
   * serve the proxy, so the proxy's total is their sum over one minute.
   *
   * @default - sum over 1 minute
   */
  public metricDatabaseConnectionsCurrentlySessionPinned(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('DatabaseConnectionsCurrentlySessionPinned', { statistic: 'Sum', period: Duration.minutes(1), ...props });
  }

  /**
   * Client connections to the proxy.
   *
   * RDS Proxy publishes this count once per minute from each of the nodes that
   * serve the proxy, so the proxy's total is their sum over one minute.
   *
   * @default - sum over 1 minute
   */
  public metricClientConnections(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('ClientConnections', { statistic: 'Sum', period: Duration.minutes(1), ...props });
  }

  /**
   * Database connections from the proxy to the cluster.
   *
   * RDS Proxy publishes this count once per minute from each of the nodes that
   * serve the proxy, so the proxy's total is their sum over one minute.
   *
   * @default - sum over 1 minute
   */
  public metricDatabaseConnections(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('DatabaseConnections', { statistic: 'Sum', period: Duration.minutes(1), ...props });
  }

  /**
   * Time, in microseconds, that the proxy waits to get a database connection.
   *
   * @default - average over 5 minutes
   */
  public metricDatabaseConnectionsBorrowLatency(props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return this.metric('DatabaseConnectionsBorrowLatency', { statistic: 'Average', ...props });
  }

  /**
   * Adds another RDS Proxy in front of the cluster, for another application.
   *
   * One proxy per application divides the database's connections between
   * them (`maxConnectionsPercent`) and keeps their metrics apart. The proxy
   * requires IAM authentication and TLS, uses the same secret and role, and
   * admits nobody until you allow a client with `connections.allowDefaultPortFrom()`
   * and `grantConnect()`.
   *
   * @param id the construct id of the new proxy
   * @param options its name and connection pool
   */
  public addProxy(id: string, options: AddProxyOptions = {}): ApplicationProxy {
    return new ApplicationProxy(this, id, options);
  }

  /**
   * Creates an RDS Proxy in `scope` for this cluster (the construct's own, or an `ApplicationProxy`'s).
   * @internal
   */
  public _newProxy(scope: Construct, options: ProxyPoolOptions, securityGroups: ec2.ISecurityGroup[]): rds.DatabaseProxy {
    validateProxyPool(scope, options);
    const maxConnectionsPercent = options.maxConnectionsPercent ?? 100;
    const proxy = new rds.DatabaseProxy(scope, 'Proxy', {
      proxyTarget: rds.ProxyTarget.fromCluster(this.cluster),
      // Grants the role secretsmanager:GetSecretValue/DescribeSecret on this
      // secret only, plus kms:Decrypt when the secret uses a customer key.
      secrets: [this.secret],
      role: this.proxyRole,
      vpc: this.vpc,
      vpcSubnets: this.vpcSubnets,
      securityGroups,
      dbProxyName: options.dbProxyName ?? defaultProxyName(scope),
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
    this.pinClusterPort();
    this.proxies.push({ path: scope.node.path, maxConnectionsPercent });
    this.warnIfOversubscribed();
    return proxy;
  }

  /**
   * DatabaseProxy opens the cluster's port to the proxy's security groups,
   * naming the port with a token (the cluster's Endpoint.Port). The port is
   * fixed (3306), so write it down: rule packs cannot check a port they
   * cannot read.
   */
  private pinClusterPort(): void {
    const stack = Stack.of(this);
    const port = JSON.stringify(stack.resolve(this.cluster.clusterEndpoint.port));
    for (const child of stack.node.findAll()) {
      if (
        (child instanceof ec2.CfnSecurityGroupIngress || child instanceof ec2.CfnSecurityGroupEgress) &&
        Token.isUnresolved(child.fromPort) &&
        JSON.stringify(stack.resolve(child.fromPort)) === port
      ) {
        child.fromPort = MYSQL_PORT;
        child.toPort = MYSQL_PORT;
      }
    }
  }

  private validate(
    props: ServerlessLampDatabaseProps,
    borrowTimeout: Duration,
    handlerTimeout: Duration,
    removalPolicy: RemovalPolicy,
  ): void {
    // The pool options themselves are checked where the proxy is made (validateProxyPool).
    validateSeconds('handlerTimeout', props.handlerTimeout, 4, 900);
    if (!borrowTimeout.isUnresolved() && !handlerTimeout.isUnresolved()) {
      const b = borrowTimeout.toMilliseconds();
      const h = handlerTimeout.toMilliseconds();
      if (h < b + 3000) {
        throw new ServerlessLampValidationError(
          `handlerTimeout (${handlerTimeout.toHumanString()}) must be at least 3 seconds longer than ` +
            `borrowTimeout (${borrowTimeout.toHumanString()}), so the handler can report a borrow timeout ` +
            'before Lambda stops it',
        );
      }
    }
    validateNumber('handlerMemorySize', props.handlerMemorySize, { min: 128, max: 10240, integer: true, unit: 'MiB' });
    if (props.backupRetention && !props.backupRetention.isUnresolved()) {
      const days = props.backupRetention.toDays({ integral: false });
      validateNumber('backupRetention', days, { min: 1, max: 35, integer: true, unit: 'days' });
    }
    if (props.monitoringInterval && !props.monitoringInterval.isUnresolved()) {
      const s = props.monitoringInterval.toMilliseconds() / 1000;
      if (![0, 1, 5, 10, 15, 30, 60].includes(s)) {
        throw new ServerlessLampValidationError(
          `monitoringInterval (${props.monitoringInterval.toHumanString()}) must be 0, 1, 5, 10, 15, 30 or 60 seconds`,
        );
      }
    }
    validateNumber('serverlessV2MinCapacity', props.serverlessV2MinCapacity, { min: 0, max: 256, step: 0.5, unit: 'ACU' });
    validateNumber('serverlessV2MaxCapacity', props.serverlessV2MaxCapacity, { min: 1, max: 256, step: 0.5, unit: 'ACU' });
    const minAcu = props.serverlessV2MinCapacity ?? 0.5;
    const maxAcu = props.serverlessV2MaxCapacity ?? 2;
    if (!Token.isUnresolved(minAcu) && !Token.isUnresolved(maxAcu) && minAcu > maxAcu) {
      throw new ServerlessLampValidationError(
        `serverlessV2MinCapacity (${minAcu} ACU) must be <= serverlessV2MaxCapacity (${maxAcu} ACU)`,
      );
    }
    if (props.secretRotationInterval && !props.secretRotationInterval.isUnresolved()) {
      const hours = props.secretRotationInterval.toHours({ integral: false });
      if (hours < 4 || hours > 24000) {
        throw new ServerlessLampValidationError(
          `secretRotationInterval (${props.secretRotationInterval.toHumanString()}) must be between 4 hours and 1000 days`,
        );
      }
    }
    if (props.backtrackWindow && !props.backtrackWindow.isUnresolved()) {
      validateSeconds('backtrackWindow', props.backtrackWindow, 0, 72 * 3600);
    }
    validateNumber('handlerReservedConcurrency', props.handlerReservedConcurrency, { min: 0, max: 100000, integer: true });
    if (props.vpc && props.vpcFlowLogs !== undefined) {
      throw new ServerlessLampValidationError(
        `vpcFlowLogs (${props.vpcFlowLogs}) applies only to the VPC this construct creates; with your own vpc, manage its flow logs there`,
      );
    }
    if (props.secretRotation === false && props.secretsManagerEndpoint) {
      throw new ServerlessLampValidationError(
        'Either turn secretRotation off or provide secretsManagerEndpoint, but not both: only the rotation function uses the endpoint',
      );
    }
    validateDatabaseName('defaultDatabaseName', props.defaultDatabaseName);
    validateUsername('masterUsername', props.masterUsername);

    const tls = props.clusterParameters?.require_secure_transport;
    if (tls !== undefined && !Token.isUnresolved(tls) && !['ON', '1'].includes(tls.toUpperCase())) {
      throw new ServerlessLampValidationError(
        `clusterParameters.require_secure_transport ('${tls}') must be 'ON': this construct always requires TLS`,
      );
    }
    if (removalPolicy === RemovalPolicy.DESTROY && props.deletionProtection === true) {
      throw new ServerlessLampValidationError(
        'Either set removalPolicy to RemovalPolicy.DESTROY or deletionProtection to true, but not both: ' +
          'a protected cluster cannot be destroyed with its stack',
      );
    }

    // Legal but risky: say so, in a way users can acknowledge.
    if (removalPolicy === RemovalPolicy.DESTROY) {
      Annotations.of(this).addWarningV2(
        'serverless-lamp:removal-policy-destroy',
        'removalPolicy is RemovalPolicy.DESTROY: the cluster and its data are deleted with the stack, without a final snapshot',
      );
    }
    if (props.masterUsername !== undefined && props.masterUsername.toLowerCase() === 'admin') {
      Annotations.of(this).addWarningV2(
        'serverless-lamp:admin-username',
        "masterUsername is 'admin', a well-known default that AWS Control Tower control CT.RDS.PR.21 rejects",
      );
    }
    if (props.serverlessV2MinCapacity === 0) {
      Annotations.of(this).addWarningV2(
        'serverless-lamp:auto-pause',
        'serverlessV2MinCapacity is 0 (auto-pause): the RDS Proxy keeps database connections open, which can keep the cluster from pausing',
      );
    }
  }

  private warnIfOversubscribed(): void {
    if (this.proxies.some((p) => Token.isUnresolved(p.maxConnectionsPercent))) return;
    const total = this.proxies.reduce((sum, p) => sum + p.maxConnectionsPercent, 0);
    if (this.proxies.length > 1 && total > 100) {
      Annotations.of(this).addWarningV2(
        'serverless-lamp:proxies-oversubscribed',
        `The proxies' maxConnectionsPercent add up to ${total} (${this.proxies.map((p) => `${p.path}: ${p.maxConnectionsPercent}`).join(', ')}); ` +
          'above 100, together they can ask the cluster for more connections than max_connections allows',
      );
    }
  }
}

/**
 * Options for `ServerlessLampDatabase.addProxy()`.
 */
export interface AddProxyOptions extends ProxyPoolOptions {
  /**
   * Security groups for the proxy.
   *
   * @default - a security group is created that admits only the clients you
   * allow and may only reach the cluster on port 3306
   */
  readonly securityGroups?: ec2.ISecurityGroup[];
}

/**
 * Another RDS Proxy in front of a `ServerlessLampDatabase`'s cluster, for one
 * more application. Create it with `db.addProxy(id, options)`.
 */
export class ApplicationProxy extends Construct implements ec2.IConnectable {
  /** The RDS Proxy. */
  public readonly proxy: rds.DatabaseProxy;

  /** Network access to the proxy on port 3306. */
  public readonly connections: ec2.Connections;

  /**
   * The proxy's endpoint host name.
   * @attribute
   */
  public readonly proxyEndpoint: string;

  private readonly database: ServerlessLampDatabase;

  constructor(database: ServerlessLampDatabase, id: string, options: AddProxyOptions = {}) {
    super(database, id);
    this.database = database;
    const securityGroups = options.securityGroups ?? [
      new ec2.SecurityGroup(this, 'SecurityGroup', {
        vpc: database.vpc,
        description: 'RDS Proxy: inbound only from allowed clients, outbound only to the cluster',
        allowAllOutbound: false,
      }),
    ];
    this.proxy = database._newProxy(this, options, securityGroups);
    this.proxyEndpoint = this.proxy.endpoint;
    this.connections = new ec2.Connections({ securityGroups, defaultPort: ec2.Port.tcp(MYSQL_PORT) });
  }

  /**
   * Grants `rds-db:connect` through this proxy as `dbUser`.
   *
   * @param grantee who may connect
   * @param dbUser the database user to connect as
   * @default dbUser - the master user name
   */
  public grantConnect(grantee: iam.IGrantable, dbUser?: string): iam.Grant {
    return this.proxy.grantConnect(grantee, dbUser ?? this.database.masterUsername);
  }

  /**
   * A CloudWatch metric of this proxy (namespace `AWS/RDS`, dimension `ProxyName`).
   *
   * @param metricName for example `DatabaseConnectionsCurrentlySessionPinned`
   */
  public metric(metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
    return proxyMetric(this.proxy, metricName, props);
  }
}

function proxyMetric(proxy: rds.IDatabaseProxy, metricName: string, props?: cloudwatch.MetricOptions): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: 'AWS/RDS',
    metricName,
    dimensionsMap: { ProxyName: proxy.dbProxyName },
    ...props,
  });
}

/**
 * aws-cdk-lib names a proxy after its construct id ("Proxy") unless told
 * otherwise, so two stacks in one account and region would collide. Derive a
 * name from the construct path that satisfies the proxy naming rules.
 */
function defaultProxyName(scope: Construct): string {
  const unique = Names.uniqueResourceName(scope, { maxLength: 54, separator: '-', allowedSpecialCharacters: '-' });
  const cleaned = `${unique}-proxy`.toLowerCase().replace(/[^a-z0-9-]/g, '').replace(/-+/g, '-').replace(/^[^a-z]+/, '');
  return cleaned.slice(0, 63).replace(/-+$/, '');
}

/** Validation of the pool options of any proxy; warnings go on `scope`. */
function validateProxyPool(scope: Construct, options: ProxyPoolOptions): void {
  const maxConnections = options.maxConnectionsPercent;
  validateNumber('maxConnectionsPercent', maxConnections, { min: 1, max: 100, integer: true });
  validateNumber('maxIdleConnectionsPercent', options.maxIdleConnectionsPercent, { min: 0, max: 100, integer: true });
  const effectiveMax = maxConnections ?? 100;
  if (
    options.maxIdleConnectionsPercent !== undefined &&
    !Token.isUnresolved(options.maxIdleConnectionsPercent) &&
    !Token.isUnresolved(effectiveMax) &&
    options.maxIdleConnectionsPercent > effectiveMax
  ) {
    throw new ServerlessLampValidationError(
      `maxIdleConnectionsPercent (${options.maxIdleConnectionsPercent}) must be <= maxConnectionsPercent (${effectiveMax})`,
    );
  }
  validateSeconds('borrowTimeout', options.borrowTimeout, 0, 300);
  validateSeconds('idleClientTimeout', options.idleClientTimeout, 1, 28800);
  validateProxyName('dbProxyName', options.dbProxyName);
  if (options.debugLogging) {
    Annotations.of(scope).addWarningV2(
      'serverless-lamp:debug-logging',
      'debugLogging is on: the proxy logs SQL statements, which may contain sensitive data. Turn it off after debugging',
    );
  }
}
