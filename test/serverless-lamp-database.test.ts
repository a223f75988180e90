/*
 * The construct as a whole: what it exposes, its outputs, and the rule-pack
 * acknowledgments that follow the options chosen.
 */
import { App, Duration, Stack, aws_ec2 as ec2, aws_lambda as lambda, aws_rds as rds, aws_sqs as sqs } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ProxyBase, ServerlessLampDatabase } from '../src';
import { build, recordTemplates, useFreshStack, validateRecordedTemplates } from './support/harness';

const recorded = recordTemplates();
const ctx = useFreshStack();

test('exposes typed members', () => {
  const { db } = build(ctx);
  expect(db).toBeInstanceOf(ProxyBase);
  expect(db.cluster).toBeInstanceOf(rds.DatabaseCluster);
  expect(db.proxy).toBeInstanceOf(rds.DatabaseProxy);
  expect(db.handler).toBeInstanceOf(lambda.Function);
  expect(db.vpc).toBeInstanceOf(ec2.Vpc);
  const resolve = (x: unknown) => ctx.stack.resolve(x);
  expect(resolve(db.secret.secretArn)).toEqual({ Ref: expect.stringMatching(/^DbClusterSecretAttachment/) });
  expect(db.proxyEndpoint).toBe(db.proxy.endpoint);
  expect(db.databaseName).toBe('lamp');
  expect(db.masterUsername).toBe('lampadmin');
  expect(db.vpcSubnets).toEqual({ subnetType: ec2.SubnetType.PRIVATE_ISOLATED });
});

test('outputs: proxy endpoint, secret ARN, handler name', () => {
  const { template } = build(ctx);
  const outputs = template.findOutputs('*');
  const byPrefix = (p: string) => Object.keys(outputs).filter((k) => k.startsWith(p));
  expect(Object.keys(outputs)).toHaveLength(3);
  expect(outputs[byPrefix('DbProxyEndpoint')[0]].Value).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^DbProxy/), 'Endpoint'] });
  expect(outputs[byPrefix('DbSecretArn')[0]].Value).toEqual({ Ref: expect.stringMatching(/SecretAttachment/) });
  expect(outputs[byPrefix('DbHandlerFunctionName')[0]].Value).toEqual({ Ref: expect.stringMatching(/^DbHandler/) });
});

test('rule-pack acknowledgments follow the options they depend on', () => {
  const rules = (t: Template, type: string) => Object.entries(t.findResources(type))
    .filter(([id]) => type !== 'AWS::Lambda::Function' || /^DbHandler[0-9A-F]{8}$/.test(id)) // the handler, not the users provider
    .flatMap(([, r]: [string, any]) => (r.Metadata?.cdk_nag?.rules_to_suppress ?? []).map((x: any) => x.id));
  const defaults = build(ctx).template;
  expect(rules(defaults, 'AWS::RDS::DBCluster')).toEqual(['AwsSolutions-RDS11', 'AwsSolutions-RDS14']);
  expect(rules(defaults, 'AWS::Lambda::Function')).toEqual([
    'HIPAA.Security-LambdaConcurrency', 'NIST.800.53.R5-LambdaConcurrency',
    'HIPAA.Security-LambdaDLQ', 'NIST.800.53.R5-LambdaDLQ', 'Serverless-LambdaDLQ',
  ]);
  expect(rules(defaults, 'AWS::SecretsManager::Secret')).toEqual([]);

  const other = new Stack(new App(), 'Other');
  new ServerlessLampDatabase(other, 'Db', {
    backtrackWindow: Duration.hours(1),
    handler: {
      reservedConcurrentExecutions: 5,
      deadLetterQueue: new sqs.Queue(other, 'Q'),
      tracing: lambda.Tracing.DISABLED,
    },
    secretRotation: false,
  });
  const t = Template.fromStack(other);
  expect(rules(t, 'AWS::RDS::DBCluster')).toEqual(['AwsSolutions-RDS11']);
  expect(rules(t, 'AWS::Lambda::Function')).toEqual(['Serverless-LambdaTracing']);
  expect(rules(t, 'AWS::SecretsManager::Secret')).toEqual([
    'AwsSolutions-SMG4', 'HIPAA.Security-SecretsManagerRotationEnabled', 'NIST.800.53.R5-SecretsManagerRotationEnabled',
  ]);
});

validateRecordedTemplates(recorded, 4);
