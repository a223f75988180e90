/*
 * Benchmark of the PHP web path: PHP-FPM with one static worker, configured as
 * Bref's web runtime configures it (test/support/php-fpm.ts), serving the test
 * web app (test/fixtures/php-web/index.php) to FastCGI requests sent from this
 * process (a minimal FastCGI client below: a new socket per request, as a
 * gateway adapter does), against the local MariaDB over TLS the tests use.
 *
 *   npx projen benchmark
 *
 * Env: BENCH_PHP_ROUNDS (default 1000).
 *
 * Each round sends each of these requests once, in a shuffled order (never one
 * loop after another), to the same worker; each runs one SELECT:
 *   (a) through the connector: Database::pdo() (persistent PDO, the kept token);
 *   (b) the floor: a bare persistent PDO with a fixed password, same server,
 *       same TLS settings, the connector not even loaded;
 *   (c) the reference sample's pattern: a new token and a new connection
 *       (TLS handshake, authentication) per request.
 * Prints the medians and the ratios (a)/(b) and (c)/(a).
 */
import { connect } from 'node:net';
import { FAKE_CREDENTIALS, FAKE_REGION, iamAuthToken, MariaDbServer, mariaDbAvailability } from '../test/support/mariadb';
import { fpmAvailability, PhpFpm, WEB_APP } from '../test/support/php-fpm';

const ROUNDS = Number(process.env.BENCH_PHP_ROUNDS ?? 1000);
const WARMUP_ROUNDS = 50;
const T0 = Math.floor(Date.now() / 1000);

/** One FastCGI request (RESPONDER role) over a new connection; resolves with stdout. */
function fastcgi(socket: string, params: Record<string, string>): Promise<string> {
  const record = (type: number, content: Buffer) => {
    const header = Buffer.alloc(8);
    header.writeUInt8(1, 0);
    header.writeUInt8(type, 1);
    header.writeUInt16BE(1, 2);
    header.writeUInt16BE(content.length, 4);
    return Buffer.concat([header, content]);
  };
  // Name and value lengths: one byte below 128, else four with the top bit set.
  const length = (n: number) => {
    if (n < 128) return Buffer.from([n]);
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n + 0x80000000);
    return b;
  };
  const pairs = Buffer.concat(Object.entries(params).map(([k, v]) =>
    Buffer.concat([length(Buffer.byteLength(k)), length(Buffer.byteLength(v)), Buffer.from(k), Buffer.from(v)])));
  const request = Buffer.concat([
    record(1, Buffer.from([0, 1, 0, 0, 0, 0, 0, 0])), // BEGIN_REQUEST, RESPONDER, no keep-alive
    record(4, pairs),
    record(4, Buffer.alloc(0)),
    record(5, Buffer.alloc(0)), // empty STDIN
  ]);
  return new Promise((resolvePromise, reject) => {
    const chunks: Buffer[] = [];
    let pending = Buffer.alloc(0);
    const stdout: Buffer[] = [];
    const s = connect(socket, () => s.write(request));
    s.on('data', (d: Buffer) => {
      chunks.push(d);
      pending = Buffer.concat([pending, d]);
      while (pending.length >= 8) {
        const type = pending.readUInt8(1);
        const contentLength = pending.readUInt16BE(4);
        const padding = pending.readUInt8(6);
        if (pending.length < 8 + contentLength + padding) break;
        if (type === 6) stdout.push(pending.subarray(8, 8 + contentLength));
        pending = pending.subarray(8 + contentLength + padding);
        if (type === 3) {
          s.end();
          resolvePromise(Buffer.concat(stdout).toString());
          return;
        }
      }
    });
    s.on('error', reject);
  });
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((p, q) => p - q);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function shuffle<T>(xs: T[]): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

async function main(): Promise<void> {
  const fpm = fpmAvailability();
  const mariaDb = mariaDbAvailability();
  if (!fpm.available || !mariaDb.available) {
    console.log(`PHP web path: skipped (${!fpm.available ? fpm.reason : ''}${!mariaDb.available ? ` ${mariaDb.reason}` : ''})`);
    return;
  }
  const server = await MariaDbServer.start();
  let php: PhpFpm | undefined;
  try {
    const token = iamAuthToken({ host: '127.0.0.1', port: server.port, user: server.user, region: FAKE_REGION, credentials: FAKE_CREDENTIALS, at: T0 * 1000 });
    await server.setToken(token);
    // (b)'s user: a fixed password, TLS required, the same grants.
    await server.adminQuery("CREATE USER 'bare_user'@'%' IDENTIFIED BY 'bare-password-for-the-benchmark' REQUIRE SSL");
    await server.adminQuery(`GRANT SELECT ON \`${server.database}\`.* TO 'bare_user'@'%'`);
    php = await PhpFpm.start(fpm, {
      env: {
        AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
        AWS_SESSION_TOKEN: FAKE_CREDENTIALS.sessionToken,
        AWS_REGION: FAKE_REGION,
        DB_HOST: '127.0.0.1',
        DB_PORT: String(server.port),
        DB_USER: server.user,
        DB_NAME: server.database,
        DB_CA_BUNDLE_FILE: server.caFile,
        BARE_USER: 'bare_user',
        BARE_PASSWORD: 'bare-password-for-the-benchmark',
      },
      ini: ['display_errors=0'],
    });
    const params = (via: string) => {
      const query = `via=${via}&now=${T0}&report=0`;
      return {
        GATEWAY_INTERFACE: 'CGI/1.1',
        REQUEST_METHOD: 'GET',
        SCRIPT_FILENAME: WEB_APP,
        SCRIPT_NAME: '/index.php',
        REQUEST_URI: `/?${query}`,
        QUERY_STRING: query,
        SERVER_PROTOCOL: 'HTTP/1.1',
        SERVER_NAME: 'localhost',
      };
    };
    const variants = [
      { label: '(a) connector, Database::pdo()', via: 'pdo' },
      { label: '(b) bare persistent PDO, fixed password', via: 'bare' },
      { label: '(c) new token + new connection per request', via: 'fresh' },
    ];
    const samples: number[][] = variants.map(() => []);
    for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
      for (const i of shuffle([0, 1, 2])) {
        const started = process.hrtime.bigint();
        const out = await fastcgi(php.socket, params(variants[i].via));
        const elapsed = Number(process.hrtime.bigint() - started) / 1e6;
        if (!/"id":\d+/.test(out) || /"error"/.test(out)) throw new Error(`${variants[i].via} failed: ${out.replace(/X-Amz-[^"&]*/g, '[redacted]')}`);
        if (round >= WARMUP_ROUNDS) samples[i].push(elapsed);
      }
    }
    const [a, b, c] = samples;
    const perRound = (x: number[], y: number[]) => median(x.map((v, k) => v / y[k]));
    const ms = (v: number) => `${v.toFixed(3)} ms`;
    console.log(`PHP web path over FastCGI: PHP-FPM (${fpm.fpm}), one static worker as Bref runs it; ${ROUNDS} rounds (after ${WARMUP_ROUNDS} warm-up rounds), each request once per round in shuffled order; one SELECT each; MariaDB over TLS`);
    variants.forEach((v, i) => console.log(`  ${v.label}: median ${ms(median(samples[i]))}`));
    const ab = median(a) / median(b);
    console.log(`  a/b = ${ab.toFixed(3)} (median of per-round ratios ${perRound(a, b).toFixed(3)}); target <= 1.10: ${ab <= 1.1 ? 'met' : 'NOT met'}`);
    console.log(`  c/a = ${(median(c) / median(a)).toFixed(2)} (median of per-round ratios ${perRound(c, a).toFixed(2)})`);
    const open = (await server.connectionIds()).length + (await server.connectionIds('bare_user')).length;
    console.log(`  server connections open at the end: ${open} (the worker's persistent ones: (a)'s and (b)'s)`);
  } finally {
    await php?.stop();
    await server.destroy();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
