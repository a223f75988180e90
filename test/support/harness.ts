/*
 * Shared set-up of the construct's unit tests: a fresh App and Stack per test,
 * a builder, small template helpers, and the CloudFormation validator over
 * every template a test file synthesizes.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { releaseValidator, unexpected, validateTemplate } from './cfn-validate';
import { ServerlessLampDatabase, ServerlessLampDatabaseProps } from '../../src';

/** The stack of the current test, made fresh before each test by `useFreshStack()`. */
export interface TestContext {
  app: App;
  stack: Stack;
}

/** A new App and Stack (`TestStack`) before every test of the calling file. */
export function useFreshStack(): TestContext {
  const ctx = {} as TestContext;
  beforeEach(() => {
    ctx.app = new App();
    ctx.stack = new Stack(ctx.app, 'TestStack');
  });
  return ctx;
}

/** `new ServerlessLampDatabase(stack, 'Db', props)` and its template. */
export function build(ctx: TestContext, props?: ServerlessLampDatabaseProps): { db: ServerlessLampDatabase; template: Template } {
  const db = new ServerlessLampDatabase(ctx.stack, 'Db', props);
  return { db, template: Template.fromStack(ctx.stack) };
}

/** The one resource of `type` in the template (fails the test if there are more or none). */
export function resourceOf(template: Template, type: string): { logicalId: string; props: any } {
  const all = template.findResources(type);
  const ids = Object.keys(all);
  expect(ids).toHaveLength(1);
  return { logicalId: ids[0], props: all[ids[0]].Properties };
}

/** The query handler's logical id and properties (the users provider is a function too). */
export function handlerOf(template: Template): { logicalId: string; props: any } {
  const found = Object.entries(template.findResources('AWS::Lambda::Function')).filter(([id]) => /^DbHandler[0-9A-F]{8}$/.test(id));
  expect(found).toHaveLength(1);
  return { logicalId: found[0][0], props: found[0][1].Properties };
}

/** The logical id of the one security group with this description. */
export function securityGroupId(template: Template, description: string): string {
  const groups = template.findResources('AWS::EC2::SecurityGroup', { Properties: { GroupDescription: description } });
  const ids = Object.keys(groups);
  expect(ids).toHaveLength(1);
  return ids[0];
}

/** Logical id of the role that `service` may assume (exactly one, among those whose id matches `id`). */
export function roleAssumedBy(template: Template, service: string, id: RegExp = /./): string {
  const ids = Object.keys(template.findResources('AWS::IAM::Role', {
    Properties: { AssumeRolePolicyDocument: { Statement: [{ Principal: { Service: service } }] } },
  })).filter((logicalId) => id.test(logicalId));
  expect(ids).toHaveLength(1);
  return ids[0];
}

/**
 * Every template the calling test file reads with `Template.fromStack` is also
 * checked by AWS's offline CloudFormation validator, in a last test that
 * `validateRecordedTemplates()` adds at the end of the file.
 */
export function recordTemplates(): Array<{ test: string; template: object }> {
  const synthesized: Array<{ test: string; template: object }> = [];
  const fromStack = Template.fromStack.bind(Template);
  jest.spyOn(Template, 'fromStack').mockImplementation((stackToRead, options) => {
    const template = fromStack(stackToRead, options);
    synthesized.push({ test: expect.getState().currentTestName ?? '?', template: template.toJSON() });
    return template;
  });
  return synthesized;
}

/** The last test of a file: every recorded template passes the validator (see `recordTemplates()`). */
export function validateRecordedTemplates(synthesized: Array<{ test: string; template: object }>, atLeast: number): void {
  describe('CloudFormation validation', () => {
    afterAll(() => releaseValidator());
    // Jest runs the tests of a file in order: this one sees every template above.
    test('every template synthesized above passes @aws/cloudformation-validate', () => {
      expect(synthesized.length).toBeGreaterThanOrEqual(atLeast);
      const problems = synthesized.flatMap(({ test: name, template }) =>
        unexpected(validateTemplate(template)).map((d) => `${name}: ${d}`));
      expect(problems).toEqual([]);
    }, 300_000);
  });
}
