/*
 * The schema as code, deployed: CloudFormation's requests for the schema
 * resource (and the users it waits for) are built from a synthesized stack
 * that declares a schema (support/cfn-lifecycle.ts), sent to the shipped
 * users provider bundle in a process of its own, and answered at a stand-in
 * for the presigned S3 URL. The migration files come from a stand-in for S3
 * (the directory zipped as the CDK publishes it), and run on the MariaDB
 * stand-in as the migration user, over TLS verified against the test CA.
 *
 * The main story uses DatabaseAuthentication.SECRETS: the provider logs in
 * as the migration user with the password of its secret. The default, end-to-end
 * IAM (the provider signs a token for the migration user), runs its first
 * deploy where the server has the AWSAuthenticationPlugin stand-in, which
 * verifies the token's signature.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template as Assertions } from 'aws-cdk-lib/assertions';
import { createConnection } from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { DatabaseAuthentication, DatabaseSchema, ServerlessLampDatabase } from '../src';
import { awsAuthPluginOrSkip, installAwsAuthPlugin } from './support/aws-auth-plugin';
import { ResponseBucket, SimulatedStack, type Answer, type Template } from './support/cfn-lifecycle';
import { FAKE_CREDENTIALS, FAKE_REGION, MariaDbServer, mariaDbOrSkip, SERVER_DNS_NAME } from './support/mariadb';
import { historyOf, SHOP_MIGRATIONS } from './support/migrations';
import { createMasterUser, FakeSecretsManager, invokeBundle, providerEnvironment } from './support/provider';
import { FakeS3, zipDirectory } from './support/s3-asset';

const BUNDLE = join(__dirname, '..', 'assets', 'provider', 'users.lambda', 'index.js');
const CLI = join(__dirname, '..', 'assets', 'cli', 'main', 'serverless-lamp-database.js');
const availability = mariaDbOrSkip('test/schema-lifecycle.mariadb.test.ts');
const describeWithMariaDb = availability.available ? describe : describe.skip;

const USER_TYPE = 'Custom::ServerlessLampDatabaseUser';
const SCHEMA_TYPE = 'Custom::ServerlessLampDatabaseSchema';
const RETENTION_TYPE = 'Custom::ServerlessLampDatabaseUsersRetention';
const MASTER_PASSWORD = `M'aster\\pw${process.pid}`;

jest.setTimeout(120_000);

const V4 = { 'V4__add_products.sql': 'CREATE TABLE products (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL);\n' };
/** Statement 2 of 3 names a table that does not exist. */
const V5_BROKEN = {
  'V5__add_reviews.sql': [
    'CREATE TABLE IF NOT EXISTS reviews (id INT PRIMARY KEY, product_id INT NOT NULL, stars INT NOT NULL);',
    'INSERT INTO no_such_table (id) VALUES (1);',
    'INSERT INTO reviews VALUES (1, 1, 5);',
    '',
  ].join('\n'),
};
const V5_FIXED = { 'V5__add_reviews.sql': V5_BROKEN['V5__add_reviews.sql'].replace('INSERT INTO no_such_table (id) VALUES (1);\n', "INSERT INTO products VALUES (1, 'lamp');\n") };

/** A migrations directory: the shop's V1..V3 and `extra` files. */
function directoryOf(extra: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'schema-deploy-'));
  cpSync(SHOP_MIGRATIONS, dir, { recursive: true });
  for (const [name, content] of Object.entries(extra)) writeFileSync(join(dir, name), content);
  return dir;
}

/** What the app synthesizes with the migrations of `directory`. */
function synthesize(directory: string, authentication = DatabaseAuthentication.SECRETS): Template {
  const app = new App();
  const stack = new Stack(app, 'Shop');
  new ServerlessLampDatabase(stack, 'Db', {
    authentication,
    removalPolicy: RemovalPolicy.SNAPSHOT,
    schema: DatabaseSchema.fromDirectory(directory),
  });
  return Assertions.fromStack(stack).toJSON() as Template;
}

function passwordOf(secretArn: string): string {
  return `pw-${secretArn.split(':').pop()}`;
}

describeWithMariaDb('the schema resource through CloudFormation\'s requests, built from a synthesized stack with a schema', () => {
  let server: MariaDbServer;
  let secrets: FakeSecretsManager;
  let bucket: ResponseBucket;
  let s3: FakeS3;
  let cfn: SimulatedStack;
  let schemaId: string;
  let physicalId: string;
  /** The physical ids of the users and the retention resource. */
  const physicalIds = new Map<string, string>();
  /** The template CloudFormation holds now (the last one deployed). */
  let deployed: Template;

  beforeAll(async () => {
    if (!existsSync(BUNDLE)) throw new Error(`provider bundle ${BUNDLE} not found: run 'npx projen bundle' first`);
    server = await MariaDbServer.start({ database: 'lamp', tables: [] });
    await createMasterUser(server, 'lampadmin', MASTER_PASSWORD);
    secrets = await FakeSecretsManager.start();
    bucket = await ResponseBucket.start(FAKE_REGION);
    s3 = await FakeS3.start();
  });

  afterAll(async () => {
    await s3?.stop();
    await bucket?.stop();
    await secrets?.stop();
    await server?.destroy();
  });

  /** Synthesizes `directory`, uploads its asset as the CDK would, and registers the template's secrets. */
  function prepare(directory: string): Template {
    const template = synthesize(directory);
    cfn ??= new SimulatedStack(template, {
      stackName: 'Shop',
      region: FAKE_REGION,
      account: '123456789012',
      attributes: { [Object.keys(template.Resources).find((id) => template.Resources[id].Type === 'AWS::RDS::DBCluster')!]: { 'Endpoint.Address': SERVER_DNS_NAME } },
    });
    for (const id of Object.keys(template.Resources).filter((r) => template.Resources[r].Type === USER_TYPE)) {
      const props = cfn.properties(id, template);
      secrets.put(props.SecretArn, { username: 'lampadmin', password: MASTER_PASSWORD, engine: 'mysql', port: 3306 });
      secrets.put(props.PasswordSecretArn, { username: props.UserName, password: passwordOf(props.PasswordSecretArn) });
    }
    schemaId = Object.keys(template.Resources).find((r) => template.Resources[r].Type === SCHEMA_TYPE)!;
    const props = cfn.properties(schemaId, template);
    s3.put(props.Bucket, props.Key, zipDirectory(directory));
    return template;
  }

  async function send(request: ReturnType<SimulatedStack['requestFor']>): Promise<Answer> {
    const invocation = await invokeBundle<unknown>(BUNDLE, request, {
      remainingMs: 60_000,
      killAfterMs: 60_000,
      env: { ...providerEnvironment(secrets, server.caFile), AWS_ENDPOINT_URL_S3: s3.endpoint },
      hosts: { [SERVER_DNS_NAME]: '127.0.0.1' },
      ports: { 3306: server.port },
    });
    const answers = bucket.answers.get(request.RequestId) ?? [];
    if (answers.length !== 1) throw new Error(`expected one answer, got ${answers.length}:\n${invocation.lines.join('\n')}`);
    expect(invocation.killed).toBeFalsy();
    return answers[0];
  }

  /** An Update of the schema resource from the deployed template to `template`; on success, `template` is deployed. */
  async function update(template: Template): Promise<Answer> {
    const answer = await send(cfn.requestFor('Update', schemaId, { bucket, physicalId, template, oldTemplate: deployed }));
    if (answer.Status === 'SUCCESS') deployed = template;
    return answer;
  }

  async function tables(): Promise<string[]> {
    const rows = await server.adminQuery<RowDataPacket[]>("SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'lamp' ORDER BY 1");
    return rows.map((r) => String(r.t));
  }

  const history = () => historyOf(server, 'lamp');
  const versions = async () => (await history()).map((r) => `${r.version}:${r.success}`);

  test('first deploy: the users, then the schema, which applies V1..V3 as the migration user', async () => {
    deployed = prepare(directoryOf());
    // The schema waits for the migration user (DependsOn), so its user resources are created first.
    expect(deployed.Resources[schemaId].DependsOn).toEqual(expect.arrayContaining(cfn.resourcesOfType(USER_TYPE).filter((id) => cfn.properties(id).UserName === 'lamp_migrator')));
    for (const id of [...cfn.resourcesOfType(USER_TYPE), ...cfn.resourcesOfType(RETENTION_TYPE)]) {
      const answer = await send(cfn.requestFor('Create', id, { bucket }));
      expect(answer.Reason).toBeUndefined();
      physicalIds.set(id, answer.PhysicalResourceId);
    }
    const answer = await send(cfn.requestFor('Create', schemaId, { bucket }));
    expect(answer.Reason).toBeUndefined();
    expect(answer).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: 'schema:lamp',
      Data: { Database: 'lamp', AppliedCount: '3', Applied: 'V1__create_customers.sql, V2__create_orders.sql, V3__order_status_and_routines.sql' },
    });
    physicalId = answer.PhysicalResourceId;
    expect(await versions()).toEqual(['1:1', '2:1', '3:1']);
    expect((await history()).every((r) => r.installed_by === 'lamp_migrator@%')).toBe(true);
    expect(await tables()).toEqual(['customers', 'orders', 'serverless_lamp_schema_history']);
    // Fetched once, the asset's own object.
    expect(s3.requests).toEqual([`GET /${cfn.properties(schemaId).Bucket}/${cfn.properties(schemaId).Key}`]);
  });

  test('redeploy with no change: the same properties (CloudFormation sends nothing); an Update anyway runs nothing', async () => {
    const again = prepare(directoryOf());
    expect(cfn.properties(schemaId, again)).toEqual(cfn.properties(schemaId, deployed));
    const answer = await update(again);
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: physicalId, Data: { AppliedCount: '0', Applied: '' } });
    expect(await versions()).toEqual(['1:1', '2:1', '3:1']);
  });

  test('adding V4 changes the key, and only V4 runs', async () => {
    const next = prepare(directoryOf(V4));
    expect(cfn.properties(schemaId, next).Key).not.toBe(cfn.properties(schemaId, deployed).Key);
    const answer = await update(next);
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: physicalId, Data: { AppliedCount: '1', Applied: 'V4__add_products.sql' } });
    expect(await versions()).toEqual(['1:1', '2:1', '3:1', '4:1']);
  });

  test('editing the applied V2 fails validation naming the file and both checksums, and nothing runs', async () => {
    const dir = directoryOf({ ...V4, 'V5__never.sql': 'CREATE TABLE never_created (id INT);\n' });
    writeFileSync(join(dir, 'V2__create_orders.sql'), '-- edited\nCREATE TABLE orders (id INT);\n');
    const before = await history();
    const answer = await update(prepare(dir));
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/^validation failed, nothing was applied:\n- V2__create_orders\.sql: version 2 was applied \(as V2__create_orders\.sql\) with checksum [0-9a-f]{64}, but the file's checksum is now [0-9a-f]{64}/);
    expect(await history()).toEqual(before);
    expect(await tables()).not.toContain('never_created');
    // CloudFormation rolls the resource back: an Update to the deployed properties, which applies nothing.
    const rollback = await send(cfn.requestFor('Update', schemaId, { bucket, physicalId, template: deployed, oldTemplate: prepare(dir) }));
    expect(rollback).toMatchObject({ Status: 'SUCCESS', Data: { AppliedCount: '0' } });
  });

  test('a broken V5 fails the deploy naming its statement and the server\'s error; the history says V5 failed; the fixed V5 deploys', async () => {
    const broken = prepare(directoryOf({ ...V4, ...V5_BROKEN }));
    const failed = await update(broken);
    expect(failed.Status).toBe('FAILED');
    expect(failed.Reason).toContain('V5__add_reviews.sql');
    expect(failed.Reason).toContain('INSERT INTO no_such_table (id) VALUES (1)');
    expect(failed.Reason).toMatch(/ER_NO_SUCH_TABLE \(1146\)/);
    expect(await versions()).toEqual(['1:1', '2:1', '3:1', '4:1', '5:0']);
    // Statement 1 ran and stays (MySQL commits DDL as it goes).
    expect(await tables()).toContain('reviews');
    // The rollback to V1..V4 succeeds: a failed version is no applied one.
    const rollback = await send(cfn.requestFor('Update', schemaId, { bucket, physicalId, template: deployed, oldTemplate: broken }));
    expect(rollback).toMatchObject({ Status: 'SUCCESS', Data: { AppliedCount: '0' } });

    const fixed = await update(prepare(directoryOf({ ...V4, ...V5_FIXED })));
    expect(fixed).toMatchObject({ Status: 'SUCCESS', Data: { AppliedCount: '1', Applied: 'V5__add_reviews.sql' } });
    expect(await versions()).toEqual(['1:1', '2:1', '3:1', '4:1', '5:1']);
    const reviews = await server.adminQuery<RowDataPacket[]>('SELECT COUNT(*) AS n FROM lamp.reviews');
    expect(Number(reviews[0].n)).toBe(1);
  });

  test('the migration user cannot create users nor read other databases', async () => {
    const props = cfn.properties(schemaId, deployed);
    const conn = await createConnection({
      host: server.host,
      port: server.port,
      user: 'lamp_migrator',
      password: passwordOf(props.PasswordSecretArn),
      database: 'lamp',
      ssl: { ca: server.caPem, rejectUnauthorized: true, verifyIdentity: true },
    });
    try {
      await expect(conn.query("CREATE USER 'intruder'@'%' IDENTIFIED BY 'x'")).rejects.toMatchObject({ code: 'ER_SPECIFIC_ACCESS_DENIED_ERROR' });
      await expect(conn.query('SELECT * FROM mysql.user')).rejects.toMatchObject({ code: 'ER_TABLEACCESS_DENIED_ERROR' });
      await expect(conn.query('SELECT * FROM serverless_lamp.owners')).rejects.toMatchObject({ errno: expect.any(Number) });
      await expect(conn.query('CREATE DATABASE elsewhere')).rejects.toMatchObject({ code: 'ER_DBACCESS_DENIED_ERROR' });
      const [dbs] = await conn.query<RowDataPacket[]>('SHOW DATABASES');
      expect(dbs.map((r) => String(r.Database)).sort()).toEqual(['information_schema', 'lamp']);
    } finally {
      await conn.end();
    }
  });

  test('deleting the schema resource (schema removed, or the stack deleted) leaves every table and the history', async () => {
    const before = { tables: await tables(), history: await history() };
    const answer = await send(cfn.requestFor('Delete', schemaId, { bucket, physicalId, template: deployed }));
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: physicalId });
    // The rest of the stack's custom resources go too (the retention resource first, then the users).
    // The rest of the stack's custom resources go too: the retention resource first, then the users.
    for (const id of [...cfn.resourcesOfType(RETENTION_TYPE), ...cfn.resourcesOfType(USER_TYPE)]) {
      const deleted = await send(cfn.requestFor('Delete', id, { bucket, physicalId: physicalIds.get(id), template: deployed }));
      expect(deleted.Reason).toBeUndefined();
    }
    expect(await tables()).toEqual(before.tables);
    expect(await history()).toEqual(before.history);
  });

  test('the local command, given the same files in the same steps, writes the same history rows (times aside)', async () => {
    // The same user and privileges on a database of its own, so that installed_by matches too.
    await server.adminQuery('CREATE DATABASE lamp_local');
    const grants = await server.adminQuery<RowDataPacket[]>("SHOW GRANTS FOR 'lamp_migrator'@'%'");
    const onLamp = grants.map((r) => String(Object.values(r)[0])).find((g) => g.includes('`lamp`.*'))!;
    await server.adminQuery(onLamp.replace('`lamp`.*', '`lamp_local`.*'));
    const bin = join(mkdtempSync(join(tmpdir(), 'lamp-cli-')), 'serverless-lamp-database.js');
    copyFileSync(CLI, bin);
    const props = cfn.properties(schemaId, deployed);
    const run = async (dir: string) => {
      try {
        await promisify(execFile)(process.execPath, [bin, 'migrate', '--host', server.host, '--port', String(server.port), '--user', 'lamp_migrator',
          '--password-env', 'PW', '--ssl-ca', server.caFile, '--database', 'lamp_local', dir], { env: { PATH: process.env.PATH ?? '', PW: passwordOf(props.PasswordSecretArn) } });
      } catch {
        // The broken V5 fails, as it did when deployed.
      }
    };
    for (const dir of [directoryOf(), directoryOf(V4), directoryOf({ ...V4, ...V5_BROKEN }), directoryOf({ ...V4, ...V5_FIXED })]) {
      await run(dir);
      rmSync(dir, { recursive: true });
    }
    expect(await historyOf(server, 'lamp_local')).toEqual(await history());
  });
});

const plugin = availability.available ? awsAuthPluginOrSkip('test/schema-lifecycle.mariadb.test.ts') : undefined;
const describeWithPlugin = plugin?.available ? describe : describe.skip;

describeWithPlugin('end-to-end IAM: the provider logs in as the migration user with a token it signs', () => {
  let server: MariaDbServer;
  let secrets: FakeSecretsManager;
  let bucket: ResponseBucket;
  let s3: FakeS3;

  beforeAll(async () => {
    server = await MariaDbServer.start({ database: 'lamp', tables: [], extraPlugins: [(plugin as { path: string }).path] });
    await createMasterUser(server, 'lampadmin', MASTER_PASSWORD);
    const { accessKeyId, secretAccessKey } = FAKE_CREDENTIALS;
    await installAwsAuthPlugin(server, { accessKeyId, secretAccessKey, region: FAKE_REGION });
    secrets = await FakeSecretsManager.start();
    bucket = await ResponseBucket.start(FAKE_REGION);
    s3 = await FakeS3.start();
  });

  afterAll(async () => {
    await s3?.stop();
    await bucket?.stop();
    await secrets?.stop();
    await server?.destroy();
  });

  test('first deploy: the users as on Aurora, then V1..V3 applied as lamp_migrator, which has no password', async () => {
    const directory = directoryOf();
    const template = synthesize(directory, DatabaseAuthentication.IAM);
    const clusterId = Object.keys(template.Resources).find((id) => template.Resources[id].Type === 'AWS::RDS::DBCluster')!;
    const cfn = new SimulatedStack(template, {
      stackName: 'Shop', region: FAKE_REGION, account: '123456789012', attributes: { [clusterId]: { 'Endpoint.Address': SERVER_DNS_NAME } },
    });
    const schemaId = cfn.resourcesOfType(SCHEMA_TYPE)[0];
    const props = cfn.properties(schemaId);
    expect(props).toMatchObject({ Authentication: 'IAM', UserName: 'lamp_migrator' });
    expect(props.PasswordSecretArn).toBeUndefined();
    s3.put(props.Bucket, props.Key, zipDirectory(directory));
    const send = async (request: ReturnType<SimulatedStack['requestFor']>): Promise<Answer> => {
      await invokeBundle<unknown>(BUNDLE, request, {
        remainingMs: 60_000,
        killAfterMs: 60_000,
        env: { ...providerEnvironment(secrets, server.caFile), AWS_ENDPOINT_URL_S3: s3.endpoint },
        hosts: { [SERVER_DNS_NAME]: '127.0.0.1' },
        ports: { 3306: server.port },
      });
      const answers = bucket.answers.get(request.RequestId) ?? [];
      expect(answers).toHaveLength(1);
      return answers[0];
    };
    for (const id of cfn.resourcesOfType(USER_TYPE)) {
      secrets.put(cfn.properties(id).SecretArn, { username: 'lampadmin', password: MASTER_PASSWORD, engine: 'mysql', port: 3306 });
      expect((await send(cfn.requestFor('Create', id, { bucket }))).Reason).toBeUndefined();
    }
    const [account] = await server.adminQuery<Array<{ plugin: string; authentication_string: string }>>(
      "SELECT plugin, authentication_string FROM mysql.user WHERE User = 'lamp_migrator'");
    expect(account).toEqual({ plugin: 'AWSAuthenticationPlugin', authentication_string: 'RDS' });
    const answer = await send(cfn.requestFor('Create', schemaId, { bucket }));
    expect(answer.Reason).toBeUndefined();
    expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'schema:lamp', Data: { AppliedCount: '3' } });
    const rows = await historyOf(server, 'lamp');
    expect(rows.map((r) => [r.version, r.installed_by, r.success])).toEqual([
      ['1', 'lamp_migrator@%', 1], ['2', 'lamp_migrator@%', 1], ['3', 'lamp_migrator@%', 1],
    ]);
  });
});
