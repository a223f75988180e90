/*
 * Benchmark of the Lambda handler bundle, against a local MariaDB over TLS
 * (the same stand-in for RDS Proxy the tests use).
 *
 *   npx projen benchmark
 *
 * Env: BENCH_ROUNDS (default 2000), BENCH_COLD_RUNS (default 20 per bundle),
 *      BENCH_BUNDLE (default assets/handler/query.lambda/index.js).
 *
 * Prints, all measured interleaved (never one loop after another):
 *
 * 1. Warm. Each round runs each of these once, in a shuffled order, one
 *    process; medians over the rounds, and the median of the per-round ratios:
 *    (a) a warm invocation of the bundled handler;
 *    (b) the floor: `SHOW TABLES` through mysql2's promise API, on the
 *        handler's own connection (same socket, same server thread);
 *    (b') the same through mysql2's callback API;
 *    (d) the promise API with mysql2's per-query `timeout` (what the handler
 *        ran before it had its own watchdog);
 *    (c) the reference sample's pattern: connect + TLS + auth + SHOW TABLES
 *        + close, per invocation.
 * 2. Cold. A fresh node process per run, the shipped bundle and a naive one
 *    (esbuild --bundle --minify, nothing trimmed) alternating: from `require`
 *    of the bundle to the handler's first answer (token, TLS handshake, query).
 * 3. Sizes: bytes, gzipped bytes, top packages (esbuild metafile).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Connection } from 'mysql2';
import { createConnection } from 'mysql2/promise';
import type { ConnectionOptions } from 'mysql2/promise';
import { FAKE_CREDENTIALS, FAKE_REGION, handlerEnvironment, iamAuthToken, MariaDbServer, mariaDbAvailability } from '../test/support/mariadb';

type HandlerModule = typeof import('../src/handler/query.lambda');

const ROOT = resolve(__dirname, '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2000);
const WARMUP_ROUNDS = 200;
const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 20);
const SHIPPED_BUNDLE = resolve(process.env.BENCH_BUNDLE ?? join(ROOT, 'assets', 'handler', 'query.lambda', 'index.js'));
const ENTRY = 'src/handler/query.lambda.ts';
const TASK = 'bundle:handler/query.lambda';
const SHOW_TABLES = { sql: 'SHOW TABLES', rowsAsArray: true };
const CONTEXT = { getRemainingTimeInMillis: () => 10_000 };

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

function shuffled(n: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

const ms = (x: number) => `${x.toFixed(3)} ms`;
const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
const met = (ok: boolean) => (ok ? 'met' : 'NOT met');

/* ----------------------------- bundles ---------------------------------- */

interface BundleReport {
  readonly name: string;
  readonly file: string;
  readonly bytes: number;
  readonly gzipBytes: number;
  readonly top: Array<[string, number]>;
}

/** The esbuild arguments of projen's bundle task (the shipped bundle's recipe). */
function projenBundleArgs(): string[] {
  const tasks = JSON.parse(readFileSync(join(ROOT, '.projen', 'tasks.json'), 'utf8'));
  const steps: Array<{ exec?: string; execArgs?: string[] }> = tasks.tasks[TASK]?.steps ?? [];
  const step = steps.find((s) => s.execArgs?.[0] === 'esbuild');
  if (!step?.execArgs) throw new Error(`no esbuild step in task ${TASK}`);
  return step.execArgs.slice(1);
}

function build(name: string, args: string[], dir: string): BundleReport {
  const file = join(dir, `${name}.js`);
  const meta = join(dir, `${name}.meta.json`);
  const esbuild = join(ROOT, 'node_modules', '.bin', 'esbuild');
  const clean = args.filter((a) => !a.startsWith('--outfile=') && !a.startsWith('--metafile='));
  execFileSync(esbuild, [...clean, `--outfile=${file}`, `--metafile=${meta}`, '--log-level=warning'], { cwd: ROOT, stdio: 'inherit' });
  const metafile = JSON.parse(readFileSync(meta, 'utf8')) as { outputs: Record<string, { inputs: Record<string, { bytesInOutput: number }> }> };
  const out = Object.values(metafile.outputs)[0];
  const byPackage = new Map<string, number>();
  for (const [input, { bytesInOutput }] of Object.entries(out.inputs)) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
    const key = m ? m[1] : input;
    byPackage.set(key, (byPackage.get(key) ?? 0) + bytesInOutput);
  }
  const content = readFileSync(file);
  return {
    name,
    file,
    bytes: content.length,
    gzipBytes: gzipSync(content, { level: 9 }).length,
    top: [...byPackage.entries()].sort((a, b) => b[1] - a[1]),
  };
}

/* ------------------------------- warm ------------------------------------ */

/** The token the server must accept for a login at `at` (the token names the second). */
function tokenAt(server: MariaDbServer, at: number): string {
  return iamAuthToken({ host: server.host, port: server.port, user: server.user, region: FAKE_REGION, credentials: FAKE_CREDENTIALS, at });
}

/** A fresh copy of `file`, warmed: it has opened its connection. */
async function warmHandler(server: MariaDbServer, file: string): Promise<HandlerModule> {
  for (let attempt = 0; attempt < 5; attempt++) {
    delete require.cache[require.resolve(file)];
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(file) as HandlerModule;
    mod.trustCaForTests(server.caPem);
    await server.setToken(tokenAt(server, Date.now()));
    const r = await mod.handler({}, CONTEXT);
    if (r.ok) return mod;
    await mod.resetForTests();
    // The second changed between setting the token and minting it: again.
    if (r.error.code !== 'ACCESS_DENIED') throw new Error(`handler failed: ${JSON.stringify(r)}`);
  }
  throw new Error('could not warm the handler');
}

async function warm(server: MariaDbServer): Promise<void> {
  const realLog = console.log;
  console.log = () => undefined; // the handler logs each new connection
  const mod = await warmHandler(server, SHIPPED_BUNDLE);
  console.log = realLog;
  const core = mod.currentConnection() as Connection;
  const promiseApi = core.promise();
  const sampleOptions: ConnectionOptions = {
    host: server.host,
    port: server.port,
    user: server.user,
    password: server.token,
    database: server.database,
    enableCleartextPlugin: true,
    ssl: { ca: server.caPem, rejectUnauthorized: true, verifyIdentity: true, minVersion: 'TLSv1.2' },
  };
  const variants: Array<[string, () => Promise<unknown>]> = [
    ['(a) warm handler invocation', async () => {
      const r = await mod.handler({}, CONTEXT);
      if (!r.ok) throw new Error(JSON.stringify(r));
    }],
    ['(b) floor: mysql2 promise API query()', () => promiseApi.query(SHOW_TABLES)],
    ["(b') mysql2 callback API query()", () => new Promise((res, rej) => core.query(SHOW_TABLES, (err: unknown, rows: unknown) => (err ? rej(err) : res(rows))))],
    ['(d) mysql2 promise API query() with a per-query timeout', () => promiseApi.query({ ...SHOW_TABLES, timeout: 30_000 })],
    ['(c) sample pattern: connect + TLS + auth + SHOW TABLES + close', async () => {
      const c = await createConnection(sampleOptions);
      await c.query(SHOW_TABLES);
      await c.end();
    }],
  ];
  const samples: number[][] = variants.map(() => []);
  for (let round = 0; round < WARMUP_ROUNDS + ROUNDS; round++) {
    for (const j of shuffled(variants.length)) {
      const t = nowMs();
      await variants[j][1]();
      if (round >= WARMUP_ROUNDS) samples[j].push(nowMs() - t);
    }
  }
  if (mod.stats.connectionsOpened !== 1 || mod.stats.tokensMinted !== 1 || mod.currentConnection() !== core) {
    throw new Error(`the handler did not keep its one connection: ${JSON.stringify(mod.stats)}`);
  }
  await mod.resetForTests();

  const [a, b, b2, d, c] = samples;
  const perRound = (x: number[], y: number[]) => median(x.map((v, i) => v / y[i]));
  console.log(`Warm invocation: ${ROUNDS} rounds (after ${WARMUP_ROUNDS} warm-up rounds), each variant once per round in shuffled order; (a), (b), (b'), (d) on one connection`);
  variants.forEach(([label], i) => console.log(`  ${label}: median ${ms(median(samples[i]))}`));
  const ab = median(a) / median(b);
  console.log(`  a/b  = ${ab.toFixed(3)} (median of per-round ratios ${perRound(a, b).toFixed(3)}); target <= 1.10: ${met(ab <= 1.1)}`);
  console.log(`  a/b' = ${(median(a) / median(b2)).toFixed(3)} (median of per-round ratios ${perRound(a, b2).toFixed(3)})`);
  console.log(`  b/b' = ${(median(b) / median(b2)).toFixed(3)} (median of per-round ratios ${perRound(b, b2).toFixed(3)}): mysql2's promise wrapper`);
  console.log(`  d/b  = ${(median(d) / median(b)).toFixed(3)} (median of per-round ratios ${perRound(d, b).toFixed(3)}): mysql2's per-query timeout timer`);
  console.log(`  c/a  = ${(median(c) / median(a)).toFixed(1)} (median of per-round ratios ${perRound(c, a).toFixed(1)})`);
}

/* ------------------------------- cold ------------------------------------ */

/** Run in a fresh node process: require the bundle, invoke once, report. */
const COLD_CHILD = `
const t0 = process.hrtime.bigint();
const mod = require(process.env.BENCH_COLD_BUNDLE);
const t1 = process.hrtime.bigint();
mod.handler({}, { getRemainingTimeInMillis: () => 10000 }).then((r) => {
  const t2 = process.hrtime.bigint();
  process.stderr.write('RESULT ' + JSON.stringify({
    ok: r.ok, code: r.ok ? undefined : r.error.code,
    requireMs: Number(t1 - t0) / 1e6, firstAnswerMs: Number(t2 - t0) / 1e6,
  }) + '\\n');
  process.exit(0);
});
`;

interface ColdRun {
  readonly ok: boolean;
  readonly code?: string;
  readonly requireMs: number;
  readonly firstAnswerMs: number;
}

async function coldRun(server: MariaDbServer, bundle: string, childFile: string): Promise<ColdRun> {
  // The server accepts the token of one second: start early in a second, so
  // the child (which mints within ~0.2 s of starting) signs in the same one.
  while (Date.now() % 1000 > 600) await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000)));
  await server.setToken(tokenAt(server, Date.now()));
  const r = spawnSync(process.execPath, [childFile], {
    encoding: 'utf8',
    timeout: 30_000,
    env: {
      PATH: process.env.PATH ?? '',
      ...handlerEnvironment(server),
      // The child trusts the test CA the way a Node.js process can be told to
      // trust an extra CA: Node adds it to its default store.
      NODE_EXTRA_CA_CERTS: server.caFile,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: '/nonexistent/aws-config',
      AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
      BENCH_COLD_BUNDLE: bundle,
    },
  });
  const line = r.stderr.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || !line) throw new Error(`cold run of ${bundle} failed (status ${r.status}):\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(line.slice('RESULT '.length)) as ColdRun;
}

async function cold(server: MariaDbServer, bundles: BundleReport[], dir: string): Promise<void> {
  const childFile = join(dir, 'cold-child.js');
  writeFileSync(childFile, COLD_CHILD);
  const runs: ColdRun[][] = bundles.map(() => []);
  let retried = 0;
  for (let i = 0; i < COLD_RUNS + 1; i++) {
    // Alternate the bundles, and which goes first; the first pair warms the page cache.
    for (const j of i % 2 ? [...bundles.keys()].reverse() : bundles.keys()) {
      let run = await coldRun(server, bundles[j].file, childFile);
      for (let k = 0; k < 3 && !run.ok && run.code === 'ACCESS_DENIED'; k++, retried++) run = await coldRun(server, bundles[j].file, childFile);
      if (!run.ok) throw new Error(`cold run of ${bundles[j].name} answered ${run.code}`);
      if (i > 0) runs[j].push(run);
    }
  }
  console.log(`Cold start: a fresh node process per run, ${COLD_RUNS} runs per bundle, bundles alternating${retried ? ` (${retried} runs repeated: token second changed)` : ''}`);
  console.log('  from require() of the bundle to the first answer (token, TLS handshake, SHOW TABLES):');
  const firstAnswer = runs.map((rs) => median(rs.map((r) => r.firstAnswerMs)));
  bundles.forEach((b, j) => {
    console.log(`  ${b.name.padEnd(8)} median ${ms(firstAnswer[j])} (of which require(): ${ms(median(runs[j].map((r) => r.requireMs)))})`);
  });
  console.log(`  ${bundles[0].name}/${bundles[1].name} = ${(firstAnswer[0] / firstAnswer[1]).toFixed(2)}`);
}

/* ------------------------------- main ------------------------------------ */

async function main(): Promise<void> {
  const availability = mariaDbAvailability();
  if (!availability.available) {
    console.error(`benchmark needs MariaDB: ${availability.reason}`);
    process.exit(2);
  }
  const dir = mkdtempSync(join(tmpdir(), 'handler-bench-'));
  const server = await MariaDbServer.start({ tables: ['customers', 'orders', 'products'] }, availability.binaries);
  try {
    Object.assign(process.env, handlerEnvironment(server));
    console.log(`MariaDB ${server.host}:${server.port} over TLS; node ${process.version}; ${relative(ROOT, SHIPPED_BUNDLE)} (${statSync(SHIPPED_BUNDLE).size} B)`);
    console.log('');

    await warm(server);
    console.log('');

    const projenArgs = projenBundleArgs();
    const target = projenArgs.find((a) => a.startsWith('--target=')) ?? '--target=node24';
    const naiveArgs = ['--bundle', ENTRY, '--platform=node', target, '--minify'];
    const shipped = build('shipped', projenArgs, dir);
    const naive = build('naive', naiveArgs, dir);
    if (!readFileSync(shipped.file).equals(readFileSync(SHIPPED_BUNDLE))) {
      console.log(`  note: ${relative(ROOT, SHIPPED_BUNDLE)} differs from a fresh build of the projen task (run 'npx projen bundle')`);
    }
    await cold(server, [{ ...shipped, file: SHIPPED_BUNDLE }, naive], dir);
    console.log('');

    console.log('Bundles');
    console.log(`  shipped = projen task ${TASK}: esbuild ${projenArgs.join(' ')}`);
    console.log(`  naive   = esbuild ${naiveArgs.join(' ')}`);
    for (const b of [shipped, naive]) {
      console.log(`  ${b.name.padEnd(8)} ${String(b.bytes).padStart(8)} B (${kib(b.bytes)}), gzip ${String(b.gzipBytes).padStart(7)} B (${kib(b.gzipBytes)})`);
    }
    console.log(`  shipped: size <= 550 KiB ${met(shipped.bytes <= 550 * 1024)}`);
    for (const b of [shipped, naive]) {
      console.log(`  top packages, ${b.name}:`);
      for (const [pkg, bytes] of b.top.slice(0, 10)) console.log(`    ${String(bytes).padStart(8)}  ${pkg}`);
    }
  } finally {
    await server.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
