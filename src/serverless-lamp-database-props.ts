import { Duration, RemovalPolicy, aws_ec2 as ec2, aws_iam as iam, aws_kms as kms, aws_lambda as lambda, aws_logs as logs, aws_rds as rds } from 'aws-cdk-lib';
import { DatabaseAuthentication } from './database-authentication';
import { DatabaseSchema } from './database-schema';
import { MonitoringOptions } from './monitoring';
import { ProxyOptions } from './proxy-options';
import { QueryHandlerOptions } from './query-handler';
import { S3Route } from './s3-route';

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
   * construct that call it from inside the VPC (the secret rotation function
   * and the database users provider).
   * They are given the endpoint's own DNS name when it is an endpoint of this
   * app; an imported endpoint must have private DNS on.
   *
   * @default - for subnets without internet access, an endpoint is created in
   * them, with private DNS off (so it captures no other workload's calls) and
   * admitting only this construct's functions; for subnets with internet egress,
   * none: the functions may leave on port 443 through the subnets' egress path
   */
  readonly secretsManagerEndpoint?: ec2.IInterfaceVpcEndpoint;

  /**
   * How the selected subnets reach S3 in the Region, where the database users
   * provider answers CloudFormation (a presigned URL of CloudFormation's
   * custom resource response bucket). Only isolated subnets need one; subnets
   * with NAT egress reach S3 through the NAT unless you ask for an endpoint.
   *
   * In a VPC of this app (`ec2.Vpc`), the construct sees every S3 gateway
   * endpoint and which route tables it serves. An endpoint counts only for
   * those route tables: the construct adds one for the others. In an imported
   * VPC (`Vpc.fromLookup`, `Vpc.fromVpcAttributes`) it cannot see what the
   * route tables hold, so with isolated subnets this is required, and synth
   * fails without it.
   *
   * The endpoint the construct creates admits only `s3:PutObject` to that
   * bucket: if other workloads in those subnets use S3, add statements to
   * `s3Endpoint` (`addToPolicy`), or bring your own endpoint and choose
   * `S3Route.ALREADY_ROUTED`.
   *
   * @default - in a VPC of this app, `S3Route.CREATE_GATEWAY_ENDPOINT` for
   * isolated subnets (on the route tables no S3 gateway endpoint serves yet)
   * and nothing for subnets with NAT egress; in an imported VPC with isolated
   * subnets, none: synth fails and asks for it
   * @see https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/vpc-interface-endpoints.html
   */
  readonly s3Route?: S3Route;

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
   * The master user name. Its password is generated into Secrets Manager and
   * rotated; only the users provider (at deploy time) and the rotation function
   * use it. Applications connect as application users. 1 to 16 letters, digits or underscores, starting with a letter; `admin`
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

  // ------------------------------------------------------------------ users

  /**
   * How application users authenticate to the database. End-to-end IAM: no
   * password anywhere on the application path; the proxy connects to Aurora
   * with IAM as each user. Secrets: each user gets a generated, rotated secret
   * that every proxy reads.
   *
   * @default DatabaseAuthentication.IAM
   */
  readonly authentication?: DatabaseAuthentication;

  /**
   * The least-privilege database user the handler connects as (and
   * `grantConnect()` names by default): SELECT, INSERT, UPDATE and DELETE on
   * the database, no DDL, no grants. Same naming rules as `addUser()`.
   *
   * @default 'lamp_app'
   */
  readonly applicationUser?: string;

  /**
   * The database's schema as code: versioned SQL migration files applied at
   * deploy time, in the VPC, by the users provider, as their own migration
   * user (DDL and data privileges on this database only, never the master
   * user). A deploy whose files fail validation or whose statement fails
   * fails, naming the file, the statement and the server's error. Removing
   * the schema, or deleting the stack, drops nothing.
   *
   * @see https://documentation.red-gate.com/fd/versioned-migrations-273973333.html
   * @default - no schema: the database starts empty
   */
  readonly schema?: DatabaseSchema;

  /**
   * Whether the proxies admit the master user, so that `grantConnect(grantee,
   * masterUsername)` works: whoever is granted it holds the database's
   * administrator. Only with `DatabaseAuthentication.SECRETS` (with end-to-end
   * IAM the master user, who logs in with a password, cannot pass a proxy).
   * Draws a warning.
   *
   * @default false
   */
  readonly masterUserThroughProxy?: boolean;

  // ------------------------------------------------------------------ proxy

  /**
   * The name, network and connection pool of the construct's RDS Proxy.
   *
   * @default - a proxy named after the construct path, with the defaults of `ProxyOptions`
   */
  readonly proxy?: ProxyOptions;

  /**
   * The IAM role every proxy of this construct assumes: with end-to-end IAM,
   * the construct allows it `rds-db:connect` to the cluster as exactly the
   * application users; with secrets, to read exactly their secrets (and decrypt
   * them with the key).
   *
   * @default - a role assumable only by `rds.amazonaws.com`, with only those permissions
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
   * The Lambda runtime of the functions this construct deploys: the query
   * handler and the database users provider. Allowed: the Node.js runtimes from
   * Node.js 22 (`lambda.Runtime.NODEJS_22_X`) on, for example
   * `lambda.Runtime.NODEJS_24_X` or, with an aws-cdk-lib that knows it, a newer
   * one. Their code is bundled for Node.js 22 and runs on any of them.
   *
   * Rule packs that ask for the newest runtime aws-cdk-lib knows
   * (`AwsSolutions-L1`, `Serverless-LambdaLatestVersion`) report the default
   * when your aws-cdk-lib knows a newer one: choose it here, or acknowledge the
   * finding. An older runtime you choose yourself is acknowledged as your
   * choice.
   *
   * @see https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html
   * @default lambda.Runtime.NODEJS_24_X
   */
  readonly functionRuntime?: lambda.Runtime;

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
