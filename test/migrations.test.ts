/*
 * The migration engine without a server: file names and versions, checksums,
 * statement splitting, validation against history rows, and the command
 * line's arguments. The live runs are in migrations.mariadb.test.ts.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseCli, UsageError } from '../src/cli/args';
import {
  checksumOf, compareVersions, lockNameOf, migrationFiles, MigrationError, parseMigrationName, planMigrations,
  readMigrationDirectory, splitStatements, versionStatuses, type HistoryRow, type MigrationFile,
} from '../src/migrations';

const SHOP = join(__dirname, 'fixtures', 'migrations', 'shop');

function files(...specs: Array<[string, string]>): MigrationFile[] {
  return migrationFiles(specs.map(([name, content]) => ({ name, content })));
}

let rank = 0;
function row(file: MigrationFile, overrides: Partial<HistoryRow> = {}): HistoryRow {
  return {
    installedRank: ++rank,
    version: file.version,
    description: file.description,
    script: file.script,
    checksum: file.checksum,
    installedBy: 'migrator@%',
    installedOn: new Date(0),
    executionTimeMs: 1,
    success: true,
    ...overrides,
  };
}

function failure(fn: () => unknown): MigrationError {
  try {
    fn();
  } catch (err) {
    if (err instanceof MigrationError) return err;
    throw err;
  }
  throw new Error('expected a MigrationError');
}

describe('file names', () => {
  test('reads the version and the description, underscores as spaces', () => {
    expect(parseMigrationName('V1__create_orders.sql')).toEqual({
      script: 'V1__create_orders.sql', version: '1', versionParts: [1n], description: 'create orders',
    });
    expect(parseMigrationName('V1.1__add_status.sql')).toMatchObject({ version: '1.1', versionParts: [1n, 1n], description: 'add status' });
    expect(parseMigrationName('V2_3__x.sql')).toMatchObject({ version: '2.3' });
    expect(parseMigrationName('V010__leading_zero.sql')).toMatchObject({ version: '10' });
  });

  test.each([
    ['V1_create.sql'],
    ['v1__lower_case.sql'],
    ['V__no_version.sql'],
    ['V1.__dot.sql'],
    ['R__repeatable.sql'],
    ['U1__undo.sql'],
    ['V1__.sql'],
    ['V1__quote\'s.sql'],
    ['V1__space here.sql'],
    ['1__no_prefix.sql'],
  ])('refuses %s, naming the file', (name) => {
    const err = failure(() => parseMigrationName(name));
    expect(err.failure).toBe('files');
    expect(err.message).toContain(name);
  });

  test('refuses a description longer than the history column', () => {
    expect(failure(() => parseMigrationName(`V1__${'a'.repeat(201)}.sql`)).message).toMatch(/longer than 200 characters/);
  });

  test('orders versions numerically, part by part', () => {
    const sorted = files(['V10__j.sql', ''], ['V2__b.sql', ''], ['V1.10__c.sql', ''], ['V1.2__d.sql', ''], ['V1__a.sql', '']);
    expect(sorted.map((f) => f.version)).toEqual(['1', '1.2', '1.10', '2', '10']);
    expect(compareVersions([1n], [1n, 0n])).toBe(0);
  });

  test('refuses two files of one version, naming both', () => {
    const err = failure(() => files(['V1__a.sql', ''], ['V1.0__b.sql', '']));
    expect(err.message).toMatch(/V1.0__b.sql and V1__a.sql have the same version|V1__a.sql and V1.0__b.sql have the same version/);
  });

  test('ignores files that are not .sql, refuses a .sql file with a bad name', () => {
    expect(files(['README.md', '# notes'], ['V1__a.sql', 'SELECT 1']).map((f) => f.script)).toEqual(['V1__a.sql']);
    expect(failure(() => files(['create.sql', ''])).message).toMatch(/^create.sql: not a migration file name/);
  });

  test('reads a directory', () => {
    expect(migrationFiles(readMigrationDirectory(SHOP)).map((f) => f.version)).toEqual(['1', '2', '3']);
    expect(failure(() => readMigrationDirectory(join(SHOP, 'nope'))).message).toMatch(/cannot read the migrations directory/);
  });
});

describe('checksums', () => {
  test('SHA-256 of the text with LF line endings and no byte-order mark', () => {
    const [lf] = files(['V1__a.sql', 'SELECT 1;\nSELECT 2;\n']);
    const [crlf] = files(['V1__a.sql', '\uFEFFSELECT 1;\r\nSELECT 2;\r\n']);
    const [bytes] = migrationFiles([{ name: 'V1__a.sql', content: Buffer.from('SELECT 1;\rSELECT 2;\r') }]);
    // sha256sum of the same bytes.
    expect(lf.checksum).toBe('82efb67f3010c6eb7ead02e4f6d9550633dbc1407f99aa487468e7b2567aebbc');
    expect(checksumOf('SELECT 1;\nSELECT 2;\n')).toBe(lf.checksum);
    expect(crlf.checksum).toBe(lf.checksum);
    expect(bytes.checksum).toBe(lf.checksum);
    expect(files(['V1__a.sql', 'SELECT 1;\nSELECT 3;\n'])[0].checksum).not.toBe(lf.checksum);
  });

  test('refuses a file that is not UTF-8', () => {
    expect(failure(() => migrationFiles([{ name: 'V1__a.sql', content: Buffer.from([0x53, 0xff, 0x3b]) }])).message)
      .toBe('V1__a.sql: not valid UTF-8 text');
  });
});

describe('statement splitting', () => {
  test('splits as the mysql client does: comments, quotes, backticks and DELIMITER', () => {
    const sql = readFileSync(join(SHOP, 'V3__order_status_and_routines.sql'), 'utf8');
    const statements = splitStatements(sql, 'V3.sql');
    expect(statements.map((s) => s.line)).toEqual([1, 5, 12, 18]);
    expect(statements[0].sql).toBe("ALTER TABLE orders ADD COLUMN status VARCHAR(16) NOT NULL DEFAULT 'new'");
    expect(statements[1].sql).toMatch(/^-- A trigger whose body holds semicolons.\nCREATE TRIGGER orders_status_check[\s\S]*SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'bad status; refused';\n {2}END IF;\nEND$/);
    expect(statements[2].sql).toMatch(/^CREATE PROCEDURE order_count[\s\S]*WHERE customer_id = customer;\nEND$/);
    expect(statements[3].sql).toBe("INSERT INTO orders (customer_id, `total;cents`, status) VALUES (1, 1250, 'paid')");
  });

  test('keeps semicolons inside strings, identifiers and comments', () => {
    const sql = readFileSync(join(SHOP, 'V1__create_customers.sql'), 'utf8');
    const statements = splitStatements(sql, 'V1.sql');
    expect(statements).toHaveLength(2);
    expect(statements[0].line).toBe(2);
    expect(statements[0].sql).toContain("DEFAULT 'first; second'");
    expect(statements[1].sql).toMatch(/^\/\* A block comment; with a semicolon \*\/\nINSERT INTO customers .*'it\\'s; fine'.*DEFAULT\)$/);
  });

  test('leaves out pieces with nothing to run, keeps executable comments', () => {
    expect(splitStatements('SELECT 1;\n-- the end\n/* really */\n', 'V1.sql').map((s) => s.sql)).toEqual(['SELECT 1']);
    expect(splitStatements('/*!40101 SET NAMES utf8mb4 */;\n', 'V1.sql').map((s) => s.sql)).toEqual(['/*!40101 SET NAMES utf8mb4 */']);
    expect(splitStatements('', 'V1.sql')).toEqual([]);
  });

  test('a body with semicolons and no DELIMITER splits where the mysql client would (the server then refuses it)', () => {
    expect(splitStatements('CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END;', 'V1.sql').map((s) => s.sql))
      .toEqual(['CREATE PROCEDURE p() BEGIN SELECT 1', 'SELECT 2', 'END']);
  });

  test("refuses '#' comment lines, which the splitter does not read, naming the line", () => {
    const err = failure(() => splitStatements("SELECT 1;\n  # it's a comment\nSELECT 2;", 'V7__x.sql'));
    expect(err.failure).toBe('files');
    expect(err.message).toMatch(/^V7__x.sql line 2: '#' comments are not supported .* write '-- ' comments instead$/);
  });
});

describe('validation', () => {
  const [v1, v2, v3] = files(['V1__a.sql', 'SELECT 1'], ['V2__b.sql', 'SELECT 2'], ['V3__c.sql', 'SELECT 3']);

  test('with no history, every file is pending', () => {
    expect(planMigrations([v1, v2, v3], []).pending).toEqual([v1, v2, v3]);
  });

  test('applied versions are not pending; new ones are', () => {
    const plan = planMigrations([v1, v2, v3], [row(v1), row(v2)]);
    expect(plan.pending).toEqual([v3]);
    expect(plan.applied).toEqual([v1, v2]);
    expect(plan.warnings).toEqual([]);
  });

  test('a changed checksum of an applied version fails, naming the file and both checksums', () => {
    const [edited] = files(['V2__b.sql', 'SELECT 22']);
    const err = failure(() => planMigrations([v1, edited, v3], [row(v1), row(v2)]));
    expect(err.failure).toBe('validation');
    expect(err.message).toContain('nothing was applied');
    expect(err.message).toContain(`V2__b.sql: version 2 was applied (as V2__b.sql) with checksum ${v2.checksum}, but the file's checksum is now ${edited.checksum}`);
  });

  test('a new version lower than the newest applied is refused unless out-of-order is allowed', () => {
    const [v1b] = files(['V1.5__late.sql', 'SELECT 15']);
    const err = failure(() => planMigrations([v1, v1b, v2], [row(v1), row(v2)]));
    expect(err.message).toContain('V1.5__late.sql: version lower than the newest applied version (2)');
    const plan = planMigrations([v1, v1b, v2], [row(v1), row(v2)], { outOfOrder: true });
    expect(plan.pending).toEqual([v1b]);
    expect(plan.warnings).toEqual(['V1.5__late.sql: lower than the newest applied version 2, run out of order as allowed']);
  });

  test('an applied version whose file is missing is reported, not refused', () => {
    const plan = planMigrations([v2, v3], [row(v1), row(v2)]);
    expect(plan.pending).toEqual([v3]);
    expect(plan.missing.map((r) => r.version)).toEqual(['1']);
    expect(plan.warnings).toEqual(['version 1 (V1__a.sql) is applied in the database but its file is missing; it is left as it is']);
  });

  test('a failed version is pending again, whatever its checksum now', () => {
    const [fixed] = files(['V3__c.sql', 'SELECT 33']);
    const plan = planMigrations([v1, v2, fixed], [row(v1), row(v2), row(v3, { success: false })]);
    expect(plan.pending).toEqual([fixed]);
    expect(plan.retried).toEqual(['3']);
  });

  test('a failed version that later succeeded counts as applied', () => {
    expect(planMigrations([v1], [row(v1, { success: false, checksum: 'x'.repeat(64) }), row(v1)]).pending).toEqual([]);
  });

  test('every problem is listed at once', () => {
    const [e1, e2] = files(['V1__a.sql', 'SELECT 11'], ['V2__b.sql', 'SELECT 22']);
    const err = failure(() => planMigrations([e1, e2], [row(v1), row(v2)]));
    expect(err.message.split('\n- ')).toHaveLength(3);
  });

  test('status lists each version with its state', () => {
    const [e2] = files(['V2__b.sql', 'SELECT 22']);
    const [late] = files(['V1.5__late.sql', 'SELECT 15']);
    const [v0] = files(['V0__gone.sql', 'SELECT 0']);
    const [v4] = files(['V4__d.sql', 'SELECT 4']);
    const statuses = versionStatuses([v1, late, e2, v3, v4], [row(v0), row(v1), row(v2), row(v3, { success: false })]);
    expect(statuses.map((s) => [s.version, s.state])).toEqual([
      ['0', 'missing'], ['1', 'applied'], ['1.5', 'out-of-order'], ['2', 'changed'], ['3', 'failed'], ['4', 'pending'],
    ]);
  });
});

describe('lock name', () => {
  test('names the database, and stays within the 64 characters GET_LOCK takes', () => {
    expect(lockNameOf('lamp')).toBe('serverless_lamp.migrate.lamp');
    const long = lockNameOf('d'.repeat(64));
    expect(long).toMatch(/^serverless_lamp\.migrate\.[0-9a-f]{40}$/);
    expect(long.length).toBeLessThanOrEqual(64);
  });
});

describe('command line arguments', () => {
  const base = ['migrate', '--user', 'root', '--database', 'lamp', 'db/migrations'];

  test('defaults', () => {
    expect(parseCli(base, {})).toEqual({
      command: 'migrate',
      directory: 'db/migrations',
      host: '127.0.0.1',
      port: 3306,
      user: 'root',
      database: 'lamp',
      ssl: false,
      outOfOrder: false,
      lockTimeoutSeconds: 60,
    });
  });

  test('every option', () => {
    expect(parseCli([
      'status', '--host', 'db.example', '--port', '3307', '--user', 'u', '--database', 'd', '--password-env', 'PW',
      '--ssl-ca', 'ca.pem', '--out-of-order', '--lock-timeout', '5', 'dir',
    ], { PW: 'secret' })).toEqual({
      command: 'status',
      directory: 'dir',
      host: 'db.example',
      port: 3307,
      user: 'u',
      database: 'd',
      passwordEnv: 'PW',
      sslCa: 'ca.pem',
      ssl: true,
      outOfOrder: true,
      lockTimeoutSeconds: 5,
    });
  });

  test('the password comes from MYSQL_PWD when set and no variable is named', () => {
    expect(parseCli(base, { MYSQL_PWD: 'x' })).toMatchObject({ passwordEnv: 'MYSQL_PWD' });
  });

  test('help', () => {
    expect(parseCli(['--help'], {})).toBe('help');
  });

  test.each([
    [[], /no command given/],
    [['drop', 'dir'], /unknown command: drop/],
    [['migrate', '--user', 'u', '--database', 'd'], /no migrations directory given/],
    [['migrate', '--database', 'd', 'dir'], /--user is required/],
    [['migrate', '--user', 'u', 'dir'], /--database is required/],
    [[...base, '--port', '70000'], /--port must be a port number/],
    [[...base, '--lock-timeout', '1.5'], /--lock-timeout must be a whole number/],
    [[...base, '--password-env', 'NOPE'], /--password-env NOPE: that environment variable is not set/],
    [[...base, '--password', 'x'], /Unknown option '--password'/],
    [[...base, 'extra'], /unexpected arguments: extra/],
  ])('refuses %j', (argv, message) => {
    expect(() => parseCli(argv as string[], {})).toThrow(UsageError);
    expect(() => parseCli(argv as string[], {})).toThrow(message);
  });
});
