/*
 * The runtime of the functions the construct deploys (the query handler and
 * the users provider): its default, a runtime the user chooses, the runtimes
 * refused, and what the rule packs that ask for the newest runtime make of it.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { aws_lambda as lambda } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ServerlessLampDatabase } from '../src';
import { build, useFreshStack } from './support/harness';
import { findings3 } from './support/nag';
import { LOWEST_NODE_MAJOR } from '../src/private/function-runtime';

const ctx = useFreshStack();

/** The Runtime of the query handler and of the users provider, by name. */
function runtimes(template: Template): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [id, fn] of Object.entries(template.findResources('AWS::Lambda::Function'))) {
    const name = /^Db(Handler|UsersFunction)[0-9A-F]{8}$/.exec(id)?.[1];
    if (name) out[name] = fn.Properties.Runtime;
  }
  return out;
}

/** The rule ids acknowledged (cdk-nag 2 metadata) on each of the two functions. */
function acknowledged(template: Template): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [id, fn] of Object.entries(template.findResources('AWS::Lambda::Function'))) {
    const name = /^Db(Handler|UsersFunction)[0-9A-F]{8}$/.exec(id)?.[1];
    if (name) out[name] = (fn.Metadata?.cdk_nag?.rules_to_suppress ?? []).map((r: { id: string }) => r.id);
  }
  return out;
}

const RUNTIME_RULES = ['AwsSolutions-L1', 'Serverless-LambdaLatestVersion'];
const RUNTIME_RULE = new RegExp(RUNTIME_RULES.join('|'));

/** The newest Node.js runtime the aws-cdk-lib in use knows, as the rule packs find it. */
function newestNodeRuntime(): lambda.Runtime {
  const major = (r: lambda.Runtime) => Number(/^nodejs(\d+)\.x$/.exec(r.name)?.[1] ?? 0);
  return lambda.Runtime.ALL
    .filter((r) => r.family === lambda.RuntimeFamily.NODEJS && !r.isVariable)
    .reduce((a, b) => (major(b) > major(a) ? b : a));
}

test('by default both functions run on Node.js 24 and nothing about their runtime is acknowledged', () => {
  const { template } = build(ctx);
  expect(runtimes(template)).toEqual({ Handler: 'nodejs24.x', UsersFunction: 'nodejs24.x' });
  for (const ids of Object.values(acknowledged(template))) {
    expect(ids.filter((id) => RUNTIME_RULE.test(id))).toEqual([]);
  }
});

test('by default the rule packs report the runtime exactly when aws-cdk-lib knows a newer Node.js runtime', () => {
  const newer = newestNodeRuntime().name !== lambda.Runtime.NODEJS_24_X.name;
  build(ctx);
  const found = findings3(ctx.stack).filter((f) => RUNTIME_RULE.test(f));
  for (const rule of RUNTIME_RULES) {
    for (const fn of ['Handler', 'UsersFunction']) {
      expect(found.some((f) => f.includes(rule) && f.includes(`/Db/${fn}/`))).toBe(newer);
    }
  }
});

test('functionRuntime sets the runtime of both functions; an older one is acknowledged as the user\'s choice', () => {
  const { template } = build(ctx, { functionRuntime: lambda.Runtime.NODEJS_22_X });
  expect(runtimes(template)).toEqual({ Handler: 'nodejs22.x', UsersFunction: 'nodejs22.x' });
  const acks = acknowledged(template);
  for (const fn of ['Handler', 'UsersFunction']) {
    expect(acks[fn]).toEqual(expect.arrayContaining(RUNTIME_RULES));
  }
  const reasons = JSON.stringify(template.toJSON());
  expect(reasons).toContain('chosen explicitly (functionRuntime: nodejs22.x)');
  expect(findings3(ctx.stack).filter((f) => RUNTIME_RULE.test(f))).toEqual([]);
});

test('the newest Node.js runtime aws-cdk-lib knows draws no runtime finding, and needs no acknowledgment', () => {
  const newest = newestNodeRuntime();
  const { template } = build(ctx, { functionRuntime: newest });
  expect(runtimes(template)).toEqual({ Handler: newest.name, UsersFunction: newest.name });
  for (const ids of Object.values(acknowledged(template))) {
    expect(ids.filter((id) => RUNTIME_RULE.test(id))).toEqual([]);
  }
  expect(findings3(ctx.stack).filter((f) => RUNTIME_RULE.test(f))).toEqual([]);
});

test.each([
  ['an older Node.js', lambda.Runtime.NODEJS_20_X, 'nodejs20.x, family NODEJS'],
  ['another language', lambda.Runtime.PYTHON_3_13, 'python3.13, family PYTHON'],
  ['a Node.js name without the family', new lambda.Runtime('nodejs24.x'), 'nodejs24.x, no family'],
  ['no version', lambda.Runtime.NODEJS, 'nodejs, family NODEJS'],
])('functionRuntime refuses %s', (_what, runtime, shown) => {
  expect(() => new ServerlessLampDatabase(ctx.stack, 'Db', { functionRuntime: runtime })).toThrow(
    `functionRuntime (${shown}) must be a Node.js runtime (lambda.RuntimeFamily.NODEJS), nodejs22.x or newer, ` +
      'such as lambda.Runtime.NODEJS_22_X');
});

test('the functions are bundled for the oldest runtime functionRuntime allows', () => {
  const tasks = JSON.parse(readFileSync(path.join(__dirname, '..', '.projen', 'tasks.json'), 'utf8')).tasks;
  // The serverless-lamp-database command (bundle:cli/main) runs on developers' machines, not on a function runtime.
  const bundles = Object.keys(tasks).filter((name) => name.startsWith('bundle:') && !name.endsWith(':watch') && name !== 'bundle:cli/main');
  expect(bundles.sort()).toEqual(['bundle:handler/query.lambda', 'bundle:provider/users.lambda']);
  for (const name of bundles) {
    expect(tasks[name].steps[0].execArgs).toContain(`--target=node${LOWEST_NODE_MAJOR}`);
  }
});
