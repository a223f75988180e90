/*
 * connectFunction(): an existing function of any runtime uses the database in
 * one call (network, rds-db:connect, environment; the PHP connector layer).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { aws_ec2 as ec2, aws_lambda as lambda, aws_rds as rds } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ServerlessLampDatabase } from '../src';
import { recordTemplates, useFreshStack, validateRecordedTemplates } from './support/harness';

const recorded = recordTemplates();
/** A Bref PHP function using the connector (test/fixtures/php-app/index.php). */
const PHP_APP = join(__dirname, 'fixtures', 'php-app');
const ctx = useFreshStack();

/** A function of `runtime` in `db`'s VPC and subnets (or as `vpc` says). */
function fnOf(db: ServerlessLampDatabase, id: string, runtime: lambda.Runtime, handler: string, vpc: ec2.IVpc | null = db.vpc) {
  return new lambda.Function(ctx.stack, id, {
    runtime,
    handler,
    // Custom runtimes (Bref's PHP) take no inline code.
    code: runtime.family === lambda.RuntimeFamily.OTHER ? lambda.Code.fromAsset(PHP_APP) : lambda.Code.fromInline('// app'),
    ...(vpc ? { vpc, vpcSubnets: vpc === db.vpc ? db.vpcSubnets : undefined } : {}),
  });
}

/** What a connected function got: its environment, its rds-db:connect resource, its rules to the proxy. */
function connected(template: Template, fnId: string) {
  const [logicalId, fn] = Object.entries(template.findResources('AWS::Lambda::Function')).find(([id]) => id.startsWith(fnId))!;
  const policy = Object.entries(template.findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith(`${fnId}ServiceRoleDefaultPolicy`))![1];
  const sg = fn.Properties.VpcConfig.SecurityGroupIds[0]['Fn::GetAtt'][0];
  const ingress = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress'))
    .filter((r) => r.Properties.SourceSecurityGroupId?.['Fn::GetAtt']?.[0] === sg)
    .map((r) => [r.Properties.GroupId['Fn::GetAtt'][0], r.Properties.FromPort]);
  return {
    logicalId,
    env: fn.Properties.Environment.Variables,
    layers: fn.Properties.Layers,
    statements: policy.Properties.PolicyDocument.Statement,
    ingress,
  };
}

describe.each([
  ['Node.js', lambda.Runtime.NODEJS_24_X, 'index.handler'],
  ['Python', lambda.Runtime.PYTHON_3_13, 'app.handler'],
  ['PHP on Bref (provided.al2023)', lambda.Runtime.PROVIDED_AL2023, 'index.php'],
])('%s', (_family, runtime, handler) => {
  test('gets the proxy on 3306, rds-db:connect as the application user, and where to connect', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db');
    const fn = fnOf(db, 'App', runtime, handler);
    const grant = db.connectFunction(fn);
    expect(grant.success).toBe(true);
    const c = connected(Template.fromStack(ctx.stack), 'App');
    expect(c.env).toEqual({
      DB_HOST: { 'Fn::GetAtt': [expect.stringMatching(/^DbProxy[0-9A-F]{8}$/), 'Endpoint'] },
      DB_PORT: '3306',
      DB_USER: 'lamp_app',
      DB_NAME: 'lamp',
    });
    expect(c.ingress).toEqual([[expect.stringMatching(/^DbProxySecurityGroup/), 3306]]);
    expect(c.statements).toEqual([expect.objectContaining({ Action: 'rds-db:connect' })]);
    expect(JSON.stringify(c.statements)).toMatch(/"DbProxy[0-9A-F]{8}","DBProxyArn".*"\/lamp_app"/);
    expect(c.layers).toBeUndefined();
  });
});

test('a PHP function can get the connector as a layer: /opt/serverless-lamp/Database.php', () => {
  const db = new ServerlessLampDatabase(ctx.stack, 'Db');
  const bref = lambda.LayerVersion.fromLayerVersionArn(ctx.stack, 'Bref', 'arn:aws:lambda:us-east-1:534081306603:layer:arm-php-83:40');
  const fn = new lambda.Function(ctx.stack, 'Php', {
    runtime: lambda.Runtime.PROVIDED_AL2023,
    architecture: lambda.Architecture.ARM_64,
    handler: 'index.php',
    code: lambda.Code.fromAsset(PHP_APP),
    layers: [bref],
    vpc: db.vpc,
    vpcSubnets: db.vpcSubnets,
  });
  db.connectFunction(fn, { phpConnector: true });
  const second = fnOf(db, 'Php2', lambda.Runtime.PROVIDED_AL2023, 'index.php');
  db.connectFunction(second, { phpConnector: true });
  const template = Template.fromStack(ctx.stack);
  const layers = template.findResources('AWS::Lambda::LayerVersion');
  expect(Object.keys(layers)).toEqual([expect.stringMatching(/^DbPhpConnector/)]); // one per database
  expect(Object.values(layers)[0].Properties.CompatibleArchitectures).toEqual(['arm64', 'x86_64']);
  expect(connected(template, 'Php').layers).toEqual(['arn:aws:lambda:us-east-1:534081306603:layer:arm-php-83:40', { Ref: Object.keys(layers)[0] }]);
  // What the layer holds: the connector's directory as the package ships it,
  // with the file PHP functions require at its path (the layer's content is
  // the asset CloudFormation unpacks under /opt) and the classes it loads.
  const assetHash = String(Object.values(layers)[0].Properties.Content.S3Key).replace(/\.zip$/, '');
  const staged = join(ctx.app.synth().directory, `asset.${assetHash}`);
  const shipped = readdirSync(join(__dirname, '..', 'php'), { recursive: true }).map(String).sort();
  expect(readdirSync(staged, { recursive: true }).map(String).sort()).toEqual(shipped);
  expect(shipped).toEqual(expect.arrayContaining([join('serverless-lamp', 'Database.php'), join('serverless-lamp', 'src', 'Database.php')]));
  expect(readFileSync(join(staged, 'serverless-lamp', 'Database.php'), 'utf8')).toMatch(/spl_autoload_register/);
  expect(readFileSync(join(staged, 'serverless-lamp', 'src', 'Database.php'), 'utf8')).toMatch(/^namespace ServerlessLamp;$/m);
});

test('another user, another proxy, the read-only endpoint', () => {
  const db = new ServerlessLampDatabase(ctx.stack, 'Db', { readers: [rds.ClusterInstance.serverlessV2('Reader', { scaleWithWriter: true })] });
  db.addUser('reporting');
  const reporting = db.addProxy('Reporting');
  reporting.connectFunction(fnOf(db, 'Reports', lambda.Runtime.NODEJS_24_X, 'index.handler'), { databaseUser: 'reporting' });
  db.connectFunction(fnOf(db, 'Reader', lambda.Runtime.PYTHON_3_13, 'app.handler'), { readOnly: true });
  const template = Template.fromStack(ctx.stack);
  const reports = connected(template, 'Reports');
  expect(reports.env).toMatchObject({ DB_HOST: { 'Fn::GetAtt': [expect.stringMatching(/^DbReportingProxy/), 'Endpoint'] }, DB_USER: 'reporting' });
  expect(reports.ingress).toEqual([[expect.stringMatching(/^DbReportingSecurityGroup/), 3306]]);
  expect(JSON.stringify(reports.statements)).toMatch(/"DbReportingProxy[0-9A-F]{8}","DBProxyArn".*"\/reporting"/);
  const reader = connected(template, 'Reader');
  expect(reader.env.DB_HOST).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/ReadOnly/), 'Endpoint'] });
});

describe('refused', () => {
  test('a function outside any VPC', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db');
    expect(() => db.connectFunction(fnOf(db, 'Outside', lambda.Runtime.NODEJS_24_X, 'index.handler', null))).toThrow(
      /^connectFunction: function TestStack\/Outside is not in a VPC; the proxy is reachable only from inside TestStack\/Db's VPC/);
  });

  test('a function in another VPC', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db');
    const other = new ec2.Vpc(ctx.stack, 'Other', { natGateways: 0, subnetConfiguration: [{ name: 'I', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    expect(() => db.connectFunction(fnOf(db, 'Elsewhere', lambda.Runtime.PYTHON_3_13, 'app.handler', other))).toThrow(
      /^connectFunction: function TestStack\/Elsewhere is in subnets outside TestStack\/Db's VPC/);
  });

  test('readOnly without a read-only endpoint; the master user', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db');
    expect(() => db.connectFunction(fnOf(db, 'A', lambda.Runtime.NODEJS_24_X, 'index.handler'), { readOnly: true }))
      .toThrow(/^connectFunction: readOnly \(true\) needs the read-only endpoint of TestStack\/Db's own proxy, which exists only when the cluster has readers$/);
    expect(() => db.connectFunction(fnOf(db, 'B', lambda.Runtime.NODEJS_24_X, 'index.handler'), { databaseUser: 'lampadmin' }))
      .toThrow(/is the master user/);
  });
});

validateRecordedTemplates(recorded, 5);
