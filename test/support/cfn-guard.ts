/*
 * The AWS Control Tower proactive controls, as CloudFormation Guard rules, through
 * `@cdklabs/cdk-validator-cfnguard` (it ships its own cfn-guard binary: offline).
 *
 * The plugin is called directly (`validate({ templatePaths })`) on the synthesized
 * template file instead of through `App({ policyValidationBeta1 })`: an in-process
 * `app.synth()` with a failing policy plugin only prints a report and sets
 * `process.exitCode = 1`, which a test can easily miss (or which fails the whole
 * jest run later, far from its cause).
 */
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { App, CfnElement, Stack } from 'aws-cdk-lib';

/** One violated rule on one resource. */
export interface GuardViolation {
  /** The guard rule, e.g. `rds_cluster_storage_encrypted_check`. */
  readonly rule: string;
  /** The Control Tower control, e.g. `CT.RDS.PR.16`, when the rule names one. */
  readonly control?: string;
  /** The logical id of the violating resource; undefined when cfn-guard does not name one. */
  readonly logicalId?: string;
  /** The construct path of that resource, e.g. `Defaults/Db/Cluster/Resource`. */
  readonly constructPath?: string;
  /** The rule's description and fix. */
  readonly message: string;
  /** Where in the template, e.g. `/Resources/X/Properties/StorageEncrypted`. */
  readonly locations: string[];
}

/** A guard validator with the Control Tower rules (all of them unless disabled). */
export function controlTowerValidator(disabledRules: string[] = []): CfnGuardValidator {
  return new CfnGuardValidator({ controlTowerRulesEnabled: true, disabledRules });
}

/**
 * Synthesizes `app` (without policy plugins) and checks the template of `stack` with
 * the Control Tower guard rules.
 */
export function guardViolations(app: App, stack: Stack, validator: CfnGuardValidator = controlTowerValidator()): GuardViolation[] {
  const templatePath = app.synth().getStackByName(stack.stackName).templateFullPath;
  const report = validator.validate({ templatePaths: [templatePath] });
  const paths = constructPaths(stack);
  const violations: GuardViolation[] = [];
  for (const v of report.violations) {
    const control = /\[(CT\.[A-Z0-9]+\.PR\.\d+)\]/.exec(v.description)?.[1];
    const message = v.fix ? `${v.description} [FIX]: ${v.fix}` : v.description;
    const named = v.violatingResources.filter(r => r.resourceLogicalId);
    // cfn-guard sometimes reports a failed clause without naming the resource
    // (e.g. a missing item of a list the rule requires); keep those, unnamed.
    const resources = named.length > 0 ? named : v.violatingResources.slice(0, 1);
    for (const r of resources) {
      violations.push({
        rule: v.ruleName,
        control,
        logicalId: r.resourceLogicalId || undefined,
        constructPath: r.resourceLogicalId ? paths.get(r.resourceLogicalId) : undefined,
        message,
        locations: [...new Set(r.locations)],
      });
    }
  }
  if (!report.success && violations.length === 0) {
    throw new Error('cfn-guard reported failure without violations');
  }
  return violations;
}

/** One line per violation, for failure messages. */
export function formatViolation(v: GuardViolation): string {
  const where = v.locations.length > 3 ? `${v.locations.slice(0, 3).join(', ')} (+${v.locations.length - 3} more)` : v.locations.join(', ');
  return `${v.control ?? v.rule} (${v.rule}) on ${v.constructPath ?? v.logicalId ?? '(resource not named by cfn-guard)'}` +
    ` at ${where || '?'}: ${v.message}`;
}

/** Logical id -> construct path, for every CloudFormation element of the stack. */
function constructPaths(stack: Stack): Map<string, string> {
  const paths = new Map<string, string>();
  for (const c of stack.node.findAll()) {
    if (CfnElement.isCfnElement(c) && Stack.of(c) === stack) {
      paths.set(stack.resolve(c.logicalId), c.node.path);
    }
  }
  return paths;
}
