/*
 * The users provider's pure parts: property validation (properties.ts), the SQL it
 * builds (sql.ts), and which failures it retries (retry.ts). The IAM
 * statements are proven here, exactly: MariaDB has no AWSAuthenticationPlugin,
 * so the live tests (provider.mariadb.test.ts) use PASSWORD authentication.
 */
import { validateDatabaseName, validateUsername } from '../src/private/validation';
import {
  DATABASE_PRIVILEGES, InvalidRequestError, MYSQL_RESERVED_WORDS, parseGrants, parseUserSpec, passwordProblem,
  RESERVED_USER_NAMES, SYSTEM_SCHEMAS, TABLE_PRIVILEGES, UserSpec, databaseNameProblem, userNameProblem,
} from '../src/provider/properties';
import { backoffMs, BACKOFF_CAP_MS, classifyFailure, reserveMs } from '../src/provider/retry';
import {
  CurrentState, databasePattern, dropUserStatement, privilegesFromRows, quoteIdentifier, quoteString, ServerSettings, serverSettings,
  stateQueries, userStatements,
} from '../src/provider/sql';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:lamp/master-AbCdEf';
const PW_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:lamp/shop-password-XyZ123';
const HOST = 'db.cluster-abcdefghijkl.eu-west-1.rds.amazonaws.com';

/** Resource properties as CloudFormation passes them (all strings). */
function props(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ServiceToken: 'arn:aws:lambda:eu-west-1:123456789012:function:framework-onEvent',
    SecretArn: ARN,
    Host: HOST,
    Port: '3306',
    UserName: 'shop',
    Database: 'lamp',
    Grants: JSON.stringify([{ Privileges: ['SELECT', 'INSERT'] }, { Privileges: ['UPDATE'], Table: 'orders' }]),
    Authentication: 'IAM',
    ...overrides,
  };
}

const NEW_USER: CurrentState = { exists: false, privileges: [] };
/** Aurora MySQL 3 and MariaDB defaults: backslash escapes, `_` a wildcard in database grants, names as written. */
const DEFAULTS: ServerSettings = { noBackslashEscapes: false, literalDatabaseGrants: false, lowerCaseNames: false };
const DEFAULT_QUOTING = DEFAULTS;

describe('resource properties', () => {
  test('parses a complete IAM declaration', () => {
    expect(parseUserSpec(props())).toEqual({
      secretArn: ARN,
      host: HOST,
      port: 3306,
      userName: 'shop',
      database: 'lamp',
      grants: [{ privileges: ['SELECT', 'INSERT'] }, { table: 'orders', privileges: ['UPDATE'] }],
      authentication: 'IAM',
    });
  });

  test('parses PASSWORD authentication with its secret', () => {
    const spec = parseUserSpec(props({ Authentication: 'PASSWORD', PasswordSecretArn: PW_ARN }));
    expect(spec.authentication).toBe('PASSWORD');
    expect(spec.passwordSecretArn).toBe(PW_ARN);
  });

  test('accepts Port as a number and Grants as a list, and no Grants at all', () => {
    expect(parseUserSpec(props({ Port: 3307 })).port).toBe(3307);
    expect(parseUserSpec(props({ Grants: [{ Privileges: ['select'] }] })).grants).toEqual([{ privileges: ['SELECT'] }]);
    expect(parseUserSpec(props({ Grants: undefined })).grants).toEqual([]);
  });

  test('merges entries for the same table and orders privileges and tables', () => {
    expect(parseGrants(JSON.stringify([
      { Privileges: ['UPDATE'], Table: 'orders' },
      { Privileges: ['DELETE', 'SELECT'] },
      { Privileges: ['SELECT', 'UPDATE'], Table: 'orders' },
      { Privileges: ['SELECT'], Table: 'customers' },
      { Privileges: ['INSERT'] },
    ]))).toEqual([
      { privileges: ['SELECT', 'INSERT', 'DELETE'] },
      { table: 'customers', privileges: ['SELECT'] },
      { table: 'orders', privileges: ['SELECT', 'UPDATE'] },
    ]);
  });

  test.each([
    ['UserName', { UserName: "sh'op" }, /UserName \("sh'op"\) must be 1 to 32 letters/],
    ['UserName', { UserName: 'sh`op' }, /UserName \("sh`op"\) must be 1 to 32 letters/],
    ['UserName', { UserName: 'shop%' }, /UserName \("shop%"\) must be/],
    ['UserName', { UserName: 'sh op' }, /UserName \("sh op"\) must be/],
    ['UserName', { UserName: 'shop@localhost' }, /UserName .* must be/],
    ['UserName', { UserName: '1shop' }, /UserName .* must be/],
    ['UserName', { UserName: 'a'.repeat(33) }, /UserName .* must be 1 to 32/],
    ['UserName', { UserName: '' }, /UserName is required/],
    ['UserName', { UserName: 'root' }, /UserName \("root"\) is reserved/],
    ['UserName', { UserName: 'RDSADMIN' }, /is reserved/],
    ['UserName', { UserName: 'rdsproxyadmin' }, /is reserved/],
    ['UserName', { UserName: 'rds_superuser_role' }, /is reserved/],
    ['UserName', { UserName: 'select' }, /is reserved/],
    ['Database', { Database: 'mysql' }, /Database \("mysql"\) is a system schema/],
    ['Database', { Database: 'information_schema' }, /is a system schema/],
    ['Database', { Database: 'lamp`; DROP DATABASE x; --' }, /Database .* must be 1 to 64 letters/],
    ['Database', { Database: 'lamp%' }, /Database .* must be/],
    ['Host', { Host: 'db.example.com; rm -rf' }, /Host .* must be a DNS host name/],
    ['Port', { Port: '3306x' }, /Port \("3306x"\) must be a TCP port/],
    ['Port', { Port: '70000' }, /Port .* must be a TCP port/],
    ['SecretArn', { SecretArn: 'lamp/master' }, /SecretArn \("lamp\/master"\) must be the ARN of a Secrets Manager secret/],
    ['Authentication', { Authentication: 'iam' }, /Authentication \("iam"\) must be 'IAM' or 'PASSWORD'/],
    ['Authentication', { Authentication: 'PASSWORD' }, /PasswordSecretArn is required/],
    ['PasswordSecretArn', { PasswordSecretArn: PW_ARN }, /PasswordSecretArn applies only to Authentication 'PASSWORD'/],
    ['unknown', { Password: 'hunter2' }, /unknown properties \["Password"\]/],
    ['Grants', { Grants: 'SELECT' }, /Grants must be a JSON list/],
    ['Grants', { Grants: '{}' }, /Grants must be a list/],
    ['Grants', { Grants: '[{"Privileges":["ALL PRIVILEGES"]}]' }, /"ALL PRIVILEGES" is not allowed on the whole database.*list the privileges instead of ALL/],
    ['Grants', { Grants: '[{"Privileges":["ALL"]}]' }, /"ALL" is not allowed/],
    ['Grants', { Grants: '[{"Privileges":["GRANT OPTION"]}]' }, /"GRANT OPTION" is not allowed/],
    ['Grants', { Grants: '[{"Privileges":["SUPER"]}]' }, /"SUPER" is not allowed/],
    ['Grants', { Grants: '[{"Privileges":["FILE"]}]' }, /"FILE" is not allowed/],
    ['Grants', { Grants: '[{"Privileges":["PROCESS"]}]' }, /"PROCESS" is not allowed/],
    ['Grants', { Grants: '[{"Privileges":["CREATE USER"]}]' }, /"CREATE USER" is not allowed/],
    ['Grants', { Grants: '[{"Privileges":["SELECT ON *.* TO x"]}]' }, /is not allowed/],
    ['Grants', { Grants: '[{"Privileges":["SELECT, INSERT"]}]' }, /"SELECT, INSERT" is not allowed/],
    ['Grants', { Grants: '[{"Privileges":["DROP"],"Table":"orders"}]' }, /Grants\[0\]\.Privileges: "DROP" is not allowed on a table; allowed: SELECT, INSERT, UPDATE, DELETE, SHOW VIEW/],
    ['Grants', { Grants: '[{"Privileges":["CREATE"],"Table":"orders"}]' }, /"CREATE" is not allowed on a table/],
    ['Grants', { Grants: '[{"Privileges":["SELECT"],"Table":"or`ders"}]' }, /Grants\[0\]\.Table \("or`ders"\) must be/],
    ['Grants', { Grants: '[{"Privileges":["SELECT"],"Table":"*"}]' }, /Grants\[0\]\.Table \("\*"\) must be/],
    ['Grants', { Grants: '[{"Privileges":["SELECT"],"Database":"mysql"}]' }, /Grants\[0\] has unknown keys \["Database"\]/],
    ['Grants', { Grants: '[{"Privileges":[]}]' }, /Grants\[0\]\.Privileges must be a non-empty list/],
  ])('refuses a bad %s: %j', (_name, overrides, message) => {
    expect(() => parseUserSpec(props(overrides))).toThrow(InvalidRequestError);
    expect(() => parseUserSpec(props(overrides))).toThrow(message);
  });

  test('the allow-lists hold no global privilege and no grant option', () => {
    for (const forbidden of ['ALL', 'ALL PRIVILEGES', 'GRANT OPTION', 'SUPER', 'FILE', 'PROCESS', 'CREATE USER', 'RELOAD',
      'SHUTDOWN', 'REPLICATION SLAVE', 'REPLICATION CLIENT', 'SHOW DATABASES', 'CREATE TABLESPACE', 'PROXY']) {
      expect(DATABASE_PRIVILEGES).not.toContain(forbidden);
      expect(TABLE_PRIVILEGES).not.toContain(forbidden);
    }
  });

  test('database names: the same verdicts as the construct at synth', () => {
    const candidates = [...MYSQL_RESERVED_WORDS, ...SYSTEM_SCHEMAS, 'lamp', 'shop_data', 'Orders2', '_x', '1db', 'a-b'];
    for (const name of candidates) {
      const synth = (() => {
        try {
          validateDatabaseName('defaultDatabaseName', name);
          return true;
        } catch {
          return false;
        }
      })();
      expect([name, databaseNameProblem(name) === undefined]).toEqual([name, synth]);
    }
  });

  test('user names the construct refuses as master user names are refused here too', () => {
    const candidates = [...RESERVED_USER_NAMES, ...MYSQL_RESERVED_WORDS, 'admin', 'shop', 'Shop_2', 'rdsadmin', 'x'.repeat(16)];
    let refusedBoth = 0;
    for (const name of candidates) {
      let refusedAtSynth = false;
      try {
        validateUsername('masterUsername', name);
      } catch {
        refusedAtSynth = true;
      }
      if (refusedAtSynth) {
        expect([name, userNameProblem(name)]).toEqual([name, expect.any(String)]);
        refusedBoth++;
      }
    }
    expect(refusedBoth).toBeGreaterThan(70);
    // Application users may be longer than the master user (32, not 16 characters).
    expect(userNameProblem('a'.repeat(32))).toBeUndefined();
  });

  test('passwords: non-empty, at most 256 characters, no control characters; the message never quotes it', () => {
    expect(passwordProblem('S3cret!\'"\\`%_ é')).toBeUndefined();
    expect(passwordProblem('')).toMatch(/non-empty/);
    expect(passwordProblem(undefined)).toMatch(/non-empty/);
    expect(passwordProblem('x'.repeat(257))).toMatch(/at most 256/);
    const withNewline = 'secret\nvalue';
    expect(passwordProblem(withNewline)).toMatch(/control characters/);
    expect(passwordProblem(withNewline)).not.toContain('secret');
  });
});

describe('quoting', () => {
  test('identifiers: backticks, doubled inside', () => {
    expect(quoteIdentifier('orders')).toBe('`orders`');
    expect(quoteIdentifier('a`b')).toBe('`a``b`');
    expect(() => quoteIdentifier('')).toThrow();
  });

  test('strings: quotes doubled, backslashes doubled unless NO_BACKSLASH_ESCAPES', () => {
    expect(quoteString("it's a\\b", { noBackslashEscapes: false })).toBe("'it''s a\\\\b'");
    expect(quoteString("it's a\\b", { noBackslashEscapes: true })).toBe("'it''s a\\b'");
    expect(() => quoteString('a\u0000b', DEFAULT_QUOTING)).toThrow(/NUL/);
  });

  test('database-level patterns escape the wildcards _ and %', () => {
    expect(databasePattern('shop_data')).toBe('shop\\_data');
    expect(databasePattern('lamp')).toBe('lamp');
  });
});

describe('statements', () => {
  const iam = parseUserSpec(props());

  test('IAM, new user: CREATE USER with the AWS plugin and REQUIRE SSL, then the grants', () => {
    expect(userStatements(iam, NEW_USER, DEFAULT_QUOTING).map((s) => s.sql)).toEqual([
      "CREATE USER 'shop'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL",
      "GRANT SELECT, INSERT ON `lamp`.* TO 'shop'@'%'",
      "GRANT UPDATE ON `lamp`.`orders` TO 'shop'@'%'",
    ]);
  });

  test('IAM, user already as declared: ALTER USER only', () => {
    const current: CurrentState = {
      exists: true,
      privileges: [
        { target: { kind: 'database', pattern: 'lamp' }, privilege: 'INSERT' },
        { target: { kind: 'database', pattern: 'lamp' }, privilege: 'SELECT' },
        { target: { kind: 'table', database: 'lamp', table: 'orders' }, privilege: 'UPDATE' },
      ],
    };
    expect(userStatements(iam, current, DEFAULT_QUOTING).map((s) => s.sql)).toEqual([
      "ALTER USER 'shop'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL",
    ]);
  });

  test('IAM, existing user: grants what is missing first, then revokes everything undeclared, at every level', () => {
    const current: CurrentState = {
      exists: true,
      privileges: privilegesFromRows({
        global: [{ PRIVILEGE_TYPE: 'PROCESS', IS_GRANTABLE: 'NO' }],
        database: [
          { TABLE_SCHEMA: 'lamp', PRIVILEGE_TYPE: 'SELECT', IS_GRANTABLE: 'YES' },
          { TABLE_SCHEMA: 'lamp', PRIVILEGE_TYPE: 'DELETE', IS_GRANTABLE: 'YES' },
          { TABLE_SCHEMA: 'other', PRIVILEGE_TYPE: 'SELECT', IS_GRANTABLE: 'NO' },
        ],
        table: [{ TABLE_SCHEMA: 'lamp', TABLE_NAME: 'customers', PRIVILEGE_TYPE: 'UPDATE', IS_GRANTABLE: 'NO' }],
        column: [
          { TABLE_SCHEMA: 'lamp', TABLE_NAME: 'customers', COLUMN_NAME: 'name', PRIVILEGE_TYPE: 'SELECT' },
          { TABLE_SCHEMA: 'lamp', TABLE_NAME: 'customers', COLUMN_NAME: 'id', PRIVILEGE_TYPE: 'SELECT' },
        ],
      }),
    };
    expect(userStatements(iam, current, DEFAULT_QUOTING).map((s) => s.sql)).toEqual([
      "ALTER USER 'shop'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL",
      "GRANT INSERT ON `lamp`.* TO 'shop'@'%'",
      "GRANT UPDATE ON `lamp`.`orders` TO 'shop'@'%'",
      "REVOKE PROCESS ON *.* FROM 'shop'@'%'",
      "REVOKE DELETE ON `lamp`.* FROM 'shop'@'%'",
      "REVOKE SELECT ON `other`.* FROM 'shop'@'%'",
      "REVOKE SELECT (`id`, `name`), UPDATE ON `lamp`.`customers` FROM 'shop'@'%'",
      "REVOKE GRANT OPTION ON `lamp`.* FROM 'shop'@'%'",
    ]);
  });

  test('an existing password user keeps its password when asked (rotation owns it); a new one is always given one', () => {
    const spec = parseUserSpec(props({ Authentication: 'PASSWORD', PasswordSecretArn: PW_ARN, Grants: '[]' }));
    const existing: CurrentState = { exists: true, privileges: [] };
    const first = (current: CurrentState, options: object) =>
      userStatements(spec, current, { ...DEFAULT_QUOTING, password: 'pw', ...options })[0].sql;
    expect(first(existing, { keepPassword: true })).toBe("ALTER USER 'shop'@'%' REQUIRE SSL");
    expect(first(existing, {})).toBe("ALTER USER 'shop'@'%' IDENTIFIED BY 'pw' REQUIRE SSL");
    expect(first(NEW_USER, { keepPassword: true })).toBe("CREATE USER 'shop'@'%' IDENTIFIED BY 'pw' REQUIRE SSL");
  });

  test('a locked account is unlocked when it is declared again; a new one needs no unlock', () => {
    const spec = parseUserSpec(props({ Grants: '[]' }));
    expect(userStatements(spec, { exists: true, privileges: [] }, { ...DEFAULT_QUOTING, unlock: true })[0].sql)
      .toBe("ALTER USER 'shop'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL ACCOUNT UNLOCK");
    expect(userStatements(spec, NEW_USER, { ...DEFAULT_QUOTING, unlock: true })[0].sql)
      .toBe("CREATE USER 'shop'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL");
  });

  test('a database name with an underscore is granted as an escaped pattern and compared as stored', () => {
    const spec = parseUserSpec(props({ Database: 'shop_data', Grants: '[{"Privileges":["SELECT"]},{"Privileges":["SELECT"],"Table":"t_1"}]' }));
    expect(userStatements(spec, NEW_USER, DEFAULT_QUOTING).map((s) => s.sql)).toEqual([
      "CREATE USER 'shop'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL",
      "GRANT SELECT ON `shop\\_data`.* TO 'shop'@'%'",
      "GRANT SELECT ON `shop_data`.`t_1` TO 'shop'@'%'",
    ]);
    // A wildcard grant made by hand (`shop_data` unescaped matches shopXdata too) is not the declared one.
    const current: CurrentState = {
      exists: true,
      privileges: privilegesFromRows({
        global: [{ PRIVILEGE_TYPE: 'USAGE', IS_GRANTABLE: 'NO' }],
        database: [
          { TABLE_SCHEMA: 'shop\\_data', PRIVILEGE_TYPE: 'SELECT', IS_GRANTABLE: 'NO' },
          { TABLE_SCHEMA: 'shop_data', PRIVILEGE_TYPE: 'SELECT', IS_GRANTABLE: 'NO' },
        ],
        table: [{ TABLE_SCHEMA: 'shop_data', TABLE_NAME: 't_1', PRIVILEGE_TYPE: 'SELECT', IS_GRANTABLE: 'NO' }],
        column: [],
      }),
    };
    expect(userStatements(spec, current, DEFAULT_QUOTING).map((s) => s.sql)).toEqual([
      "ALTER USER 'shop'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL",
      "REVOKE SELECT ON `shop_data`.* FROM 'shop'@'%'",
    ]);
  });

  test('PASSWORD: the password quoted for the session, masked in the redacted form', () => {
    const spec = parseUserSpec(props({ Authentication: 'PASSWORD', PasswordSecretArn: PW_ARN, Grants: '[]' }));
    const password = "pa'ss\\word";
    const [withEscapes] = userStatements(spec, NEW_USER, { ...DEFAULTS, password });
    expect(withEscapes.sql).toBe("CREATE USER 'shop'@'%' IDENTIFIED BY 'pa''ss\\\\word' REQUIRE SSL");
    expect(withEscapes.redacted).toBe("CREATE USER 'shop'@'%' IDENTIFIED BY '***' REQUIRE SSL");
    const [noEscapes] = userStatements(spec, { exists: true, privileges: [] }, { ...DEFAULTS, noBackslashEscapes: true, password });
    expect(noEscapes.sql).toBe("ALTER USER 'shop'@'%' IDENTIFIED BY 'pa''ss\\word' REQUIRE SSL");
    expect(noEscapes.redacted).not.toContain('pa');
    expect(() => userStatements(spec, NEW_USER, DEFAULT_QUOTING)).toThrow(/needs the password/);
  });

  test('switching from PASSWORD to IAM alters the user to the AWS plugin', () => {
    expect(userStatements(iam, { exists: true, privileges: declaredOf(iam) }, DEFAULT_QUOTING).map((s) => s.sql)).toEqual([
      "ALTER USER 'shop'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL",
    ]);
  });

  test('no grants declared: every privilege the user holds is revoked', () => {
    const spec = parseUserSpec(props({ Grants: '[]' }));
    expect(userStatements(spec, { exists: true, privileges: declaredOf(iam) }, DEFAULT_QUOTING).map((s) => s.sql)).toEqual([
      "ALTER USER 'shop'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL",
      "REVOKE SELECT, INSERT ON `lamp`.* FROM 'shop'@'%'",
      "REVOKE UPDATE ON `lamp`.`orders` FROM 'shop'@'%'",
    ]);
  });

  test('privilege names read from the server must look like privilege names', () => {
    const current: CurrentState = { exists: true, privileges: [{ target: { kind: 'global' }, privilege: 'SELECT ON *.* TO x; --' }] };
    expect(() => userStatements(iam, current, DEFAULT_QUOTING)).toThrow(/unexpected privilege name/);
  });

  test('state queries quote their literals for the session (the driver would always use backslashes)', () => {
    const queries = stateQueries('shop', DEFAULT_QUOTING);
    expect(queries.exists).toBe("SELECT 1 FROM mysql.user WHERE User = 'shop' AND Host = '%'");
    expect(queries.privileges.table).toBe(
      "SELECT TABLE_SCHEMA, TABLE_NAME, PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.TABLE_PRIVILEGES WHERE GRANTEE = '''shop''@''%'''",
    );
    expect(Object.keys(queries.privileges)).toEqual(['global', 'database', 'table', 'column']);
  });

  test('partial_revokes=ON (MySQL 8): database names are granted and compared as they are', () => {
    const spec = parseUserSpec(props({ Database: 'shop_data', Grants: '[{"Privileges":["SELECT"]}]' }));
    const settings = { ...DEFAULTS, literalDatabaseGrants: true };
    expect(userStatements(spec, NEW_USER, settings).map((s) => s.sql)[1]).toBe("GRANT SELECT ON `shop_data`.* TO 'shop'@'%'");
    const current: CurrentState = { exists: true, privileges: [{ target: { kind: 'database', pattern: 'shop_data' }, privilege: 'SELECT' }] };
    expect(userStatements(spec, current, settings)).toHaveLength(1);
  });

  test('lower_case_table_names: names are compared as the server stores them, in lower case', () => {
    const spec = parseUserSpec(props({ Database: 'Shop', Grants: '[{"Privileges":["SELECT"]},{"Privileges":["UPDATE"],"Table":"Orders"}]' }));
    const settings = { ...DEFAULTS, lowerCaseNames: true };
    const current: CurrentState = {
      exists: true,
      privileges: [
        { target: { kind: 'database', pattern: 'shop' }, privilege: 'SELECT' },
        { target: { kind: 'table', database: 'shop', table: 'orders' }, privilege: 'UPDATE' },
      ],
    };
    // As declared: nothing to grant, and above all nothing revoked.
    expect(userStatements(spec, current, settings).map((s) => s.sql)).toEqual([
      "ALTER USER 'shop'@'%' IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL",
    ]);
  });

  test('server settings from its variables (MariaDB has no partial_revokes)', () => {
    expect(serverSettings({ sqlMode: 'STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION', lowerCaseTableNames: 0 })).toEqual(DEFAULTS);
    expect(serverSettings({ sqlMode: 'ANSI_QUOTES,NO_BACKSLASH_ESCAPES', lowerCaseTableNames: '1', partialRevokes: 'ON' })).toEqual({
      noBackslashEscapes: true, literalDatabaseGrants: true, lowerCaseNames: true,
    });
    expect(serverSettings({ sqlMode: '', lowerCaseTableNames: 2, partialRevokes: 'OFF' })).toEqual({ ...DEFAULTS, lowerCaseNames: true });
  });

  test('DROP USER IF EXISTS', () => {
    expect(dropUserStatement('shop', DEFAULT_QUOTING).sql).toBe("DROP USER IF EXISTS 'shop'@'%'");
  });
});

function declaredOf(spec: UserSpec) {
  return spec.grants.flatMap((g) => g.privileges.map((privilege) => ({
    target: g.table === undefined
      ? { kind: 'database' as const, pattern: databasePattern(spec.database) }
      : { kind: 'table' as const, database: spec.database, table: g.table },
    privilege,
  })));
}

describe('retries', () => {
  const mysqlError = (code: string, errno: number) => Object.assign(new Error(code), { code, errno, sqlState: 'HY000' });
  const netError = (code: string) => Object.assign(new Error(`connect ${code}`), { code, errno: -111, fatal: true });

  test.each([
    ['connection refused', netError('ECONNREFUSED'), 'transient'],
    ['connect timeout', netError('ETIMEDOUT'), 'transient'],
    ['host not found yet', netError('ENOTFOUND'), 'transient'],
    ['DNS try again', netError('EAI_AGAIN'), 'transient'],
    ['connection lost', netError('PROTOCOL_CONNECTION_LOST'), 'transient'],
    ['too many connections', mysqlError('ER_CON_COUNT_ERROR', 1040), 'transient'],
    ['server shutting down', mysqlError('ER_SERVER_SHUTDOWN', 1053), 'transient'],
    ['read-only instance (failover)', mysqlError('ER_OPTION_PREVENTS_STATEMENT', 1290), 'transient'],
    ['lock wait timeout', mysqlError('ER_LOCK_WAIT_TIMEOUT', 1205), 'transient'],
    ['access denied', mysqlError('ER_ACCESS_DENIED_ERROR', 1045), 'credentials'],
    ['no such table', mysqlError('ER_NO_SUCH_TABLE', 1146), 'permanent'],
    ['no grant to revoke', mysqlError('ER_NONEXISTING_TABLE_GRANT', 1147), 'permanent'],
    ['syntax error', mysqlError('ER_PARSE_ERROR', 1064), 'permanent'],
    ['password policy', mysqlError('ER_NOT_VALID_PASSWORD', 1819), 'permanent'],
    ['missing privilege', mysqlError('ER_SPECIFIC_ACCESS_DENIED_ERROR', 1227), 'permanent'],
    ['certificate not trusted', Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }), 'permanent'],
    ['host name mismatch', Object.assign(new Error("Hostname/IP does not match certificate's altnames"), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' }), 'permanent'],
    ['secret not readable', Object.assign(new Error('denied'), { name: 'AccessDeniedException', $metadata: { httpStatusCode: 400 } }), 'permanent'],
    ['Secrets Manager 5xx after SDK retries', Object.assign(new Error('oops'), { name: 'InternalServiceError', $metadata: { httpStatusCode: 500 } }), 'transient'],
    ['Secrets Manager endpoint unreachable', Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED', $metadata: { attempts: 3 } }), 'transient'],
    ['an SDK request that timed out', Object.assign(new Error('socket timed out'), { name: 'TimeoutError', $metadata: {} }), 'transient'],
    ['an SDK failure that is not the network', Object.assign(new TypeError('bug'), { $metadata: {} }), 'permanent'],
    ['a plain error', new Error('bug'), 'permanent'],
    ['not an error', 'string', 'permanent'],
  ])('%s is %s', (_what, err, kind) => {
    expect(classifyFailure(err)).toBe(kind);
  });

  test('exponential backoff with full jitter, capped', () => {
    expect(backoffMs(1, () => 0)).toBe(0);
    expect(backoffMs(1, () => 0.999)).toBe(249);
    expect(backoffMs(3, () => 0.999)).toBe(999);
    expect(backoffMs(30, () => 0.999)).toBe(BACKOFF_CAP_MS - 8);
    const samples = Array.from({ length: 200 }, () => backoffMs(4));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...samples)).toBeLessThan(2000);
    expect(new Set(samples).size).toBeGreaterThan(50);
  });

  test('time kept back to answer: 10 % of the remaining time, between 1 and 5 seconds', () => {
    expect(reserveMs(3000)).toBe(1000);
    expect(reserveMs(30_000)).toBe(3000);
    expect(reserveMs(900_000)).toBe(5000);
  });
});
