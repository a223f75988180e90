/*
 * The PHP connector in a web app: PHP-FPM with one static worker, configured
 * as Bref's web runtime configures it (test/support/php-fpm.ts), serving a
 * front controller (test/fixtures/php-web/index.php) to FastCGI requests sent
 * with cgi-fcgi, against the MariaDB stand-in for RDS Proxy (TLS required,
 * the token presented with mysql_clear_password and compared as a string).
 *
 * PHP-FPM resets static properties after every request; what carries over is
 * PDO's persistent connection (keyed by DSN, user and password) and the
 * connector's per-worker record in APCu or a 0600 file. The requests pin the
 * signing clock (`now=`), so the token PHP must present is known in advance
 * and the server accepts exactly that string.
 *
 * Also here: PDO's refusals (through a PHP CLI process, as in
 * test/php-connector.test.ts).
 *
 * Outside CI, a machine without PHP-FPM, cgi-fcgi, APCu, Laravel's or
 * Doctrine DBAL's sources, PHP or MariaDB skips this file with a warning;
 * with CI set, it fails.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { FAKE_CREDENTIALS, FAKE_REGION, iamAuthToken, MariaDbServer, mariaDbOrSkip } from './support/mariadb';
import { closeServer, portOf } from './support/net';
import { createScratch, noTlsServer, PhpWorker, phpOrSkip, startWrongNameServer } from './support/php';
import { fpmOrSkip, FpmResponse, hangUpAfter, PhpFpm, severableRelay } from './support/php-fpm';

const SUITE = 'test/php-web.test.ts';
const php = phpOrSkip(SUITE);
const mariaDb = mariaDbOrSkip(SUITE);
const fpm = fpmOrSkip(SUITE);
const describeWithAll = php.available && mariaDb.available && fpm.available ? describe : describe.skip;

const T0 = Date.UTC(2026, 0, 15, 9, 30, 0) / 1000;
const MINUTE = 60;
const HOST = '127.0.0.1';
const secrets = new Set<string>([FAKE_CREDENTIALS.secretAccessKey, FAKE_CREDENTIALS.sessionToken]);

function tokenFor(port: number, user: string, at: number): string {
  const token = iamAuthToken({ host: HOST, port, user, region: FAKE_REGION, credentials: FAKE_CREDENTIALS, at: at * 1000 });
  secrets.add(token);
  return token;
}

function environment(port: number, server: MariaDbServer, caFile: string = server.caFile): Record<string, string | undefined> {
  return {
    AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: FAKE_CREDENTIALS.sessionToken,
    AWS_REGION: FAKE_REGION,
    DB_HOST: HOST,
    DB_PORT: String(port),
    DB_USER: server.user,
    DB_NAME: server.database,
    DB_CA_BUNDLE_FILE: caFile,
  };
}

/** Everything PHP-FPM printed and every failed answer, checked for secrets at the end. */
const outputs: string[] = [];
const started: PhpFpm[] = [];

async function startFpm(env: Record<string, string | undefined>, ini: string[] = []): Promise<PhpFpm> {
  const f = await PhpFpm.start(fpm as Extract<typeof fpm, { available: true }>, { env, ini });
  started.push(f);
  return f;
}

afterEach(async () => {
  for (const f of started.splice(0)) {
    outputs.push(f.output);
    await f.stop();
  }
});

async function ok(f: PhpFpm, query: Record<string, string | number>): Promise<FpmResponse['json']> {
  const response = await f.request(query);
  outputs.push(response.body);
  if (response.status !== 200) throw new Error(`request ${JSON.stringify(query)} failed: ${response.body}`);
  return response.json;
}

/** `n` requests in a row; the distinct connection ids they saw, and the last answer. */
async function serve(f: PhpFpm, n: number, query: Record<string, string | number>) {
  const ids = new Set<number>();
  let last: any;
  for (let i = 0; i < n; i++) {
    last = await ok(f, query);
    ids.add(last.id);
  }
  return { ids: [...ids], last };
}

async function until(condition: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await condition()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describeWithAll('PHP web app under PHP-FPM (one worker, as Bref runs it)', () => {
  let server: MariaDbServer;

  beforeAll(async () => {
    server = await MariaDbServer.start();
    await createScratch(server);
  }, 60_000);

  beforeEach(async () => {
    await server.setToken(tokenFor(server.port, server.user, T0));
    await until(async () => (await server.connectionIds()).length === 0, 'the previous test\'s sessions to end');
  });

  afterAll(async () => {
    await server?.destroy();
  }, 30_000);

  test('Database::pdo(): 300 requests share one server connection and one token, kept in APCu', async () => {
    const connectionsBefore = await server.status('Connections');
    const preparedBefore = await server.status('Com_stmt_prepare');
    const adminBefore = await server.status('Com_admin_commands');
    const f = await startFpm(environment(server.port, server));
    const { ids, last } = await serve(f, 300, { via: 'pdo', now: T0 });
    // PDO finds its persistent connection again with one COM_PING per request
    // (MariaDB counts it among the admin commands), not by authenticating again.
    expect((await server.status('Com_admin_commands')) - adminBefore).toBe(299);
    expect(ids).toHaveLength(1);
    expect(await server.connectionIds()).toEqual(ids);
    expect((await server.status('Connections')) - connectionsBefore).toBe(1);
    expect(last.stats).toEqual({ tokensMinted: 1, connectionsOpened: 1, reconnects: 0 });
    expect(last.cache).toBe('apcu');
    expect(await server.status('Com_stmt_prepare')).toBe(preparedBefore);
  });

  test('a killed connection: one reconnect with the kept token; an expired one: a fresh token, minted once', async () => {
    const f = await startFpm(environment(server.port, server));
    const first = await serve(f, 20, { via: 'pdo', now: T0 });
    expect(server.killConnectionsSync()).toEqual(first.ids);
    // 11 minutes on: the kept token still opens the new connection.
    const second = await serve(f, 50, { via: 'pdo', now: T0 + 11 * MINUTE });
    expect(second.ids).toHaveLength(1);
    expect(second.ids).not.toEqual(first.ids);
    expect(second.last.stats).toEqual({ tokensMinted: 1, connectionsOpened: 2, reconnects: 1 });

    // 20 minutes on, the token has expired, but the live connection it opened
    // is still found (a new token would open a second one).
    await server.setToken(tokenFor(server.port, server.user, T0 + 20 * MINUTE));
    const third = await serve(f, 50, { via: 'pdo', now: T0 + 20 * MINUTE });
    expect(third.ids).toEqual(second.ids);
    expect(third.last.stats).toEqual({ tokensMinted: 1, connectionsOpened: 2, reconnects: 1 });
    expect(await server.connectionIds()).toEqual(second.ids);

    // Killed now: the kept token is refused (1045), a fresh one opens the connection.
    server.killConnectionsSync();
    const fourth = await serve(f, 50, { via: 'pdo', now: T0 + 20 * MINUTE });
    expect(fourth.ids).toHaveLength(1);
    expect(fourth.last.stats).toEqual({ tokensMinted: 2, connectionsOpened: 3, reconnects: 2 });
    expect(await server.connectionIds()).toEqual(fourth.ids);
  });

  test('mysqli `p:` is no way across requests: with a token, each request opens a new connection', async () => {
    // mysqlnd re-authenticates a reused persistent link with COM_CHANGE_USER,
    // which cannot carry the token (over 255 bytes): the reuse fails and
    // mysqli silently opens a new connection.
    const connectionsBefore = await server.status('Connections');
    const f = await startFpm(environment(server.port, server));
    const { ids, last } = await serve(f, 3, { via: 'mysqliPersistent', now: T0 });
    expect(ids).toHaveLength(3);
    // mysqlnd's own words, on the reuse.
    expect(last.warnings.join('\n')).toMatch(/Authentication data too long/);
    expect((await server.status('Connections')) - connectionsBefore).toBe(3);
    // The token itself was kept: one minted for the three requests.
    expect(last.stats).toMatchObject({ tokensMinted: 1 });
  });

  test('without APCu the record is a 0600 file in the temporary directory, and works the same', async () => {
    const f = await startFpm(environment(server.port, server), ['apc.enabled=0']);
    const { ids, last } = await serve(f, 100, { via: 'pdo', now: T0 });
    expect(ids).toHaveLength(1);
    expect(last.cache).toBe('file');
    expect(last.stats).toEqual({ tokensMinted: 1, connectionsOpened: 1, reconnects: 0 });
    const files = readdirSync(f.dir).filter((n) => /^serverless-lamp-[0-9a-f]+-\d+\.json$/.test(n));
    expect(files).toEqual([expect.stringContaining(`-${last.pid}.json`)]);
    expect((statSync(join(f.dir, files[0])).mode % 0o1000).toString(8)).toBe('600');
  });

  test('Laravel\'s query builder: one connection, one token, its session settings once', async () => {
    const setBefore = await server.status('Com_set_option');
    const preparedBefore = await server.status('Com_stmt_prepare');
    // Laravel's own names, as a Laravel app's .env has them.
    const env = {
      ...environment(server.port, server),
      DB_USER: undefined,
      DB_NAME: undefined,
      DB_USERNAME: server.user,
      DB_DATABASE: server.database,
    };
    const f = await startFpm(env);
    const { ids, last } = await serve(f, 150, { via: 'laravel', now: T0 });
    expect(ids).toHaveLength(1);
    expect(await server.connectionIds()).toEqual(ids);
    expect(last.stats).toEqual({ tokensMinted: 1, connectionsOpened: 1, reconnects: 0 });
    // `strict: true` sets sql_mode on the new connection only, not per request;
    // no server-side prepared statement (Laravel turns emulation off).
    expect((await server.status('Com_set_option')) - setBefore).toBe(1);
    expect(await server.status('Com_stmt_prepare')).toBe(preparedBefore);
    server.killConnectionsSync();
    const after = await serve(f, 20, { via: 'laravel', now: T0 + MINUTE });
    expect(after.ids).toHaveLength(1);
    expect(after.last.stats).toEqual({ tokensMinted: 1, connectionsOpened: 2, reconnects: 1 });
  });

  test('Doctrine DBAL with the middleware: one connection, one token', async () => {
    const preparedBefore = await server.status('Com_stmt_prepare');
    const f = await startFpm(environment(server.port, server));
    const { ids, last } = await serve(f, 150, { via: 'doctrine', now: T0 });
    expect(ids).toHaveLength(1);
    expect(await server.connectionIds()).toEqual(ids);
    expect(last.stats).toEqual({ tokensMinted: 1, connectionsOpened: 1, reconnects: 0 });
    expect(await server.status('Com_stmt_prepare')).toBe(preparedBefore);
  });

  describe('cut off mid-flight (through a relay the test severs)', () => {
    let relay: Awaited<ReturnType<typeof severableRelay>>;
    beforeEach(async () => {
      relay = await severableRelay(server.port);
      await server.setToken(tokenFor(relay.port, server.user, T0));
    });
    afterEach(async () => {
      await relay.close();
    });

    const running = (pattern: string) => async () =>
      (await server.adminQuery<Array<{ n: number }>>(`SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE INFO LIKE '${pattern}'`))[0].n > 0;
    const count = async (note: string) =>
      Number((await server.adminQuery<Array<{ n: number }>>(`SELECT COUNT(*) AS n FROM scratch.runs WHERE note = '${note}'`))[0].n);

    test('a statement whose connection drops while the server runs it is not run again', async () => {
      const f = await startFpm(environment(relay.port, server));
      await ok(f, { via: 'pdo', now: T0 });
      const insertsBefore = await server.status('Com_insert_select');
      const pending = f.request({ via: 'pdo', op: 'sleepInsert', note: 'cut-once', sleep: 1, now: T0 });
      await until(running('INSERT INTO scratch.runs%'), 'the INSERT to run');
      // The client loses the connection; the server finishes the INSERT.
      expect(relay.sever({ upstream: false })).toBe(1);
      const response = await pending;
      outputs.push(response.body);
      expect(response.status).toBe(500);
      expect(response.json.error.message).toMatch(/2006|2013|gone away|Lost connection/);
      await until(async () => !(await running('INSERT INTO scratch.runs%')()), 'the INSERT to end');
      expect(await count('cut-once')).toBe(1);
      expect((await server.status('Com_insert_select')) - insertsBefore).toBe(1);
      // The next request opens a new connection; still one row.
      const next = await ok(f, { via: 'pdo', now: T0 });
      expect(next.stats).toMatchObject({ reconnects: 1 });
      expect(await count('cut-once')).toBe(1);
    });

    test('Laravel: a statement whose connection drops is not run again (Laravel itself would re-run it)', async () => {
      const f = await startFpm(environment(relay.port, server));
      await ok(f, { via: 'laravel', now: T0 });
      const insertsBefore = await server.status('Com_insert_select');
      const pending = f.request({ via: 'laravel', op: 'sleepInsert', note: 'laravel-once', sleep: 1, now: T0 });
      await until(running('INSERT INTO scratch.runs%'), 'the INSERT to run');
      expect(relay.sever({ upstream: false })).toBe(1);
      const response = await pending;
      outputs.push(response.body);
      expect(response.status).toBe(500);
      expect(response.json.error.class).toBe('Illuminate\\Database\\QueryException');
      await until(async () => !(await running('INSERT INTO scratch.runs%')()), 'the INSERT to end');
      expect(await count('laravel-once')).toBe(1);
      expect((await server.status('Com_insert_select')) - insertsBefore).toBe(1);
    });

    test('a transaction cut off fails with CONNECTION_LOST, commits nothing, and nothing after it runs in autocommit', async () => {
      const f = await startFpm(environment(relay.port, server));
      await ok(f, { via: 'pdo', now: T0 });
      let pending = f.request({ via: 'pdo', op: 'transaction', note: 'tx', sleep: 1, now: T0 });
      await until(running('SELECT SLEEP%'), 'the transaction to reach its SLEEP');
      expect(relay.sever({ upstream: true })).toBe(1);
      let response = await pending;
      outputs.push(response.body);
      expect(response.status).toBe(500);
      expect(response.json.error).toMatchObject({ reason: 'CONNECTION_LOST' });

      // An application that swallows the failure and goes on with the same PDO
      // (once the cut session's SLEEP is over on the server).
      await until(async () => (await server.connectionIds()).length === 0, 'the cut session to end');
      pending = f.request({ via: 'pdo', op: 'afterFailure', note: 'swallowed', sleep: 1, now: T0 });
      await until(running('SELECT SLEEP%'), 'the second transaction to reach its SLEEP');
      expect(relay.sever({ upstream: true })).toBe(1);
      response = await pending;
      outputs.push(response.body);
      expect(response.status).toBe(500);
      expect(response.json.error.message).toMatch(/2006|gone away/);

      await until(async () => (await server.connectionIds()).length === 0, 'the cut sessions to end');
      for (const note of ['tx-1', 'tx-2', 'swallowed-1', 'swallowed-after']) expect(await count(note)).toBe(0);
    });
  });
});

describeWithAll('PDO refusals (Database::pdo())', () => {
  let server: MariaDbServer;
  let wrongName: Awaited<ReturnType<typeof startWrongNameServer>>;
  const workers: PhpWorker[] = [];

  const worker = async (env: Record<string, string | undefined>, ini: string[] = []) => {
    const w = PhpWorker.start((php as Extract<typeof php, { available: true }>).php, { env, ini });
    workers.push(w);
    await w.call('clock', { at: T0 });
    return w;
  };

  beforeAll(async () => {
    [server, wrongName] = await Promise.all([MariaDbServer.start(), startWrongNameServer()]);
    await server.setToken(tokenFor(server.port, server.user, T0));
  }, 60_000);

  afterEach(async () => {
    for (const w of workers.splice(0)) {
      await w.stop();
      outputs.push(w.diagnostics);
    }
  });

  afterAll(async () => {
    await Promise.all([server?.destroy(), wrongName?.server.destroy()]);
    PhpWorker.cleanup();
  }, 30_000);

  test('works over verified TLS, with utf8mb4 from the handshake and no server-side prepare', async () => {
    const w = await worker(environment(server.port, server));
    const [[, cipher]] = await w.call<string[][]>('pdo', { sql: "SHOW SESSION STATUS LIKE 'Ssl_cipher'" });
    expect(cipher).not.toBe('');
    expect(await w.call('pdo', { sql: 'SELECT @@character_set_client' })).toEqual([['utf8mb4']]);
    expect(await w.call('pdo', { sql: "SHOW SESSION STATUS LIKE 'Com_set_option'" })).toEqual([['Com_set_option', '0']]);
  });

  test('refused: a certificate from an untrusted CA; no CA file at all is a configuration error', async () => {
    const w = await worker(environment(server.port, server, server.strangerCaFile));
    const err = await w.error('pdo', { sql: 'SELECT 1' });
    expect(err).toMatchObject({ reason: 'TLS_VERIFICATION_FAILED' });
    expect(err.message).toContain('the token was not sent');
    const none = await worker({ ...environment(server.port, server), DB_CA_BUNDLE_FILE: undefined }, ['openssl.cafile=', 'openssl.capath=']);
    expect(await none.error('pdo', { sql: 'SELECT 1' })).toMatchObject({ reason: 'CONFIGURATION_ERROR' });
    expect(await server.connectionIds()).toEqual([]);
  });

  test('refused: a certificate that chains to the trusted CA but names another host', async () => {
    await wrongName.server.setToken(tokenFor(wrongName.server.port, wrongName.server.user, T0));
    const w = await worker(environment(wrongName.server.port, wrongName.server, wrongName.caFile));
    expect(await w.error('pdo', { sql: 'SELECT 1' })).toMatchObject({ reason: 'TLS_VERIFICATION_FAILED' });
    expect(await wrongName.server.connectionIds()).toEqual([]);
  });

  test('refused: a server that offers no TLS receives nothing', async () => {
    const fake = await noTlsServer();
    try {
      const w = await worker(environment(portOf(fake.server), server));
      const err = await w.error('pdo', { sql: 'SELECT 1' });
      expect(err).toMatchObject({ reason: 'TLS_REQUIRED' });
      expect(err.message).toContain('the server does not offer TLS');
      expect(fake.received()).toHaveLength(0);
    } finally {
      await closeServer(fake.server);
    }
  });

  test('refused: a wrong token (ACCESS_DENIED), signed once more, not presented again', async () => {
    await server.setToken('some-other-token');
    const w = await worker(environment(server.port, server));
    expect(await w.error('pdo', { sql: 'SELECT 1' })).toMatchObject({ reason: 'ACCESS_DENIED', code: 1045 });
    // A freshly minted token that is refused is not retried in a loop.
    expect(await w.call('stats')).toEqual({ tokensMinted: 1, connectionsOpened: 0, reconnects: 0 });
    await server.setToken(tokenFor(server.port, server.user, T0));
    expect(await w.call('pdo', { sql: 'SELECT 1' })).toEqual([[1]]);
    expect(await w.call('stats')).toEqual({ tokensMinted: 2, connectionsOpened: 1, reconnects: 0 });
  });

  test('a server that drops the connection after TLS and the token is CONNECTION_LOST, not TLS_REQUIRED', async () => {
    const relay = await hangUpAfter(server.port, 1000);
    try {
      await server.setToken(tokenFor(relay.port, server.user, T0));
      const w = await worker(environment(relay.port, server));
      const err = await w.error('pdo', { sql: 'SELECT 1' });
      expect(relay.cut()).toBe(1);
      expect(err.reason).toBe('CONNECTION_LOST');
      expect(err.message).toContain('after TLS was set up and the credentials were sent inside it');
      // The same through mysqli.
      const m = await worker(environment(relay.port, server));
      const mysqliErr = await m.error('query', { sql: 'SELECT 1' });
      expect(relay.cut()).toBe(2);
      expect(mysqliErr.reason).toBe('CONNECTION_LOST');
      expect(mysqliErr.message).toContain('after TLS was set up and the credentials were sent inside it');
    } finally {
      await relay.close();
    }
  });
});

test('CI installs what this file needs (.ci/install-test-deps), so there it runs rather than skips', () => {
  const install = readFileSync(join(__dirname, '..', '.ci', 'install-test-deps'), 'utf8');
  for (const pkg of ['php-fpm', 'php-apcu', 'php-mysql', 'libfcgi-bin', 'php-laravel-framework', 'php-doctrine-dbal', 'composer']) {
    expect(install).toContain(pkg);
  }
});

afterAll(() => {
  // Nothing PHP answered or printed holds a token or a credential.
  if (outputs.length === 0) return;
  for (const text of outputs) {
    for (const secret of secrets) expect(text.includes(secret)).toBe(false);
    expect(text).not.toMatch(/X-Amz-Signature|X-Amz-Security-Token/);
  }
});
