/*
 * The schema resource's provider side without a server: its properties as
 * CloudFormation passes them (every scalar a string), and the zip reader
 * that opens the directory asset.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { zipDirectory } from './support/s3-asset';
import { parseSchemaSpec, SCHEMA_RESOURCE_TYPE } from '../src/provider/properties';
import { readZip } from '../src/provider/zip';

const PROPS = {
  ServiceToken: 'arn:aws:lambda:us-east-1:123456789012:function:users',
  ServiceTimeout: '600',
  Bucket: 'cdk-hnb659fds-assets-123456789012-us-east-1',
  Key: `${'a'.repeat(64)}.zip`,
  Host: 'db.cluster-abc.us-east-1.rds.amazonaws.com',
  Port: '3306',
  Database: 'lamp',
  UserName: 'lamp_migrator',
  Authentication: 'IAM',
  OutOfOrder: 'false',
};

describe('the schema resource\'s properties', () => {
  test('the resource type', () => {
    expect(SCHEMA_RESOURCE_TYPE).toBe('Custom::ServerlessLampDatabaseSchema');
  });
  test('IAM, as CloudFormation passes them (ServiceToken and ServiceTimeout included)', () => {
    expect(parseSchemaSpec(PROPS)).toEqual({
      bucket: PROPS.Bucket,
      key: PROPS.Key,
      host: PROPS.Host,
      port: 3306,
      database: 'lamp',
      userName: 'lamp_migrator',
      authentication: 'IAM',
      outOfOrder: false,
    });
  });
  test('PASSWORD needs the user\'s secret', () => {
    const secret = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:DbUserlampmigratorSecret-AbCdEf';
    expect(parseSchemaSpec({ ...PROPS, Authentication: 'PASSWORD', PasswordSecretArn: secret, OutOfOrder: 'true' }))
      .toMatchObject({ authentication: 'PASSWORD', passwordSecretArn: secret, outOfOrder: true });
    expect(() => parseSchemaSpec({ ...PROPS, Authentication: 'PASSWORD' })).toThrow(/^PasswordSecretArn is required/);
    expect(() => parseSchemaSpec({ ...PROPS, PasswordSecretArn: secret })).toThrow("PasswordSecretArn applies only to Authentication 'PASSWORD'");
  });
  test.each([
    [{ Bucket: 'Not_A_Bucket' }, /^Bucket \("Not_A_Bucket"\) must be an S3 bucket name/],
    [{ Key: 'a b.zip' }, /^Key \("a b.zip"\) must be an S3 object key/],
    [{ UserName: 'root' }, /^UserName \("root"\) is reserved/],
    [{ Database: 'mysql' }, /^Database \("mysql"\) is a system schema/],
    [{ OutOfOrder: 'yes' }, /^OutOfOrder \("yes"\) must be 'true' or 'false'/],
    [{ Port: '0' }, /^Port \("0"\) must be a TCP port number/],
    [{ SecretArn: 'x' }, /^unknown properties \["SecretArn"\]/],
  ])('refuses %j', (change, message) => {
    expect(() => parseSchemaSpec({ ...PROPS, ...change })).toThrow(message);
  });
});

describe('readZip', () => {
  const dir = mkdtempSync(join(tmpdir(), 'zip-'));
  writeFileSync(join(dir, 'V1__a.sql'), 'CREATE TABLE a (id INT);\n'.repeat(50));
  writeFileSync(join(dir, 'V2__b.sql'), '');
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'sub', 'V3__nested.sql'), 'SELECT 1;');

  test('deflated entries with data descriptors, as asset publishing writes them', () => {
    expect(readZip(zipDirectory(dir)).map((e) => [e.path, e.content.toString('utf8')])).toEqual([
      ['V1__a.sql', 'CREATE TABLE a (id INT);\n'.repeat(50)],
      ['V2__b.sql', ''],
      ['sub/V3__nested.sql', 'SELECT 1;'],
    ]);
  });

  const infoZip = (() => {
    try {
      execFileSync('zip', ['-v'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  (infoZip ? test : test.skip)('an archive of another writer (Info-ZIP: stored and deflated entries, directory entries)', () => {
    const out = join(mkdtempSync(join(tmpdir(), 'zip-out-')), 'a.zip');
    execFileSync('zip', ['-q', '-r', '-n', 'V2__b.sql', out, '.'], { cwd: dir });
    const entries = readZip(readFileSync(out)).map((e) => [e.path, e.content.length]).sort();
    expect(entries).toEqual([['V1__a.sql', 1250], ['V2__b.sql', 0], ['sub/V3__nested.sql', 9]]);
  });

  test('refuses what is not a zip archive', () => {
    expect(() => readZip(Buffer.from('not a zip at all, just text that is long enough'))).toThrow('not a zip archive (no end of central directory record)');
  });
});
