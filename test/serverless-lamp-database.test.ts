import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  App, Duration, Lazy, RemovalPolicy, Stack,
  aws_ec2 as ec2, aws_iam as iam, aws_kms as kms, aws_lambda as lambda, aws_logs as logs, aws_rds as rds, aws_sqs as sqs,
} from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { ServerlessLampDatabase, ServerlessLampDatabaseProps } from '../src';
import { releaseValidator, unexpected, validateTemplate } from './support/cfn-validate';

/*
 * Every template these tests synthesize is also checked, at the end of the
 * file, by AWS's offline CloudFormation validator (see the last test).
 */
const synthesized: Array<{ test: string; template: object }> = [];
const fromStack = Template.fromStack.bind(Template);
jest.spyOn(Template, 'fromStack').mockImplementation((stackToRead, options) => {
  const template = fromStack(stackToRead, options);
  synthesized.push({ test: expect.getState().currentTestName ?? '?', template: template.toJSON() });
  return template;
});

let app: App;
let stack: Stack;

beforeEach(() => {
  app = new App();
  stack = new Stack(app, 'TestStack');
});

function build(props?: ServerlessLampDatabaseProps): { db: ServerlessLampDatabase; template: Template } {
  const db = new ServerlessLampDatabase(stack, 'Db', props);
  return { db, template: Template.fromStack(stack) };
}

function resourceOf(template: Template, type: string): { logicalId: string; props: any } {
  const all = template.findResources(type);
  const ids = Object.keys(all);
  expect(ids).toHaveLength(1);
  return { logicalId: ids[0], props: all[ids[0]].Properties };
}

function securityGroupId(template: Template, description: string): string {
  const groups = template.findResources('AWS::EC2::SecurityGroup', {
    Properties: { GroupDescription: description },
  });
  const ids = Object.keys(groups);
  expect(ids).toHaveLength(1);
  return ids[0];
}

describe('network', () => {
  test('creates a VPC across 2 AZs with isolated subnets only and no NAT gateway', () => {
    const { template } = build();
    template.resourceCountIs('AWS::EC2::VPC', 1);
    template.resourceCountIs('AWS::EC2::Subnet', 2);
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    template.allResourcesProperties('AWS::EC2::Subnet', { MapPublicIpOnLaunch: false });
    // The one AWS API called from inside the VPC: Secrets Manager, by the rotation function.
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 1);
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.secretsmanager']] },
      VpcEndpointType: 'Interface',
      PrivateDnsEnabled: true,
    });
  });

  test('records VPC flow logs, encrypted, unless turned off', () => {
    const { template } = build();
    template.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'ALL', LogDestinationType: 'cloud-watch-logs' });
    template.resourceCountIs('AWS::Logs::LogGroup', 2);
    template.allResourcesProperties('AWS::Logs::LogGroup', {
      KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DbKey'), 'Arn'] },
      RetentionInDays: 365,
    });
  });

  test('vpcFlowLogs: false creates no flow log', () => {
    const { template } = build({ vpcFlowLogs: false });
    template.resourceCountIs('AWS::EC2::FlowLog', 0);
  });

  test('uses a given VPC and its private subnets when it has no isolated ones', () => {
    const vpc = new ec2.Vpc(stack, 'Mine', {
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        { name: 'Public', subnetType: ec2.SubnetType.PUBLIC },
        { name: 'App', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      ],
    });
    const { db, template } = build({ vpc });
    expect(db.vpc).toBe(vpc);
    template.resourceCountIs('AWS::EC2::VPC', 1);
    const privateIds = vpc.privateSubnets.map((s) => stack.resolve(s.subnetId));
    template.hasResourceProperties('AWS::RDS::DBProxy', { VpcSubnetIds: privateIds });
    template.hasResourceProperties('AWS::Lambda::Function', {
      VpcConfig: { SubnetIds: privateIds },
    });
    template.hasResourceProperties('AWS::RDS::DBSubnetGroup', { SubnetIds: privateIds });
  });

  test('honours vpcSubnets', () => {
    const vpc = new ec2.Vpc(stack, 'Mine', {
      maxAzs: 2,
      subnetConfiguration: [
        { name: 'Public', subnetType: ec2.SubnetType.PUBLIC },
        { name: 'A', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
        { name: 'B', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      ],
    });
    const { template } = build({ vpc, vpcSubnets: { subnetGroupName: 'B' } });
    const ids = vpc.selectSubnets({ subnetGroupName: 'B' }).subnetIds.map((s) => stack.resolve(s));
    template.hasResourceProperties('AWS::RDS::DBProxy', { VpcSubnetIds: ids });
  });

  test('security groups: handler -> proxy:3306 -> cluster:3306 and nothing else', () => {
    const { template } = build();
    const handlerSg = securityGroupId(template, 'Query handler: no inbound, outbound only to the RDS Proxy');
    const proxySg = securityGroupId(template, 'RDS Proxy: inbound only from allowed clients, outbound only to the cluster');
    const clusterSg = securityGroupId(template, 'Aurora MySQL cluster: inbound only from the RDS Proxy');
    template.hasResourceProperties('AWS::RDS::DBCluster', { Port: 3306 });

    // No inline rules: no CIDR ingress, and no allow-all egress. A group with
    // no egress rule at all carries aws-cdk-lib's "disallow all" placeholder;
    // the others get standalone egress rules, which make CloudFormation drop
    // the default allow-all rule.
    for (const sg of Object.values(template.findResources('AWS::EC2::SecurityGroup'))) {
      expect(sg.Properties.SecurityGroupIngress).toBeUndefined();
      for (const rule of sg.Properties.SecurityGroupEgress ?? []) {
        expect(rule).toEqual(expect.objectContaining({ CidrIp: '255.255.255.255/32', Description: 'Disallow all traffic' }));
      }
    }
    expect(JSON.stringify(template.toJSON())).not.toMatch(/0\.0\.0\.0\/0|::\/0/);

    const rotationSg = securityGroupId(template, 'Secret rotation function: no inbound, outbound only to the cluster and Secrets Manager');
    const endpointSg = securityGroupId(template, 'Secrets Manager endpoint: inbound only from the secret rotation function');
    template.resourceCountIs('AWS::EC2::SecurityGroup', 5);

    // Every rule as "source -> destination:port", from ingress and egress resources alike.
    const edges = (type: string, from: string, to: string) => Object.values(template.findResources(type)).map((r) => {
      const p = r.Properties;
      expect(p.IpProtocol).toBe('tcp');
      expect(p.FromPort).toBe(p.ToPort);
      return `${p[from]['Fn::GetAtt'][0]} -> ${p[to]['Fn::GetAtt'][0]}:${p.FromPort}`;
    }).sort();
    const expected = [
      `${handlerSg} -> ${proxySg}:3306`,
      `${proxySg} -> ${clusterSg}:3306`,
      `${rotationSg} -> ${clusterSg}:3306`,
      `${rotationSg} -> ${endpointSg}:443`,
    ].sort();
    expect(edges('AWS::EC2::SecurityGroupIngress', 'SourceSecurityGroupId', 'GroupId')).toEqual(expected);
    expect(edges('AWS::EC2::SecurityGroupEgress', 'GroupId', 'DestinationSecurityGroupId')).toEqual(expected);
  });

  test('without rotation: only handler -> proxy -> cluster', () => {
    const { template } = build({ secretRotation: false });
    template.resourceCountIs('AWS::EC2::SecurityGroup', 3);
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 2);
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 0);
  });

  test('uses given security groups instead of creating them', () => {
    const vpc = new ec2.Vpc(stack, 'Mine', { maxAzs: 2, natGateways: 0 });
    const clusterSg = new ec2.SecurityGroup(stack, 'C', { vpc, allowAllOutbound: false });
    const proxySg = new ec2.SecurityGroup(stack, 'P', { vpc, allowAllOutbound: false });
    const handlerSg = new ec2.SecurityGroup(stack, 'H', { vpc, allowAllOutbound: false });
    const { template } = build({
      vpc,
      clusterSecurityGroups: [clusterSg],
      proxySecurityGroups: [proxySg],
      handlerSecurityGroups: [handlerSg],
      secretRotation: false,
    });
    template.resourceCountIs('AWS::EC2::SecurityGroup', 3);
    template.hasResourceProperties('AWS::RDS::DBProxy', {
      VpcSecurityGroupIds: [stack.resolve(proxySg.securityGroupId)],
    });
    template.hasResourceProperties('AWS::RDS::DBCluster', {
      VpcSecurityGroupIds: [stack.resolve(clusterSg.securityGroupId)],
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      VpcConfig: { SecurityGroupIds: [stack.resolve(handlerSg.securityGroupId)] },
    });
  });

  test('connections opens the proxy port to other clients', () => {
    const db = new ServerlessLampDatabase(stack, 'Db');
    const other = new ec2.SecurityGroup(stack, 'Other', { vpc: db.vpc });
    db.connections.allowDefaultPortFrom(other);
    Template.fromStack(stack).hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      SourceSecurityGroupId: stack.resolve(other.securityGroupId),
      FromPort: 3306,
      ToPort: 3306,
    });
    expect(db.connections.defaultPort?.toString()).toBe('3306');
  });
});

describe('database', () => {
  test('defaults: Aurora MySQL 3.10 LTS, encrypted, IAM auth, backups, protection, logs, monitoring', () => {
    const { template } = build();
    template.hasResourceProperties('AWS::RDS::DBCluster', {
      Engine: 'aurora-mysql',
      EngineVersion: '8.0.mysql_aurora.3.10.4',
      StorageEncrypted: true,
      KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DbKey'), 'Arn'] },
      BacktrackWindow: Match.absent(),
      EnableIAMDatabaseAuthentication: true,
      DatabaseName: 'lamp',
      MasterUsername: 'lampadmin',
      BackupRetentionPeriod: 7,
      DeletionProtection: true,
      CopyTagsToSnapshot: true,
      EnableCloudwatchLogsExports: ['audit', 'error', 'general', 'slowquery'],
      Port: 3306,
      ServerlessV2ScalingConfiguration: { MinCapacity: 0.5, MaxCapacity: 2 },
    });
    template.hasResource('AWS::RDS::DBCluster', { DeletionPolicy: 'Snapshot', UpdateReplacePolicy: 'Snapshot' });
    template.resourceCountIs('AWS::RDS::DBInstance', 1);
    template.hasResourceProperties('AWS::RDS::DBInstance', {
      DBInstanceClass: 'db.serverless',
      PubliclyAccessible: false,
      MonitoringInterval: 60,
    });
  });

  test('password is generated into Secrets Manager, never a literal', () => {
    const { template } = build();
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({
        SecretStringTemplate: '{"username":"lampadmin"}',
        GenerateStringKey: 'password',
      }),
    });
    const cluster = resourceOf(template, 'AWS::RDS::DBCluster').props;
    expect(JSON.stringify(cluster.MasterUserPassword)).toContain('{{resolve:secretsmanager:');
  });

  test('cluster parameter group requires TLS', () => {
    const { template } = build({ clusterParameters: { long_query_time: '2' } });
    template.hasResourceProperties('AWS::RDS::DBClusterParameterGroup', {
      Family: 'aurora-mysql8.0',
      Parameters: { require_secure_transport: 'ON', long_query_time: '2' },
    });
  });

  test('engine version, readers, capacity, names, keys, backups, logs, monitoring are configurable', () => {
    const key = new kms.Key(stack, 'MyKey');
    const { template } = build({
      engineVersion: rds.AuroraMysqlEngineVersion.VER_3_04_6,
      writer: rds.ClusterInstance.provisioned('Writer', {
        instanceType: ec2.InstanceType.of(ec2.InstanceClass.R6G, ec2.InstanceSize.LARGE),
      }),
      readers: [rds.ClusterInstance.serverlessV2('Reader', { scaleWithWriter: true })],
      serverlessV2MinCapacity: 1,
      serverlessV2MaxCapacity: 8,
      defaultDatabaseName: 'shop',
      masterUsername: 'shop_owner',
      encryptionKey: key,
      backupRetention: Duration.days(14),
      cloudwatchLogsExports: ['error', 'slowquery', 'audit'],
      monitoringInterval: Duration.seconds(0),
    });
    template.hasResourceProperties('AWS::RDS::DBCluster', {
      EngineVersion: '8.0.mysql_aurora.3.04.6',
      DatabaseName: 'shop',
      MasterUsername: 'shop_owner',
      KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^MyKey'), 'Arn'] },
      BackupRetentionPeriod: 14,
      EnableCloudwatchLogsExports: ['error', 'slowquery', 'audit'],
      ServerlessV2ScalingConfiguration: { MinCapacity: 1, MaxCapacity: 8 },
    });
    template.resourceCountIs('AWS::RDS::DBInstance', 2);
    template.hasResourceProperties('AWS::RDS::DBInstance', { DBInstanceClass: 'db.r6g.large' });
    template.hasResourceProperties('AWS::RDS::DBInstance', { DBInstanceClass: 'db.serverless' });
    template.allResourcesProperties('AWS::RDS::DBInstance', { MonitoringInterval: Match.absent() });
    expect(Object.keys(template.findResources('AWS::IAM::Role'))).not.toContainEqual(expect.stringMatching(/MonitoringRole/));
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^MyKey'), 'Arn'] },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ DB_USER: 'shop_owner', DB_NAME: 'shop' }) },
    });
  });

  test('removalPolicy DESTROY turns deletion protection off and warns', () => {
    const { template } = build({ removalPolicy: RemovalPolicy.DESTROY });
    template.hasResource('AWS::RDS::DBCluster', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ DeletionProtection: false }),
    });
    Annotations.fromStack(stack).hasWarning('/TestStack/Db', Match.stringLikeRegexp('removalPolicy is RemovalPolicy.DESTROY'));
  });

  test('removalPolicy RETAIN keeps deletion protection on; deletionProtection can be set explicitly', () => {
    const { template } = build({ removalPolicy: RemovalPolicy.RETAIN, deletionProtection: false });
    template.hasResource('AWS::RDS::DBCluster', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({ DeletionProtection: false }),
    });
    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
  });
});

describe('proxy', () => {
  test('defaults: MySQL, IAM auth REQUIRED, TLS required, tuned pool, unique name', () => {
    const { template } = build();
    template.hasResourceProperties('AWS::RDS::DBProxy', {
      EngineFamily: 'MYSQL',
      RequireTLS: true,
      DebugLogging: false,
      IdleClientTimeout: 1800,
      DBProxyName: Match.stringLikeRegexp('^teststack-db-[0-9a-f]{8}-proxy$'),
      Auth: [{
        AuthScheme: 'SECRETS',
        IAMAuth: 'REQUIRED',
        SecretArn: { Ref: Match.stringLikeRegexp('SecretAttachment') },
      }],
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

  test('two constructs in one stack get different proxy names', () => {
    const a = new ServerlessLampDatabase(stack, 'A');
    const b = new ServerlessLampDatabase(stack, 'B');
    expect(stack.resolve(a.proxy.dbProxyName)).not.toEqual(stack.resolve(b.proxy.dbProxyName));
    const names = Object.values(Template.fromStack(stack).findResources('AWS::RDS::DBProxy')).map((r) => r.Properties.DBProxyName);
    expect(new Set(names).size).toBe(2);
    for (const n of names) expect(n).toMatch(/^[a-z][a-z0-9-]{0,62}$/);
  });

  test('pool settings pass through', () => {
    const { template } = build({
      dbProxyName: 'shop-proxy',
      maxConnectionsPercent: 40,
      maxIdleConnectionsPercent: 10,
      borrowTimeout: Duration.seconds(5),
      idleClientTimeout: Duration.minutes(10),
      sessionPinningFilters: [rds.SessionPinningFilter.EXCLUDE_VARIABLE_SETS],
      initQuery: "SET time_zone = '+00:00'",
      debugLogging: true,
    });
    template.hasResourceProperties('AWS::RDS::DBProxy', {
      DBProxyName: 'shop-proxy',
      IdleClientTimeout: 600,
      DebugLogging: true,
    });
    template.hasResourceProperties('AWS::RDS::DBProxyTargetGroup', {
      ConnectionPoolConfigurationInfo: {
        ConnectionBorrowTimeout: 5,
        MaxConnectionsPercent: 40,
        MaxIdleConnectionsPercent: 10,
        SessionPinningFilters: ['EXCLUDE_VARIABLE_SETS'],
        InitQuery: "SET time_zone = '+00:00'",
      },
    });
    Annotations.fromStack(stack).hasWarning('/TestStack/Db', Match.stringLikeRegexp('debugLogging is on'));
  });

  test('idle default follows a lowered maxConnectionsPercent (half of it)', () => {
    const { template } = build({ maxConnectionsPercent: 30 });
    template.hasResourceProperties('AWS::RDS::DBProxyTargetGroup', {
      ConnectionPoolConfigurationInfo: Match.objectLike({ MaxConnectionsPercent: 30, MaxIdleConnectionsPercent: 15 }),
    });
  });

  test('proxy role: assumable by rds.amazonaws.com, reads exactly the secret', () => {
    const { db, template } = build();
    const roles = template.findResources('AWS::IAM::Role', {
      Properties: { AssumeRolePolicyDocument: { Statement: [{ Principal: { Service: 'rds.amazonaws.com' } }] } },
    });
    const roleIds = Object.keys(roles);
    expect(roleIds).toHaveLength(1);
    expect(roles[roleIds[0]].Properties.ManagedPolicyArns).toBeUndefined();
    template.hasResourceProperties('AWS::RDS::DBProxy', { RoleArn: { 'Fn::GetAtt': [roleIds[0], 'Arn'] } });
    template.hasResourceProperties('AWS::IAM::Policy', {
      Roles: [{ Ref: roleIds[0] }],
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Allow',
            Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
            Resource: { Ref: Match.stringLikeRegexp('SecretAttachment') },
          },
          // The secret is encrypted with the construct's customer managed key.
          { Effect: 'Allow', Action: 'kms:Decrypt', Resource: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DbKey'), 'Arn'] } },
        ],
      },
    });
    expect(db.proxyRole).toBeDefined();
  });

  test('proxy role gets kms:Decrypt on a customer-managed secret key', () => {
    const key = new kms.Key(stack, 'SecretKey');
    const { template } = build({ encryptionKey: key });
    const policy = Object.values(template.findResources('AWS::IAM::Policy')).find((p) =>
      JSON.stringify(p.Properties.Roles).includes('DbProxyRole'));
    expect(policy).toBeDefined();
    const decrypt = policy!.Properties.PolicyDocument.Statement.filter((st: any) => st.Action === 'kms:Decrypt');
    expect(decrypt).toHaveLength(1);
    expect(decrypt[0].Resource).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^SecretKey/), 'Arn'] });
  });

  test('uses a given proxy role', () => {
    const role = new iam.Role(stack, 'MyRole', { assumedBy: new iam.ServicePrincipal('rds.amazonaws.com') });
    const { db, template } = build({ proxyRole: role });
    expect(db.proxyRole).toBe(role);
    template.resourceCountIs('AWS::IAM::Role', 4); // mine, handler, enhanced monitoring, flow logs
    template.hasResourceProperties('AWS::RDS::DBProxy', { RoleArn: stack.resolve(role.roleArn) });
  });
});

describe('handler', () => {
  test('Node.js 24 on arm64, in the VPC, traced, with an environment that holds no secret', () => {
    const { template } = build();
    const fn = resourceOf(template, 'AWS::Lambda::Function').props;
    expect(fn.Runtime).toBe('nodejs24.x');
    expect(fn.TracingConfig).toEqual({ Mode: 'Active' });
    expect(fn.ReservedConcurrentExecutions).toBeUndefined();
    expect(fn.DeadLetterConfig).toBeUndefined();
    expect(fn.Architectures).toEqual(['arm64']);
    expect(fn.Handler).toBe('index.handler');
    expect(fn.Timeout).toBe(15);
    expect(fn.MemorySize).toBe(256);
    expect(fn.VpcConfig.SubnetIds).toHaveLength(2);
    const vars = fn.Environment.Variables;
    expect(Object.keys(vars).sort()).toEqual(['AWS_NODEJS_CONNECTION_REUSE_ENABLED', 'DB_HOST', 'DB_NAME', 'DB_PORT', 'DB_USER']);
    expect(vars.DB_HOST).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^DbProxy[0-9A-F]{8}$/), 'Endpoint'] });
    expect(vars.DB_PORT).toBe('3306');
    expect(vars.DB_USER).toBe('lampadmin');
    expect(vars.DB_NAME).toBe('lamp');
    expect(JSON.stringify(vars)).not.toMatch(/secret|password/i);
  });

  test('the function package holds the bundle alone, within its size budget', () => {
    // What ships in the Lambda zip: the asset folder projen's bundle task fills.
    const dir = path.join(__dirname, '..', 'assets', 'handler', 'query.lambda');
    expect(fs.readdirSync(dir)).toEqual(['index.js']);
    // The trimmed bundle is about 400 KB; 1.45 MB without its aliases (see the benchmark).
    expect(fs.statSync(path.join(dir, 'index.js')).size).toBeLessThanOrEqual(550 * 1024);
  });

  test('log group with explicit retention', () => {
    const { template } = build();
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
    template.hasResource('AWS::Logs::LogGroup', { DeletionPolicy: 'Retain' });
    template.hasResourceProperties('AWS::Lambda::Function', {
      LoggingConfig: { LogGroup: { Ref: Match.stringLikeRegexp('^DbHandlerLogs') } },
    });
  });

  test('timeout, memory and log retention are configurable', () => {
    const { template } = build({
      handlerTimeout: Duration.seconds(30),
      handlerMemorySize: 512,
      logRetention: logs.RetentionDays.THREE_MONTHS,
    });
    template.hasResourceProperties('AWS::Lambda::Function', { Timeout: 30, MemorySize: 512 });
    template.hasResourceProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
  });

  test('is granted rds-db:connect on the proxy resource id for the master user, and nothing else custom', () => {
    const { template } = build();
    const fnRole = Object.keys(template.findResources('AWS::IAM::Role', {
      Properties: { AssumeRolePolicyDocument: { Statement: [{ Principal: { Service: 'lambda.amazonaws.com' } }] } },
    }));
    expect(fnRole).toHaveLength(1);
    const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
      JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: fnRole[0] }]));
    expect(policies).toHaveLength(1);
    const statements = policies[0].Properties.PolicyDocument.Statement;
    expect(statements).toHaveLength(2);
    // X-Ray offers no resource-level permissions for these two actions.
    expect(statements[0]).toEqual({ Effect: 'Allow', Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Resource: '*' });
    statements.shift();
    expect(statements[0].Action).toBe('rds-db:connect');
    expect(statements[0].Effect).toBe('Allow');
    // arn:<partition>:rds-db:<region>:<account>:dbuser:<prx-id>/<user>, where the
    // prx- id is the 7th field of the proxy ARN (arn:aws:rds:r:a:db-proxy:prx-...).
    expect(statements[0].Resource).toEqual({
      'Fn::Join': ['', [
        'arn:', { Ref: 'AWS::Partition' }, ':rds-db:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':dbuser:',
        { 'Fn::Select': [6, { 'Fn::Split': [':', { 'Fn::GetAtt': [expect.stringMatching(/^DbProxy[0-9A-F]{8}$/), 'DBProxyArn'] }] }] },
        '/lampadmin',
      ]],
    });
  });
});

describe('public surface', () => {
  test('exposes typed members and outputs', () => {
    const { db, template } = build();
    expect(db.cluster).toBeInstanceOf(rds.DatabaseCluster);
    expect(db.proxy).toBeInstanceOf(rds.DatabaseProxy);
    expect(db.handler).toBeInstanceOf(lambda.Function);
    expect(db.vpc).toBeInstanceOf(ec2.Vpc);
    expect(db.secret.secretArn).toBeDefined();
    expect(db.proxyEndpoint).toBe(db.proxy.endpoint);
    expect(db.databaseName).toBe('lamp');
    expect(db.masterUsername).toBe('lampadmin');
    const outputs = template.findOutputs('*');
    const byPrefix = (p: string) => Object.keys(outputs).filter((k) => k.startsWith(p));
    expect(byPrefix('DbProxyEndpoint')).toHaveLength(1);
    expect(byPrefix('DbSecretArn')).toHaveLength(1);
    expect(byPrefix('DbHandlerFunctionName')).toHaveLength(1);
    expect(outputs[byPrefix('DbProxyEndpoint')[0]].Value).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^DbProxy/), 'Endpoint'] });
    expect(outputs[byPrefix('DbSecretArn')[0]].Value).toEqual({ Ref: expect.stringMatching(/SecretAttachment/) });
    expect(outputs[byPrefix('DbHandlerFunctionName')[0]].Value).toEqual({ Ref: expect.stringMatching(/^DbHandler/) });
  });

  test('grantConnect grants rds-db:connect for the given user, defaulting to the master user', () => {
    const db = new ServerlessLampDatabase(stack, 'Db');
    const role = new iam.Role(stack, 'App', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    db.grantConnect(role, 'reporting');
    const other = new iam.Role(stack, 'Other', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') });
    db.grantConnect(other);
    const template = Template.fromStack(stack);
    const text = (ref: string) => JSON.stringify(Object.values(template.findResources('AWS::IAM::Policy'))
      .find((p) => JSON.stringify(p.Properties.Roles).includes(ref))!.Properties.PolicyDocument);
    expect(text('App')).toContain('/reporting');
    expect(text('App')).toContain('rds-db:connect');
    expect(text('Other')).toContain('/lampadmin');
  });

  test('metrics name the proxy', () => {
    const { db } = build();
    const m = db.metricDatabaseConnectionsCurrentlySessionPinned();
    expect(m.namespace).toBe('AWS/RDS');
    expect(m.metricName).toBe('DatabaseConnectionsCurrentlySessionPinned');
    // Per-node counts: the proxy's total is their sum per minute.
    expect(m.statistic).toBe('Sum');
    expect(m.period.toMinutes()).toBe(1);
    expect(db.metricDatabaseConnectionsBorrowLatency().statistic).toBe('Average');
    expect(stack.resolve(m.dimensions)).toEqual({ ProxyName: stack.resolve(db.proxy.dbProxyName) });
    expect(db.metricClientConnections({ statistic: 'Maximum' }).statistic).toBe('Maximum');
    expect(db.metricDatabaseConnections().metricName).toBe('DatabaseConnections');
    expect(db.metricDatabaseConnectionsBorrowLatency().metricName).toBe('DatabaseConnectionsBorrowLatency');
    expect(db.metric('AvailabilityPercentage', { period: Duration.minutes(1) }).period.toMinutes()).toBe(1);
  });
});

describe('more applications: addProxy', () => {
  test('adds a proxy with its own security group, name and pool, reading the same secret', () => {
    const db = new ServerlessLampDatabase(stack, 'Db', { maxConnectionsPercent: 60 });
    const reporting = db.addProxy('Reporting', { maxConnectionsPercent: 40, borrowTimeout: Duration.seconds(5) });
    // Its clients get in on 3306, and the proxy reaches the cluster on 3306.
    const client = new ec2.SecurityGroup(stack, 'Client', { vpc: db.vpc });
    reporting.connections.allowDefaultPortFrom(client);
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::RDS::DBProxy', 2);
    const names = Object.values(template.findResources('AWS::RDS::DBProxy')).map((r) => r.Properties.DBProxyName).sort();
    expect(names[0]).toMatch(/^teststack-db-[0-9a-f]{8}-proxy$/);
    expect(names[1]).toMatch(/^teststack-db-reporting-[0-9a-f]{8}-proxy$/);
    template.hasResourceProperties('AWS::RDS::DBProxy', {
      DBProxyName: names[1],
      RequireTLS: true,
      Auth: [Match.objectLike({ IAMAuth: 'REQUIRED' })],
      RoleArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DbProxyRole'), 'Arn'] },
      VpcSecurityGroupIds: [{ 'Fn::GetAtt': [Match.stringLikeRegexp('^DbReportingSecurityGroup'), 'GroupId'] }],
    });
    template.hasResourceProperties('AWS::RDS::DBProxyTargetGroup', {
      ConnectionPoolConfigurationInfo: Match.objectLike({ MaxConnectionsPercent: 40, MaxIdleConnectionsPercent: 20, ConnectionBorrowTimeout: 5 }),
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DbReportingSecurityGroup'), 'GroupId'] },
      SourceSecurityGroupId: stack.resolve(client.securityGroupId),
      FromPort: 3306,
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DbClusterSecurityGroup'), 'GroupId'] },
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DbReportingSecurityGroup'), 'GroupId'] },
      FromPort: 3306,
      ToPort: 3306,
    });
    expect(reporting.proxyEndpoint).toBe(reporting.proxy.endpoint);
    expect(stack.resolve(reporting.metric('ClientConnections').dimensions)).toEqual({ ProxyName: stack.resolve(reporting.proxy.dbProxyName) });
    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
  });

  test('grantConnect names the added proxy and defaults to the master user', () => {
    const db = new ServerlessLampDatabase(stack, 'Db');
    const reporting = db.addProxy('Reporting');
    const role = new iam.Role(stack, 'App', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    reporting.grantConnect(role);
    const policy = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy'))
      .find((p) => JSON.stringify(p.Properties.Roles).includes('App'))!;
    const text = JSON.stringify(policy.Properties.PolicyDocument);
    expect(text).toMatch(/"DbReportingProxy[0-9A-F]{8}","DBProxyArn"/);
    expect(text).toContain('/lampadmin');
  });

  test('pool options of an added proxy are validated like the first one', () => {
    const db = new ServerlessLampDatabase(stack, 'Db');
    expect(() => db.addProxy('A', { maxConnectionsPercent: 0 })).toThrow(/^maxConnectionsPercent \(0\) must be between 1 and 100$/);
    expect(() => db.addProxy('B', { dbProxyName: 'bad_name' })).toThrow(/^dbProxyName \('bad_name'\) must be 1 to 63/);
    expect(() => db.addProxy('C', { borrowTimeout: Duration.minutes(6) })).toThrow(/^borrowTimeout \(360 seconds\) must be between 0 and 300 seconds$/);
  });

  test('warns when the proxies together ask for more than 100 % of max_connections', () => {
    const db = new ServerlessLampDatabase(stack, 'Db', { maxConnectionsPercent: 70 });
    db.addProxy('Reporting', { maxConnectionsPercent: 50 });
    Annotations.fromStack(stack).hasWarning('/TestStack/Db', Match.stringLikeRegexp(
      'maxConnectionsPercent add up to 120 \\(TestStack/Db: 70, TestStack/Db/Reporting: 50\\)'));
  });
});

describe('encryption, rotation, logs and handler options', () => {
  test('creates a rotating customer managed key that CloudWatch Logs of this account and Region may use', () => {
    const { db, template } = build();
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([Match.objectLike({
          Principal: { Service: { 'Fn::Join': ['', ['logs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
          Condition: {
            ArnLike: {
              'kms:EncryptionContext:aws:logs:arn': {
                'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':logs:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':log-group:*']],
              },
            },
          },
        })]),
      },
    });
    template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain' });
    expect(db.encryptionKey).toBeDefined();
    template.hasResourceProperties('AWS::SecretsManager::Secret', { KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DbKey'), 'Arn'] } });
  });

  test('uses a given key and creates none', () => {
    const key = new kms.Key(stack, 'Mine');
    const { db, template } = build({ encryptionKey: key });
    expect(db.encryptionKey).toBe(key);
    template.resourceCountIs('AWS::KMS::Key', 1);
  });

  test('rotates the secret every 30 days through the Secrets Manager endpoint', () => {
    const { template } = build();
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
    });
    template.hasResourceProperties('AWS::Serverless::Application', {
      Parameters: Match.objectLike({
        endpoint: {
          'Fn::Join': ['', [
            'https://', { Ref: Match.stringLikeRegexp('^DbSecretsManagerEndpoint') },
            '.secretsmanager.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' },
          ]],
        },
      }),
    });
  });

  test('rotation interval and a given endpoint', () => {
    const vpc = new ec2.Vpc(stack, 'Mine', { natGateways: 0, subnetConfiguration: [{ name: 'I', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    const endpoint = vpc.addInterfaceEndpoint('Sm', { service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER });
    const { template } = build({ vpc, secretsManagerEndpoint: endpoint, secretRotationInterval: Duration.days(7) });
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 1);
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', { RotationRules: { ScheduleExpression: 'rate(7 days)' } });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: stack.resolve(endpoint.connections.securityGroups[0].securityGroupId),
      FromPort: 443,
    });
  });

  test('no endpoint is created for subnets with internet egress', () => {
    const vpc = new ec2.Vpc(stack, 'Mine', { maxAzs: 2, natGateways: 1 });
    const { template } = build({ vpc });
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 1);
  });

  test('audit log on, TLS still forced when other parameters are given', () => {
    const { template } = build({ clusterParameters: { server_audit_events: 'CONNECT', require_secure_transport: 'ON' } });
    template.hasResourceProperties('AWS::RDS::DBClusterParameterGroup', {
      Parameters: { server_audit_logging: '1', server_audit_events: 'CONNECT', require_secure_transport: 'ON' },
    });
  });

  test('backtrack window, reserved concurrency, dead-letter queue, tracing', () => {
    const queue = new sqs.Queue(stack, 'Dlq');
    const { template } = build({
      backtrackWindow: Duration.hours(24),
      handlerReservedConcurrency: 20,
      handlerDeadLetterQueue: queue,
      handlerTracing: lambda.Tracing.PASS_THROUGH,
    });
    template.hasResourceProperties('AWS::RDS::DBCluster', { BacktrackWindow: 86400 });
    template.hasResourceProperties('AWS::Lambda::Function', {
      ReservedConcurrentExecutions: 20,
      DeadLetterConfig: { TargetArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Dlq'), 'Arn'] } },
      TracingConfig: { Mode: 'PassThrough' },
    });
  });

  test('acknowledgments follow the options they depend on', () => {
    const rules = (t: Template, type: string) => Object.values(t.findResources(type))
      .flatMap((r: any) => (r.Metadata?.cdk_nag?.rules_to_suppress ?? []).map((x: any) => x.id));
    const defaults = build().template;
    expect(rules(defaults, 'AWS::RDS::DBCluster')).toEqual(['AwsSolutions-RDS11', 'AwsSolutions-RDS14']);
    expect(rules(defaults, 'AWS::Lambda::Function')).toEqual([
      'HIPAA.Security-LambdaConcurrency', 'NIST.800.53.R5-LambdaConcurrency',
      'HIPAA.Security-LambdaDLQ', 'NIST.800.53.R5-LambdaDLQ', 'Serverless-LambdaDLQ',
    ]);
    expect(rules(defaults, 'AWS::SecretsManager::Secret')).toEqual([]);

    const other = new Stack(new App(), 'Other');
    new ServerlessLampDatabase(other, 'Db', {
      backtrackWindow: Duration.hours(1),
      handlerReservedConcurrency: 5,
      handlerDeadLetterQueue: new sqs.Queue(other, 'Q'),
      handlerTracing: lambda.Tracing.DISABLED,
      secretRotation: false,
    });
    const t = Template.fromStack(other);
    expect(rules(t, 'AWS::RDS::DBCluster')).toEqual(['AwsSolutions-RDS11']);
    expect(rules(t, 'AWS::Lambda::Function')).toEqual(['Serverless-LambdaTracing']);
    expect(rules(t, 'AWS::SecretsManager::Secret')).toEqual([
      'AwsSolutions-SMG4', 'HIPAA.Security-SecretsManagerRotationEnabled', 'NIST.800.53.R5-SecretsManagerRotationEnabled',
    ]);
  });
});

describe('validation', () => {
  const cases: Array<[string, ServerlessLampDatabaseProps, RegExp]> = [
    ['maxConnectionsPercent 0', { maxConnectionsPercent: 0 }, /^maxConnectionsPercent \(0\) must be between 1 and 100$/],
    ['maxConnectionsPercent 101', { maxConnectionsPercent: 101 }, /^maxConnectionsPercent \(101\) must be between 1 and 100$/],
    ['maxConnectionsPercent 50.5', { maxConnectionsPercent: 50.5 }, /^maxConnectionsPercent \(50.5\) must be a whole number between 1 and 100$/],
    ['maxIdleConnectionsPercent -1', { maxIdleConnectionsPercent: -1 }, /^maxIdleConnectionsPercent \(-1\) must be between 0 and 100$/],
    ['idle above max', { maxConnectionsPercent: 50, maxIdleConnectionsPercent: 80 }, /^maxIdleConnectionsPercent \(80\) must be <= maxConnectionsPercent \(50\)$/],
    ['borrowTimeout 301 s', { borrowTimeout: Duration.seconds(301), handlerTimeout: Duration.minutes(10) }, /^borrowTimeout \(301 seconds\) must be between 0 and 300 seconds$/],
    ['borrowTimeout 1.5 s', { borrowTimeout: Duration.millis(1500) }, /^borrowTimeout \(1 second 500 millis\) must be a whole number of seconds between 0 and 300 seconds$/],
    ['idleClientTimeout 0', { idleClientTimeout: Duration.seconds(0) }, /^idleClientTimeout \(0 seconds\) must be between 1 and 28800 seconds$/],
    ['idleClientTimeout 9 h', { idleClientTimeout: Duration.hours(9) }, /^idleClientTimeout \(32400 seconds\) must be between 1 and 28800 seconds$/],
    ['handlerTimeout 16 min', { handlerTimeout: Duration.minutes(16) }, /^handlerTimeout \(960 seconds\) must be between 4 and 900 seconds$/],
    ['handlerTimeout not above borrowTimeout', { handlerTimeout: Duration.seconds(12), borrowTimeout: Duration.seconds(10) }, /^handlerTimeout \(12 seconds\) must be at least 3 seconds longer than borrowTimeout \(10 seconds\)/],
    ['handlerTimeout default vs long borrowTimeout', { borrowTimeout: Duration.seconds(120) }, /^handlerTimeout \(15 seconds\) must be at least 3 seconds longer than borrowTimeout \(2 minutes\)/],
    ['handlerMemorySize 64', { handlerMemorySize: 64 }, /^handlerMemorySize \(64 MiB\) must be between 128 and 10240 MiB$/],
    ['backupRetention 0 days', { backupRetention: Duration.days(0) }, /^backupRetention \(0 days\) must be between 1 and 35 days$/],
    ['backupRetention 36 days', { backupRetention: Duration.days(36) }, /^backupRetention \(36 days\) must be between 1 and 35 days$/],
    ['backupRetention 36 hours', { backupRetention: Duration.hours(36) }, /^backupRetention \(1.5 days\) must be a whole number between 1 and 35 days$/],
    ['monitoringInterval 2 s', { monitoringInterval: Duration.seconds(2) }, /^monitoringInterval \(2 seconds\) must be 0, 1, 5, 10, 15, 30 or 60 seconds$/],
    ['serverlessV2MinCapacity 0.3', { serverlessV2MinCapacity: 0.3 }, /^serverlessV2MinCapacity \(0.3 ACU\) must be a multiple of 0.5, between 0 and 256 ACU$/],
    ['serverlessV2MaxCapacity 300', { serverlessV2MaxCapacity: 300 }, /^serverlessV2MaxCapacity \(300 ACU\) must be between 1 and 256 ACU$/],
    ['min above max capacity', { serverlessV2MinCapacity: 4, serverlessV2MaxCapacity: 2 }, /^serverlessV2MinCapacity \(4 ACU\) must be <= serverlessV2MaxCapacity \(2 ACU\)$/],
    ['database name with a hyphen', { defaultDatabaseName: 'my-db' }, /^defaultDatabaseName \('my-db'\) must be 1 to 64 letters, digits or underscores, starting with a letter$/],
    ['database name starting with a digit', { defaultDatabaseName: '1db' }, /^defaultDatabaseName \('1db'\) must be/],
    ['database name of 65 characters', { defaultDatabaseName: 'a'.repeat(65) }, /^defaultDatabaseName \('a{65}'\) must be 1 to 64/],
    ['database name reserved', { defaultDatabaseName: 'select' }, /^defaultDatabaseName \('select'\) is a MySQL reserved word or system schema/],
    ['database name system schema', { defaultDatabaseName: 'mysql' }, /^defaultDatabaseName \('mysql'\) is a MySQL reserved word or system schema/],
    ['username of 17 characters', { masterUsername: 'u'.repeat(17) }, /^masterUsername \('u{17}'\) must be 1 to 16 letters, digits or underscores, starting with a letter$/],
    ['username empty', { masterUsername: '' }, /^masterUsername \(''\) must be 1 to 16/],
    ['username reserved by RDS', { masterUsername: 'rdsadmin' }, /^masterUsername \('rdsadmin'\) is reserved by MySQL or Amazon RDS/],
    ['username root', { masterUsername: 'root' }, /^masterUsername \('root'\) is reserved/],
    ['proxy name with underscore', { dbProxyName: 'my_proxy' }, /^dbProxyName \('my_proxy'\) must be 1 to 63 letters, digits or hyphens/],
    ['proxy name double hyphen', { dbProxyName: 'my--proxy' }, /^dbProxyName \('my--proxy'\) must be/],
    ['proxy name trailing hyphen', { dbProxyName: 'proxy-' }, /^dbProxyName \('proxy-'\) must be/],
    ['proxy name of 64 characters', { dbProxyName: 'p'.repeat(64) }, /^dbProxyName \('p{64}'\) must be/],
    ['require_secure_transport OFF', { clusterParameters: { require_secure_transport: 'OFF' } }, /^clusterParameters.require_secure_transport \('OFF'\) must be 'ON'/],
    ['secretRotationInterval 1 hour', { secretRotationInterval: Duration.hours(1) }, /^secretRotationInterval \(1 hour\) must be between 4 hours and 1000 days$/],
    ['secretRotationInterval 1001 days', { secretRotationInterval: Duration.days(1001) }, /^secretRotationInterval \(1001 days\) must be between 4 hours and 1000 days$/],
    ['backtrackWindow 73 hours', { backtrackWindow: Duration.hours(73) }, /^backtrackWindow \(262800 seconds\) must be between 0 and 259200 seconds$/],
    ['handlerReservedConcurrency -1', { handlerReservedConcurrency: -1 }, /^handlerReservedConcurrency \(-1\) must be between 0 and 100000$/],
    ['handlerReservedConcurrency 1.5', { handlerReservedConcurrency: 1.5 }, /^handlerReservedConcurrency \(1.5\) must be a whole number between 0 and 100000$/],
    ['rotation off with an endpoint', { secretRotation: false, secretsManagerEndpoint: {} as any }, /^Either turn secretRotation off or provide secretsManagerEndpoint, but not both/],
    ['DESTROY with deletion protection', { removalPolicy: RemovalPolicy.DESTROY, deletionProtection: true }, /^Either set removalPolicy to RemovalPolicy.DESTROY or deletionProtection to true, but not both/],
  ];

  test.each(cases)('rejects %s', (_name, props, message) => {
    expect(() => new ServerlessLampDatabase(stack, 'Db', props)).toThrow(message);
  });

  test('rejects vpcFlowLogs with a given VPC', () => {
    const vpc = new ec2.Vpc(stack, 'Mine', { natGateways: 0 });
    expect(() => new ServerlessLampDatabase(stack, 'Db', { vpc, vpcFlowLogs: true })).toThrow(
      /^vpcFlowLogs \(true\) applies only to the VPC this construct creates; with your own vpc, manage its flow logs there$/,
    );
  });

  test('errors are ServerlessLampValidationError', () => {
    expect(() => new ServerlessLampDatabase(stack, 'Db', { maxConnectionsPercent: 0 })).toThrow(
      expect.objectContaining({ name: 'ServerlessLampValidationError' }),
    );
  });

  test('accepts the boundaries', () => {
    expect(() => new ServerlessLampDatabase(stack, 'Db', {
      maxConnectionsPercent: 1,
      maxIdleConnectionsPercent: 0,
      borrowTimeout: Duration.seconds(0),
      idleClientTimeout: Duration.hours(8),
      handlerTimeout: Duration.seconds(4),
      handlerMemorySize: 10240,
      backupRetention: Duration.days(35),
      serverlessV2MinCapacity: 256,
      serverlessV2MaxCapacity: 256,
      defaultDatabaseName: 'a'.repeat(64),
      masterUsername: 'u'.repeat(16),
      dbProxyName: 'p'.repeat(63),
    })).not.toThrow();
  });

  test('unresolved tokens are not validated', () => {
    const n = (v: number) => Lazy.number({ produce: () => v });
    const s = (v: string) => Lazy.string({ produce: () => v });
    expect(() => new ServerlessLampDatabase(stack, 'Db', {
      maxConnectionsPercent: n(500),
      maxIdleConnectionsPercent: n(900),
      borrowTimeout: Duration.seconds(n(9999)),
      idleClientTimeout: Duration.seconds(n(0)),
      handlerTimeout: Duration.seconds(n(1)),
      handlerMemorySize: n(1),
      // (serverlessV2*Capacity: aws-cdk-lib's DatabaseCluster itself rejects tokens there.)
      defaultDatabaseName: s('not-valid'),
      masterUsername: s('root'),
      dbProxyName: s('bad_name'),
    })).not.toThrow();
  });

  test('admin user name and auto-pause draw warnings', () => {
    new ServerlessLampDatabase(stack, 'Db', { masterUsername: 'admin', serverlessV2MinCapacity: 0 });
    const annotations = Annotations.fromStack(stack);
    annotations.hasWarning('/TestStack/Db', Match.stringLikeRegexp("masterUsername is 'admin'"));
    annotations.hasWarning('/TestStack/Db', Match.stringLikeRegexp('serverlessV2MinCapacity is 0'));
  });

  test('defaults draw no warnings', () => {
    new ServerlessLampDatabase(stack, 'Db');
    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
  });
});

describe('CloudFormation validation', () => {
  afterAll(() => releaseValidator());

  // Jest runs the tests of a file in order: this one sees every template above.
  test('every template synthesized above passes @aws/cloudformation-validate', () => {
    expect(synthesized.length).toBeGreaterThanOrEqual(30);
    const problems = synthesized.flatMap(({ test: name, template }) =>
      unexpected(validateTemplate(template)).map((d) => `${name}: ${d}`));
    expect(problems).toEqual([]);
  }, 300_000);
});
