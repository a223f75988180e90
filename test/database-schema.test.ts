/*
 * The schema as code, as synthesized: the migrations directory checked at
 * synth, shipped as an S3 asset the users provider alone may read (its role,
 * and the S3 gateway endpoint's policy on exactly that object), a migration
 * user declared like the application users, and the schema resource that
 * waits for it.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, aws_iam as iam } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { DatabaseAuthentication, DatabaseSchema, ServerlessLampDatabase } from '../src';
import { recordTemplates, useFreshStack, validateRecordedTemplates } from './support/harness';
import { NetworkModel } from './support/reachability';

const SHOP = join(__dirname, 'fixtures', 'migrations', 'shop');
const SCHEMA_TYPE = 'Custom::ServerlessLampDatabaseSchema';

const recorded = recordTemplates();
const ctx = useFreshStack();

function directoryWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'schema-'));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
  return dir;
}

function schemaResource(template: Template): { id: string; resource: any } {
  const found = Object.entries(template.findResources(SCHEMA_TYPE));
  expect(found).toHaveLength(1);
  return { id: found[0][0], resource: found[0][1] };
}

function usersRolePolicy(template: Template): any[] {
  const [, policy] = Object.entries(template.findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith('DbUsersRoleDefaultPolicy'))!;
  return policy.Properties.PolicyDocument.Statement;
}

/** The template of a one-stack app whose database has `schema` (a fresh app each time). */
function synthWith(directory: string): any {
  const app = new App();
  const stack = new Stack(app, 'Shop');
  new ServerlessLampDatabase(stack, 'Db', { schema: DatabaseSchema.fromDirectory(directory) });
  return Template.fromStack(stack).toJSON();
}

describe('DatabaseSchema.fromDirectory checks the directory at synth', () => {
  test('a missing directory', () => {
    expect(() => DatabaseSchema.fromDirectory(join(tmpdir(), 'no-such-migrations-dir'))).toThrow(
      /DatabaseSchema\.fromDirectory\('.*no-such-migrations-dir'\): cannot read the migrations directory/);
  });
  test('a directory without migrations', () => {
    expect(() => DatabaseSchema.fromDirectory(directoryWith({ 'README.md': '# notes' }))).toThrow(
      /the directory holds no migration file \(V<version>__<description>\.sql\)/);
  });
  test('a malformed name', () => {
    expect(() => DatabaseSchema.fromDirectory(directoryWith({ 'V1_create.sql': 'SELECT 1;' }))).toThrow(
      /V1_create\.sql: not a migration file name\. Expected V<version>__<description>\.sql/);
  });
  test('two files of one version', () => {
    expect(() => DatabaseSchema.fromDirectory(directoryWith({ 'V1__a.sql': 'SELECT 1;', 'V1.0__b.sql': 'SELECT 2;' }))).toThrow(
      /V1.0__b\.sql and V1__a\.sql have the same version \(1\)|V1__a\.sql and V1.0__b\.sql have the same version/);
  });
  test('a migration user name that cannot be one', () => {
    expect(() => DatabaseSchema.fromDirectory(SHOP, { migrationUser: 'rdsadmin' })).toThrow(/migrationUser \('rdsadmin'\) is reserved/);
  });
  test('defaults: in order only, the user lamp_migrator; the directory made absolute', () => {
    const schema = DatabaseSchema.fromDirectory(SHOP);
    expect(schema).toMatchObject({ outOfOrder: false, migrationUser: 'lamp_migrator', directory: SHOP, migrationCount: 3 });
  });
  test('the migration user must not be the application user', () => {
    expect(() => new ServerlessLampDatabase(ctx.stack, 'Db', { applicationUser: 'app', schema: DatabaseSchema.fromDirectory(SHOP, { migrationUser: 'app' }) }))
      .toThrow(/schema: migrationUser \('app'\) is the application user's name/);
  });
});

describe('the schema resource', () => {
  test('without schema: no asset, no migration user, no schema resource', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db');
    const template = Template.fromStack(ctx.stack);
    template.resourceCountIs(SCHEMA_TYPE, 0);
    expect(db.migrationUser).toBeUndefined();
    expect(db.schemaResource).toBeUndefined();
    expect(Object.keys(template.toJSON().Parameters ?? {}).filter((p) => /Asset/.test(p))).toEqual([]);
  });

  test('end-to-end IAM: the asset, the migration user with DDL and data privileges, IAM for that user only, after the user', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db', { schema: DatabaseSchema.fromDirectory(SHOP) });
    expect(db.migrationUser?.userName).toBe('lamp_migrator');
    const template = Template.fromStack(ctx.stack);
    const { id, resource } = schemaResource(template);
    expect(resource.Properties).toEqual({
      ServiceToken: { 'Fn::GetAtt': [expect.stringMatching(/^DbUsersFunction/), 'Arn'] },
      ServiceTimeout: '600',
      Bucket: { 'Fn::Sub': expect.stringContaining('cdk-hnb659fds-assets-') },
      Key: expect.stringMatching(/^[0-9a-f]{64}\.zip$/),
      Host: { 'Fn::GetAtt': [expect.stringMatching(/^DbCluster/), 'Endpoint.Address'] },
      Port: '3306',
      Database: 'lamp',
      UserName: 'lamp_migrator',
      Authentication: 'IAM',
      OutOfOrder: 'false',
    });
    // The migration user, declared like the application users: DDL and data on the database only.
    template.hasResourceProperties('Custom::ServerlessLampDatabaseUser', {
      UserName: 'lamp_migrator',
      Grants: JSON.stringify([{
        Privileges: [
          'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'LOCK TABLES', 'CREATE', 'ALTER', 'DROP', 'INDEX', 'REFERENCES', 'CREATE VIEW',
          'SHOW VIEW', 'TRIGGER', 'CREATE ROUTINE', 'ALTER ROUTINE', 'EXECUTE',
        ],
      }]),
    });
    const migratorId = Object.entries(template.findResources('Custom::ServerlessLampDatabaseUser'))
      .find(([, r]) => r.Properties.UserName === 'lamp_migrator')![0];
    expect(resource.DependsOn).toEqual(expect.arrayContaining([migratorId, expect.stringMatching(/^DbUsersRoleDefaultPolicy/)]));
    // The handler runs after the schema is in place.
    const [, handler] = Object.entries(template.findResources('AWS::Lambda::Function')).find(([h]) => h.startsWith('DbHandler'))!;
    expect(handler.DependsOn).toContain(id);

    const statements = usersRolePolicy(template);
    // rds-db:connect to the cluster as the migration user only.
    const connect = statements.filter((s) => s.Action === 'rds-db:connect');
    expect(connect).toHaveLength(1);
    expect(JSON.stringify(connect[0].Resource)).toMatch(/:dbuser:",\{"Fn::GetAtt":\["DbCluster[0-9A-F]+","DBClusterResourceId"\]\},"\/lamp_migrator"\]/);
    // s3:GetObject on the asset object, nothing else of the bucket.
    const key = resource.Properties.Key;
    const s3 = statements.filter((s) => JSON.stringify(s.Action).includes('s3:'));
    expect(s3).toEqual([{
      Effect: 'Allow',
      Action: 's3:GetObject',
      Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::', { 'Fn::Sub': expect.stringContaining('cdk-hnb659fds-assets-') }, `/${key}`]] },
    }]);
  });

  test('the S3 gateway endpoint also lets through s3:GetObject on exactly the asset object', () => {
    new ServerlessLampDatabase(ctx.stack, 'Db', { schema: DatabaseSchema.fromDirectory(SHOP) });
    const template = Template.fromStack(ctx.stack);
    const key = schemaResource(template).resource.Properties.Key;
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      VpcEndpointType: 'Gateway',
      PolicyDocument: {
        Statement: [
          Match.objectLike({ Sid: 'CloudFormationCustomResourceResponses', Action: 's3:PutObject' }),
          {
            Sid: 'SchemaMigrationFiles',
            Effect: 'Allow',
            Principal: { AWS: '*' },
            Action: 's3:GetObject',
            Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::', { 'Fn::Sub': Match.stringLikeRegexp('cdk-hnb659fds-assets-') }, `/${key}`]] },
          },
        ],
      },
    });
  });

  test('the reachability model: the users provider can fetch the asset object and answer CloudFormation', () => {
    new ServerlessLampDatabase(ctx.stack, 'Db', { schema: DatabaseSchema.fromDirectory(SHOP) });
    const template = Template.fromStack(ctx.stack).toJSON();
    const model = new NetworkModel(template);
    const props = template.Resources[schemaResource(Template.fromStack(ctx.stack)).id].Properties;
    const provider = model.workload('DbUsersFunction');
    expect(model.s3(provider)).toEqual({ reachable: true, via: expect.stringMatching(/^gateway endpoint /) });
    expect(model.s3Object(provider, props.Bucket, props.Key)).toEqual({ reachable: true, via: expect.stringMatching(/^gateway endpoint /) });
    // Another object of the same bucket is not let through.
    expect(model.s3Object(provider, props.Bucket, 'other.zip').reachable).toBe(false);
  });

  test('secrets: the provider reads the migration user\'s secret; no rds-db:connect', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db', {
      authentication: DatabaseAuthentication.SECRETS,
      schema: DatabaseSchema.fromDirectory(SHOP, { outOfOrder: true, migrationUser: 'shop_migrator' }),
    });
    expect(db.migrationUser?.secret).toBeDefined();
    const template = Template.fromStack(ctx.stack);
    const { resource } = schemaResource(template);
    expect(resource.Properties).toMatchObject({
      UserName: 'shop_migrator',
      Authentication: 'PASSWORD',
      PasswordSecretArn: { Ref: expect.stringMatching(/^DbUsershopmigratorSecretAttachment/) },
      OutOfOrder: 'true',
    });
    expect(usersRolePolicy(template).filter((s) => s.Action === 'rds-db:connect')).toEqual([]);
  });

  test('no proxy connects as the migration user, and granting it through a proxy is refused', () => {
    const iamDb = new ServerlessLampDatabase(ctx.stack, 'Db', { schema: DatabaseSchema.fromDirectory(SHOP) });
    const template = Template.fromStack(ctx.stack);
    const [, proxyPolicy] = Object.entries(template.findResources('AWS::IAM::Policy')).find(([id]) => id.startsWith('DbProxyRoleDefaultPolicy'))!;
    const proxyUsers = proxyPolicy.Properties.PolicyDocument.Statement
      .filter((st: any) => st.Action === 'rds-db:connect')
      .map((st: any) => st.Resource['Fn::Join'][1].at(-1));
    expect(proxyUsers).toEqual(['/lamp_app']);
    expect(() => iamDb.grantConnect(new iam.Role(ctx.stack, 'Someone', { assumedBy: new iam.AccountRootPrincipal() }), 'lamp_migrator'))
      .toThrow(/dbUser \('lamp_migrator'\) is declared with proxyAccess \(false\)/);

    const app = new App();
    const stack = new Stack(app, 'Secrets');
    new ServerlessLampDatabase(stack, 'Db', { authentication: DatabaseAuthentication.SECRETS, schema: DatabaseSchema.fromDirectory(SHOP) });
    const proxy = Object.values(Template.fromStack(stack).findResources('AWS::RDS::DBProxy'))[0].Properties;
    expect(proxy.Auth).toEqual([expect.objectContaining({ SecretArn: { Ref: expect.stringMatching(/^DbUserlampappSecretAttachment/) } })]);
  });

  test('the key changes when a file changes, and only then', () => {
    const dir = directoryWith({ 'V1__one.sql': 'CREATE TABLE one (id INT);\n' });
    const keyOf = (t: any) => Object.values<any>(t.Resources).find((r) => r.Type === SCHEMA_TYPE).Properties.Key;
    const first = keyOf(synthWith(dir));
    expect(keyOf(synthWith(dir))).toBe(first);
    writeFileSync(join(dir, 'V2__two.sql'), 'CREATE TABLE two (id INT);\n');
    const second = keyOf(synthWith(dir));
    expect(second).not.toBe(first);
    writeFileSync(join(dir, 'V2__two.sql'), 'CREATE TABLE two (id BIGINT);\n');
    expect(keyOf(synthWith(dir))).not.toBe(second);
  });
});

validateRecordedTemplates(recorded, 5);
