/*
 * At scale: a database shared by 100 functions, and one with 200 users,
 * synthesized and measured against AWS's default quotas (support/quotas.ts
 * names each quota and its source), with the reachability model still
 * holding for every function.
 */
import { App, Stack, aws_lambda as lambda } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { ClientAdmission, DatabaseAuthentication, ServerlessLampDatabase } from '../src';
import { Resolver } from './support/iam-contract';
import { DEFAULT_QUOTAS, allowedResources, rolePolicies } from './support/quotas';
import { NetworkModel } from './support/reachability';
import { USER_RESOURCE_TYPE } from '../src/provider/properties';

type Json = any;

/** What each stack measured, printed once at the end (the README's "At scale" figures). */
const figures: string[] = [];
afterAll(() => {
  process.stdout.write(`${figures.map((f) => `scale: ${f}`).join('\n')}\n`);
});

function synth(stack: Stack): Json {
  return App.of(stack)!.synth().getStackByName(stack.stackName).template;
}

function idsOf(template: Json, type: string): string[] {
  return Object.entries(template.Resources).filter(([, r]: [string, Json]) => r.Type === type).map(([id]) => id);
}

/** Function ids of one width, so that none is a prefix of another's logical id. */
const appId = (i: number) => `App${String(i).padStart(3, '0')}`;

/** A database and `count` Node.js functions in its VPC, each connected with `admission`. */
function withFunctions(count: number, admission?: ClientAdmission) {
  const app = new App();
  const stack = new Stack(app, `Functions${count}${admission ? 'PerFunction' : ''}`);
  const db = new ServerlessLampDatabase(stack, 'Db');
  for (let i = 0; i < count; i++) {
    const fn = new lambda.Function(stack, appId(i), {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => ({});'),
      vpc: db.vpc,
      vpcSubnets: db.vpcSubnets,
    });
    db.connectFunction(fn, admission ? { admission } : {});
  }
  // One function in the VPC that is not connected: it must reach nothing.
  new lambda.Function(stack, 'Stranger', {
    runtime: lambda.Runtime.NODEJS_22_X,
    handler: 'index.handler',
    code: lambda.Code.fromInline('exports.handler = async () => ({});'),
    vpc: db.vpc,
    vpcSubnets: db.vpcSubnets,
  });
  return { stack, db, template: synth(stack) };
}

describe('100 connected functions', () => {
  const { template } = withFunctions(100);
  const model = new NetworkModel(template);
  const proxy = idsOf(template, 'AWS::RDS::DBProxy')[0];
  const proxyGroups: string[] = template.Resources[proxy].Properties.VpcSecurityGroupIds.map((g: Json) => g['Fn::GetAtt'][0]);

  test('every security group stays within 60 inbound and 60 outbound rules; the proxy\'s needs one rule for all of them', () => {
    const counts = model.ruleCounts();
    for (const [group, { inbound, outbound }] of Object.entries(counts)) {
      expect({ group, inbound: inbound <= DEFAULT_QUOTAS.inboundRulesPerSecurityGroup }).toEqual({ group, inbound: true });
      expect({ group, outbound: outbound <= DEFAULT_QUOTAS.outboundRulesPerSecurityGroup }).toEqual({ group, outbound: true });
    }
    // The handler's rule and the client group's rule: the count does not grow with the functions.
    expect(proxyGroups.map((g) => counts[g].inbound)).toEqual([2]);
    const most = Math.max(...Object.values(counts).map((c) => c.inbound));
    figures.push(`100 connected functions: the proxy's security group has ${counts[proxyGroups[0]].inbound} inbound rules ` +
      `(the most of any group: ${most}); ${Object.keys(template.Resources).length} resources in the stack`);
  });

  test('every function has at most 5 security groups', () => {
    for (const id of idsOf(template, 'AWS::Lambda::Function')) {
      const groups = template.Resources[id].Properties.VpcConfig?.SecurityGroupIds ?? [];
      expect({ id, groups: groups.length <= DEFAULT_QUOTAS.securityGroupsPerNetworkInterface }).toEqual({ id, groups: true });
    }
  });

  test('every connected function reaches the proxy on 3306 and not the cluster; the one not connected reaches neither', () => {
    const cluster = idsOf(template, 'AWS::RDS::DBCluster')[0];
    for (let i = 0; i < 100; i++) {
      const w = model.workload(appId(i));
      expect({ fn: w.id, proxy: model.canReach(w, proxy), cluster: model.canReach(w, cluster) })
        .toEqual({ fn: w.id, proxy: true, cluster: false });
    }
    const stranger = model.workload('Stranger');
    expect([model.canReach(stranger, proxy), model.canReach(stranger, cluster)]).toEqual([false, false]);
  });

  test('the stack stays within 500 resources', () => {
    expect(Object.keys(template.Resources).length).toBeLessThanOrEqual(DEFAULT_QUOTAS.resourcesPerStack);
  });
});

describe('a rule per function, when asked for', () => {
  test('the rules are there, and past the quota a synth warning says so', () => {
    const few = withFunctions(3, ClientAdmission.FUNCTION_SECURITY_GROUPS);
    const model = new NetworkModel(few.template);
    const proxy = idsOf(few.template, 'AWS::RDS::DBProxy')[0];
    const proxyGroup = few.template.Resources[proxy].Properties.VpcSecurityGroupIds[0]['Fn::GetAtt'][0];
    expect(model.ruleCounts()[proxyGroup].inbound).toBe(1 + 3);
    for (let i = 0; i < 3; i++) expect(model.canReach(model.workload(appId(i)), proxy)).toBe(true);
    Annotations.fromStack(few.stack).hasNoWarning('*', Match.stringLikeRegexp('inbound rules'));

    const many = withFunctions(60, ClientAdmission.FUNCTION_SECURITY_GROUPS);
    Annotations.fromStack(many.stack).hasWarning('*', Match.stringLikeRegexp('61 inbound rules'));
  });
});

/** A database with its application user and `count - 1` more, with end-to-end IAM (the default) or secrets. */
function withUsers(count: number, authentication?: DatabaseAuthentication) {
  const app = new App();
  const stack = new Stack(app, `Users${count}${authentication ?? ''}`);
  const db = new ServerlessLampDatabase(stack, 'Db', { authentication });
  const names = ['lamp_app'];
  for (let i = 1; i < count; i++) {
    // Long names: each user's ARN is as long as MySQL's 32-character user names make it.
    const name = `application_user_${String(i).padStart(3, '0')}_abcdefghijkl`.slice(0, 32);
    db.addUser(name);
    names.push(name);
  }
  return { stack, db, names, template: synth(stack) };
}

describe('200 users with end-to-end IAM', () => {
  const { db, names, template } = withUsers(200);
  const roleId = Object.keys(template.Resources).find((id) => id.startsWith('DbProxyRole') && template.Resources[id].Type === 'AWS::IAM::Role')!;
  const policies = rolePolicies(template, roleId);

  test('the proxy role\'s policies fit IAM\'s quotas with every token resolved at the longest partition and Region', () => {
    expect(policies.inlineCharacters).toBeLessThanOrEqual(DEFAULT_QUOTAS.roleInlinePolicyCharacters);
    for (const m of policies.managed) {
      expect({ policy: m.id, fits: m.characters <= DEFAULT_QUOTAS.managedPolicyCharacters }).toEqual({ policy: m.id, fits: true });
    }
    expect(policies.managedCount).toBeLessThanOrEqual(DEFAULT_QUOTAS.managedPoliciesPerRole);
    figures.push('200 users (32-character names, longest partition and Region): the proxy role\'s inline policy has ' +
      `${policies.inlineCharacters} characters, plus ${policies.managed.length} managed policies of at most ` +
      `${Math.max(...policies.managed.map((m) => m.characters))}; ${Object.keys(template.Resources).length} resources in the stack`);
  });

  test('the proxy may connect as exactly the 200 users, one ARN each, no wildcard', () => {
    const arns = allowedResources(policies.statements, 'rds-db:connect');
    expect(arns.filter((a) => a.includes('*'))).toEqual([]);
    const users = arns.map((a) => /:dbuser:cluster-[A-Z0-9]+\/(.+)$/.exec(a)![1]).sort();
    expect(users).toEqual([...names].sort());
    expect(db.defaultDatabaseUser).toBe('lamp_app');
  });

  test('users are created a few at a time: their resources form at most 8 chains', () => {
    const users = idsOf(template, USER_RESOURCE_TYPE);
    expect(users).toHaveLength(200);
    const userSet = new Set(users);
    const dependsOnUsers = (id: string): string[] => [template.Resources[id].DependsOn ?? []].flat().filter((d: string) => userSet.has(d));
    // A chain: each user waits for at most one other user, and no user is waited for by two.
    const waitedFor = new Map<string, number>();
    for (const id of users) {
      const deps = dependsOnUsers(id);
      expect({ id, deps: deps.length <= 1 }).toEqual({ id, deps: true });
      for (const d of deps) waitedFor.set(d, (waitedFor.get(d) ?? 0) + 1);
    }
    expect([...waitedFor.values()].every((n) => n === 1)).toBe(true);
    const heads = users.filter((id) => dependsOnUsers(id).length === 0);
    expect(heads.length).toBeLessThanOrEqual(8);
    expect(heads.length).toBeGreaterThan(1);
  });

  test('the stack stays within 500 resources', () => {
    expect(Object.keys(template.Resources).length).toBeLessThanOrEqual(DEFAULT_QUOTAS.resourcesPerStack);
  });

  test('the handler still reaches the proxy and the users provider the cluster', () => {
    const model = new NetworkModel(template);
    const proxy = idsOf(template, 'AWS::RDS::DBProxy')[0];
    const cluster = idsOf(template, 'AWS::RDS::DBCluster')[0];
    expect(model.canReach(model.workload('DbHandler'), proxy)).toBe(true);
    expect(model.canReach(model.workload('DbUsersFunction'), cluster)).toBe(true);
  });
});

describe('where the user limits lie', () => {
  const roleOf = (template: Json) => Object.keys(template.Resources)
    .find((id) => id.startsWith('DbProxyRole') && template.Resources[id].Type === 'AWS::IAM::Role')!;

  test('end-to-end IAM: about 320 users fit within 10 managed policies on the proxy role', () => {
    const { template } = withUsers(320);
    const policies = rolePolicies(template, roleOf(template));
    expect(policies.inlineCharacters).toBeLessThanOrEqual(DEFAULT_QUOTAS.roleInlinePolicyCharacters);
    expect(policies.managedCount).toBeLessThanOrEqual(DEFAULT_QUOTAS.managedPoliciesPerRole);
    figures.push(`320 users: ${policies.managedCount} managed policies on the proxy role; ${Object.keys(template.Resources).length} resources in the stack`);
  });

  test('resources each declared user costs, with end-to-end IAM and with secrets', () => {
    const cost = (authentication?: DatabaseAuthentication) => {
      const small = Object.keys(withUsers(2, authentication).template.Resources).length;
      const large = Object.keys(withUsers(12, authentication).template.Resources).length;
      return { perUser: (large - small) / 10, base: small - 2 * ((large - small) / 10) };
    };
    const iam = cost();
    const secrets = cost(DatabaseAuthentication.SECRETS);
    expect(iam.perUser).toBe(1);
    expect(secrets.perUser).toBeGreaterThan(iam.perUser);
    const fit = (c: { perUser: number; base: number }) => Math.floor((DEFAULT_QUOTAS.resourcesPerStack - c.base) / c.perUser);
    figures.push(`a declared user costs ${iam.perUser} resource with end-to-end IAM (${fit(iam)} users fill a stack of ` +
      `${DEFAULT_QUOTAS.resourcesPerStack}) and ${secrets.perUser} with secrets (${fit(secrets)} users)`);
  });
});

describe('proxies', () => {
  test('more than 20 proxies on one database: a synth warning names the quota', () => {
    const app = new App();
    const stack = new Stack(app, 'Proxies');
    const db = new ServerlessLampDatabase(stack, 'Db');
    for (let i = 0; i < 20; i++) db.addProxy(`App${i}`, { maxConnectionsPercent: 4 });
    Annotations.fromStack(stack).hasWarning('*', Match.stringLikeRegexp('21 proxies'));
  });

  test('alarms and the dashboard grow one row per proxy, far below CloudWatch\'s 500 widgets per dashboard', () => {
    const app = new App();
    const stack = new Stack(app, 'Watched');
    const db = new ServerlessLampDatabase(stack, 'Db');
    for (let i = 0; i < 19; i++) db.addProxy(`App${i}`, { maxConnectionsPercent: 5 });
    db.addAlarms();
    db.addDashboard();
    const template = synth(stack);
    const alarms = idsOf(template, 'AWS::CloudWatch::Alarm').length;
    const [dashboard] = idsOf(template, 'AWS::CloudWatch::Dashboard');
    const body = JSON.parse(new Resolver({ Watched: template }).resolve('Watched', template.Resources[dashboard].Properties.DashboardBody));
    const widgets: number = body.widgets.length;
    expect(widgets).toBeLessThanOrEqual(500);
    figures.push(`20 proxies with addAlarms() and addDashboard(): ${alarms} alarms, a dashboard of ${widgets} widgets`);
  });

  test('20 proxies: no such warning', () => {
    const app = new App();
    const stack = new Stack(app, 'Proxies');
    const db = new ServerlessLampDatabase(stack, 'Db');
    for (let i = 0; i < 19; i++) db.addProxy(`App${i}`, { maxConnectionsPercent: 5 });
    Annotations.fromStack(stack).hasNoWarning('*', Match.stringLikeRegexp('\\d+ proxies'));
  });
});

