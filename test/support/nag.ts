/*
 * cdk-nag's AwsSolutions, HIPAA Security, NIST 800-53 rev 5, PCI DSS 3.2.1 and
 * Serverless rule packs over a stack, with both cdk-nag majors: 3 reads
 * acknowledgments from aws-cdk-lib's `Validations` metadata, 2 from the
 * `cdk_nag` resource metadata; the construct writes both.
 */
import { Aspects, Stack, aws_lambda as lambda } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as nag3 from 'cdk-nag';
import * as nag2 from 'cdk-nag-v2';

export const PACKS = ['AwsSolutions', 'HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321', 'Serverless'];

/** cdk-nag 3: each pack's report over the stack (errors and warnings). */
export function findings3(stack: Stack): string[] {
  const packs = [
    new nag3.AwsSolutionsChecks(), new nag3.HIPAASecurityChecks(), new nag3.NIST80053R5Checks(),
    new nag3.PCIDSS321Checks(), new nag3.ServerlessChecks(),
  ];
  expect(packs.map((p) => p.readPackName)).toEqual(PACKS);
  return packs.flatMap((pack) => pack.validateScope(stack).violations.map((v) =>
    `${v.severity} ${v.ruleName} on ${v.violatingResources.map((r) => r.constructPath).join(', ')}`));
}

/** cdk-nag 2: the packs run as aspects and report through annotations. */
export function findings2(stack: Stack): string[] {
  const packs = [
    new nag2.AwsSolutionsChecks(), new nag2.HIPAASecurityChecks(), new nag2.NIST80053R5Checks(),
    new nag2.PCIDSS321Checks(), new nag2.ServerlessChecks(),
  ];
  for (const pack of packs) Aspects.of(stack).add(pack);
  let annotations: Annotations;
  try {
    annotations = Annotations.fromStack(stack);
  } catch (e) {
    // With the feature flag @aws-cdk/core:annotationsInValidationReport (newer
    // aws-cdk-lib releases, among the flags `cdk init` writes), error
    // annotations fail the synth, and the error's report lists them.
    if ((e as Error).name !== 'ValidationFailed') throw e;
    const report = (e as Error).message;
    return [...report.matchAll(/^\s*ERROR (\S+): (.*) \(Annotation\)\n\s*(\S+) /gm)]
      .map(([, id, text, constructPath]) => `/${constructPath}: ${id}: ${text}`);
  }
  return [...annotations.findError('*', Match.anyValue()), ...annotations.findWarning('*', Match.anyValue())]
    .map((f) => `${f.id}: ${String(f.entry.data).split('\n')[0]}`);
}


/** The rules that compare a function's runtime with the newest one aws-cdk-lib knows. */
export const RUNTIME_RULE = /AwsSolutions-L1|Serverless-LambdaLatestVersion/;

/** Whether the aws-cdk-lib in use knows a Node.js runtime newer than the functions' default (Node.js 24). */
export const NEWER_NODE_KNOWN = lambda.Runtime.ALL.some((r) =>
  r.family === lambda.RuntimeFamily.NODEJS && Number(/^nodejs(\d+)\.x$/.exec(r.name)?.[1] ?? 0) > 24);

/** The construct's two functions, as a finding of either cdk-nag major names them. */
const FUNCTION_PATH = /\S*\/Db\/(Handler|UsersFunction)\/Resource/;
const FUNCTION_PATHS = new RegExp(FUNCTION_PATH.source, 'g');

/**
 * The findings but those the construct leaves to the user on purpose: the
 * runtime rules on its two functions when they keep the default runtime and
 * aws-cdk-lib knows a newer one (see src/private/function-runtime.ts; the
 * rule-pack tests check that these are reported exactly then).
 */
export function withoutDefaultRuntimeFindings(found: string[]): string[] {
  if (!NEWER_NODE_KNOWN) return found;
  return found.filter((f) => !(RUNTIME_RULE.test(f) && FUNCTION_PATH.test(f) && !/\/Resource/.test(f.replace(FUNCTION_PATHS, ''))));
}
