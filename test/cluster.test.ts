/*
 * The cluster: engine, encryption, credentials and their rotation, parameters,
 * backups, removal.
 */
import { App, Duration, RemovalPolicy, Stack, aws_ec2 as ec2, aws_kms as kms, aws_rds as rds } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { ServerlessLampDatabase } from '../src';
import { build, recordTemplates, resourceOf, securityGroupId, useFreshStack, validateRecordedTemplates } from './support/harness';

const recorded = recordTemplates();
const ctx = useFreshStack();

describe('database', () => {
  test('defaults: Aurora MySQL 3.10 LTS, encrypted, IAM auth, backups, protection, logs, monitoring', () => {
    const { template } = build(ctx);
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
    const { template } = build(ctx);
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: Match.objectLike({
        SecretStringTemplate: '{"username":"lampadmin"}',
        GenerateStringKey: 'password',
      }),
    });
    const cluster = resourceOf(template, 'AWS::RDS::DBCluster').props;
    expect(JSON.stringify(cluster.MasterUserPassword)).toContain('{{resolve:secretsmanager:');
  });

  test('cluster parameter group requires TLS and turns the audit log on', () => {
    const { template } = build(ctx, { clusterParameters: { long_query_time: '2' } });
    template.hasResourceProperties('AWS::RDS::DBClusterParameterGroup', {
      Family: 'aurora-mysql8.0',
      Parameters: {
        require_secure_transport: 'ON',
        long_query_time: '2',
        server_audit_logging: '1',
        server_audit_events: 'CONNECT,QUERY_DCL,QUERY_DDL',
      },
    });
  });

  test('clusterParameters may override the audit events, TLS stays forced', () => {
    const { template } = build(ctx, { clusterParameters: { server_audit_events: 'CONNECT', require_secure_transport: '1' } });
    template.hasResourceProperties('AWS::RDS::DBClusterParameterGroup', {
      Parameters: { server_audit_logging: '1', server_audit_events: 'CONNECT', require_secure_transport: 'ON' },
    });
  });

  test('engine version, readers, capacity, names, keys, backups, logs, monitoring are configurable', () => {
    const key = new kms.Key(ctx.stack, 'MyKey');
    const { template } = build(ctx, {
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
      Environment: { Variables: Match.objectLike({ DB_USER: 'lamp_app', DB_NAME: 'shop' }) },
    });
  });

  test('the cluster identifier is derived from the construct path, or given', () => {
    const { template } = build(ctx);
    expect(resourceOf(template, 'AWS::RDS::DBCluster').props.DBClusterIdentifier).toMatch(/^teststack-db-[0-9a-f]{8}-cluster$/);
    const other = new Stack(new App(), 'Other');
    new ServerlessLampDatabase(other, 'Db', { clusterIdentifier: 'Shop-Cluster' });
    // RDS stores it in lowercase, and names the log groups with that.
    Template.fromStack(other).hasResourceProperties('AWS::RDS::DBCluster', { DBClusterIdentifier: 'shop-cluster' });
    Template.fromStack(other).hasResourceProperties('AWS::Logs::LogGroup', { LogGroupName: '/aws/rds/cluster/shop-cluster/audit' });
  });

  test('each exported log type gets its log group, encrypted, expiring, created before the cluster', () => {
    const { template } = build(ctx, { cloudwatchLogsExports: ['audit', 'error', 'iam-db-auth-error'] });
    const cluster = resourceOf(template, 'AWS::RDS::DBCluster');
    const id = cluster.props.DBClusterIdentifier;
    const groups = template.findResources('AWS::Logs::LogGroup', { Properties: { LogGroupName: Match.stringLikeRegexp('^/aws/rds/cluster/') } });
    expect(Object.values(groups).map((g) => g.Properties.LogGroupName).sort()).toEqual(
      ['audit', 'error', 'iam-db-auth-error'].map((t) => `/aws/rds/cluster/${id}/${t}`));
    for (const [logicalId, group] of Object.entries(groups)) {
      expect(group).toEqual(expect.objectContaining({
        DeletionPolicy: 'Retain',
        Properties: expect.objectContaining({ RetentionInDays: 365, KmsKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^DbKey/), 'Arn'] } }),
      }));
      // The cluster waits for the group, so RDS never creates it first.
      expect(template.toJSON().Resources[cluster.logicalId].DependsOn).toContain(logicalId);
    }
    expect(Object.keys(groups).sort()).toEqual([
      expect.stringMatching(/^DbAuditLogs/), expect.stringMatching(/^DbErrorLogs/), expect.stringMatching(/^DbIamDbAuthErrorLogs/),
    ]);
  });

  test('DESTROY destroys the log groups too', () => {
    const { template } = build(ctx, { removalPolicy: RemovalPolicy.DESTROY });
    const groups = Object.values(template.findResources('AWS::Logs::LogGroup'));
    expect(groups.length).toBe(8); // flow logs, 4 exported types, proxy, handler, users provider
    for (const group of groups) expect(group.DeletionPolicy).toBe('Delete');
  });

  test('backtrackWindow turns backtracking on', () => {
    const { template } = build(ctx, { backtrackWindow: Duration.hours(24) });
    template.hasResourceProperties('AWS::RDS::DBCluster', { BacktrackWindow: 86400 });
  });
});

describe('removal', () => {
  test('removalPolicy DESTROY turns deletion protection off and warns', () => {
    const { template } = build(ctx, { removalPolicy: RemovalPolicy.DESTROY });
    template.hasResource('AWS::RDS::DBCluster', {
      DeletionPolicy: 'Delete',
      Properties: Match.objectLike({ DeletionProtection: false }),
    });
    Annotations.fromStack(ctx.stack).hasWarning('/TestStack/Db', Match.stringLikeRegexp('removalPolicy is RemovalPolicy.DESTROY'));
  });

  test('removalPolicy RETAIN keeps deletion protection on', () => {
    const { template } = build(ctx, { removalPolicy: RemovalPolicy.RETAIN });
    template.hasResource('AWS::RDS::DBCluster', {
      DeletionPolicy: 'Retain',
      Properties: Match.objectLike({ DeletionProtection: true }),
    });
    Annotations.fromStack(ctx.stack).hasNoWarning('*', Match.anyValue());
  });

  test('removalPolicy RETAIN also keeps what the cluster uses: secret, parameter group, security group, role, VPC', () => {
    const { template } = build(ctx, { removalPolicy: RemovalPolicy.RETAIN });
    const policyOf = (type: string) => Object.values(template.findResources(type)).map((r) => r.DeletionPolicy);
    for (const type of ['AWS::SecretsManager::Secret', 'AWS::RDS::DBClusterParameterGroup', 'AWS::RDS::DBSubnetGroup',
      'AWS::EC2::VPC', 'AWS::EC2::Subnet', 'AWS::KMS::Key']) {
      expect([type, policyOf(type)]).toEqual([type, policyOf(type).map(() => 'Retain')]);
    }
    expect(template.findResources('AWS::EC2::SecurityGroup')[securityGroupId(template, 'Aurora MySQL cluster: inbound only from the RDS Proxy')]
      .DeletionPolicy).toBe('Retain');
    // Its rules go with the stack: a rule naming a deleted group would keep that group from being deleted.
    for (const rule of Object.values(template.findResources('AWS::EC2::SecurityGroupIngress'))) expect(rule.DeletionPolicy).toBeUndefined();
    // Rotation goes with its function; the secret stays.
    template.hasResource('AWS::SecretsManager::RotationSchedule', { DeletionPolicy: Match.absent() });
  });

  test('removalPolicy SNAPSHOT (the default) retains nothing the snapshot does not need', () => {
    const { template } = build(ctx);
    template.hasResource('AWS::SecretsManager::Secret', { DeletionPolicy: 'Delete' });
    template.hasResource('AWS::EC2::VPC', { DeletionPolicy: Match.absent() });
  });

  test('deletionProtection can be turned off explicitly', () => {
    const { template } = build(ctx, { deletionProtection: false });
    template.hasResource('AWS::RDS::DBCluster', {
      DeletionPolicy: 'Snapshot',
      Properties: Match.objectLike({ DeletionProtection: false }),
    });
  });
});

describe('encryption', () => {
  test('creates a rotating customer managed key that CloudWatch Logs of this account and Region may use', () => {
    const { db, template } = build(ctx);
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
    expect(ctx.stack.resolve(db.encryptionKey.keyArn)).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^DbKey/), 'Arn'] });
    template.hasResourceProperties('AWS::SecretsManager::Secret', { KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DbKey'), 'Arn'] } });
  });

  test('only AWS services may create grants on the created key', () => {
    const { template } = build(ctx);
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([Match.objectLike({
          Sid: 'DenyCreateGrantExceptForAwsServices',
          Effect: 'Deny',
          Action: 'kms:CreateGrant',
          Condition: { BoolIfExists: { 'kms:GrantIsForAWSResource': 'false', 'aws:PrincipalIsAWSService': 'false' } },
        })]),
      },
    });
  });

  test('uses a given key, creates none, and lets CloudWatch Logs use it for the log groups', () => {
    const key = new kms.Key(ctx.stack, 'Mine');
    const { db, template } = build(ctx, { encryptionKey: key });
    expect(db.encryptionKey).toBe(key);
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResourceProperties('AWS::RDS::DBCluster', { KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Mine'), 'Arn'] } });
    template.allResourcesProperties('AWS::Logs::LogGroup', { KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Mine'), 'Arn'] } });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([Match.objectLike({
          Principal: { Service: { 'Fn::Join': ['', ['logs.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
          Action: ['kms:Decrypt', 'kms:Encrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*'],
          Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': Match.anyValue() } },
        })]),
      },
    });
    Annotations.fromStack(ctx.stack).hasNoWarning('*', Match.anyValue());
  });

  test('an imported key draws a warning that names the statement its key policy needs', () => {
    const key = kms.Key.fromKeyArn(ctx.stack, 'Imported', ctx.stack.formatArn({ service: 'kms', resource: 'key', resourceName: '11111111-2222-3333-4444-555555555555' }));
    build(ctx, { encryptionKey: key });
    Annotations.fromStack(ctx.stack).hasWarning('/TestStack/Db', Match.stringLikeRegexp(
      'encryptionKey TestStack/Imported is imported.*"Principal":\\{"Service":"logs.<region>.amazonaws.com"\\}.*kms:GenerateDataKey'));
  });
});

describe('rotation', () => {
  test('rotates the secret every 30 days with the single-user rotation function, in the VPC', () => {
    const { template } = build(ctx);
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      RotationRules: { ScheduleExpression: 'rate(30 days)' },
    });
    const app = resourceOf(template, 'AWS::Serverless::Application').props;
    expect(JSON.stringify(app.Location)).toContain('SARMapping');
    expect(template.toJSON().Mappings[app.Location.ApplicationId['Fn::FindInMap'][0]].aws.applicationId)
      .toMatch(/:applications\/SecretsManagerRDSMySQLRotationSingleUser$/);
    expect(app.Parameters).toEqual(expect.objectContaining({
      // aws-cdk-lib's defaults for a cluster's rotation, kept.
      excludeCharacters: ' %+~`#$&*()|[]{}:;<>?!\'/@"\\',
      vpcSecurityGroupIds: { 'Fn::GetAtt': [expect.stringMatching(/^DbRotationSecurityGroup/), 'GroupId'] },
      kmsKeyArn: { 'Fn::GetAtt': [expect.stringMatching(/^DbKey/), 'Arn'] },
    }));
  });

  test('secretRotationInterval sets the schedule', () => {
    const { template } = build(ctx, { secretRotationInterval: Duration.days(7) });
    template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', { RotationRules: { ScheduleExpression: 'rate(7 days)' } });
  });

  test('secretRotation: false rotates nothing', () => {
    const { template } = build(ctx, { secretRotation: false });
    template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 0);
    template.resourceCountIs('AWS::Serverless::Application', 0);
  });
});

validateRecordedTemplates(recorded, 14);
