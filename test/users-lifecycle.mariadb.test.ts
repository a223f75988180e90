/*
 * The users provider's life as CloudFormation drives it: every request is
 * built from a synthesized stack (support/cfn-lifecycle.ts: every property
 * of the template, `ServiceToken` and `ServiceTimeout` included, intrinsics
 * resolved, every scalar a string, the request fields CloudFormation sends),
 * sent to the shipped bundle in a process of its own, and answered at a
 * stand-in for the presigned S3 URL. After each step the test reads the
 * answer and the database.
 *
 * The server is the MariaDB stand-in (TLS required, verified against the test
 * CA, host name checked): the cluster endpoint of the template resolves to
 * it, its port (3306 in the template) is connected to the test server's.
 * Users here authenticate with passwords (DatabaseAuthentication.SECRETS);
 * the IAM statements run live where the server has the IAM plugin stand-in.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Template as Assertions } from 'aws-cdk-lib/assertions';
import { createConnection } from 'mysql2/promise';
import { DatabaseAuthentication, DatabasePrivilege, DatabaseUser, ServerlessLampDatabase } from '../src';
import { awsAuthPluginOrSkip, installAwsAuthPlugin } from './support/aws-auth-plugin';
import { ResponseBucket, SimulatedStack, type Answer, type Template } from './support/cfn-lifecycle';
import { FAKE_CREDENTIALS, FAKE_REGION, freePort, handlerEnvironment, MariaDbServer, mariaDbOrSkip, restoreEnvironment, SERVER_DNS_NAME } from './support/mariadb';
import type { MariaDbServerOptions } from './support/mariadb';
import { createMasterUser, FakeSecretsManager, invokeBundle, providerEnvironment } from './support/provider';

const BUNDLE = join(__dirname, '..', 'assets', 'provider', 'users.lambda', 'index.js');
const HANDLER_BUNDLE = join(__dirname, '..', 'assets', 'handler', 'query.lambda', 'index.js');
const availability = mariaDbOrSkip('test/users-lifecycle.mariadb.test.ts');
const describeWithMariaDb = availability.available ? describe : describe.skip;

const USER_TYPE = 'Custom::ServerlessLampDatabaseUser';
const RETENTION_TYPE = 'Custom::ServerlessLampDatabaseUsersRetention';
const MASTER_PASSWORD = `M'aster\\pw${process.pid}`;

jest.setTimeout(60_000);

/**
 * The app under test, in its versions: what each deploy synthesizes. Every
 * stack here shares one server, where in AWS each would have its own
 * cluster: each names its application user after itself, since two stacks
 * never manage one account.
 */
function synthesize(variant: (db: ServerlessLampDatabase, stack: Stack) => void, removalPolicy = RemovalPolicy.SNAPSHOT, name = 'Shop'): Template {
  const app = new App();
  const stack = new Stack(app, name);
  const db = new ServerlessLampDatabase(stack, 'Db', {
    authentication: DatabaseAuthentication.SECRETS,
    removalPolicy,
    applicationUser: name === 'Shop' ? 'lamp_app' : `app_${name.toLowerCase()}`,
  });
  variant(db, stack);
  return Assertions.fromStack(stack).toJSON() as Template;
}

const V1 = (db: ServerlessLampDatabase, stack: Stack) => {
  new DatabaseUser(stack, 'ShopUser', { database: db, userName: 'shop', privileges: [DatabasePrivilege.SELECT, DatabasePrivilege.INSERT] });
};
/** V1 with other privileges. */
const V2 = (db: ServerlessLampDatabase, stack: Stack) => {
  new DatabaseUser(stack, 'ShopUser', { database: db, userName: 'shop', privileges: [DatabasePrivilege.SELECT, DatabasePrivilege.DELETE] });
};
/** V2 with the user renamed (same construct, so the same logical id). */
const V3 = (db: ServerlessLampDatabase, stack: Stack) => {
  new DatabaseUser(stack, 'ShopUser', { database: db, userName: 'shop_v2', privileges: [DatabasePrivilege.SELECT, DatabasePrivilege.DELETE] });
};
/** V3 with the construct moved (a new logical id), the name unchanged. */
const V4 = (db: ServerlessLampDatabase, stack: Stack) => {
  new DatabaseUser(stack, 'Shop', { database: db, userName: 'shop_v2', privileges: [DatabasePrivilege.SELECT, DatabasePrivilege.DELETE] });
};
/** A table grant on a table that does not exist: MySQL refuses it (1146). */
const BROKEN = (db: ServerlessLampDatabase, stack: Stack) => {
  new DatabaseUser(stack, 'ShopUser', {
    database: db,
    userName: 'shop',
    privileges: [DatabasePrivilege.SELECT],
    tableGrants: [{ table: 'no_such_table', privileges: [DatabasePrivilege.UPDATE] }],
  });
};

function logicalIdOf(template: Template, userName: string): string {
  const found = Object.entries(template.Resources).find(([, r]) => r.Type === USER_TYPE && r.Properties?.UserName === userName);
  if (!found) throw new Error(`no user resource for ${userName}`);
  return found[0];
}


interface SendOptions {
  readonly remainingMs?: number;
  readonly env?: Record<string, string>;
  /** Where the cluster endpoint resolves ('' for a name that no longer exists). */
  readonly endpointTo?: string;
  /** Where the template's port 3306 goes. */
  readonly port?: number;
}

/**
 * What stands in for AWS around one test server: Secrets Manager, the
 * presigned response URLs, and Lambda invoking the shipped bundle the way
 * CloudFormation does.
 */
class StandIns {
  static async start(options: MariaDbServerOptions = {}): Promise<StandIns> {
    if (!existsSync(BUNDLE)) throw new Error(`provider bundle ${BUNDLE} not found: run 'npx projen bundle' first`);
    const server = await MariaDbServer.start({ database: 'lamp', ...options });
    await createMasterUser(server, 'lampadmin', MASTER_PASSWORD);
    return new StandIns(server, await FakeSecretsManager.start(), await ResponseBucket.start(FAKE_REGION));
  }

  private constructor(readonly server: MariaDbServer, readonly secrets: FakeSecretsManager, readonly bucket: ResponseBucket) {}

  /** A new stack (a new StackId) of `template`, whose cluster endpoint is the test server and whose secrets the stand-in holds. */
  stack(template: Template, stackName: string): SimulatedStack {
    const clusterId = Object.keys(template.Resources).find((id) => template.Resources[id].Type === 'AWS::RDS::DBCluster')!;
    const stack = new SimulatedStack(template, {
      stackName,
      region: FAKE_REGION,
      account: '123456789012',
      attributes: { [clusterId]: { 'Endpoint.Address': SERVER_DNS_NAME } },
    });
    this.registerSecrets(stack, template);
    return stack;
  }

  /** Every secret of the template in the stand-in: the master's credentials, each user's password. */
  registerSecrets(stack: SimulatedStack, template: Template): void {
    for (const id of Object.keys(template.Resources).filter((r) => template.Resources[r].Type === USER_TYPE)) {
      const props = stack.properties(id, template);
      this.secrets.put(props.SecretArn, { username: 'lampadmin', password: MASTER_PASSWORD, engine: 'mysql', port: 3306 });
      if (props.PasswordSecretArn && !this.secrets.secrets.has(props.PasswordSecretArn)) {
        this.secrets.put(props.PasswordSecretArn, { username: props.UserName, password: passwordOf(props.PasswordSecretArn) });
      }
    }
  }

  /** The function's environment, as the construct and Lambda set it. */
  env(overrides: Record<string, string> = {}): Record<string, string> {
    return { ...providerEnvironment(this.secrets, this.server.caFile), ...overrides };
  }

  /**
   * Sends one request as CloudFormation does (an asynchronous invocation that
   * returns nothing) and returns the one answer it PUT to the response URL.
   * The process is ended at its timeout, as Lambda ends a function.
   */
  async send(request: ReturnType<SimulatedStack['requestFor']>, options: SendOptions = {}): Promise<Answer> {
    const remainingMs = options.remainingMs ?? 30_000;
    const invocation = await invokeBundle<unknown>(BUNDLE, request, {
      remainingMs,
      killAfterMs: remainingMs,
      env: options.env ?? this.env(),
      hosts: { [SERVER_DNS_NAME]: options.endpointTo ?? '127.0.0.1' },
      ports: { 3306: options.port ?? this.server.port },
    });
    const answers = this.bucket.answers.get(request.RequestId) ?? [];
    if (answers.length !== 1) {
      throw new Error(`expected one answer, got ${answers.length}${invocation.killed ? ' (ended at its timeout)' : ''}:\n${invocation.lines.join('\n')}`);
    }
    expect(invocation.killed).toBeFalsy();
    // Answered at the URL, so the invocation itself returns nothing.
    expect(invocation.result).toBeUndefined();
    return answers[0];
  }

  /** Create every custom resource of the stack, in the order the template's dependencies give (users before the retention resource). */
  async createAll(stack: SimulatedStack): Promise<Map<string, string>> {
    const ids = new Map<string, string>();
    for (const id of [...stack.resourcesOfType(USER_TYPE), ...stack.resourcesOfType(RETENTION_TYPE)]) {
      const answer = await this.send(stack.requestFor('Create', id, { bucket: this.bucket }));
      // The reason first: it says what went wrong.
      expect(answer.Reason).toBeUndefined();
      expect(answer).toMatchObject({ Status: 'SUCCESS', LogicalResourceId: id });
      ids.set(id, answer.PhysicalResourceId);
    }
    return ids;
  }

  async stop(): Promise<void> {
    await this.bucket.stop();
    await this.secrets.stop();
    await this.server.destroy();
  }
}

/** The password the stand-in holds in a user's secret. */
function passwordOf(secretArn: string): string {
  return `pw-${secretArn.split(':').pop()}`;
}

describeWithMariaDb('the users provider through CloudFormation\'s requests, built from the synthesized stack', () => {
  let standIns: StandIns;
  let server: MariaDbServer;
  let secrets: FakeSecretsManager;
  let bucket: ResponseBucket;
  let cfn: SimulatedStack;
  const v1 = synthesize(V1);

  beforeAll(async () => {
    standIns = await StandIns.start();
    ({ server, secrets, bucket } = standIns);
    cfn = standIns.stack(v1, 'Shop');
  }, 60_000);

  afterAll(() => standIns?.stop(), 30_000);

  beforeEach(async () => {
    if (!server.running) await server.start();
  }, 30_000);

  const newStack = (template: Template, stackName: string) => standIns.stack(template, stackName);
  const registerSecrets = (stack: SimulatedStack, template: Template) => standIns.registerSecrets(stack, template);
  const send = (request: ReturnType<SimulatedStack['requestFor']>, options?: SendOptions) => standIns.send(request, options);
  const createAll = (stack: SimulatedStack) => standIns.createAll(stack);
  const env = (overrides?: Record<string, string>) => standIns.env(overrides);

  async function grantsOf(user: string): Promise<string[] | undefined> {
    try {
      const rows = await server.adminQuery<Array<Record<string, string>>>(`SHOW GRANTS FOR '${user}'@'%'`);
      return rows.map((r) => Object.values(r)[0]).filter((g) => !g.startsWith('GRANT USAGE')).sort();
    } catch (err) {
      if ((err as { errno?: number }).errno === 1141) return undefined;
      throw err;
    }
  }

  async function canLogIn(user: string, password: string): Promise<boolean> {
    try {
      const conn = await createConnection({ host: server.host, port: server.port, user, password, ssl: { ca: server.caPem } });
      await conn.end();
      return true;
    } catch (err) {
      if ([1045, 4151].includes((err as { errno?: number }).errno ?? 0)) return false;
      throw err;
    }
  }

  describe('one stack\'s life', () => {
    const ids = new Map<string, string>();

    test('the synthesized request carries ServiceToken and ServiceTimeout as strings, and Create answers SUCCESS', async () => {
      const shop = logicalIdOf(v1, 'shop');
      const request = cfn.requestFor('Create', shop, { bucket });
      // What CloudFormation sends: the template's ServiceTimeout (600) as a string.
      expect(request.ResourceProperties).toMatchObject({ ServiceTimeout: '600', Port: '3306', UserName: 'shop' });
      expect(request.ResourceProperties.ServiceToken).toMatch(/^arn:aws:lambda:us-east-1:123456789012:function:/);
      for (const [id, physicalId] of await createAll(cfn)) ids.set(id, physicalId);
      expect(await grantsOf('shop')).toEqual(['GRANT SELECT, INSERT ON `lamp`.* TO `shop`@`%`']);
      expect(await grantsOf('lamp_app')).toEqual(['GRANT SELECT, INSERT, UPDATE, DELETE ON `lamp`.* TO `lamp_app`@`%`']);
      const shopProps = cfn.properties(shop);
      expect(await canLogIn('shop', passwordOf(shopProps.PasswordSecretArn))).toBe(true);
      // Physical ids are unique per resource.
      expect(new Set(ids.values()).size).toBe(ids.size);
    });

    test('the same Create again (a retry) answers the same physical id and changes nothing', async () => {
      const shop = logicalIdOf(v1, 'shop');
      const answer = await send(cfn.requestFor('Create', shop, { bucket }));
      expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: ids.get(shop) });
      expect(await grantsOf('shop')).toEqual(['GRANT SELECT, INSERT ON `lamp`.* TO `shop`@`%`']);
    });

    test('Update with no change keeps the physical id', async () => {
      const shop = logicalIdOf(v1, 'shop');
      const answer = await send(cfn.requestFor('Update', shop, { bucket, physicalId: ids.get(shop) }));
      expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: ids.get(shop) });
    });

    test('Update that changes privileges: exactly the new ones; a rotated password is not undone', async () => {
      const shop = logicalIdOf(v1, 'shop');
      // Rotation's setSecret has changed the password (AWSPENDING) and not yet finished.
      await server.adminQuery("SET PASSWORD FOR 'shop'@'%' = PASSWORD('rotated-pending')");
      const v2 = synthesize(V2);
      const answer = await send(cfn.requestFor('Update', shop, { bucket, physicalId: ids.get(shop), template: v2, oldTemplate: v1 }));
      expect(answer).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: ids.get(shop) });
      expect(await grantsOf('shop')).toEqual(['GRANT SELECT, DELETE ON `lamp`.* TO `shop`@`%`']);
      expect(await canLogIn('shop', 'rotated-pending')).toBe(true);
    });

    test('a failed Update answers FAILED with the server\'s reason; the rollback Update restores the old state', async () => {
      const shop = logicalIdOf(v1, 'shop');
      const v2 = synthesize(V2);
      const broken = synthesize(BROKEN);
      const failed = await send(cfn.requestFor('Update', shop, { bucket, physicalId: ids.get(shop), template: broken, oldTemplate: v2 }));
      expect(failed).toMatchObject({ Status: 'FAILED', PhysicalResourceId: ids.get(shop) });
      expect(failed.Reason).toMatch(/1146/);
      expect(failed.Reason).toContain('no_such_table');
      // CloudFormation rolls back: an Update to the old properties, the new ones as "old".
      const rollback = await send(cfn.requestFor('Update', shop, { bucket, physicalId: ids.get(shop), template: v2, oldTemplate: broken }));
      expect(rollback).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: ids.get(shop) });
      expect(await grantsOf('shop')).toEqual(['GRANT SELECT, DELETE ON `lamp`.* TO `shop`@`%`']);
    });

    test('Update that renames: a new physical id; the clean-up Delete of the old id drops the old user only', async () => {
      const shop = logicalIdOf(v1, 'shop');
      const v2 = synthesize(V2);
      const v3 = synthesize(V3);
      registerSecrets(cfn, v3);
      const answer = await send(cfn.requestFor('Update', shop, { bucket, physicalId: ids.get(shop), template: v3, oldTemplate: v2 }));
      expect(answer.Status).toBe('SUCCESS');
      expect(answer.PhysicalResourceId).not.toBe(ids.get(shop));
      expect(await grantsOf('shop_v2')).toEqual(['GRANT SELECT, DELETE ON `lamp`.* TO `shop_v2`@`%`']);
      // Clean-up: Delete with the old physical id and the old properties.
      const cleanup = await send(cfn.requestFor('Delete', shop, { bucket, physicalId: ids.get(shop), template: v2 }));
      expect(cleanup).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: ids.get(shop) });
      expect(await grantsOf('shop')).toBeUndefined();
      expect(await grantsOf('shop_v2')).toBeDefined();
      ids.set(shop, answer.PhysicalResourceId);
    });

    test('a new logical id for the same name: the new resource is created, the old one deleted, and the user survives', async () => {
      const v3 = synthesize(V3);
      const v4 = synthesize(V4);
      const oldId = logicalIdOf(v3, 'shop_v2');
      const newId = logicalIdOf(v4, 'shop_v2');
      expect(newId).not.toBe(oldId);
      registerSecrets(cfn, v4);
      const created = await send(cfn.requestFor('Create', newId, { bucket, template: v4 }));
      expect(created.Status).toBe('SUCCESS');
      const deleted = await send(cfn.requestFor('Delete', oldId, { bucket, physicalId: ids.get(oldId), template: v3 }));
      expect(deleted.Status).toBe('SUCCESS');
      expect(await grantsOf('shop_v2')).toEqual(['GRANT SELECT, DELETE ON `lamp`.* TO `shop_v2`@`%`']);
      expect(await canLogIn('shop_v2', passwordOf(cfn.properties(newId, v4).PasswordSecretArn))).toBe(true);
      ids.delete(oldId);
      ids.set(newId, created.PhysicalResourceId);
    });

    test('the user is removed from the code: Delete drops it; Delete again succeeds', async () => {
      const v4 = synthesize(V4);
      const id = logicalIdOf(v4, 'shop_v2');
      const first = await send(cfn.requestFor('Delete', id, { bucket, physicalId: ids.get(id), template: v4 }));
      expect(first).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: ids.get(id) });
      expect(await grantsOf('shop_v2')).toBeUndefined();
      const again = await send(cfn.requestFor('Delete', id, { bucket, physicalId: ids.get(id), template: v4 }));
      expect(again.Status).toBe('SUCCESS');
    });

    test('the stack is deleted (removal policy SNAPSHOT): the retention resource goes first, and the users stay for the snapshot', async () => {
      const retention = cfn.resourcesOfType(RETENTION_TYPE);
      expect(retention).toHaveLength(1);
      // The template makes CloudFormation delete it before every user.
      const dependsOn = v1.Resources[retention[0]].DependsOn as string[];
      expect(dependsOn).toEqual(expect.arrayContaining(cfn.resourcesOfType(USER_TYPE)));
      expect((await send(cfn.requestFor('Delete', retention[0], { bucket, physicalId: ids.get(retention[0]) }))).Status).toBe('SUCCESS');
      const app = logicalIdOf(v1, 'lamp_app');
      expect((await send(cfn.requestFor('Delete', app, { bucket, physicalId: ids.get(app) }))).Status).toBe('SUCCESS');
      expect(await grantsOf('lamp_app')).toEqual(['GRANT SELECT, INSERT, UPDATE, DELETE ON `lamp`.* TO `lamp_app`@`%`']);
    });
  });

  test('removal policy DESTROY: no retention resource, and deleting the stack drops the users', async () => {
    const template = synthesize((db) => db.addUser('temp_user'), RemovalPolicy.DESTROY, 'Temporary');
    const stack = newStack(template, 'Temporary');
    expect(stack.resourcesOfType(RETENTION_TYPE)).toEqual([]);
    const ids = await createAll(stack);
    expect(await grantsOf('temp_user')).toBeDefined();
    for (const [id, physicalId] of ids) {
      expect((await send(stack.requestFor('Delete', id, { bucket, physicalId }))).Status).toBe('SUCCESS');
    }
    expect(await grantsOf('temp_user')).toBeUndefined();
  });

  test('a failed Create answers FAILED; the rollback Delete of the id it answered drops nothing', async () => {
    const template = synthesize(BROKEN, RemovalPolicy.SNAPSHOT, 'Broken');
    const stack = newStack(template, 'Broken');
    const shop = logicalIdOf(template, 'shop');
    const failed = await send(stack.requestFor('Create', shop, { bucket }));
    expect(failed.Status).toBe('FAILED');
    expect(failed.Reason).toMatch(/1146/);
    // Nothing was left behind by the failed Create ...
    expect(await grantsOf('shop')).toBeUndefined();
    // ... and an account made meanwhile by someone else survives the rollback's Delete.
    await server.adminQuery("CREATE USER 'shop'@'%' IDENTIFIED BY 'hand-made'");
    const rollback = await send(stack.requestFor('Delete', shop, { bucket, physicalId: failed.PhysicalResourceId }));
    expect(rollback.Status).toBe('SUCCESS');
    expect(await canLogIn('shop', 'hand-made')).toBe(true);
  });

  test('an account made by hand is never taken over: Create fails, saying why, and the account is untouched', async () => {
    // 'shop' exists, made by hand in the test before.
    const template = synthesize(V1, RemovalPolicy.SNAPSHOT, 'Intruder');
    const stack = newStack(template, 'Intruder');
    const answer = await send(stack.requestFor('Create', logicalIdOf(template, 'shop'), { bucket }));
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/not created by this provider/);
    expect(await canLogIn('shop', 'hand-made')).toBe(true);
    expect(await grantsOf('shop')).toEqual([]);
    await server.adminQuery("DROP USER 'shop'@'%'");
  });

  test('two users swap names in one update: both survive the clean-up, each with its new grants', async () => {
    const before = synthesize((db, stack) => {
      new DatabaseUser(stack, 'A', { database: db, userName: 'user_x', privileges: [DatabasePrivilege.SELECT] });
      new DatabaseUser(stack, 'B', { database: db, userName: 'user_y', privileges: [DatabasePrivilege.INSERT] });
    }, RemovalPolicy.SNAPSHOT, 'Swap');
    const after = synthesize((db, stack) => {
      new DatabaseUser(stack, 'A', { database: db, userName: 'user_y', privileges: [DatabasePrivilege.SELECT] });
      new DatabaseUser(stack, 'B', { database: db, userName: 'user_x', privileges: [DatabasePrivilege.INSERT] });
    }, RemovalPolicy.SNAPSHOT, 'Swap');
    const stack = newStack(before, 'Swap');
    registerSecrets(stack, after);
    const ids = await createAll(stack);
    const a = logicalIdOf(before, 'user_x');
    const b = logicalIdOf(before, 'user_y');
    const newA = await send(stack.requestFor('Update', a, { bucket, physicalId: ids.get(a), template: after, oldTemplate: before }));
    const newB = await send(stack.requestFor('Update', b, { bucket, physicalId: ids.get(b), template: after, oldTemplate: before }));
    expect([newA.Status, newB.Status]).toEqual(['SUCCESS', 'SUCCESS']);
    // Clean-up: the old physical ids, with the old properties.
    expect((await send(stack.requestFor('Delete', a, { bucket, physicalId: ids.get(a), template: before }))).Status).toBe('SUCCESS');
    expect((await send(stack.requestFor('Delete', b, { bucket, physicalId: ids.get(b), template: before }))).Status).toBe('SUCCESS');
    expect(await grantsOf('user_y')).toEqual(['GRANT SELECT ON `lamp`.* TO `user_y`@`%`']);
    expect(await grantsOf('user_x')).toEqual(['GRANT INSERT ON `lamp`.* TO `user_x`@`%`']);
  });

  test('a rolled-back replacement hands the account back to the resource it replaced', async () => {
    const before = synthesize((db, stack) => {
      new DatabaseUser(stack, 'Old', { database: db, userName: 'user_r', privileges: [DatabasePrivilege.SELECT] });
    }, RemovalPolicy.SNAPSHOT, 'Rollback');
    const after = synthesize((db, stack) => {
      new DatabaseUser(stack, 'New', { database: db, userName: 'user_r', privileges: [DatabasePrivilege.SELECT] });
    }, RemovalPolicy.SNAPSHOT, 'Rollback');
    const stack = newStack(before, 'Rollback');
    registerSecrets(stack, after);
    const ids = await createAll(stack);
    const oldId = logicalIdOf(before, 'user_r');
    const newId = logicalIdOf(after, 'user_r');
    const created = await send(stack.requestFor('Create', newId, { bucket, template: after }));
    expect(created.Status).toBe('SUCCESS');
    // Something else in the update failed: CloudFormation deletes the new resource and keeps the old one.
    expect((await send(stack.requestFor('Delete', newId, { bucket, physicalId: created.PhysicalResourceId, template: after }))).Status).toBe('SUCCESS');
    expect(await grantsOf('user_r')).toEqual(['GRANT SELECT ON `lamp`.* TO `user_r`@`%`']);
    // The old resource still owns it: removing it later drops the account.
    expect((await send(stack.requestFor('Delete', oldId, { bucket, physicalId: ids.get(oldId), template: before }))).Status).toBe('SUCCESS');
    expect(await grantsOf('user_r')).toBeUndefined();
  });

  test('a user that defines stored objects is not dropped: every privilege revoked, the account locked, the objects keep their definer', async () => {
    const privileges = [DatabasePrivilege.SELECT, DatabasePrivilege.CREATE_VIEW, DatabasePrivilege.SHOW_VIEW];
    const template = synthesize((db) => db.addUser('definer', { privileges }), RemovalPolicy.DESTROY, 'Definer');
    const stack = newStack(template, 'Definer');
    const ids = await createAll(stack);
    const id = logicalIdOf(template, 'definer');
    const password = passwordOf(stack.properties(id).PasswordSecretArn);
    const conn = await createConnection({ host: server.host, port: server.port, user: 'definer', password, database: 'lamp', ssl: { ca: server.caPem } });
    await conn.query('CREATE VIEW definer_view AS SELECT 1 AS one');
    await conn.end();
    const answer = await send(stack.requestFor('Delete', id, { bucket, physicalId: ids.get(id) }));
    expect(answer.Status).toBe('SUCCESS');
    expect(await grantsOf('definer')).toEqual([]);
    expect(await canLogIn('definer', password)).toBe(false);
    const [view] = await server.adminQuery<Array<{ DEFINER: string }>>("SELECT DEFINER FROM information_schema.VIEWS WHERE TABLE_NAME = 'definer_view'");
    expect(view.DEFINER).toBe('definer@%');
    await server.adminQuery('DROP VIEW lamp.definer_view');
  });

  test('Delete when the cluster is gone (its endpoint no longer resolves) succeeds at once', async () => {
    const template = synthesize((db) => db.addUser('gone_user'), RemovalPolicy.DESTROY, 'Gone');
    const stack = newStack(template, 'Gone');
    const ids = await createAll(stack);
    const id = logicalIdOf(template, 'gone_user');
    const started = Date.now();
    const answer = await send(stack.requestFor('Delete', id, { bucket, physicalId: ids.get(id) }), { endpointTo: '', remainingMs: 60_000 });
    expect(answer.Status).toBe('SUCCESS');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  test('Delete when the server refuses connections: FAILED with the reason, before the function\'s time runs out', async () => {
    const template = synthesize((db) => db.addUser('refused_user'), RemovalPolicy.DESTROY, 'Refused');
    const stack = newStack(template, 'Refused');
    const ids = await createAll(stack);
    const id = logicalIdOf(template, 'refused_user');
    const closed = await freePort();
    const started = Date.now();
    const answer = await send(stack.requestFor('Delete', id, { bucket, physicalId: ids.get(id) }), { port: closed, remainingMs: 8_000 });
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/ECONNREFUSED/);
    expect(answer.at - started).toBeLessThan(8_000);
  }, 30_000);

  test('a failure while the function loads (a malformed environment) is answered FAILED with the reason', async () => {
    const template = synthesize((db) => db.addUser('init_user'), RemovalPolicy.DESTROY, 'Init');
    const stack = newStack(template, 'Init');
    const answer = await send(stack.requestFor('Create', logicalIdOf(template, 'init_user'), { bucket }), {
      env: env({ SECRETS_MANAGER_ENDPOINT: 'ftp://not a url' }),
    });
    expect(answer.Status).toBe('FAILED');
    expect(answer.Reason).toMatch(/SECRETS_MANAGER_ENDPOINT/);
  });

  test('a function whose time runs out (Secrets Manager never answers) answers FAILED before Lambda ends it', async () => {
    const template = synthesize((db) => db.addUser('slow_user'), RemovalPolicy.DESTROY, 'Slow');
    const stack = newStack(template, 'Slow');
    secrets.stall = true;
    try {
      const started = Date.now();
      const answer = await send(stack.requestFor('Create', logicalIdOf(template, 'slow_user'), { bucket }), { remainingMs: 6_000 });
      expect(answer.Status).toBe('FAILED');
      expect(answer.at - started).toBeLessThan(6_000);
    } finally {
      secrets.stall = false;
    }
  }, 30_000);
});

/*
 * The default stack, as `new ServerlessLampDatabase(this, 'Db')` synthesizes
 * it: end-to-end IAM, removal policy SNAPSHOT. The server has the stand-in
 * for Aurora's AWSAuthenticationPlugin (support/aws-auth-plugin), so the
 * provider's IAM statements run as they do on Aurora, and the shipped query
 * handler logs in as the user they made with a token minted now.
 */
const plugin = availability.available ? awsAuthPluginOrSkip('test/users-lifecycle.mariadb.test.ts') : undefined;
const describeWithPlugin = plugin?.available ? describe : describe.skip;

describeWithPlugin('the default stack\'s first deploy, end-to-end IAM, against the IAM plugin stand-in', () => {
  let standIns: StandIns;
  const app = new App();
  const stack = new Stack(app, 'Defaults');
  new ServerlessLampDatabase(stack, 'Db');
  const template = Assertions.fromStack(stack).toJSON() as Template;

  beforeAll(async () => {
    standIns = await StandIns.start({ extraPlugins: [(plugin as { path: string }).path] });
    const { accessKeyId, secretAccessKey } = FAKE_CREDENTIALS;
    await installAwsAuthPlugin(standIns.server, { accessKeyId, secretAccessKey, region: FAKE_REGION });
  }, 60_000);

  afterAll(() => standIns?.stop(), 30_000);

  test('Create answers SUCCESS, the user is made as on Aurora, and the shipped handler lists the tables as that user; deleting the stack keeps it', async () => {
    const { server, bucket } = standIns;
    const cfn = standIns.stack(template, 'Defaults');
    const users = cfn.resourcesOfType(USER_TYPE);
    const retention = cfn.resourcesOfType(RETENTION_TYPE);
    expect(users).toHaveLength(1);
    expect(retention).toHaveLength(1);
    const send = (request: ReturnType<SimulatedStack['requestFor']>) => standIns.send(request);
    expect(cfn.requestFor('Create', users[0], { bucket }).ResourceProperties.ServiceTimeout).toBe('600');
    const ids = await standIns.createAll(cfn);
    const userName = cfn.properties(users[0]).UserName;
    expect(userName).toBe('lamp_app');
    const [account] = await server.adminQuery<Array<{ plugin: string; authentication_string: string }>>(
      "SELECT plugin, authentication_string FROM mysql.user WHERE User = 'lamp_app'");
    expect(account).toEqual({ plugin: 'AWSAuthenticationPlugin', authentication_string: 'RDS' });

    // The handler, with the environment the template gives it (its database and user), at the test server.
    type FunctionProps = { Environment?: { Variables?: Record<string, unknown> } };
    const handlerId = Object.keys(template.Resources).find((id) => template.Resources[id].Type === 'AWS::Lambda::Function' &&
      (template.Resources[id].Properties as FunctionProps)?.Environment?.Variables?.DB_USER !== undefined)!;
    const variables = (template.Resources[handlerId].Properties as { Environment: { Variables: Record<string, unknown> } }).Environment.Variables;
    expect(variables).toMatchObject({ DB_USER: 'lamp_app', DB_NAME: 'lamp' });
    // The handler depends on its user: CloudFormation creates it after, and deletes it before, the user.
    expect(template.Resources[handlerId].DependsOn).toEqual(expect.arrayContaining(users));
    const saved = { ...process.env };
    try {
      Object.assign(process.env, {
        ...handlerEnvironment(server),
        AWS_CONFIG_FILE: '/nonexistent/aws-config',
        AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
        AWS_EC2_METADATA_DISABLED: 'true',
        DB_USER: String(variables.DB_USER),
        DB_NAME: String(variables.DB_NAME),
      });
      let handler: typeof import('../src/handler/query.lambda') | undefined;
      jest.isolateModules(() => {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        handler = require(HANDLER_BUNDLE);
      });
      handler!.trustCaForTests(server.caPem);
      const quiet = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
      const logs = jest.spyOn(console, 'log').mockImplementation(() => undefined);
      try {
        expect(await handler!.handler({}, { getRemainingTimeInMillis: () => 10_000, awsRequestId: 'r' } as never))
          .toEqual({ ok: true, database: 'lamp', tables: server.tables });
      } finally {
        quiet.mockRestore();
        logs.mockRestore();
        await handler!.resetForTests();
      }
    } finally {
      restoreEnvironment(saved);
    }

    // The stack is deleted: retention first, then the user, which the final snapshot keeps.
    expect((await send(cfn.requestFor('Delete', retention[0], { bucket, physicalId: ids.get(retention[0]) }))).Status).toBe('SUCCESS');
    expect((await send(cfn.requestFor('Delete', users[0], { bucket, physicalId: ids.get(users[0]) }))).Status).toBe('SUCCESS');
    const [still] = await server.adminQuery<Array<{ n: number }>>("SELECT COUNT(*) AS n FROM mysql.user WHERE User = 'lamp_app'");
    expect(Number(still.n)).toBe(1);
  });
});
