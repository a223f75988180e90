/*
 * End-to-end IAM on MariaDB: the account the users provider creates for an
 * IAM user on Aurora (`IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS'
 * REQUIRE SSL`, from the provider's own statement builder) is created here
 * as it is, and logs in with a token minted by @aws-sdk/rds-signer, verified
 * by a stand-in for Aurora's plugin (test/support/aws-auth-plugin: SigV4
 * recomputed with the test's secret key, DBUser, access key id, expiry).
 *
 * Where it can, a refusal below has a positive twin that differs only in
 * what is refused, so the refusal cannot come from something else. Each
 * refusal of a token fails when the plugin accepts everything. The refusals
 * of plaintext logins are the server's (require_secure_transport) and the
 * account's (REQUIRE SSL, part of the provider's statement), not the
 * plugin's: a server authentication plugin is not told whether the
 * connection uses TLS.
 *
 * Outside CI, a machine without MariaDB or without what building the plugin
 * needs skips this file with a warning; with CI set, it fails.
 * `HANDLER_BUNDLE=<path>` tests another query handler bundle.
 */
import { existsSync } from 'node:fs';
import { join, resolve as resolvePath } from 'node:path';
import { Signer } from '@aws-sdk/rds-signer';
import { createConnection } from 'mysql2/promise';
import type { Connection } from 'mysql2/promise';
import { awsAuthPluginOrSkip, installAwsAuthPlugin } from './support/aws-auth-plugin';
import { FAKE_CREDENTIALS, FAKE_REGION, handlerEnvironment, MariaDbServer, mariaDbOrSkip, restoreEnvironment } from './support/mariadb';
import type { UserSpec } from '../src/provider/properties';
import { IAM_IDENTIFICATION, serverSettings, userStatements } from '../src/provider/sql';

type HandlerModule = typeof import('../src/handler/query.lambda');

const SUITE = 'test/aws-auth-plugin.mariadb.test.ts';
const BUNDLE = resolvePath(process.env.HANDLER_BUNDLE ?? join(__dirname, '..', 'assets', 'handler', 'query.lambda', 'index.js'));

const mariaDb = mariaDbOrSkip(SUITE);
const plugin = mariaDb.available ? awsAuthPluginOrSkip(SUITE) : undefined;
const pluginPath = plugin?.available ? plugin.path : undefined;
const describeWithPlugin = mariaDb.available && pluginPath ? describe : describe.skip;

/** The keys the plugin verifies with: the handler tests' fake credentials. */
const KEYS = { accessKeyId: FAKE_CREDENTIALS.accessKeyId, secretAccessKey: FAKE_CREDENTIALS.secretAccessKey };
const REGION = FAKE_REGION;
/** Users made with the provider's IAM statement. */
const IAM_USER = 'app_reader';
const OTHER_IAM_USER = 'app_writer';
const MINUTE = 60_000;

/** Fake only Date, as the handler tests do: mysql2 needs real timers and ticks. */
const DO_NOT_FAKE = [
  'hrtime', 'nextTick', 'performance', 'queueMicrotask', 'requestAnimationFrame', 'cancelAnimationFrame',
  'requestIdleCallback', 'cancelIdleCallback', 'setImmediate', 'clearImmediate', 'setInterval',
  'clearInterval', 'setTimeout', 'clearTimeout',
] as const;

/** A login's outcome: its errno when refused. */
type Outcome = { readonly ok: true } | { readonly ok: false; readonly errno: number | undefined };

describeWithPlugin('AWSAuthenticationPlugin stand-in: the provider\'s IAM users log in with RDS IAM tokens', () => {
  let server: MariaDbServer;
  const savedEnv = { ...process.env };

  /** A token as @aws-sdk/rds-signer mints it, now (or at the fake clock's time). */
  function mint(options: { user?: string; credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } } = {}) {
    return new Signer({
      hostname: server.host,
      port: server.port,
      username: options.user ?? IAM_USER,
      region: REGION,
      credentials: options.credentials ?? KEYS,
    }).getAuthToken();
  }

  /** A token minted with the clock at `at` (ms since the epoch). */
  async function mintAt(at: number, options: Parameters<typeof mint>[0] = {}): Promise<string> {
    jest.useFakeTimers({ now: at, doNotFake: [...DO_NOT_FAKE] });
    try {
      return await mint(options);
    } finally {
      jest.useRealTimers();
    }
  }

  /** Log in as `user` with `password` over verified TLS (or none), cleartext plugin allowed. */
  function connect(user: string, password: string, options: { tls?: boolean } = {}): Promise<Connection> {
    return createConnection({
      host: server.host,
      port: server.port,
      user,
      password,
      database: server.database,
      ssl: options.tls === false ? undefined : { ca: server.caPem, rejectUnauthorized: true, verifyIdentity: true },
      enableCleartextPlugin: true,
      connectTimeout: 5_000,
    });
  }

  /** Log in, run SHOW TABLES, close: the outcome. */
  async function login(user: string, password: string, options: { tls?: boolean } = {}): Promise<Outcome> {
    let conn: Connection;
    try {
      conn = await connect(user, password, options);
    } catch (err) {
      return { ok: false, errno: (err as { errno?: number }).errno };
    }
    try {
      const [rows] = await conn.query('SHOW TABLES');
      expect((rows as Array<Record<string, string>>).map((r) => Object.values(r)[0]).sort()).toEqual(server.tables);
      return { ok: true };
    } finally {
      await conn.end();
    }
  }

  /** Create `userName` exactly as the users provider does for IAM authentication, with SELECT on the database. */
  async function createIamUser(userName: string): Promise<string[]> {
    const [vars] = await server.adminQuery<Array<{ sql_mode: string; lower_case_table_names: number }>>(
      'SELECT @@sql_mode AS sql_mode, @@lower_case_table_names AS lower_case_table_names',
    );
    const spec: UserSpec = {
      userName,
      database: server.database,
      grants: [{ privileges: ['SELECT'] }],
      authentication: 'IAM',
      secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:lamp/master-AbCdEf',
      host: server.host,
      port: server.port,
    };
    const settings = serverSettings({ sqlMode: vars.sql_mode, lowerCaseTableNames: vars.lower_case_table_names });
    const statements = userStatements(spec, { exists: false, privileges: [] }, settings).map((s) => s.sql);
    for (const sql of statements) await server.adminQuery(sql);
    return statements;
  }

  beforeAll(async () => {
    server = await MariaDbServer.start({ extraPlugins: [pluginPath!] });
    await installAwsAuthPlugin(server, { ...KEYS, region: REGION });
    const statements = await createIamUser(IAM_USER);
    // The statement is the provider's, with Aurora's plugin and string.
    expect(statements[0]).toBe(`CREATE USER '${IAM_USER}'@'%' ${IAM_IDENTIFICATION} REQUIRE SSL`);
    await createIamUser(OTHER_IAM_USER);
  }, 120_000);

  afterAll(async () => {
    jest.useRealTimers();
    jest.restoreAllMocks();
    await server?.destroy();
    restoreEnvironment(savedEnv);
  }, 30_000);

  test('the account carries AWSAuthenticationPlugin with the string RDS and requires TLS', async () => {
    const rows = await server.adminQuery<Array<{ plugin: string; authentication_string: string; ssl_type: string }>>(
      `SELECT plugin, authentication_string, ssl_type FROM mysql.user WHERE User = '${IAM_USER}' AND Host = '%'`,
    );
    expect(rows).toEqual([{ plugin: 'AWSAuthenticationPlugin', authentication_string: 'RDS', ssl_type: 'ANY' }]);
  });

  test('a token minted now by @aws-sdk/rds-signer logs the user in over verified TLS; SHOW TABLES lists the tables', async () => {
    expect(await login(IAM_USER, await mint())).toEqual({ ok: true });
    // With a session token in the signed query too (as Lambda's credentials have).
    expect(await login(IAM_USER, await mint({ credentials: FAKE_CREDENTIALS }))).toEqual({ ok: true });
    // The account is the one logged in, not some other.
    const conn = await connect(IAM_USER, await mint());
    try {
      const [rows] = await conn.query('SELECT CURRENT_USER() AS u');
      expect((rows as Array<{ u: string }>)[0].u).toBe(`${IAM_USER}@%`);
    } finally {
      await conn.end();
    }
  });

  test('a token for another DBUser is refused (1045); the same user logs in with its own', async () => {
    const othersToken = await mint({ user: OTHER_IAM_USER });
    expect(await login(IAM_USER, othersToken)).toEqual({ ok: false, errno: 1045 });
    expect(await login(OTHER_IAM_USER, othersToken)).toEqual({ ok: true });
  });

  test('a token signed with another secret key is refused (1045), as is one of another access key id', async () => {
    const otherSecret = { accessKeyId: KEYS.accessKeyId, secretAccessKey: `${KEYS.secretAccessKey.slice(0, -1)}X` };
    expect(await login(IAM_USER, await mint({ credentials: otherSecret }))).toEqual({ ok: false, errno: 1045 });
    const otherKeyId = { accessKeyId: 'AKIDOTHEREXAMPLE', secretAccessKey: KEYS.secretAccessKey };
    expect(await login(IAM_USER, await mint({ credentials: otherKeyId }))).toEqual({ ok: false, errno: 1045 });
    // A token tampered with after signing (another host, same signature) is refused too.
    const token = await mint();
    expect(await login(IAM_USER, token.replace(`${server.host}:`, '127.0.0.1:'))).toEqual({ ok: false, errno: 1045 });
    expect(await login(IAM_USER, token)).toEqual({ ok: true });
  });

  test('an expired token is refused (1045); one 14 minutes old still works', async () => {
    // Tokens are valid for 900 s from their X-Amz-Date.
    const expired = await mintAt(Date.now() - 16 * MINUTE);
    expect(expired).toContain('X-Amz-Expires=900');
    expect(await login(IAM_USER, expired)).toEqual({ ok: false, errno: 1045 });
    expect(await login(IAM_USER, await mintAt(Date.now() - 14 * MINUTE))).toEqual({ ok: true });
  });

  test('garbage, an empty password and a token cut short are refused (1045)', async () => {
    const token = await mint();
    for (const password of ['garbage', 'RDS', '', token.slice(0, token.length - 10), `${token}&X-Amz-Expires=900`]) {
      expect({ password, outcome: await login(IAM_USER, password) }).toEqual({ password, outcome: { ok: false, errno: 1045 } });
    }
  });

  test('a login without TLS is refused, even with a valid token; with TLS off on the server, REQUIRE SSL refuses it (1045)', async () => {
    // The server requires TLS (as RDS Proxy does); MariaDB answers 4151 (ER_SECURE_TRANSPORT_REQUIRED here), MySQL 3159.
    const plain = await login(IAM_USER, await mint(), { tls: false });
    expect(plain.ok).toBe(false);
    expect([1045, 3159, 4151]).toContain(plain.ok ? undefined : plain.errno);
    // Without the server's requirement, the account's REQUIRE SSL (part of the provider's statement) refuses it.
    await server.adminQuery('SET GLOBAL require_secure_transport = OFF');
    try {
      expect(await login(IAM_USER, await mint(), { tls: false })).toEqual({ ok: false, errno: 1045 });
    } finally {
      await server.adminQuery('SET GLOBAL require_secure_transport = ON');
    }
    expect(await login(IAM_USER, await mint())).toEqual({ ok: true });
  });

  describe('the shipped query handler bundle', () => {
    const loaded: HandlerModule[] = [];

    /** A fresh copy of the bundle with the handler's environment pointed at the IAM user. */
    function loadHandler(env: Record<string, string> = {}): HandlerModule {
      for (const k of Object.keys(process.env)) {
        if (/^(AWS_|DB_)/.test(k)) delete process.env[k];
      }
      Object.assign(process.env, {
        AWS_CONFIG_FILE: '/nonexistent/aws-config',
        AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
        AWS_EC2_METADATA_DISABLED: 'true',
        ...handlerEnvironment(server),
        DB_USER: IAM_USER,
        ...env,
      });
      let mod: HandlerModule | undefined;
      jest.isolateModules(() => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        mod = require(BUNDLE) as HandlerModule;
      });
      mod!.trustCaForTests(server.caPem);
      loaded.push(mod!);
      return mod!;
    }

    const context = () => ({ getRemainingTimeInMillis: () => 10_000, awsRequestId: 'test-request' });

    beforeAll(() => {
      if (!existsSync(BUNDLE)) throw new Error(`handler bundle ${BUNDLE} not found: run 'npx projen bundle' first`);
      for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
        jest.spyOn(console, method).mockImplementation(() => undefined);
      }
      // The handler writes its metric lines to stdout directly.
      const write = process.stdout.write.bind(process.stdout);
      jest.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: unknown[]) => {
        const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
        if (text.startsWith('{')) return true;
        return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
      }) as typeof process.stdout.write);
    });

    afterEach(async () => {
      for (const mod of loaded.splice(0)) await mod.resetForTests();
    });

    test('logs in as the IAM user with a token it mints and lists the tables', async () => {
      const mod = loadHandler();
      expect(await mod.handler({}, context())).toEqual({ ok: true, database: server.database, tables: server.tables });
      expect(mod.stats).toEqual({ tokensMinted: 1, connectionsOpened: 1, retries: 0 });
      expect(await server.connectionIds(IAM_USER)).toHaveLength(1);
    });

    test('with another secret key it is refused', async () => {
      const wrongKey = loadHandler({ AWS_SECRET_ACCESS_KEY: `${KEYS.secretAccessKey.slice(0, -1)}X` });
      expect(await wrongKey.handler({}, context())).toMatchObject({ ok: false, error: { code: 'ACCESS_DENIED' } });
      expect(wrongKey.stats.connectionsOpened).toBe(0);
    });
  });
});
