/*
 * Bad input fails at synth with a message naming the property, the value and
 * what is allowed; tokens are not validated; risky choices draw warnings.
 */
import { Duration, Lazy, RemovalPolicy, aws_ec2 as ec2 } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { ServerlessLampDatabase, ServerlessLampDatabaseProps, ServerlessLampErrors } from '../src';
import { useFreshStack } from './support/harness';

const ctx = useFreshStack();

const cases: Array<[string, ServerlessLampDatabaseProps, RegExp]> = [
  ['maxConnectionsPercent 0', { proxy: { maxConnectionsPercent: 0 } }, /^proxy\.maxConnectionsPercent \(0\) must be between 1 and 100$/],
  ['maxConnectionsPercent 101', { proxy: { maxConnectionsPercent: 101 } }, /^proxy\.maxConnectionsPercent \(101\) must be between 1 and 100$/],
  ['maxConnectionsPercent 50.5', { proxy: { maxConnectionsPercent: 50.5 } }, /^proxy\.maxConnectionsPercent \(50.5\) must be a whole number between 1 and 100$/],
  ['maxIdleConnectionsPercent -1', { proxy: { maxIdleConnectionsPercent: -1 } }, /^proxy\.maxIdleConnectionsPercent \(-1\) must be between 0 and 100$/],
  ['idle above max', { proxy: { maxConnectionsPercent: 50, maxIdleConnectionsPercent: 80 } }, /^proxy\.maxIdleConnectionsPercent \(80\) must be <= proxy\.maxConnectionsPercent \(50\)$/],
  ['borrowTimeout 301 s', { proxy: { borrowTimeout: Duration.seconds(301) }, handler: { timeout: Duration.minutes(10) } }, /^proxy\.borrowTimeout \(301 seconds\) must be between 0 and 300 seconds$/],
  ['borrowTimeout 1.5 s', { proxy: { borrowTimeout: Duration.millis(1500) } }, /^proxy\.borrowTimeout \(1 second 500 millis\) must be a whole number of seconds between 0 and 300 seconds$/],
  ['idleClientTimeout 0', { proxy: { idleClientTimeout: Duration.seconds(0) } }, /^proxy\.idleClientTimeout \(0 seconds\) must be between 1 and 28800 seconds$/],
  ['idleClientTimeout 9 h', { proxy: { idleClientTimeout: Duration.hours(9) } }, /^proxy\.idleClientTimeout \(32400 seconds\) must be between 1 and 28800 seconds$/],
  ['proxy name with underscore', { proxy: { dbProxyName: 'my_proxy' } }, /^proxy\.dbProxyName \('my_proxy'\) must be 1 to 63 letters, digits or hyphens/],
  ['proxy name double hyphen', { proxy: { dbProxyName: 'my--proxy' } }, /^proxy\.dbProxyName \('my--proxy'\) must be/],
  ['proxy name trailing hyphen', { proxy: { dbProxyName: 'proxy-' } }, /^proxy\.dbProxyName \('proxy-'\) must be/],
  ['proxy name of 64 characters', { proxy: { dbProxyName: 'p'.repeat(64) } }, /^proxy\.dbProxyName \('p{64}'\) must be/],
  ['handler timeout 16 min', { handler: { timeout: Duration.minutes(16) } }, /^handler\.timeout \(960 seconds\) must be between 4 and 900 seconds$/],
  ['handler timeout not 3 s above borrowTimeout', { handler: { timeout: Duration.seconds(12) }, proxy: { borrowTimeout: Duration.seconds(10) } }, /^handler\.timeout \(12 seconds\) must be at least 3 seconds longer than proxy\.borrowTimeout \(10 seconds\)/],
  ['default handler timeout vs long borrowTimeout', { proxy: { borrowTimeout: Duration.seconds(120) } }, /^handler\.timeout \(15 seconds\) must be at least 3 seconds longer than proxy\.borrowTimeout \(2 minutes\)/],
  ['handler memorySize 64', { handler: { memorySize: 64 } }, /^handler\.memorySize \(64 MiB\) must be between 128 and 10240 MiB$/],
  ['handler reservedConcurrentExecutions -1', { handler: { reservedConcurrentExecutions: -1 } }, /^handler\.reservedConcurrentExecutions \(-1\) must be between 0 and 100000$/],
  ['handler reservedConcurrentExecutions 1.5', { handler: { reservedConcurrentExecutions: 1.5 } }, /^handler\.reservedConcurrentExecutions \(1.5\) must be a whole number between 0 and 100000$/],
  ['backupRetention 0 days', { backupRetention: Duration.days(0) }, /^backupRetention \(0 days\) must be between 1 and 35 days$/],
  ['backupRetention 36 days', { backupRetention: Duration.days(36) }, /^backupRetention \(36 days\) must be between 1 and 35 days$/],
  ['backupRetention 36 hours', { backupRetention: Duration.hours(36) }, /^backupRetention \(1.5 days\) must be a whole number between 1 and 35 days$/],
  ['monitoringInterval 2 s', { monitoringInterval: Duration.seconds(2) }, /^monitoringInterval \(2 seconds\) must be 0, 1, 5, 10, 15, 30 or 60 seconds$/],
  ['serverlessV2MinCapacity 0.3', { serverlessV2MinCapacity: 0.3 }, /^serverlessV2MinCapacity \(0.3 ACU\) must be a multiple of 0.5, between 0 and 256 ACU$/],
  ['serverlessV2MaxCapacity 300', { serverlessV2MaxCapacity: 300 }, /^serverlessV2MaxCapacity \(300 ACU\) must be between 1 and 256 ACU$/],
  ['min above max capacity', { serverlessV2MinCapacity: 4, serverlessV2MaxCapacity: 2 }, /^serverlessV2MinCapacity \(4 ACU\) must be <= serverlessV2MaxCapacity \(2 ACU\)$/],
  ['min above the default max capacity', { serverlessV2MinCapacity: 4 }, /^serverlessV2MinCapacity \(4 ACU\) must be <= serverlessV2MaxCapacity \(2 ACU\)$/],
  ['database name with a hyphen', { defaultDatabaseName: 'my-db' }, /^defaultDatabaseName \('my-db'\) must be 1 to 64 letters, digits or underscores, starting with a letter$/],
  ['database name starting with a digit', { defaultDatabaseName: '1db' }, /^defaultDatabaseName \('1db'\) must be/],
  ['database name of 65 characters', { defaultDatabaseName: 'a'.repeat(65) }, /^defaultDatabaseName \('a{65}'\) must be 1 to 64/],
  ['database name reserved', { defaultDatabaseName: 'select' }, /^defaultDatabaseName \('select'\) is a MySQL reserved word or system schema/],
  ['database name system schema', { defaultDatabaseName: 'mysql' }, /^defaultDatabaseName \('mysql'\) is a MySQL reserved word or system schema/],
  ['username of 17 characters', { masterUsername: 'u'.repeat(17) }, /^masterUsername \('u{17}'\) must be 1 to 16 letters, digits or underscores, starting with a letter$/],
  ['username empty', { masterUsername: '' }, /^masterUsername \(''\) must be 1 to 16/],
  ['username reserved by RDS', { masterUsername: 'rdsadmin' }, /^masterUsername \('rdsadmin'\) is reserved by MySQL or Amazon RDS/],
  ['username root', { masterUsername: 'root' }, /^masterUsername \('root'\) is reserved/],
  ['cluster identifier with underscore', { clusterIdentifier: 'my_cluster' }, /^clusterIdentifier \('my_cluster'\) must be 1 to 63 letters, digits or hyphens/],
  ['cluster identifier of 64 characters', { clusterIdentifier: 'c'.repeat(64) }, /^clusterIdentifier \('c{64}'\) must be/],
  ['unknown log export', { cloudwatchLogsExports: ['audit', 'postgresql'] }, /^cloudwatchLogsExports \('postgresql'\) must name Aurora MySQL log types: audit, error, general, slowquery, iam-db-auth-error$/],
  ['require_secure_transport OFF', { clusterParameters: { require_secure_transport: 'OFF' } }, /^clusterParameters.require_secure_transport \('OFF'\) must be 'ON'/],
  ['secretRotationInterval 1 hour', { secretRotationInterval: Duration.hours(1) }, /^secretRotationInterval \(1 hour\) must be between 4 hours and 1000 days$/],
  ['secretRotationInterval 1001 days', { secretRotationInterval: Duration.days(1001) }, /^secretRotationInterval \(1001 days\) must be between 4 hours and 1000 days$/],
  ['backtrackWindow 73 hours', { backtrackWindow: Duration.hours(73) }, /^backtrackWindow \(262800 seconds\) must be between 0 and 259200 seconds$/],
  ['DESTROY with deletion protection', { removalPolicy: RemovalPolicy.DESTROY, deletionProtection: true }, /^Either set removalPolicy to RemovalPolicy.DESTROY or deletionProtection to true, but not both/],
];

test.each(cases)('rejects %s', (_name, props, message) => {
  expect(() => new ServerlessLampDatabase(ctx.stack, 'Db', props)).toThrow(message);
});

test('rejects vpcFlowLogs with a given VPC', () => {
  const vpc = new ec2.Vpc(ctx.stack, 'Mine', { natGateways: 0 });
  expect(() => new ServerlessLampDatabase(ctx.stack, 'Db', { vpc, vpcFlowLogs: true })).toThrow(
    /^vpcFlowLogs \(true\) applies only to the VPC this construct creates; with your own vpc, manage its flow logs there$/,
  );
});

test('validation errors are recognised by ServerlessLampErrors.isValidationError, others are not', () => {
  let caught: unknown;
  try {
    new ServerlessLampDatabase(ctx.stack, 'Db', { proxy: { maxConnectionsPercent: 0 } });
  } catch (e) {
    caught = e;
  }
  expect(caught).toEqual(expect.objectContaining({ name: 'ServerlessLampValidationError' }));
  expect(ServerlessLampErrors.isValidationError(caught)).toBe(true);
  expect(ServerlessLampErrors.isValidationError(new Error('other'))).toBe(false);
  expect(ServerlessLampErrors.isValidationError(undefined)).toBe(false);
  expect(ServerlessLampErrors.isValidationError('proxy.maxConnectionsPercent')).toBe(false);
});

test('accepts the boundaries', () => {
  expect(() => new ServerlessLampDatabase(ctx.stack, 'Db', {
    proxy: {
      maxConnectionsPercent: 1,
      maxIdleConnectionsPercent: 0,
      borrowTimeout: Duration.seconds(0),
      idleClientTimeout: Duration.hours(8),
      dbProxyName: 'p'.repeat(63),
    },
    handler: { timeout: Duration.seconds(4), memorySize: 10240 },
    backupRetention: Duration.days(35),
    serverlessV2MinCapacity: 256,
    serverlessV2MaxCapacity: 256,
    defaultDatabaseName: 'a'.repeat(64),
    masterUsername: 'u'.repeat(16),
  })).not.toThrow();
});

test('unresolved tokens are not validated', () => {
  const n = (v: number) => Lazy.number({ produce: () => v });
  const s = (v: string) => Lazy.string({ produce: () => v });
  expect(() => new ServerlessLampDatabase(ctx.stack, 'Db', {
    proxy: {
      maxConnectionsPercent: n(500),
      maxIdleConnectionsPercent: n(900),
      borrowTimeout: Duration.seconds(n(9999)),
      idleClientTimeout: Duration.seconds(n(0)),
      dbProxyName: s('bad_name'),
    },
    handler: { timeout: Duration.seconds(n(1)), memorySize: n(1) },
    // (serverlessV2*Capacity: aws-cdk-lib's DatabaseCluster itself rejects tokens there.)
    defaultDatabaseName: s('not-valid'),
    masterUsername: s('root'),
  })).not.toThrow();
});

test('admin user name and auto-pause draw warnings', () => {
  new ServerlessLampDatabase(ctx.stack, 'Db', { masterUsername: 'admin', serverlessV2MinCapacity: 0 });
  const annotations = Annotations.fromStack(ctx.stack);
  annotations.hasWarning('/TestStack/Db', Match.stringLikeRegexp("masterUsername is 'admin'"));
  annotations.hasWarning('/TestStack/Db', Match.stringLikeRegexp('serverlessV2MinCapacity is 0'));
});

test('defaults draw no warnings', () => {
  new ServerlessLampDatabase(ctx.stack, 'Db');
  Annotations.fromStack(ctx.stack).hasNoWarning('*', Match.anyValue());
});
