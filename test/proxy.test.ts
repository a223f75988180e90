/*
 * The RDS Proxy: its guarantees, pool options, role and name; more proxies
 * with addProxy() or ApplicationProxy; grants and metrics of every proxy.
 */
import { Duration, aws_ec2 as ec2, aws_iam as iam, aws_kms as kms, aws_rds as rds } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { ApplicationProxy, DatabaseAuthentication, DatabasePrivilege, ServerlessLampDatabase } from '../src';
import { build, recordTemplates, roleAssumedBy, useFreshStack, validateRecordedTemplates } from './support/harness';

const recorded = recordTemplates();
const ctx = useFreshStack();

/** The statements of the one policy attached to the role whose logical id starts with `rolePrefix`. */
function policyOf(template: Template, rolePrefix: string): any[] {
  const policies = Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => p.Properties.Roles.some((r: any) => String(r.Ref).startsWith(rolePrefix)));
  expect(policies).toHaveLength(1);
  return policies[0].Properties.PolicyDocument.Statement;
}

/** The `rds-db:connect` resource for `user` through the proxy with this logical id. */
function connectArn(proxyLogicalId: RegExp, user: string) {
  return {
    'Fn::Join': ['', [
      'arn:', { Ref: 'AWS::Partition' }, ':rds-db:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':dbuser:',
      // The prx- id is the 7th field of the proxy ARN (arn:aws:rds:r:a:db-proxy:prx-...).
      { 'Fn::Select': [6, { 'Fn::Split': [':', { 'Fn::GetAtt': [expect.stringMatching(proxyLogicalId), 'DBProxyArn'] }] }] },
      `/${user}`,
    ]],
  };
}

describe('the construct\'s proxy', () => {
  test('defaults: MySQL, end-to-end IAM, TLS required, tuned pool, unique name', () => {
    const { template } = build(ctx);
    template.hasResourceProperties('AWS::RDS::DBProxy', {
      EngineFamily: 'MYSQL',
      RequireTLS: true,
      DebugLogging: false,
      IdleClientTimeout: 1800,
      DBProxyName: Match.stringLikeRegexp('^teststack-db-[0-9a-f]{8}-proxy$'),
      // IAM from the client to the proxy and from the proxy to the database: no secret at all.
      DefaultAuthScheme: 'IAM_AUTH',
      Auth: Match.absent(),
    });
    template.hasResourceProperties('AWS::RDS::DBProxyTargetGroup', {
      TargetGroupName: 'default',
      DBClusterIdentifiers: [{ Ref: Match.stringLikeRegexp('^DbCluster') }],
      ConnectionPoolConfigurationInfo: {
        ConnectionBorrowTimeout: 10,
        MaxConnectionsPercent: 100,
        MaxIdleConnectionsPercent: 50,
        InitQuery: Match.absent(),
        SessionPinningFilters: Match.absent(),
      },
    });
  });

  test('every proxy has its own log group, encrypted and expiring, created before it', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db', { proxy: { dbProxyName: 'shop-proxy' } });
    db.addProxy('Reporting');
    const template = Template.fromStack(ctx.stack);
    const proxies = template.findResources('AWS::RDS::DBProxy');
    expect(Object.keys(proxies)).toHaveLength(2);
    for (const proxy of Object.values(proxies)) {
      const name = proxy.Properties.DBProxyName;
      const groups = template.findResources('AWS::Logs::LogGroup', { Properties: { LogGroupName: `/aws/rds/proxy/${name}` } });
      expect(Object.keys(groups)).toHaveLength(1);
      const [groupId, group] = Object.entries(groups)[0];
      expect(group.Properties).toEqual(expect.objectContaining({ RetentionInDays: 365, KmsKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^DbKey/), 'Arn'] } }));
      expect(proxy.DependsOn).toContain(groupId);
    }
  });

  test('two constructs in one stack get different proxy names', () => {
    const a = new ServerlessLampDatabase(ctx.stack, 'A');
    const b = new ServerlessLampDatabase(ctx.stack, 'B');
    expect(ctx.stack.resolve(a.proxy.dbProxyName)).not.toEqual(ctx.stack.resolve(b.proxy.dbProxyName));
    const names = Object.values(Template.fromStack(ctx.stack).findResources('AWS::RDS::DBProxy')).map((r) => r.Properties.DBProxyName);
    expect(new Set(names).size).toBe(2);
    for (const n of names) expect(n).toMatch(/^[a-z][a-z0-9-]{0,62}$/);
  });

  test('pool options pass through', () => {
    const { template } = build(ctx, {
      proxy: {
        dbProxyName: 'shop-proxy',
        maxConnectionsPercent: 40,
        maxIdleConnectionsPercent: 10,
        borrowTimeout: Duration.seconds(5),
        idleClientTimeout: Duration.minutes(10),
        sessionPinningFilters: [rds.SessionPinningFilter.EXCLUDE_VARIABLE_SETS],
        initQuery: "SET time_zone = '+00:00'",
        debugLogging: true,
      },
    });
    template.hasResourceProperties('AWS::RDS::DBProxy', { DBProxyName: 'shop-proxy', IdleClientTimeout: 600, DebugLogging: true });
    template.hasResourceProperties('AWS::RDS::DBProxyTargetGroup', {
      ConnectionPoolConfigurationInfo: {
        ConnectionBorrowTimeout: 5,
        MaxConnectionsPercent: 40,
        MaxIdleConnectionsPercent: 10,
        SessionPinningFilters: ['EXCLUDE_VARIABLE_SETS'],
        InitQuery: "SET time_zone = '+00:00'",
      },
    });
    Annotations.fromStack(ctx.stack).hasWarning('/TestStack/Db', Match.stringLikeRegexp('debugLogging is on'));
  });

  test('the idle default follows a lowered maxConnectionsPercent (half of it)', () => {
    const { template } = build(ctx, { proxy: { maxConnectionsPercent: 30 } });
    template.hasResourceProperties('AWS::RDS::DBProxyTargetGroup', {
      ConnectionPoolConfigurationInfo: Match.objectLike({ MaxConnectionsPercent: 30, MaxIdleConnectionsPercent: 15 }),
    });
  });

  test('proxy role: assumable by rds.amazonaws.com, may connect to the cluster as exactly the application users', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db');
    db.addUser('reporting', { privileges: DatabasePrivilege.readData() });
    const template = Template.fromStack(ctx.stack);
    const roleId = roleAssumedBy(template, 'rds.amazonaws.com');
    expect(template.findResources('AWS::IAM::Role')[roleId].Properties.ManagedPolicyArns).toBeUndefined();
    template.hasResourceProperties('AWS::RDS::DBProxy', { RoleArn: { 'Fn::GetAtt': [roleId, 'Arn'] } });
    // One statement per user, so that aws-cdk-lib can move statements into
    // managed policies when the inline policy grows past IAM's quota.
    expect(policyOf(template, roleId)).toEqual(['lamp_app', 'reporting'].map((user) => ({
      Effect: 'Allow',
      Action: 'rds-db:connect',
      // arn:<partition>:rds-db:<region>:<account>:dbuser:<cluster resource id>/<user>
      Resource: {
        'Fn::Join': ['', [
          'arn:', { Ref: 'AWS::Partition' }, ':rds-db:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':dbuser:',
          { 'Fn::GetAtt': [expect.stringMatching(/^DbCluster[0-9A-F]{8}$/), 'DBClusterResourceId'] }, `/${user}`,
        ]],
      },
    })));
    expect(ctx.stack.resolve(db.proxyRole.roleArn)).toEqual({ 'Fn::GetAtt': [roleId, 'Arn'] });
  });

  test('with secrets: the proxy reads exactly the application users\' secrets, and decrypts them with the key', () => {
    const key = new kms.Key(ctx.stack, 'SecretKey');
    const { template } = build(ctx, { authentication: DatabaseAuthentication.SECRETS, encryptionKey: key });
    const proxy = Object.values(template.findResources('AWS::RDS::DBProxy'))[0].Properties;
    expect(proxy.DefaultAuthScheme).toBeUndefined();
    expect(proxy.Auth).toEqual([{ AuthScheme: 'SECRETS', IAMAuth: 'REQUIRED', SecretArn: { Ref: expect.stringMatching(/^DbUserlampappSecretAttachment/) } }]);
    const statements = policyOf(template, 'DbProxyRole');
    expect(statements).toEqual([
      expect.objectContaining({ Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'], Resource: { Ref: expect.stringMatching(/^DbUserlampappSecretAttachment/) } }),
      { Effect: 'Allow', Action: 'kms:Decrypt', Resource: { 'Fn::GetAtt': [expect.stringMatching(/^SecretKey/), 'Arn'] } },
    ]);
    // Never the master secret.
    expect(JSON.stringify(statements)).not.toMatch(/DbClusterSecret/);
  });

  test('a given proxy role is used and none is created', () => {
    const role = new iam.Role(ctx.stack, 'MyRole', { assumedBy: new iam.ServicePrincipal('rds.amazonaws.com') });
    const { db, template } = build(ctx, { proxyRole: role });
    expect(db.proxyRole).toBe(role);
    template.resourceCountIs('AWS::IAM::Role', 5); // mine, handler, users provider, enhanced monitoring, flow logs
    template.hasResourceProperties('AWS::RDS::DBProxy', { RoleArn: ctx.stack.resolve(role.roleArn) });
  });
});

describe('grants and metrics', () => {
  test('grantConnect names the proxy resource id and the given user, defaulting to the application user', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db');
    db.addUser('reporting');
    const app = new iam.Role(ctx.stack, 'App', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    db.grantConnect(app, 'reporting');
    const other = new iam.Role(ctx.stack, 'Other', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    db.grantConnect(other);
    const template = Template.fromStack(ctx.stack);
    expect(policyOf(template, 'App')).toEqual([
      { Effect: 'Allow', Action: 'rds-db:connect', Resource: connectArn(/^DbProxy[0-9A-F]{8}$/, 'reporting') },
    ]);
    expect(policyOf(template, 'Other')).toEqual([
      { Effect: 'Allow', Action: 'rds-db:connect', Resource: connectArn(/^DbProxy[0-9A-F]{8}$/, 'lamp_app') },
    ]);
    expect(db.defaultDatabaseUser).toBe('lamp_app');
  });

  test('metrics name the proxy, with the statistic that fits each', () => {
    const { db } = build(ctx);
    const m = db.metricDatabaseConnectionsCurrentlySessionPinned();
    expect(m.namespace).toBe('AWS/RDS');
    expect(m.metricName).toBe('DatabaseConnectionsCurrentlySessionPinned');
    // Per-node counts: the proxy's total is their sum per minute.
    expect(m.statistic).toBe('Sum');
    expect(m.period.toMinutes()).toBe(1);
    expect(ctx.stack.resolve(m.dimensions)).toEqual({ ProxyName: ctx.stack.resolve(db.proxy.dbProxyName) });
    expect(db.metricClientConnections().statistic).toBe('Sum');
    expect(db.metricClientConnections({ statistic: 'Maximum' }).statistic).toBe('Maximum');
    expect(db.metricDatabaseConnections().metricName).toBe('DatabaseConnections');
    expect(db.metricDatabaseConnections().statistic).toBe('Sum');
    expect(db.metricDatabaseConnectionsBorrowLatency().metricName).toBe('DatabaseConnectionsBorrowLatency');
    expect(db.metricDatabaseConnectionsBorrowLatency().statistic).toBe('Average');
    expect(db.metric('AvailabilityPercentage', { period: Duration.minutes(1) }).period.toMinutes()).toBe(1);
  });
});

describe('more applications: addProxy', () => {
  test('adds a proxy with its own security group, name and pool, the same role and authentication', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db', { proxy: { maxConnectionsPercent: 60 } });
    const reporting = db.addProxy('Reporting', { maxConnectionsPercent: 40, borrowTimeout: Duration.seconds(5) });
    expect(reporting).toBeInstanceOf(ApplicationProxy);
    // Its clients get in on 3306, and the proxy reaches the cluster on 3306.
    const client = new ec2.SecurityGroup(ctx.stack, 'Client', { vpc: db.vpc });
    reporting.connections.allowDefaultPortFrom(client);
    const template = Template.fromStack(ctx.stack);
    template.resourceCountIs('AWS::RDS::DBProxy', 2);
    const names = Object.values(template.findResources('AWS::RDS::DBProxy')).map((r) => r.Properties.DBProxyName).sort();
    expect(names[0]).toMatch(/^teststack-db-[0-9a-f]{8}-proxy$/);
    expect(names[1]).toMatch(/^teststack-db-reporting-[0-9a-f]{8}-proxy$/);
    template.hasResourceProperties('AWS::RDS::DBProxy', {
      DBProxyName: names[1],
      RequireTLS: true,
      DefaultAuthScheme: 'IAM_AUTH',
      RoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DbProxyRole'), 'Arn'] },
      VpcSecurityGroupIds: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^DbReportingSecurityGroup'), 'GroupId'] }],
    });
    template.hasResourceProperties('AWS::RDS::DBProxyTargetGroup', {
      ConnectionPoolConfigurationInfo: Match.objectLike({ MaxConnectionsPercent: 40, MaxIdleConnectionsPercent: 20, ConnectionBorrowTimeout: 5 }),
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DbReportingSecurityGroup'), 'GroupId'] },
      SourceSecurityGroupId: ctx.stack.resolve(client.securityGroupId),
      FromPort: 3306,
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DbClusterSecurityGroup'), 'GroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DbReportingSecurityGroup'), 'GroupId'] },
      FromPort: 3306,
      ToPort: 3306,
    });
    expect(reporting.proxyEndpoint).toBe(reporting.proxy.endpoint);
    expect(ctx.stack.resolve(reporting.metricClientConnections().dimensions)).toEqual({ ProxyName: ctx.stack.resolve(reporting.proxy.dbProxyName) });
    Annotations.fromStack(ctx.stack).hasNoWarning('*', Match.anyValue());
  });

  test('an ApplicationProxy can be created directly, in any scope', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db');
    const shop = new ApplicationProxy(ctx.stack, 'Shop', { database: db, maxConnectionsPercent: 20, dbProxyName: 'shop' });
    const template = Template.fromStack(ctx.stack);
    template.hasResourceProperties('AWS::RDS::DBProxy', {
      DBProxyName: 'shop',
      RoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DbProxyRole'), 'Arn'] },
      VpcSecurityGroupIds: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^ShopSecurityGroup'), 'GroupId'] }],
    });
    expect(shop.node.path).toBe('TestStack/Shop');
  });

  test('grantConnect names the added proxy and defaults to the application user', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db');
    const reporting = db.addProxy('Reporting');
    const role = new iam.Role(ctx.stack, 'App', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    reporting.grantConnect(role);
    expect(policyOf(Template.fromStack(ctx.stack), 'App')).toEqual([
      { Effect: 'Allow', Action: 'rds-db:connect', Resource: connectArn(/^DbReportingProxy[0-9A-F]{8}$/, 'lamp_app') },
    ]);
  });

  test('pool options of an added proxy are validated like the first one', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db');
    expect(() => db.addProxy('A', { maxConnectionsPercent: 0 })).toThrow(/^maxConnectionsPercent \(0\) must be between 1 and 100$/);
    expect(() => db.addProxy('B', { dbProxyName: 'bad_name' })).toThrow(/^dbProxyName \('bad_name'\) must be 1 to 63/);
    expect(() => db.addProxy('C', { borrowTimeout: Duration.minutes(6) })).toThrow(/^borrowTimeout \(360 seconds\) must be between 0 and 300 seconds$/);
  });

  test('warns once when the proxies together ask for more than 100 % of max_connections', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db', { proxy: { maxConnectionsPercent: 70 } });
    db.addProxy('Reporting', { maxConnectionsPercent: 20 });
    db.addProxy('Batch', { maxConnectionsPercent: 30 });
    const warnings = Annotations.fromStack(ctx.stack).findWarning('/TestStack/Db', Match.stringLikeRegexp('maxConnectionsPercent add up to'));
    expect(warnings.map((w) => w.entry.data)).toEqual([expect.stringContaining(
      'maxConnectionsPercent add up to 120 (TestStack/Db: 70, TestStack/Db/Reporting: 20, TestStack/Db/Batch: 30)')]);
  });

  test('does not warn at exactly 100 %', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db', { proxy: { maxConnectionsPercent: 60 } });
    db.addProxy('Reporting', { maxConnectionsPercent: 40 });
    Annotations.fromStack(ctx.stack).hasNoWarning('*', Match.anyValue());
  });
});

validateRecordedTemplates(recorded, 10);
