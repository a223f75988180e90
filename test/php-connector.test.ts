/*
 * The PHP connector (php/serverless-lamp/Database.php) against a real MariaDB
 * that behaves like RDS Proxy with IAM auth: TLS required, the token presented
 * with mysql_clear_password and compared as a string.
 *
 * PHP pins its signing clock (`Database::useClock`), so the token it must mint
 * is known in advance: the test computes it independently (`iamAuthToken`, a
 * SigV4 presign with node:crypto) and makes the server accept exactly that
 * string. The token function itself is compared byte for byte with
 * @aws-sdk/rds-signer.
 *
 * Outside CI, a machine without PHP (8.2+, mysqli) or MariaDB skips this file
 * with a warning; with CI set, it fails.
 */
import { rmSync } from 'node:fs';
import { Signer } from '@aws-sdk/rds-signer';
import { FAKE_CREDENTIALS, FAKE_REGION, iamAuthToken, MariaDbServer, mariaDbOrSkip } from './support/mariadb';
import { closeServer, portOf, recordingRelay } from './support/net';
import { createScratch, noTlsServer, opensslVerify, PhpWorker, phpOrSkip, runPhp, startWrongNameServer } from './support/php';

const SUITE = 'test/php-connector.test.ts';
const php = phpOrSkip(SUITE);
const mariaDb = mariaDbOrSkip(SUITE);
const describeWithPhp = php.available ? describe : describe.skip;
const describeWithBoth = php.available && mariaDb.available ? describe : describe.skip;
const PHP = php.available ? php.php : 'php';

/** The pinned instant (seconds since the epoch) the tests sign at. */
const T0 = Date.UTC(2026, 0, 15, 9, 30, 0) / 1000;
const MINUTE = 60;
/** mysqlnd reads `localhost` as the Unix socket: PHP reaches the server by address. */
const HOST = '127.0.0.1';

/** Every token or secret in play: none may appear in any PHP output. */
const secrets = new Set<string>([FAKE_CREDENTIALS.secretAccessKey, FAKE_CREDENTIALS.sessionToken]);
/** Every PHP worker started, stopped (and its output checked) at the end. */
const workers: PhpWorker[] = [];

function tokenFor(port: number, user: string, at: number): string {
  const token = iamAuthToken({ host: HOST, port, user, region: FAKE_REGION, credentials: FAKE_CREDENTIALS, at: at * 1000 });
  secrets.add(token);
  secrets.add(/X-Amz-Signature=([0-9a-f]+)/.exec(token)![1]);
  return token;
}

/** The environment Lambda and the construct give a function, pointed at `port`. */
function environment(port: number, user: string, database: string, caFile?: string): Record<string, string | undefined> {
  return {
    AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: FAKE_CREDENTIALS.sessionToken,
    AWS_REGION: FAKE_REGION,
    DB_HOST: HOST,
    DB_PORT: String(port),
    DB_USER: user,
    DB_NAME: database,
    DB_CA_BUNDLE_FILE: caFile,
  };
}

/** A PHP process with the connector loaded and its clock pinned at `at`. */
async function worker(env: Record<string, string | undefined>, at: number = T0, ini: string[] = []): Promise<PhpWorker> {
  const w = PhpWorker.start(PHP, { env, ini });
  workers.push(w);
  await w.call('clock', { at });
  return w;
}

interface Stats {
  tokensMinted: number;
  connectionsOpened: number;
  reconnects: number;
}

/** What the stopped workers printed besides their answers, and every exception they threw. */
const diagnostics: string[] = [];

/** Each test's PHP processes end with it (and so do their connections). */
afterEach(async () => {
  for (const w of workers.splice(0)) {
    await w.stop();
    diagnostics.push(w.diagnostics);
  }
});

afterAll(() => PhpWorker.cleanup());

/** Nothing PHP printed or threw so far contains a token, its signature or a credential. */
function expectNoSecretInDiagnostics(): void {
  expect(secrets.size).toBeGreaterThan(3);
  expect(diagnostics.length).toBeGreaterThan(3);
  for (const text of diagnostics) {
    for (const secret of secrets) expect(text.includes(secret)).toBe(false);
    expect(text).not.toMatch(/X-Amz-Signature|X-Amz-Security-Token/);
  }
}

describeWithPhp('PHP connector: the IAM authentication token', () => {
  /*
   * Fake only Date (what the signer reads); the timers stay real.
   */
  const DO_NOT_FAKE = [
    'hrtime', 'nextTick', 'performance', 'queueMicrotask', 'requestAnimationFrame', 'cancelAnimationFrame',
    'requestIdleCallback', 'cancelIdleCallback', 'setImmediate', 'clearImmediate', 'setInterval',
    'clearInterval', 'setTimeout', 'clearTimeout',
  ] as const;

  afterEach(() => {
    jest.useRealTimers();
  });

  test('signAuthToken() is byte-identical to @aws-sdk/rds-signer, with and without a session token', async () => {
    const noSession = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };
    const inputs = [
      { host: 'my-proxy.proxy-abcdefghijkl.us-east-1.rds.amazonaws.com', port: 3306, user: 'lambda_user', region: 'us-east-1', credentials: FAKE_CREDENTIALS, at: T0 },
      { host: 'my-proxy.proxy-abcdefghijkl.eu-west-3.rds.amazonaws.com', port: 3306, user: 'app', region: 'eu-west-3', credentials: noSession, at: T0 + 1 },
      // A user that needs escaping (space, +, /, @, =, &, non-ASCII), a host with upper case letters.
      { host: 'Shop-Proxy.proxy-XYZ.ap-southeast-2.rds.amazonaws.com', port: 13306, user: 'rep orter+1/ü@x=y&z', region: 'ap-southeast-2', credentials: FAKE_CREDENTIALS, at: T0 + 86_399 },
      { host: '127.0.0.1', port: 65535, user: "o'brien*(!)~", region: 'us-gov-west-1', credentials: noSession, at: 0 },
      // Midnight: the credential scope's day changes.
      { host: 'db.example.internal', port: 1, user: 'u', region: 'cn-north-1', credentials: { ...FAKE_CREDENTIALS, sessionToken: 'tok/en+with=chars' }, at: Date.UTC(2030, 11, 31, 23, 59, 59) / 1000 + 1 },
    ];
    const w = PhpWorker.start(PHP, { env: {} });
    workers.push(w);
    const fromPhp = await w.call<string[]>('sign', {
      inputs: inputs.map((i) => ({
        host: i.host,
        port: i.port,
        user: i.user,
        region: i.region,
        accessKeyId: i.credentials.accessKeyId,
        secretAccessKey: i.credentials.secretAccessKey,
        sessionToken: 'sessionToken' in i.credentials ? i.credentials.sessionToken : null,
        time: i.at,
      })),
    });
    expect(fromPhp).toHaveLength(inputs.length);
    for (const [n, i] of inputs.entries()) {
      jest.useFakeTimers({ now: i.at * 1000, doNotFake: [...DO_NOT_FAKE] });
      const signer = new Signer({ hostname: i.host, port: i.port, username: i.user, region: i.region, credentials: i.credentials });
      const fromSdk = await signer.getAuthToken();
      jest.useRealTimers();
      expect(fromPhp[n]).toBe(fromSdk);
      // And the independent node:crypto implementation agrees.
      expect(fromPhp[n]).toBe(iamAuthToken({ ...i, at: i.at * 1000 }));
      secrets.add(fromSdk);
    }
    expect(fromPhp[2]).toContain('DBUser=rep%20orter%2B1%2F%C3%BC%40x%3Dy%26z&');
    expect(fromPhp[2].startsWith('Shop-Proxy.proxy-XYZ.ap-southeast-2.rds.amazonaws.com:13306/?Action=connect&')).toBe(true);
    expect(fromPhp[1]).not.toContain('X-Amz-Security-Token');
    expect(fromPhp[0]).toContain('X-Amz-Security-Token=');
  });

  test('authToken() signs the environment\'s inputs and reuses the token for 12 minutes', async () => {
    const port = 3306;
    const w = await worker(environment(port, 'lambda_user', 'lampdb'));
    const first = await w.call<string>('authToken');
    expect(first).toBe(tokenFor(port, 'lambda_user', T0));
    await w.call('clock', { at: T0 + 12 * MINUTE - 1 });
    expect(await w.call('authToken')).toBe(first);
    expect(await w.call<Stats>('stats')).toMatchObject({ tokensMinted: 1 });
    // 3 minutes before expiry: a new token, signed at that instant.
    await w.call('clock', { at: T0 + 12 * MINUTE });
    expect(await w.call('authToken')).toBe(tokenFor(port, 'lambda_user', T0 + 12 * MINUTE));
    expect(await w.call<Stats>('stats')).toMatchObject({ tokensMinted: 2 });
  });

  test('missing environment yields CONFIGURATION_ERROR naming what is missing', async () => {
    const noHost = await worker({ ...environment(3306, 'u', 'd'), DB_HOST: undefined, DB_NAME: '' });
    expect(await noHost.error('query', { sql: 'DO 1' })).toMatchObject({
      reason: 'CONFIGURATION_ERROR',
      message: 'missing environment variables: DB_HOST, DB_NAME',
    });
    const noCredentials = await worker({ ...environment(3306, 'u', 'd'), AWS_SECRET_ACCESS_KEY: undefined });
    expect(await noCredentials.error('authToken')).toMatchObject({
      reason: 'CONFIGURATION_ERROR',
      message: 'missing AWS credentials in the environment: AWS_SECRET_ACCESS_KEY',
    });
    const socket = await worker({ ...environment(3306, 'u', 'd'), DB_HOST: 'localhost' });
    expect((await socket.error('query', { sql: 'DO 1' })).message).toMatch(/'localhost' makes mysqlnd use a Unix socket/);
    const persistent = await worker({ ...environment(3306, 'u', 'd'), DB_HOST: 'p:db.example.com' });
    expect((await persistent.error('query', { sql: 'DO 1' })).message).toMatch(/persistent connection/);
    const badPort = await worker({ ...environment(3306, 'u', 'd'), DB_PORT: '99999' });
    expect((await badPort.error('query', { sql: 'DO 1' })).message).toBe("DB_PORT must be an integer from 1 to 65535, got '99999'");
  });

  test('no PHP warning or exception contains a token or a secret', () => {
    expectNoSecretInDiagnostics();
  });
});

describeWithBoth('PHP connector against MariaDB (RDS Proxy stand-in)', () => {
  let server: MariaDbServer;
  let wrongName: { server: MariaDbServer; caFile: string; dir: string };

  const env = (overrides: Record<string, string | undefined> = {}) => ({
    ...environment(server.port, server.user, server.database, server.caFile),
    ...overrides,
  });

  beforeAll(async () => {
    [server, wrongName] = await Promise.all([MariaDbServer.start(), startWrongNameServer()]);
  }, 60_000);

  beforeEach(async () => {
    await server.setToken(tokenFor(server.port, server.user, T0));
    // The sessions of the previous test's PHP processes are gone.
    for (let i = 0; (await server.connectionIds()).length > 0; i++) {
      if (i > 100) throw new Error('sessions of earlier tests linger');
      await new Promise((r) => setTimeout(r, 20));
    }
  });

  afterAll(async () => {
    await Promise.all([server?.destroy(), wrongName?.server.destroy()]);
    if (wrongName) rmSync(wrongName.dir, { recursive: true, force: true });
  }, 30_000);

  test('SHOW TABLES through Database::connection(), over TLS, with the token PHP minted', async () => {
    const w = await worker(env());
    expect(await w.call('connectionQuery', { sql: 'SHOW TABLES' })).toEqual(server.tables.map((t) => [t]));
    const [[, cipher]] = await w.call<string[][]>('connectionQuery', { sql: "SHOW SESSION STATUS LIKE 'Ssl_cipher'" });
    expect(cipher).not.toBe('');
    expect(await w.call('stats')).toEqual({ tokensMinted: 1, connectionsOpened: 1, reconnects: 0 });
  });

  test('two calls in one PHP process share one server connection; nothing is prepared server-side', async () => {
    const connectionsBefore = await server.status('Connections');
    const preparedBefore = await server.status('Com_stmt_prepare');
    const w = await worker(env());
    const [[first]] = await w.call<number[][]>('connectionQuery', { sql: 'SELECT CONNECTION_ID()' });
    const [[second]] = await w.call<number[][]>('query', { sql: 'SELECT CONNECTION_ID()' });
    expect(second).toBe(first);
    expect(await server.connectionIds()).toEqual([Number(first)]);
    // One more connection accepted by the server in all.
    expect((await server.status('Connections')) - connectionsBefore).toBe(1);
    expect(await w.call('stats')).toEqual({ tokensMinted: 1, connectionsOpened: 1, reconnects: 0 });
    // Parameters are escaped client-side (text protocol): no prepared statement.
    const tricky = "O'Reilly \\ \"quoted\" ? '; DROP TABLE customers; -- ";
    expect(await w.call('query', { sql: "SELECT ?, ?, ?, ?, ?, '?', `id` FROM (SELECT 7 AS id) t -- ?", params: [tricky, 42, 1.5, null, true] })).toEqual([
      [tricky, '42', '1.5', null, '1', '?', '7'],
    ]);
    expect(await server.status('Com_stmt_prepare')).toBe(preparedBefore);
    expect(await server.status('Prepared_stmt_count')).toBe(0);
    // The character set is set in the handshake: no SET NAMES either.
    expect(await w.call('query', { sql: "SHOW SESSION STATUS LIKE 'Com_set_option'" })).toEqual([['Com_set_option', '0']]);
    expect(await w.call('query', { sql: 'SELECT @@character_set_client' })).toEqual([['utf8mb4']]);
    expect(await w.error('query', { sql: 'SELECT ?, ?', params: [1] })).toMatchObject({
      class: 'InvalidArgumentException',
      message: 'the statement has more ? placeholders than the 1 parameters given',
    });
    expect(await w.error('query', { sql: 'SELECT nope' })).toMatchObject({ reason: 'QUERY_ERROR', code: 1054 });
    expect(await w.call('stats')).toEqual({ tokensMinted: 1, connectionsOpened: 1, reconnects: 0 });
  });

  test('a connection idle for DB_IDLE_CHECK_MS is pinged first, and a dead one replaced before anything is sent', async () => {
    // DB_IDLE_CHECK_MS=0: every use counts as after an idle period.
    const w = await worker(env({ DB_IDLE_CHECK_MS: '0' }));
    const [[id]] = await w.call<number[][]>('query', { sql: 'SELECT CONNECTION_ID()' });
    const pingsBefore = await server.status('Com_admin_commands');
    // As when the proxy closes the connection while the function is frozen.
    expect(server.killConnectionsSync()).toEqual([Number(id)]);
    const [[replaced]] = await w.call<number[][]>('query', { sql: 'SELECT CONNECTION_ID()' });
    expect(replaced).not.toBe(id);
    expect(await w.call('stats')).toEqual({ tokensMinted: 1, connectionsOpened: 2, reconnects: 1 });

    server.killConnectionsSync();
    expect(await w.call('connectionQuery', { sql: 'SHOW TABLES' })).toEqual(server.tables.map((t) => [t]));
    expect(await w.call('stats')).toEqual({ tokensMinted: 1, connectionsOpened: 3, reconnects: 2 });
    expect(await server.connectionIds()).toHaveLength(1);
    // A live connection answered the ping (COM_PING is an admin command).
    expect(await w.call('query', { sql: 'DO 1' })).toBe(true);
    expect(await server.status('Com_admin_commands')).toBeGreaterThan(pingsBefore);
  });

  test('a recently used connection is not checked: a killed one fails the statement once, which is not re-run', async () => {
    const w = await worker(env());
    await createScratch(server);
    await w.call('query', { sql: 'DELETE FROM scratch.runs' });
    const pingsBefore = await server.status('Com_admin_commands');
    server.killConnectionsSync();
    const err = await w.error('query', { sql: "INSERT INTO scratch.runs (note) VALUES ('once')" });
    expect(err).toMatchObject({ reason: 'CONNECTION_LOST' });
    expect(err.message).toContain('it is not run again');
    // No DO 1 and no ping on a connection used moments ago; no second attempt.
    expect(await server.status('Com_admin_commands')).toBe(pingsBefore);
    expect(await w.call('stats')).toEqual({ tokensMinted: 1, connectionsOpened: 1, reconnects: 0 });
    // The next call opens a new connection.
    expect(await w.call('query', { sql: "SELECT COUNT(*) FROM scratch.runs WHERE note = 'once'" })).toEqual([['0']]);
    expect(await w.call('stats')).toEqual({ tokensMinted: 1, connectionsOpened: 2, reconnects: 0 });
  });

  test('a transaction whose connection is killed fails; nothing after it runs in autocommit, even if the failure is swallowed', async () => {
    await createScratch(server);
    const w = await worker(env({ DB_IDLE_CHECK_MS: '0' }));
    await w.call('query', { sql: "DELETE FROM scratch.runs WHERE note LIKE 'mtx-%'" });
    const statements = ["INSERT INTO scratch.runs (note) VALUES ('mtx-1')", 'SELECT SLEEP(5)', "INSERT INTO scratch.runs (note) VALUES ('mtx-2')"];
    const killDuringSleep = async () => {
      for (let i = 0; i < 500 && (await server.adminQuery<unknown[]>("SELECT 1 FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(5)'")).length === 0; i++) {
        await new Promise((r) => setTimeout(r, 10));
      }
      return server.killConnections();
    };
    const [err, killed] = await Promise.all([w.error('transaction', { statements }), killDuringSleep()]);
    expect(killed).toHaveLength(1);
    expect(err).toMatchObject({ reason: 'CONNECTION_LOST' });

    const [swallowed] = await Promise.all([w.error('transaction', { statements, swallow: true }), killDuringSleep()]);
    // The SLEEP lost the connection; the INSERT after it was refused (not run
    // on a new connection), and the transaction fails although its work did not.
    expect(swallowed).toMatchObject({ reason: 'CONNECTION_LOST', message: "the transaction's connection was lost; it was rolled back by the server" });
    expect(await server.adminQuery("SELECT note FROM scratch.runs WHERE note LIKE 'mtx-%'")).toEqual([]);
    // After the transaction, the next call opens a new connection.
    expect(await w.call('query', { sql: 'DO 1' })).toBe(true);
  });

  test('a reconnect after the refresh point signs a fresh token; before it, the cached one', async () => {
    const w = await worker(env({ DB_IDLE_CHECK_MS: '0' }));
    expect(await w.call('query', { sql: 'SHOW TABLES' })).toHaveLength(server.tables.length);
    // 11 minutes later: the cached token still works.
    await w.call('clock', { at: T0 + 11 * MINUTE });
    server.killConnectionsSync();
    expect(await w.call('query', { sql: 'SHOW TABLES' })).toHaveLength(server.tables.length);
    expect(await w.call('stats')).toEqual({ tokensMinted: 1, connectionsOpened: 2, reconnects: 1 });
    // 13 minutes: the server accepts only a token signed now.
    await w.call('clock', { at: T0 + 13 * MINUTE });
    await server.setToken(tokenFor(server.port, server.user, T0 + 13 * MINUTE));
    server.killConnectionsSync();
    expect(await w.call('query', { sql: 'SHOW TABLES' })).toHaveLength(server.tables.length);
    expect(await w.call('stats')).toEqual({ tokensMinted: 2, connectionsOpened: 3, reconnects: 2 });
  });

  test('a statement that outlives DB_QUERY_TIMEOUT_MS is not retried', async () => {
    const w = await worker(env({ DB_QUERY_TIMEOUT_MS: '1000' }));
    expect(await w.call('query', { sql: 'DO 1' })).toBe(true);
    expect(await w.error('query', { sql: 'SELECT SLEEP(3)' })).toMatchObject({ reason: 'QUERY_TIMEOUT', code: 2006 });
    expect(await w.call('stats')).toEqual({ tokensMinted: 1, connectionsOpened: 1, reconnects: 0 });
    // The server still runs the statement the client gave up on.
    expect(server.killConnectionsSync()).toHaveLength(1);
  });

  test('refused: a certificate from an untrusted CA', async () => {
    const stranger = await worker(env({ DB_CA_BUNDLE_FILE: server.strangerCaFile }));
    const err = await stranger.error('query', { sql: 'SHOW TABLES' });
    expect(err).toMatchObject({ class: 'ServerlessLamp\\DatabaseException', reason: 'TLS_VERIFICATION_FAILED' });
    expect(err.message).toContain(`cannot connect to ${HOST}:${server.port} as ${server.user}: TLS verification failed, the token was not sent`);
    // What PHP and OpenSSL add after that differs between builds and versions: not asserted.
    expect(err.message).toContain(`(trusted: CA bundle ${server.strangerCaFile} (DB_CA_BUNDLE_FILE))`);
    // OpenSSL's default store does not know the test CA either ...
    const defaults = await worker(env({ DB_CA_BUNDLE_FILE: undefined }), T0, ['openssl.cafile=', 'openssl.capath=']);
    expect(await defaults.error('query', { sql: 'SHOW TABLES' })).toMatchObject({ reason: 'TLS_VERIFICATION_FAILED' });
    // ... and openssl.cafile, where Bref puts its CA bundle, is what it trusts without DB_CA_BUNDLE_FILE.
    const ini = await worker(env({ DB_CA_BUNDLE_FILE: undefined }), T0, [`openssl.cafile=${server.caFile}`]);
    expect(await ini.call('query', { sql: 'SHOW TABLES' })).toHaveLength(server.tables.length);
    for (const w of [stranger, defaults]) {
      expect(await w.call('stats')).toEqual({ tokensMinted: 1, connectionsOpened: 0, reconnects: 0 });
    }
  });

  test('refused: a certificate that chains to the trusted CA but names another host', async () => {
    const { server: other, caFile } = wrongName;
    // The chain itself verifies; only the name is wrong.
    expect(opensslVerify(other.port, caFile)).toBe('Verify return code: 0 (ok)');
    expect(opensslVerify(other.port, caFile, 'db.example.invalid')).toBe('Verify return code: 0 (ok)');
    expect(opensslVerify(other.port, caFile, HOST)).not.toBe('Verify return code: 0 (ok)');
    await other.setToken(tokenFor(other.port, other.user, T0));
    const w = await worker(environment(other.port, other.user, other.database, caFile));
    const err = await w.error('query', { sql: 'SHOW TABLES' });
    // Refused as a TLS verification failure, before the token left. PHP's own
    // wording of the mismatch differs between builds (one names the
    // subjectAltName, another the CN), so it is not asserted.
    expect(err.reason).toBe('TLS_VERIFICATION_FAILED');
    expect(err.message).toContain(`cannot connect to ${HOST}:${other.port} as ${other.user}: TLS verification failed, the token was not sent`);
    expect(await other.connectionIds()).toEqual([]);
  });

  test('refused: a server that offers no TLS gets nothing, not even the user name', async () => {
    const fake = await noTlsServer();
    try {
      // With a CA bundle configured, and with none (OpenSSL's default store),
      // where nothing but the connect flags asks mysqlnd for TLS.
      const withCa = await worker(env({ DB_PORT: String(portOf(fake.server)) }));
      const withoutCa = await worker(env({ DB_PORT: String(portOf(fake.server)), DB_CA_BUNDLE_FILE: undefined }), T0, ['openssl.cafile=', 'openssl.capath=']);
      for (const w of [withCa, withoutCa]) {
        const err = await w.error('query', { sql: 'SHOW TABLES' });
        expect(err).toMatchObject({ reason: 'TLS_REQUIRED', code: 2006 });
        expect(err.message).toContain('the server does not offer TLS');
      }
      expect(fake.received()).toHaveLength(0);

      // Control: plain mysqli without the TLS flags, as many samples connect,
      // hands this server the token in clear text.
      const token = tokenFor(portOf(fake.server), server.user, T0);
      const plain = await runPhp(
        PHP,
        `mysqli_report(MYSQLI_REPORT_OFF);
         $m = mysqli_init();
         @$m->real_connect('${HOST}', 'lambda_user', getenv('TOKEN'), 'lampdb', ${portOf(fake.server)});`,
        { TOKEN: token },
      );
      expect(plain.status).toBe(0);
      expect(fake.received().includes(Buffer.from(token))).toBe(true);
    } finally {
      await closeServer(fake.server);
    }
  });

  test('refused: a token the server does not accept, with a message that names the user, not the token', async () => {
    await server.setToken('some-other-token');
    const w = await worker(env());
    const err = await w.error('query', { sql: 'SHOW TABLES' });
    expect(err).toMatchObject({ reason: 'ACCESS_DENIED', code: 1045 });
    expect(err.message).toContain(`cannot connect to ${HOST}:${server.port} as ${server.user}: access denied`);
    expect(await w.call('stats')).toEqual({ tokensMinted: 1, connectionsOpened: 0, reconnects: 0 });
    // A refused token is not reused: the next attempt signs again.
    await server.setToken(tokenFor(server.port, server.user, T0));
    expect(await w.call('query', { sql: 'SHOW TABLES' })).toHaveLength(server.tables.length);
    expect(await w.call('stats')).toEqual({ tokensMinted: 2, connectionsOpened: 1, reconnects: 0 });
  });

  test('the token travels only inside TLS', async () => {
    const relay = await recordingRelay(server.port);
    try {
      const port = portOf(relay.server);
      const token = tokenFor(port, server.user, T0);
      await server.setToken(token);
      const w = await worker(env({ DB_PORT: String(port) }));
      expect(await w.call('query', { sql: 'SHOW TABLES' })).toHaveLength(server.tables.length);
      const sent = relay.clientBytes();
      expect(sent.length).toBeGreaterThan(100);
      expect(sent.includes(Buffer.from('X-Amz-Signature'))).toBe(false);
      expect(sent.includes(Buffer.from(token.slice(0, 40)))).toBe(false);
      expect(sent.includes(Buffer.from(server.user))).toBe(false);
      // SSLRequest (4-byte header, 32-byte payload), then a TLS handshake record.
      expect(sent[36]).toBe(0x16);
    } finally {
      await relay.close();
    }
  });

  test('the reference sample\'s MYSQLI_CLIENT_SSL alone accepts a certificate nobody vouches for', async () => {
    // Why the connector passes MYSQLI_CLIENT_SSL_VERIFY_SERVER_CERT: without
    // it (and without a CA), mysqlnd encrypts but verifies nothing.
    const sample = await runPhp(
      PHP,
      `mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
       $m = mysqli_init();
       $m->real_connect('${HOST}', '${server.user}', getenv('TOKEN'), '${server.database}', ${server.port}, null, MYSQLI_CLIENT_SSL);
       echo $m->query("SHOW SESSION STATUS LIKE 'Ssl_cipher'")->fetch_row()[1];`,
      { TOKEN: server.token },
    );
    expect(sample.stderr).toBe('');
    expect(sample.stdout).not.toBe('');
  });

  test('no PHP warning, exception message or stack trace contains a token or a secret', async () => {
    // One more failure with everything printed: the trace shows arguments.
    await server.setToken('some-other-token');
    const w = await worker(env());
    const err = await w.error('query', { sql: 'SHOW TABLES' });
    expect(err.output).toContain("ServerlessLamp\\Database::query('SHOW TABLES', Array)");
    await w.stop();
    diagnostics.push(w.diagnostics);
    expectNoSecretInDiagnostics();
  });
});
