/*
 * connectFunction(): an existing function of any runtime uses the database in
 * one call (network, rds-db:connect, environment; the PHP connector layer).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { aws_ec2 as ec2, aws_lambda as lambda, aws_rds as rds } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ClientAdmission, ServerlessLampDatabase } from '../src';
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
  const groups: string[] = fn.Properties.VpcConfig.SecurityGroupIds.map((g: any) => g['Fn::GetAtt'][0]);
  const ingress = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress'))
    .filter((r) => groups.includes(r.Properties.SourceSecurityGroupId?.['Fn::GetAtt']?.[0]))
    .map((r) => [r.Properties.GroupId['Fn::GetAtt'][0], r.Properties.FromPort]);
  return {
    logicalId,
    env: fn.Properties.Environment.Variables,
    layers: fn.Properties.Layers,
    statements: policy.Properties.PolicyDocument.Statement,
    /** The function's security groups (logical ids). */
    groups,
    /** Rules that admit one of its groups: [the group admitting, port]. */
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
    // It keeps its own group and joins the proxy's client group, which the proxy admits.
    expect(c.groups).toEqual([expect.stringMatching(/^AppSecurityGroup/), expect.stringMatching(/^DbClientSecurityGroup/)]);
    expect(c.ingress).toEqual([[expect.stringMatching(/^DbProxySecurityGroup/), 3306]]);
    expect(c.statements).toEqual([expect.objectContaining({ Action: 'rds-db:connect' })]);
    expect(JSON.stringify(c.statements)).toMatch(/"DbProxy[0-9A-F]{8}","DBProxyArn".*"\/lamp_app"/);
    expect(c.layers).toBeUndefined();
  });
});

describe('admission', () => {
  const ingressOf = (template: Template, group: RegExp) => Object.values(template.findResources('AWS::EC2::SecurityGroupIngress'))
    .filter((r) => group.test(r.Properties.GroupId['Fn::GetAtt'][0]));

  test('by default, functions share one client security group: one rule on the proxy for all of them', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db');
    for (const id of ['A', 'B', 'C']) db.connectFunction(fnOf(db, id, lambda.Runtime.NODEJS_24_X, 'index.handler'));
    const template = Template.fromStack(ctx.stack);
    // The handler's rule and the client group's: not one per function.
    const rules = ingressOf(template, /^DbProxySecurityGroup/).map((r) => [r.Properties.SourceSecurityGroupId['Fn::GetAtt'][0], r.Properties.FromPort]);
    expect(rules).toEqual(expect.arrayContaining([[expect.stringMatching(/^DbClientSecurityGroup/), 3306]]));
    expect(rules).toHaveLength(2);
    // The client group sends to the proxy on 3306, and nothing else.
    const [client] = Object.entries(template.findResources('AWS::EC2::SecurityGroup')).find(([id]) => id.startsWith('DbClientSecurityGroup'))!;
    const egress = Object.values(template.findResources('AWS::EC2::SecurityGroupEgress')).filter((r) => r.Properties.GroupId['Fn::GetAtt'][0] === client);
    expect(egress.map((r) => [r.Properties.DestinationSecurityGroupId['Fn::GetAtt'][0], r.Properties.FromPort, r.Properties.ToPort]))
      .toEqual([[expect.stringMatching(/^DbProxySecurityGroup/), 3306, 3306]]);
    // No inline egress: with a standalone egress rule attached, the group has no default "all traffic" rule
    // (the reachability model reads it the same way).
    expect(template.findResources('AWS::EC2::SecurityGroup')[client].Properties.SecurityGroupEgress).toBeUndefined();
  });

  test('a function made with the client security group keeps just that one', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db');
    const fn = new lambda.Function(ctx.stack, 'Lean', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('// app'),
      vpc: db.vpc,
      vpcSubnets: db.vpcSubnets,
      securityGroups: [db.clientSecurityGroup],
    });
    db.connectFunction(fn);
    const c = connected(Template.fromStack(ctx.stack), 'Lean');
    expect(c.groups).toEqual([expect.stringMatching(/^DbClientSecurityGroup/)]);
    expect(c.ingress).toEqual([[expect.stringMatching(/^DbProxySecurityGroup/), 3306]]);
  });

  test('each added proxy has its own client security group', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db');
    db.addUser('reporting');
    const reporting = db.addProxy('Reporting');
    reporting.connectFunction(fnOf(db, 'Reports', lambda.Runtime.NODEJS_24_X, 'index.handler'), { databaseUser: 'reporting' });
    const c = connected(Template.fromStack(ctx.stack), 'Reports');
    expect(c.groups).toEqual([expect.stringMatching(/^ReportsSecurityGroup/), expect.stringMatching(/^DbReportingClientSecurityGroup/)]);
    expect(c.ingress).toEqual([[expect.stringMatching(/^DbReportingSecurityGroup/), 3306]]);
    expect(reporting.clientSecurityGroup).not.toBe(db.clientSecurityGroup);
  });

  test('FUNCTION_SECURITY_GROUPS: a rule per function on the proxy, and no client group', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db');
    const fn = fnOf(db, 'Own', lambda.Runtime.NODEJS_24_X, 'index.handler');
    db.connectFunction(fn, { admission: ClientAdmission.FUNCTION_SECURITY_GROUPS });
    const template = Template.fromStack(ctx.stack);
    const c = connected(template, 'Own');
    expect(c.groups).toEqual([expect.stringMatching(/^OwnSecurityGroup/)]);
    expect(c.ingress).toEqual([[expect.stringMatching(/^DbProxySecurityGroup/), 3306]]);
    expect(Object.keys(template.findResources('AWS::EC2::SecurityGroup')).filter((id) => id.startsWith('DbClientSecurityGroup'))).toEqual([]);
  });

  test('refused: a function that already has five security groups, naming the way out', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db');
    const groups = [0, 1, 2, 3, 4].map((i) => new ec2.SecurityGroup(ctx.stack, `Group${i}`, { vpc: db.vpc }));
    const fn = new lambda.Function(ctx.stack, 'Full', {
      runtime: lambda.Runtime.NODEJS_24_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('// app'),
      vpc: db.vpc,
      vpcSubnets: db.vpcSubnets,
      securityGroups: groups,
    });
    expect(() => db.connectFunction(fn)).toThrow(/function TestStack\/Full already has 5 security groups.*admission: ClientAdmission.FUNCTION_SECURITY_GROUPS/);
    expect(() => db.connectFunction(fn, { admission: ClientAdmission.FUNCTION_SECURITY_GROUPS })).not.toThrow();
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
