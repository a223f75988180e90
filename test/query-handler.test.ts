/*
 * The query handler as deployed: runtime, network, role, log group,
 * environment and options. (What it does at run time: handler.mariadb.test.ts.)
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration, aws_lambda as lambda, aws_logs as logs, aws_sqs as sqs } from 'aws-cdk-lib';
import { build, handlerOf, recordTemplates, roleAssumedBy, useFreshStack, validateRecordedTemplates } from './support/harness';

const recorded = recordTemplates();
const ctx = useFreshStack();

test('Node.js 24 on arm64, in the VPC, traced, with an environment that holds no secret', () => {
  const { template } = build(ctx);
  const fn = handlerOf(template).props;
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
  // The least-privilege application user, not the master user.
  expect(vars.DB_USER).toBe('lamp_app');
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

test('its log group is encrypted, kept a year and retained', () => {
  const { template } = build(ctx);
  const fn = handlerOf(template).props;
  const groupId = fn.LoggingConfig.LogGroup.Ref;
  expect(groupId).toMatch(/^DbHandlerLogs/);
  expect(template.findResources('AWS::Logs::LogGroup')[groupId]).toEqual(expect.objectContaining({
    DeletionPolicy: 'Retain',
    Properties: { RetentionInDays: 365, KmsKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^DbKey/), 'Arn'] } },
  }));
});

test('handler options: timeout, memory, concurrency, dead-letter queue, tracing; logRetention', () => {
  const queue = new sqs.Queue(ctx.stack, 'Dlq');
  const { template } = build(ctx, {
    handler: {
      timeout: Duration.seconds(30),
      memorySize: 512,
      reservedConcurrentExecutions: 20,
      deadLetterQueue: queue,
      tracing: lambda.Tracing.PASS_THROUGH,
    },
    logRetention: logs.RetentionDays.THREE_MONTHS,
  });
  expect(handlerOf(template).props).toMatchObject({
    Timeout: 30,
    MemorySize: 512,
    ReservedConcurrentExecutions: 20,
    DeadLetterConfig: { TargetArn: { 'Fn::GetAtt': [expect.stringMatching(/^Dlq/), 'Arn'] } },
    TracingConfig: { Mode: 'PassThrough' },
  });
  template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
});

test('its role: the VPC execution policy, X-Ray, and rds-db:connect on the proxy resource id for the application user', () => {
  const { template } = build(ctx);
  const roleId = roleAssumedBy(template, 'lambda.amazonaws.com', /^DbHandlerRole/);
  expect(JSON.stringify(template.findResources('AWS::IAM::Role')[roleId].Properties.ManagedPolicyArns))
    .toMatch(/^\[\{"Fn::Join":\["",\["arn:",\{"Ref":"AWS::Partition"\},":iam::aws:policy\/service-role\/AWSLambdaVPCAccessExecutionRole"\]\]\}\]$/);
  const policies = Object.values(template.findResources('AWS::IAM::Policy')).filter((p) =>
    JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: roleId }]));
  expect(policies).toHaveLength(1);
  expect(policies[0].Properties.PolicyDocument.Statement).toEqual([
    // X-Ray offers no resource-level permissions for these two actions.
    { Effect: 'Allow', Action: ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], Resource: '*' },
    {
      Effect: 'Allow',
      Action: 'rds-db:connect',
      // arn:<partition>:rds-db:<region>:<account>:dbuser:<prx-id>/<user>, where the
      // prx- id is the 7th field of the proxy ARN (arn:aws:rds:r:a:db-proxy:prx-...).
      Resource: {
        'Fn::Join': ['', [
          'arn:', { Ref: 'AWS::Partition' }, ':rds-db:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':dbuser:',
          { 'Fn::Select': [6, { 'Fn::Split': [':', { 'Fn::GetAtt': [expect.stringMatching(/^DbProxy[0-9A-F]{8}$/), 'DBProxyArn'] }] }] },
          '/lamp_app',
        ]],
      },
    },
  ]);
});

test('tracing off leaves no X-Ray statement', () => {
  const { template } = build(ctx, { handler: { tracing: lambda.Tracing.DISABLED } });
  const handlerPolicies = Object.entries(template.findResources('AWS::IAM::Policy')).filter(([id]) => id.startsWith('DbHandlerRole'));
  expect(handlerPolicies).toHaveLength(1);
  expect(JSON.stringify(handlerPolicies)).not.toContain('xray:');
});

validateRecordedTemplates(recorded, 5);
