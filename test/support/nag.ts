/*
 * cdk-nag's AwsSolutions, HIPAA Security, NIST 800-53 rev 5, PCI DSS 3.2.1 and
 * Serverless rule packs over a stack, with both cdk-nag majors: 3 reads
 * acknowledgments from aws-cdk-lib's `Validations` metadata, 2 from the
 * `cdk_nag` resource metadata; the construct writes both.
 */
import { Aspects, Stack } from 'aws-cdk-lib';
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
  const annotations = Annotations.fromStack(stack);
  return [...annotations.findError('*', Match.anyValue()), ...annotations.findWarning('*', Match.anyValue())]
    .map((f) => `${f.id}: ${String(f.entry.data).split('\n')[0]}`);
}

