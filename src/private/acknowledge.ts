import { CfnResource } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** One rule-pack finding that the construct acknowledges, with its reason. */
export interface RuleAcknowledgment {
  /** The rule id, for example `AwsSolutions-IAM4`. */
  readonly id: string;
  /** Why the finding is inherent or was the user's explicit choice. */
  readonly reason: string;
  /** The findings of the rule this covers, for example `Policy::arn:<AWS::Partition>:iam::aws:...`. */
  readonly appliesTo?: string[];
}

/**
 * Records acknowledgments of rule-pack findings on the CloudFormation resource
 * behind `scope`, in the `cdk_nag` metadata that cdk-nag reads
 * (`rules_to_suppress`), so that only the named rules on that one resource are
 * acknowledged. The library does not depend on cdk-nag: this is its
 * documented metadata format.
 */
export function acknowledgeRules(scope: IConstruct, rules: RuleAcknowledgment[]): void {
  const resource = scope instanceof CfnResource ? scope : scope.node.defaultChild;
  if (!(resource instanceof CfnResource)) {
    throw new Error(`internal: ${scope.node.path} has no CloudFormation resource to acknowledge rules on`);
  }
  const existing = (resource.getMetadata('cdk_nag') as { rules_to_suppress?: unknown[] } | undefined)?.rules_to_suppress ?? [];
  resource.addMetadata('cdk_nag', {
    rules_to_suppress: [
      ...existing,
      ...rules.map((r) => ({ id: r.id, reason: r.reason, ...(r.appliesTo ? { applies_to: r.appliesTo } : {}) })),
    ],
  });
}

/** The same finding under each compliance pack's own rule id. */
export function acrossPacks(rule: string, packs: string[], reason: string): RuleAcknowledgment[] {
  return packs.map((pack) => ({ id: `${pack}-${rule}`, reason }));
}

export const HIPAA = 'HIPAA.Security';
export const NIST = 'NIST.800.53.R5';
export const PCI = 'PCI.DSS.321';
export const SERVERLESS = 'Serverless';
