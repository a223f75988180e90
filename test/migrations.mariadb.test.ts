/*
 * The migration engine live against the MariaDB stand-in, as the migration
 * user (privileges on its databases only, TLS verified): a first run, a rerun,
 * a new version, an edited applied file, a failing file and its fix, out of
 * order, the named lock, the time budget, and the command line's output and
 * history compared with the engine's.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createConnection } from 'mysql2/promise';
import type { Connection, RowDataPacket } from 'mysql2/promise';
import {
  checksumOf, migrate, migrationFiles, MigrationError, migrationStatus, readMigrationDirectory,
  type MigrateOptions, type MigrationProgress, type MigrationSource,
} from '../src/migrations';
import { MariaDbServer, mariaDbOrSkip } from './support/mariadb';
import {
  connectAsMigrator, createMigrationUser, historyOf, MIGRATION_PASSWORD, MIGRATION_USER, migrationDirectory, SHOP_MIGRATIONS, withFiles,
} from './support/migrations';

const CLI = join(__dirname, '..', 'assets', 'cli', 'main', 'serverless-lamp-database.js');
const availability = mariaDbOrSkip('test/migrations.mariadb.test.ts');
const describeWithMariaDb = availability.available ? describe : describe.skip;

jest.setTimeout(60_000);

const V4 = { 'V4__add_products.sql': 'CREATE TABLE products (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL);\n' };
/** Statement 2 of 3 names a table that does not exist. */
const V5_BROKEN = {
  'V5__add_reviews.sql': [
    'CREATE TABLE IF NOT EXISTS reviews (id INT PRIMARY KEY, product_id INT NOT NULL, stars INT NOT NULL);',
    '',
    '-- the wrong table:',
    'INSERT INTO no_such_table (id) VALUES (1);',
    'INSERT INTO reviews VALUES (1, 1, 5);',
    '',
  ].join('\n'),
};
const V5_FIXED = {
  'V5__add_reviews.sql': V5_BROKEN['V5__add_reviews.sql'].replace('-- the wrong table:\nINSERT INTO no_such_table (id) VALUES (1);\n', "INSERT INTO products VALUES (1, 'lamp');\n"),
};

async function failureOf(promise: Promise<unknown>): Promise<MigrationError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof MigrationError) return err;
    throw err;
  }
  throw new Error('expected the run to fail');
}

async function tables(server: MariaDbServer, db: string): Promise<string[]> {
  const rows = await server.adminQuery<RowDataPacket[]>(`SELECT TABLE_NAME AS t FROM information_schema.TABLES WHERE TABLE_SCHEMA = '${db}' ORDER BY 1`);
  return rows.map((r) => String(r.t));
}

describeWithMariaDb('migrations against MariaDB', () => {
  let server: MariaDbServer;
  const shop: MigrationSource[] = readMigrationDirectory(SHOP_MIGRATIONS);
  const open: Connection[] = [];

  async function connect(db: string): Promise<Connection> {
    const conn = await connectAsMigrator(server, db);
    open.push(conn);
    return conn;
  }

  /** One run on a connection of its own, as each deploy or command has. */
  async function run(db: string, sources: readonly MigrationSource[], options: MigrateOptions = {}) {
    const conn = await connect(db);
    try {
      return await migrate(conn, sources, options);
    } finally {
      await conn.end();
    }
  }

  beforeAll(async () => {
    if (!availability.available) return;
    server = await MariaDbServer.start({ database: 'lamp' }, availability.binaries);
    await createMigrationUser(server, ['shop', 'shop_concurrent', 'shop_cli', 'shop_engine', 'shop_deadline']);
  });

  afterAll(async () => {
    for (const conn of open) conn.destroy();
    await server?.destroy();
  });

  describe('the life of one database', () => {
    test('the first run applies V1..V3 in order, routines and triggers included, and records each', async () => {
      const events: MigrationProgress[] = [];
      const result = await run('shop', shop, { onProgress: (e) => events.push(e) });

      expect(result.database).toBe('shop');
      expect(result.applied.map((a) => a.script)).toEqual(['V1__create_customers.sql', 'V2__create_orders.sql', 'V3__order_status_and_routines.sql']);
      expect(events.map((e) => (e.kind === 'start' || e.kind === 'applied' ? `${e.kind} ${e.file.version}` : e.kind))).toEqual([
        'plan', 'start 1', 'applied 1', 'start 2', 'applied 2', 'start 3', 'applied 3',
      ]);
      expect(events.filter((e) => e.kind === 'start').map((e) => (e as { statements: number }).statements)).toEqual([2, 1, 4]);

      expect(await tables(server, 'shop')).toEqual(['customers', 'orders', 'serverless_lamp_schema_history']);
      // Semicolons and quotes inside strings reached the server intact.
      const customers = await server.adminQuery<RowDataPacket[]>('SELECT name, note FROM shop.customers ORDER BY id');
      expect(customers.map((r) => [r.name, r.note])).toEqual([["O'Brien; Ltd", "it's; fine"], ['double "; quoted', 'first; second']]);
      // The trigger and the procedure (DELIMITER blocks) exist and work.
      await expect(server.adminQuery("INSERT INTO shop.orders (customer_id, status) VALUES (1, 'lost')")).rejects.toThrow('bad status; refused');
      await server.adminQuery('CALL shop.order_count(1, @n)');
      const [count] = await server.adminQuery<RowDataPacket[]>('SELECT @n AS n');
      expect(Number(count.n)).toBe(1);

      const checksums = migrationFiles(shop).map((f) => f.checksum);
      expect(await historyOf(server, 'shop')).toEqual([
        { installed_rank: 1, version: '1', description: 'create customers', script: 'V1__create_customers.sql', checksum: checksums[0], installed_by: 'migrator@%', success: 1 },
        { installed_rank: 2, version: '2', description: 'create orders', script: 'V2__create_orders.sql', checksum: checksums[1], installed_by: 'migrator@%', success: 1 },
        { installed_rank: 3, version: '3', description: 'order status and routines', script: 'V3__order_status_and_routines.sql', checksum: checksums[2], installed_by: 'migrator@%', success: 1 },
      ]);
    });

    test('a rerun with no change runs nothing', async () => {
      const before = await historyOf(server, 'shop');
      const events: MigrationProgress[] = [];
      const result = await run('shop', shop, { onProgress: (e) => events.push(e) });
      expect(result.applied).toEqual([]);
      expect(events).toEqual([{ kind: 'plan', database: 'shop', pending: [], appliedCount: 3 }]);
      expect(await historyOf(server, 'shop')).toEqual(before);
    });

    test('adding V4 runs only V4', async () => {
      const result = await run('shop', withFiles(shop, V4));
      expect(result.applied.map((a) => a.version)).toEqual(['4']);
      expect((await historyOf(server, 'shop')).map((r) => [r.version, r.success])).toEqual([['1', 1], ['2', 1], ['3', 1], ['4', 1]]);
    });

    test('an edited V2 fails validation, naming the file and both checksums, and nothing runs (not even a new V5)', async () => {
      const before = await historyOf(server, 'shop');
      const editedText = 'CREATE TABLE orders (id INT PRIMARY KEY);\n';
      const err = await failureOf(run('shop', withFiles(shop, { ...V4, ...V5_FIXED, 'V2__create_orders.sql': editedText })));
      expect(err.failure).toBe('validation');
      expect(err.message).toContain('nothing was applied');
      expect(err.message).toContain(`V2__create_orders.sql: version 2 was applied (as V2__create_orders.sql) with checksum ${before[1].checksum}, ` +
        `but the file's checksum is now ${checksumOf(editedText)}`);
      expect(await historyOf(server, 'shop')).toEqual(before);
      expect(await tables(server, 'shop')).not.toContain('reviews');
    });

    test('a broken V5 fails naming its statement and the server error; the history records the failure', async () => {
      const events: MigrationProgress[] = [];
      const err = await failureOf(run('shop', withFiles(shop, { ...V4, ...V5_BROKEN }), { onProgress: (e) => events.push(e) }));
      expect(err.failure).toBe('statement');
      expect(err.message).toMatch(/^V5__add_reviews.sql: statement 2 of 3 \(line 4: INSERT INTO no_such_table \(id\) VALUES \(1\)\) failed: ER_NO_SUCH_TABLE \(1146\): Table 'shop.no_such_table' doesn't exist\. /);
      expect(err.message).toContain('Statements 1 to 1 of this file ran and stay applied (MySQL commits DDL statements implicitly)');
      expect(err.message).toContain('The history records the version as failed; fix the file and run again: version 5 then runs again from its first statement');
      expect(events.map((e) => e.kind)).toEqual(['plan', 'start', 'failed']);

      const history = await historyOf(server, 'shop');
      expect(history.map((r) => [r.version, r.success])).toEqual([['1', 1], ['2', 1], ['3', 1], ['4', 1], ['5', 0]]);
      expect(history[4].checksum).toBe(checksumOf(V5_BROKEN['V5__add_reviews.sql']));
      // MySQL committed the CREATE TABLE before the failing statement.
      expect(await tables(server, 'shop')).toContain('reviews');
    });

    test('status shows the failed version', async () => {
      const conn = await connect('shop');
      const status = await migrationStatus(conn, withFiles(shop, { ...V4, ...V5_BROKEN }));
      await conn.end();
      expect(status.versions.map((v) => [v.version, v.state])).toEqual([['1', 'applied'], ['2', 'applied'], ['3', 'applied'], ['4', 'applied'], ['5', 'failed']]);
    });

    test('the fixed V5 then runs from its first statement and replaces the failed row', async () => {
      const result = await run('shop', withFiles(shop, { ...V4, ...V5_FIXED }));
      expect(result.applied.map((a) => a.version)).toEqual(['5']);
      const history = await historyOf(server, 'shop');
      expect(history.map((r) => [r.installed_rank, r.version, r.success])).toEqual([[1, '1', 1], [2, '2', 1], [3, '3', 1], [4, '4', 1], [6, '5', 1]]);
      expect(history[4].checksum).toBe(checksumOf(V5_FIXED['V5__add_reviews.sql']));
      const reviews = await server.adminQuery<RowDataPacket[]>('SELECT id, product_id, stars FROM shop.reviews');
      expect(reviews.map((r) => ({ ...r }))).toEqual([{ id: 1, product_id: 1, stars: 5 }]);
    });

    test('a new version lower than the newest applied is refused, and runs when out-of-order is allowed', async () => {
      const late = { 'V4.5__add_index.sql': 'CREATE INDEX orders_status ON orders (status);\n' };
      const sources = withFiles(shop, { ...V4, ...V5_FIXED, ...late });
      const before = await historyOf(server, 'shop');
      const err = await failureOf(run('shop', sources));
      expect(err.failure).toBe('validation');
      expect(err.message).toContain('V4.5__add_index.sql: version lower than the newest applied version (5)');
      expect(await historyOf(server, 'shop')).toEqual(before);

      const warnings: string[] = [];
      const result = await run('shop', sources, { outOfOrder: true, onProgress: (e) => e.kind === 'warning' && warnings.push(e.message) });
      expect(result.applied.map((a) => a.version)).toEqual(['4.5']);
      expect(warnings).toEqual(['V4.5__add_index.sql: lower than the newest applied version 5, run out of order as allowed']);
    });

    test('an applied version whose file is gone is reported and left alone', async () => {
      const sources = withFiles(shop, { ...V4, ...V5_FIXED, 'V4.5__add_index.sql': 'CREATE INDEX orders_status ON orders (status);\n' })
        .filter((s) => s.name !== 'V1__create_customers.sql');
      const result = await run('shop', sources);
      expect(result.applied).toEqual([]);
      expect(result.warnings).toEqual(['version 1 (V1__create_customers.sql) is applied in the database but its file is missing; it is left as it is']);
      expect(await tables(server, 'shop')).toContain('customers');
    });
  });

  describe('the named lock', () => {
    test('two concurrent runs serialize: one applies everything, the other finds nothing to do', async () => {
      const [a, b] = await Promise.all([run('shop_concurrent', shop), run('shop_concurrent', shop)]);
      expect([a.applied.length, b.applied.length].sort()).toEqual([0, 3]);
      expect((await historyOf(server, 'shop_concurrent')).map((r) => r.version)).toEqual(['1', '2', '3']);
    });

    test('a run waits while another holds the lock, and goes on when it is released', async () => {
      const holder = await connect('shop_concurrent');
      const [[held]] = await holder.query<RowDataPacket[]>("SELECT GET_LOCK('serverless_lamp.migrate.shop_concurrent', 0) AS got");
      expect(held.got).toBe(1);

      let settled = false;
      const waiting = run('shop_concurrent', withFiles(shop, V4), { lockTimeoutSeconds: 50 }).finally(() => {
        settled = true;
      });
      // The run is seen waiting for the lock in the server's process list.
      let seen = false;
      for (let i = 0; i < 200 && !seen; i++) {
        const rows = await server.adminQuery<RowDataPacket[]>(
          `SELECT 1 FROM information_schema.PROCESSLIST WHERE USER = '${MIGRATION_USER}' AND STATE = 'User lock' AND INFO LIKE 'SELECT GET_LOCK%'`);
        seen = rows.length > 0;
        if (!seen) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(seen).toBe(true);
      expect(settled).toBe(false);
      expect((await historyOf(server, 'shop_concurrent')).map((r) => r.version)).toEqual(['1', '2', '3']);

      await holder.query("DO RELEASE_LOCK('serverless_lamp.migrate.shop_concurrent')");
      const result = await waiting;
      expect(result.applied.map((a) => a.version)).toEqual(['4']);
      await holder.end();
    });

    test('with a short wait, a run fails clearly and changes nothing', async () => {
      const holder = await connect('shop_concurrent');
      await holder.query("DO GET_LOCK('serverless_lamp.migrate.shop_concurrent', 0)");
      const before = await historyOf(server, 'shop_concurrent');
      const err = await failureOf(run('shop_concurrent', withFiles(shop, { ...V4, ...V5_FIXED }), { lockTimeoutSeconds: 1 }));
      expect(err.failure).toBe('lock');
      expect(err.message).toBe("another migration of database `shop_concurrent` is running (it holds the lock 'serverless_lamp.migrate.shop_concurrent'); " +
        'waited 1 s for it. Run again when it has finished');
      expect(await historyOf(server, 'shop_concurrent')).toEqual(before);
      await holder.end(); // a session's locks go with it
      expect((await run('shop_concurrent', withFiles(shop, { ...V4, ...V5_FIXED }))).applied.map((a) => a.version)).toEqual(['5']);
    });
  });

  test('with too little of the time budget left, a run stops before a file and says why', async () => {
    const err = await failureOf(run('shop_deadline', shop, { deadline: Date.now() + 30_000, minimumFileTimeMs: 120_000 }));
    expect(err.failure).toBe('deadline');
    expect(err.message).toMatch(/^stopped before V1__create_customers.sql: \d+ s of the time budget left, less than the 120 s a file is given\. 0 file\(s\) applied in this run; not started: V1__create_customers.sql, V2__create_orders.sql, V3__order_status_and_routines.sql\. Run again to continue/);
    expect(await historyOf(server, 'shop_deadline')).toEqual([]);
  });

  test('a statement still running at the deadline fails the run with the reason', async () => {
    const slow = { 'V1__slow.sql': 'CREATE TABLE IF NOT EXISTS slow (id INT);\nSELECT SLEEP(30);\n' };
    const err = await failureOf(run('shop_deadline', [...Object.entries(slow)].map(([name, content]) => ({ name, content })), {
      deadline: Date.now() + 3_000, minimumFileTimeMs: 0,
    }));
    expect(err.failure).toBe('deadline');
    expect(err.message).toMatch(/^V1__slow.sql: statement 2 of 2 \(line 2: SELECT SLEEP\(30\)\) did not finish within the time budget \(\d+ s were left when it started; the server may still finish it\)\. Statements 1 to 1 of this file ran and stay applied/);
    expect(err.message).toContain('The connection was closed without recording the version, which counts as not applied; ' +
      'run again with more time, or split the file: version 1 then runs again from its first statement');
    expect(await historyOf(server, 'shop_deadline')).toEqual([]);
    await server.adminQuery('DROP DATABASE shop_deadline');
    await server.adminQuery('CREATE DATABASE shop_deadline');
  });

  test('a connection without a default database is refused', async () => {
    const bare = await createConnection({
      host: server.host, port: server.port, user: MIGRATION_USER, password: MIGRATION_PASSWORD, ssl: { ca: server.caPem },
    });
    open.push(bare);
    const err = await failureOf(migrate(bare, shop));
    expect(err.failure).toBe('setup');
    expect(err.message).toMatch(/^no database selected/);
    await bare.end();
  });

  describe('the command line', () => {
    const cli = async (args: string[], env: Record<string, string> = {}) => {
      try {
        const { stdout, stderr } = await promisify(execFile)(process.execPath, [bin, ...args], { env: { PATH: process.env.PATH ?? '', ...env } });
        return { code: 0, stdout, stderr };
      } catch (err) {
        const e = err as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    };
    const connection = () => [
      '--host', server.host, '--port', String(server.port), '--user', MIGRATION_USER, '--password-env', 'MIGRATION_PW', '--ssl-ca', server.caFile,
    ];
    const env = { MIGRATION_PW: MIGRATION_PASSWORD };

    /** The shipped bundle, copied to a directory with no node_modules above it: it must need nothing else. */
    let bin: string;

    beforeAll(() => {
      if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npx projen bundle\` first`);
      bin = join(mkdtempSync(join(tmpdir(), 'lamp-cli-')), 'serverless-lamp-database.js');
      copyFileSync(CLI, bin);
    });

    test('migrate prints progress per file and writes the same history rows as the engine', async () => {
      const dir = migrationDirectory(SHOP_MIGRATIONS);
      const result = await cli(['migrate', ...connection(), '--database', 'shop_cli', dir], env);
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout.replace(/ in \d+ ms/g, ' in N ms')).toBe([
        'Database shop_cli: 0 version(s) applied, 3 pending',
        '[1/3] V1__create_customers.sql: 2 statement(s)',
        '[done] V1__create_customers.sql (version 1) in N ms',
        '[2/3] V2__create_orders.sql: 1 statement(s)',
        '[done] V2__create_orders.sql (version 2) in N ms',
        '[3/3] V3__order_status_and_routines.sql: 4 statement(s)',
        '[done] V3__order_status_and_routines.sql (version 3) in N ms',
        'Applied 3 migration(s) to shop_cli',
        '',
      ].join('\n'));

      await run('shop_engine', readMigrationDirectory(dir));
      const fromCli = await historyOf(server, 'shop_cli');
      expect(fromCli).toHaveLength(3);
      expect(fromCli).toEqual(await historyOf(server, 'shop_engine'));
    });

    test('status lists applied and pending versions', async () => {
      const dir = migrationDirectory(SHOP_MIGRATIONS, V4);
      const result = await cli(['status', ...connection(), '--database', 'shop_cli', dir], env);
      expect(result.code).toBe(0);
      const lines = result.stdout.trimEnd().split('\n');
      expect(lines[0]).toBe('Database shop_cli');
      expect(lines[1]).toMatch(/^Version +State +Installed on +Script$/);
      expect(lines.slice(2, 6).map((l) => l.split(/ {2,}/))).toEqual([
        ['1', 'applied', expect.stringMatching(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ$/), 'V1__create_customers.sql'],
        ['2', 'applied', expect.stringMatching(/Z$/), 'V2__create_orders.sql'],
        ['3', 'applied', expect.stringMatching(/Z$/), 'V3__order_status_and_routines.sql'],
        ['4', 'pending', 'V4__add_products.sql'],
      ]);
      expect(lines[6]).toBe('3 applied, 1 pending, 0 failed, 0 changed, 0 missing');
      // status changes nothing.
      expect(await historyOf(server, 'shop_cli')).toHaveLength(3);
    });

    test('a failing migration exits 1 with the engine\'s message; an edited file exits 1 before anything runs', async () => {
      const broken = migrationDirectory(SHOP_MIGRATIONS, { ...V4, 'V5__add_reviews.sql': V5_BROKEN['V5__add_reviews.sql'].replace('reviews', 'reviews_cli') });
      const result = await cli(['migrate', ...connection(), '--database', 'shop_cli', broken], env);
      expect(result.code).toBe(1);
      expect(result.stdout).toContain('[done] V4__add_products.sql');
      expect(result.stdout).toContain('[failed] V5__add_reviews.sql');
      expect(result.stderr).toMatch(/^error: V5__add_reviews.sql: statement 2 of 3 \(line 4: INSERT INTO no_such_table/);

      const edited = migrationDirectory(SHOP_MIGRATIONS);
      writeFileSync(join(edited, 'V2__create_orders.sql'), 'SELECT 1;\n');
      const refused = await cli(['migrate', ...connection(), '--database', 'shop_cli', edited], env);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toMatch(/^error: validation failed, nothing was applied:\n- V2__create_orders.sql: version 2 was applied/);
    });

    test('a usage mistake exits 2 with the usage', async () => {
      const result = await cli(['migrate', '--database', 'shop_cli', SHOP_MIGRATIONS]);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^error: --user is required\n\nUsage: serverless-lamp-database <command>/);
    });
  });
});
