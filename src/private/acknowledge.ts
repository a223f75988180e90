import { CfnResource, Validations } from 'aws-cdk-lib';
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
 * behind `scope`, so that only the named rules on that one resource are
 * acknowledged. The library does not depend on cdk-nag; it writes both forms
 * cdk-nag reads:
 * - cdk-nag 2: the `cdk_nag` resource metadata (`rules_to_suppress`);
 * - cdk-nag 3: `Validations.of(resource).acknowledge()`.
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

  const v = Validations.of(resource);
  for (const rule of rules) {
    // cdk-nag 3 names a finding of a rule as `<rule>[<finding>]`.
    for (const id of rule.appliesTo?.map((finding) => `${rule.id}[${finding}]`) ?? [rule.id]) {
      try {
        v.acknowledge({ id, reason: rule.reason });
      } catch {
        // Some aws-cdk-lib releases (2.257 among them) refuse ids with more
        // than one "::", which findings such as `Policy::arn:<AWS::Partition>:...`
        // have. Record the acknowledgment in the documented metadata entry that
        // acknowledge() itself writes and cdk-nag reads.
        resource.node.addMetadata(Validations.ACKNOWLEDGED_RULES_METADATA_KEY, { [`annotation::${id}`]: rule.reason });
      }
    }
  }
}

/** The same finding under each compliance pack's own rule id. */
export function acrossPacks(rule: string, packs: string[], reason: string): RuleAcknowledgment[] {
  return packs.map((pack) => ({ id: `${pack}-${rule}`, reason }));
}

export const HIPAA = 'HIPAA.Security';
export const NIST = 'NIST.800.53.R5';
export const PCI = 'PCI.DSS.321';
export const SERVERLESS = 'Serverless';
