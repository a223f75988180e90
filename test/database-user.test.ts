/*
 * Application database users as code, and how they authenticate: end-to-end
 * IAM by default, secrets as an option; the master user never by accident.
 */
import { aws_iam as iam, aws_lambda as lambda } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { DatabaseAuthentication, DatabasePrivilege, DatabaseUser, ServerlessLampDatabase } from '../src';
import { recordTemplates, useFreshStack, validateRecordedTemplates } from './support/harness';

const recorded = recordTemplates();
const ctx = useFreshStack();

/** The custom resources of the users, by user name. */
function usersOf(template: Template): Record<string, any> {
  return Object.fromEntries(Object.values(template.findResources('Custom::ServerlessLampDatabaseUser'))
    .map((r) => [r.Properties.UserName, r.Properties]));
}

/** The users the proxies' role may rds-db:connect to the cluster as. */
function proxyRoleUsers(template: Template): string[] {
  const policy = Object.entries(template.findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith('DbProxyRoleDefaultPolicy'))![1];
  return policy.Properties.PolicyDocument.Statement
    .filter((s: any) => s.Action === 'rds-db:connect')
    .flatMap((s: any) => [s.Resource].flat())
    .map((r: any) => r['Fn::Join'][1].at(-1).slice(1))
    .sort();
}

describe('declared users', () => {
  test('the application user: the handler\'s, with SELECT, INSERT, UPDATE, DELETE on the database, no password', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db');
    db.addUser('reporting');
    expect(db.applicationUser).toBeInstanceOf(DatabaseUser);
    expect(db.applicationUser.secret).toBeUndefined();
    const template = Template.fromStack(ctx.stack);
    // End-to-end IAM: the master's is the only secret; no application user has one.
    expect(Object.keys(template.findResources('AWS::SecretsManager::Secret'))).toEqual([expect.stringMatching(/^TestStackDbClusterSecret/)]);
    const { reporting, ...users } = usersOf(template);
    expect(reporting.PasswordSecretArn).toBeUndefined();
    expect(users).toEqual({
      lamp_app: {
        ServiceToken: { 'Fn::GetAtt': [expect.stringMatching(/^DbUsersFunction/), 'Arn'] },
        SecretArn: { Ref: expect.stringMatching(/^DbClusterSecretAttachment/) },
        // The cluster writer, not the proxy: the proxy admits only IAM.
        Host: { 'Fn::GetAtt': [expect.stringMatching(/^DbCluster[0-9A-F]{8}$/), 'Endpoint.Address'] },
        Port: '3306',
        UserName: 'lamp_app',
        Database: 'lamp',
        Grants: JSON.stringify([{ Privileges: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] }]),
        Authentication: 'IAM',
        ServiceTimeout: '600',
      },
    });
  });

  test('addUser declares a user with database and table privileges, and the proxy may connect as it', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db', { applicationUser: 'shop_app' });
    const reporting = db.addUser('reporting', {
      privileges: DatabasePrivilege.readData(),
      tableGrants: [{ table: 'orders', privileges: [DatabasePrivilege.UPDATE, DatabasePrivilege.of('show view')] }],
    });
    expect(reporting.userName).toBe('reporting');
    const template = Template.fromStack(ctx.stack);
    expect(JSON.parse(usersOf(template).reporting.Grants)).toEqual([
      { Privileges: ['SELECT'] },
      { Privileges: ['UPDATE', 'SHOW VIEW'], Table: 'orders' },
    ]);
    expect(proxyRoleUsers(template)).toEqual(['reporting', 'shop_app']);
    // Each user waits for the writer and for the provider's network.
    const resource = Object.entries(template.findResources('Custom::ServerlessLampDatabaseUser')).find(([, r]) => r.Properties.UserName === 'reporting')![1];
    // (CloudFormation waits for the writer, for every rule the provider needs, and for its route to S3.)
    expect(resource.DependsOn).toEqual(expect.arrayContaining([
      expect.stringMatching(/^DbClusterWriter/),
      expect.stringMatching(/^DbUsersSecurityGroup/),
      expect.stringMatching(/^DbClusterSecurityGroupfrom.*UsersSecurityGroup/),
      expect.stringMatching(/^DbSecretsManagerEndpointSecurityGroupfrom.*UsersSecurityGroup/),
      expect.stringMatching(/^DbS3Endpoint/),
    ]));
  });

  test('one provider function serves every user', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db');
    db.addUser('a');
    db.addUser('b');
    const template = Template.fromStack(ctx.stack);
    expect(Object.keys(usersOf(template)).sort()).toEqual(['a', 'b', 'lamp_app']);
    expect(Object.keys(template.findResources('AWS::Lambda::Function')).filter((id) => id.startsWith('DbUsersFunction'))).toHaveLength(1);
  });

  test('the provider function runs in the VPC, reads only the master secret, and is not retried', () => {
    new ServerlessLampDatabase(ctx.stack, 'Db');
    const template = Template.fromStack(ctx.stack);
    const [id, fn] = Object.entries(template.findResources('AWS::Lambda::Function')).find(([fid]) => fid.startsWith('DbUsersFunction'))!;
    expect(fn.Properties).toMatchObject({ Timeout: 300, Runtime: 'nodejs24.x', VpcConfig: { SubnetIds: expect.any(Array) } });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', { FunctionName: { Ref: id }, MaximumRetryAttempts: 0 });
    const policy = Object.entries(template.findResources('AWS::IAM::Policy')).find(([pid]) => pid.startsWith('DbUsersRoleDefaultPolicy'))![1];
    const secretStatements = policy.Properties.PolicyDocument.Statement.filter((s: any) => JSON.stringify(s.Action).includes('secretsmanager'));
    expect(secretStatements).toEqual([expect.objectContaining({ Resource: { Ref: expect.stringMatching(/^DbClusterSecretAttachment/) } })]);
    // No function outside the VPC: CloudFormation calls this one, which answers it itself.
    for (const f of Object.values(template.findResources('AWS::Lambda::Function'))) expect(f.Properties.VpcConfig).toBeDefined();
  });

  test.each([
    ['a quote', "x'y", /^userName \('x'y'\) must be 1 to 32 letters, digits or underscores, starting with a letter$/],
    ['a backtick', 'x`y', /^userName \('x`y'\) must be/],
    ['a wildcard', 'x%', /^userName \('x%'\) must be/],
    ['a space', 'x y', /^userName \('x y'\) must be/],
    ['33 characters', 'u'.repeat(33), /^userName \('u{33}'\) must be/],
    ['root', 'root', /^userName \('root'\) is reserved by MySQL or Amazon RDS/],
    ['an RDS name', 'rdsproxyadmin', /^userName \('rdsproxyadmin'\) is reserved/],
    ['the master user', 'lampadmin', /^userName \('lampadmin'\) is the master user's name/],
  ])('rejects a user name with %s', (_name, userName, message) => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db');
    expect(() => db.addUser(userName)).toThrow(message);
  });

  test('rejects table names and privileges the provider would refuse, and a user declared twice', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db');
    expect(() => db.addUser('a', { tableGrants: [{ table: 'orders`; DROP', privileges: [DatabasePrivilege.SELECT] }] }))
      .toThrow(/^privileges or tableGrants of user 'a': Grants\[1\]\.Table \("orders`; DROP"\) must be 1 to 64 letters, digits or underscores$/);
    expect(() => db.addUser('b', { tableGrants: [{ table: 'orders', privileges: [DatabasePrivilege.CREATE] }] }))
      .toThrow(/^privileges or tableGrants of user 'b': Grants\[1\]\.Privileges: "CREATE" is not allowed on a table/);
    expect(() => db.addUser('c', { privileges: [], tableGrants: [{ table: 'orders', privileges: [] }] }))
      .toThrow(/^privileges or tableGrants of user 'c': Grants\[0\]\.Privileges must be a non-empty list/);
    expect(() => DatabasePrivilege.of('GRANT OPTION')).toThrow(/^DatabasePrivilege\.of\('GRANT OPTION'\): must be one of SELECT, .*; global privileges and GRANT OPTION are never granted$/);
    expect(() => DatabasePrivilege.of('SUPER')).toThrow(/must be one of/);
    db.addUser('d');
    expect(() => db.addUser('d')).toThrow(/^userName \('d'\) is declared twice in TestStack\/Db$/);
  });
});

describe('grantConnect', () => {
  test('the master user is refused by default', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db');
    const fn = new iam.Role(ctx.stack, 'Fn', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    expect(() => db.grantConnect(fn, 'lampadmin')).toThrow(
      /^grantConnect: dbUser \('lampadmin'\) is the master user, which no proxy admits by default/);
    expect(() => db.addProxy('Other').grantConnect(fn, 'LampAdmin')).toThrow(/is the master user/);
  });

  test('with end-to-end IAM, a user created by hand is added to those the proxy may connect as', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db');
    const fn = new iam.Role(ctx.stack, 'Fn', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    db.addProxy('Reporting').grantConnect(fn, 'made_by_hand');
    expect(proxyRoleUsers(Template.fromStack(ctx.stack))).toEqual(['lamp_app', 'made_by_hand']);
  });

  test('a user\'s own grantConnect names it through the database\'s proxy', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db');
    const fn = new iam.Role(ctx.stack, 'Fn', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    db.addUser('orders').grantConnect(fn);
    const policy = Object.entries(Template.fromStack(ctx.stack).findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith('FnDefaultPolicy'))![1];
    expect(JSON.stringify(policy)).toMatch(/"DbProxy[0-9A-F]{8}","DBProxyArn".*\/orders"/);
  });
});

describe('with secrets', () => {
  test('each user gets a generated, rotated secret, registered with every proxy, also those added later', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db', { authentication: DatabaseAuthentication.SECRETS });
    const other = db.addProxy('Reporting');
    const shop = db.addUser('shop');
    expect(shop.secret).toBeDefined();
    const template = Template.fromStack(ctx.stack);
    const users = usersOf(template);
    expect(users.shop).toMatchObject({ Authentication: 'PASSWORD', PasswordSecretArn: { Ref: expect.stringMatching(/^DbUsershopSecretAttachment/) } });
    for (const proxy of Object.values(template.findResources('AWS::RDS::DBProxy'))) {
      expect(proxy.Properties.DefaultAuthScheme).toBeUndefined();
      expect(proxy.Properties.Auth.map((a: any) => [a.AuthScheme, a.IAMAuth, a.SecretArn.Ref.replace(/[0-9A-F]{8}$/, '')])).toEqual([
        ['SECRETS', 'REQUIRED', 'DbUserlampappSecretAttachment'],
        ['SECRETS', 'REQUIRED', 'DbUsershopSecretAttachment'],
      ]);
    }
    // Rotated like the master's, by the single-user rotation function.
    expect(Object.keys(template.findResources('AWS::SecretsManager::RotationSchedule')).sort()).toEqual([
      expect.stringMatching(/^DbClusterSecretAttachmentRotationSchedule/),
      expect.stringMatching(/^DbUserlampappSecretAttachmentRotationSchedule/),
      expect.stringMatching(/^DbUsershopSecretAttachmentRotationSchedule/),
    ]);
    expect(Object.keys(template.findResources('AWS::RDS::DBProxy')).sort()).toEqual([expect.stringMatching(/^DbProxy/), expect.stringMatching(/^DbReportingProxy/)]);
    expect(other.proxyEndpoint).toBe(other.proxy.endpoint);
  });

  test('a user nobody declared cannot be granted; the master user only with masterUserThroughProxy, which warns', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db', { authentication: DatabaseAuthentication.SECRETS });
    const fn = new iam.Role(ctx.stack, 'Fn', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    expect(() => db.grantConnect(fn, 'made_by_hand')).toThrow(/^grantConnect: dbUser \('made_by_hand'\) has no secret registered with the proxies: declare it with addUser\('made_by_hand', \.\.\.\)$/);
    const admin = new ServerlessLampDatabase(ctx.stack, 'Admin', { authentication: DatabaseAuthentication.SECRETS, masterUserThroughProxy: true });
    admin.grantConnect(fn, 'lampadmin');
    const template = Template.fromStack(ctx.stack);
    const proxy = Object.entries(template.findResources('AWS::RDS::DBProxy')).find(([id]) => id.startsWith('AdminProxy'))![1];
    expect(proxy.Properties.Auth.map((a: any) => a.SecretArn.Ref)).toEqual([
      expect.stringMatching(/^AdminClusterSecretAttachment/), expect.stringMatching(/^AdminUserlampappSecretAttachment/),
    ]);
    Annotations.fromStack(ctx.stack).hasWarning('/TestStack/Admin', Match.stringLikeRegexp('masterUserThroughProxy is on'));
  });

  test('masterUserThroughProxy needs secrets', () => {
    expect(() => new ServerlessLampDatabase(ctx.stack, 'Db', { masterUserThroughProxy: true })).toThrow(
      /^masterUserThroughProxy \(true\) needs authentication DatabaseAuthentication\.SECRETS/);
  });

  test('the handler still connects as the application user, through IAM to the proxy', () => {
    new ServerlessLampDatabase(ctx.stack, 'Db', { authentication: DatabaseAuthentication.SECRETS });
    const template = Template.fromStack(ctx.stack);
    const handler = Object.entries(template.findResources('AWS::Lambda::Function')).find(([id]) => /^DbHandler[0-9A-F]{8}$/.test(id))![1];
    expect(handler.Properties.Environment.Variables.DB_USER).toBe('lamp_app');
    expect(JSON.stringify(handler.Properties.Environment)).not.toMatch(/secret|password/i);
    expect(lambda.Runtime.NODEJS_24_X.name).toBe(handler.Properties.Runtime);
  });
});

validateRecordedTemplates(recorded, 8);
