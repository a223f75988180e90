/*
 * The stacks that the rule-pack, guard-rule and CloudFormation-validation
 * tests check: the construct with its defaults, and with every option on.
 */
import { join } from 'node:path';
import { Annotations, App, Duration, RemovalPolicy, Stack, aws_ec2 as ec2, aws_kms as kms, aws_lambda as lambda, aws_logs as logs, aws_rds as rds, aws_sns as sns, aws_sqs as sqs } from 'aws-cdk-lib';
import * as cxapi from 'aws-cdk-lib/cx-api';
import { DatabaseAuthentication, DatabasePrivilege, DatabaseSchema, ServerlessLampDatabase } from '../../src';

/** The shop's migrations (V1..V3), the schema of the stacks that declare one. */
const SHOP_MIGRATIONS = join(__dirname, '..', 'fixtures', 'migrations', 'shop');

export interface CheckedStack {
  readonly name: string;
  readonly app: App;
  readonly stack: Stack;
  readonly db: ServerlessLampDatabase;
}

/** `new ServerlessLampDatabase(stack, 'Db')` and nothing else. */
export function defaultsStack(): CheckedStack {
  const app = new App();
  const stack = new Stack(app, 'Defaults');
  const db = new ServerlessLampDatabase(stack, 'Db');
  return { name: 'defaults', app, stack, db };
}

/**
 * The defaults in an app with the feature flags `cdk init` writes into a new
 * project's cdk.json, as most consumers' apps have them.
 */
export function recommendedFlagsStack(): CheckedStack {
  const app = new App({ context: { ...cxapi.FUTURE_FLAGS } });
  const stack = new Stack(app, 'RecommendedFlags');
  const db = new ServerlessLampDatabase(stack, 'Db');
  return { name: 'recommended-flags', app, stack, db };
}

/**
 * Every option turned on: own VPC, customer keys, readers (and so the
 * read-only endpoint), tuned pool, debug logging, alarms notifying an SNS
 * topic, the dashboard, a second proxy, and a schema.
 */
export function everythingStack(): CheckedStack {
  const app = new App();
  const stack = new Stack(app, 'Everything');
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    maxAzs: 3,
    natGateways: 0,
    subnetConfiguration: [
      { name: 'Database', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 },
    ],
  });
  vpc.addFlowLog('FlowLogs');
  const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
  const alarmTopic = new sns.Topic(stack, 'Alarms', { masterKey: key, enforceSSL: true });
  const deadLetters = new sqs.Queue(stack, 'DeadLetters', {
    encryption: sqs.QueueEncryption.KMS,
    encryptionMasterKey: key,
    enforceSSL: true,
  });
  const db = new ServerlessLampDatabase(stack, 'Db', {
    vpc,
    vpcSubnets: { subnetGroupName: 'Database' },
    engineVersion: rds.AuroraMysqlEngineVersion.VER_3_10_4,
    writer: rds.ClusterInstance.provisioned('Writer', {
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.R6G, ec2.InstanceSize.LARGE),
    }),
    readers: [
      rds.ClusterInstance.serverlessV2('Reader1', { scaleWithWriter: true }),
      rds.ClusterInstance.provisioned('Reader2', {
        instanceType: ec2.InstanceType.of(ec2.InstanceClass.R6G, ec2.InstanceSize.LARGE),
      }),
    ],
    serverlessV2MinCapacity: 1,
    serverlessV2MaxCapacity: 16,
    defaultDatabaseName: 'shop',
    masterUsername: 'shop_owner',
    encryptionKey: key,
    secretRotationInterval: Duration.days(7),
    backtrackWindow: Duration.hours(24),
    backupRetention: Duration.days(35),
    clusterParameters: { long_query_time: '2', slow_query_log: '1' },
    cloudwatchLogsExports: ['audit', 'error', 'general', 'slowquery'],
    monitoringInterval: Duration.seconds(15),
    removalPolicy: RemovalPolicy.RETAIN,
    proxy: {
      dbProxyName: 'shop-proxy',
      maxConnectionsPercent: 60,
      maxIdleConnectionsPercent: 20,
      borrowTimeout: Duration.seconds(20),
      idleClientTimeout: Duration.minutes(15),
      sessionPinningFilters: [rds.SessionPinningFilter.EXCLUDE_VARIABLE_SETS],
      initQuery: "SET time_zone = '+00:00'",
      debugLogging: true,
    },
    handler: {
      timeout: Duration.seconds(30),
      memorySize: 512,
      reservedConcurrentExecutions: 50,
      deadLetterQueue: deadLetters,
    },
    logRetention: logs.RetentionDays.ONE_YEAR,
    monitoring: { alarmTopic, dashboard: true },
    // The oldest runtime allowed, chosen explicitly (and so acknowledged).
    functionRuntime: lambda.Runtime.NODEJS_22_X,
    schema: DatabaseSchema.fromDirectory(SHOP_MIGRATIONS),
  });
  // A second application with its own proxy and share of the connections.
  db.addProxy('Reporting', { maxConnectionsPercent: 40, maxIdleConnectionsPercent: 10 });
  // The user's explicit choice, acknowledged where it is made.
  Annotations.of(stack).acknowledgeWarning('serverless-lamp:debug-logging', 'Debugging a pinning problem in this environment');
  return { name: 'everything', app, stack, db };
}

/**
 * The other authentication mode: application users with generated, rotated
 * secrets that every proxy reads; users declared before and after a second
 * proxy; a schema, migrated as a user of its own with its own secret.
 */
export function secretsStack(): CheckedStack {
  const app = new App();
  const stack = new Stack(app, 'Secrets');
  const db = new ServerlessLampDatabase(stack, 'Db', {
    authentication: DatabaseAuthentication.SECRETS,
    schema: DatabaseSchema.fromDirectory(SHOP_MIGRATIONS, { migrationUser: 'shop_migrator' }),
  });
  db.addUser('reporting', { privileges: DatabasePrivilege.readData() });
  db.addProxy('Reporting', { maxConnectionsPercent: 30 });
  db.addUser('batch', { tableGrants: [{ table: 'jobs', privileges: [DatabasePrivilege.SELECT, DatabasePrivilege.UPDATE] }] });
  Annotations.of(stack).acknowledgeWarning('serverless-lamp:proxies-oversubscribed', 'Test fixture: the pools add up to 130 %');
  return { name: 'secrets', app, stack, db };
}

/** All the stacks the compliance tests check. */
export function checkedStacks(): CheckedStack[] {
  return [defaultsStack(), everythingStack(), recommendedFlagsStack(), secretsStack()];
}
