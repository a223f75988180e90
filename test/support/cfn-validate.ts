/*
 * Offline CloudFormation validation with AWS's own validator,
 * `@aws/cloudformation-validate` (WebAssembly, no network): the full resource
 * provider schemas (FATAL: unknown properties, wrong types, out-of-range values,
 * broken references) plus cfn-lint-style rules (ERROR/WARN/INFO: deprecated
 * runtimes, redundant DependsOn, ...).
 *
 * aws-cdk-lib >= 2.265 bundles this validator and can run it at synth; the
 * aws-cdk-lib we build with (2.257) does not, so the tests call it directly.
 *
 * The engine costs a few seconds to create and to warm up (first validation),
 * then well under a second per template; one engine is shared per test file.
 * Call `releaseValidator()` in `afterAll` to free its off-heap memory.
 */
import * as fs from 'fs';
import { RegoEngine } from '@aws/cloudformation-validate';
import type { Engine, StandardDiagnostic } from '@aws/cloudformation-validate';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';

/** Diagnostic levels, most severe first. */
export const CFN_LEVELS = ['FATAL', 'ERROR', 'WARN', 'INFO', 'DEBUG'] as const;

/** The level of a diagnostic. */
export type CfnLevel = (typeof CFN_LEVELS)[number];

/** One finding of the validator, flattened for assertions and messages. */
export interface CfnDiagnostic {
  /** `FATAL` | `ERROR` | `WARN` | `INFO` | `DEBUG`. */
  readonly level: CfnLevel;
  /** The rule, e.g. `F3034` (schema: number out of bounds) or `W3005` (redundant DependsOn). */
  readonly ruleId: string;
  readonly message: string;
  /**
   * Where in the template, as a `/`-separated path from the template root, e.g.
   * `Resources/DbProxyProxyTargetGroup7F38655A/Properties/ConnectionPoolConfigurationInfo/MaxConnectionsPercent`.
   * Empty for template-wide findings.
   */
  readonly path: string;
  /** The logical id of the resource (or parameter, output, ...) the finding is about. */
  readonly logicalId?: string;
  /** The CloudFormation type of that resource, when known. */
  readonly resourceType?: string;
  /** `SCHEMA`, `CFN_LINT`, `ENGINE`, ... */
  readonly source: string;
  /** 1-based line in the validated (pretty-printed) template text. */
  readonly line?: number;
}

/** Options for `validateTemplate`. */
export interface ValidateTemplateOptions {
  /** A name for the template in error messages. @default 'template.json' or the file path */
  readonly name?: string;
  /**
   * The region that pseudo parameters and region-scoped values (instance classes, ...)
   * are checked against.
   * @default 'us-east-1'
   */
  readonly region?: string;
  /** The least severe level to return. @default 'INFO' */
  readonly minLevel?: CfnLevel;
}

let engine: Engine | undefined;

/** The shared engine, created on first use. */
function sharedEngine(): Engine {
  // RegoEngine, not CelEngine: with @aws/cloudformation-validate 1.9.0-beta the CEL
  // engine reports E3687 ("FromPort/ToPort required for tcp") on security group rules
  // whose ports are `Fn::GetAtt [Cluster, Endpoint.Port]` (as aws-cdk-lib's DatabaseProxy
  // writes them), although the README promises identical results. The Rego engine does not.
  engine ??= new RegoEngine();
  return engine;
}

/** Frees the shared engine (it holds off-heap WebAssembly memory). */
export function releaseValidator(): void {
  engine?.free();
  engine = undefined;
}

/** Creates the engine and runs a first validation, which is the slow part (seconds). */
export function warmUpValidator(): void {
  validateTemplate({ Resources: { Topic: { Type: 'AWS::SNS::Topic' } } }, { name: 'warm-up.json' });
}

/**
 * Validates a CloudFormation template and returns its diagnostics, most severe first.
 *
 * @param template the template object (e.g. `Template.fromStack(stack).toJSON()`) or
 * the path of a synthesized template file
 * @throws if the validator could not analyse the whole template (status other than `OK`)
 */
export function validateTemplate(template: object | string, options: ValidateTemplateOptions = {}): CfnDiagnostic[] {
  const name = options.name ?? (typeof template === 'string' ? template : 'template.json');
  const bytes = typeof template === 'string'
    ? fs.readFileSync(template)
    // Pretty-printed, so that the line numbers in diagnostics mean something.
    : Buffer.from(JSON.stringify(template, undefined, 1));
  // The engine only needs `path` and `readBytes()` of its TemplateFile: validate in memory.
  const report = sharedEngine().validateStandard({ path: name, readBytes: () => bytes }, {
    severityLevel: options.minLevel ?? 'INFO',
    pseudoParameterOverrides: { region: options.region ?? 'us-east-1' },
  });
  if (report.status !== 'OK') {
    throw new Error(`@aws/cloudformation-validate could not fully analyse ${name}: status ${report.status}`);
  }
  return report.diagnostics
    .map(toCfnDiagnostic)
    .sort((a, b) => CFN_LEVELS.indexOf(a.level) - CFN_LEVELS.indexOf(b.level));
}

/** Validates the template of a stack (`Template.fromStack(stack).toJSON()`). */
export function validateStack(stack: Stack, options: ValidateTemplateOptions = {}): CfnDiagnostic[] {
  return validateTemplate(Template.fromStack(stack).toJSON(), { name: `${stack.stackName}.template.json`, ...options });
}

/** True for `FATAL` and `ERROR`. */
export function isError(d: CfnDiagnostic): boolean {
  return d.level === 'FATAL' || d.level === 'ERROR';
}

/** One line per diagnostic, for failure messages. */
export function formatDiagnostic(d: CfnDiagnostic): string {
  return `${d.level} ${d.ruleId} at ${d.path || '(template)'}${d.line ? ` (line ${d.line})` : ''}: ${d.message}`;
}

const SECTIONS: { [entityType: string]: string } = {
  Resource: 'Resources',
  Parameter: 'Parameters',
  Output: 'Outputs',
  Mapping: 'Mappings',
  Condition: 'Conditions',
  Rule: 'Rules',
};

function toCfnDiagnostic(d: StandardDiagnostic): CfnDiagnostic {
  return {
    level: d.severity,
    ruleId: d.ruleId,
    message: d.message,
    path: diagnosticPath(d),
    logicalId: d.entity?.logicalId,
    resourceType: d.entity?.resourceType,
    source: d.source,
    line: d.startLine,
  };
}

/**
 * `propertyPath` is either relative to the entity (`Properties.BucketName`, `DependsOn`)
 * or section-absolute (`Parameters/MyParam/Type`).
 */
function diagnosticPath(d: StandardDiagnostic): string {
  const prop = d.propertyPath;
  if (prop?.includes('/')) {
    return prop;
  }
  const parts: string[] = [];
  if (d.entity) {
    const section = SECTIONS[d.entity.entityType];
    parts.push(...(section ? [section, d.entity.logicalId] : [d.entity.logicalId]));
  }
  if (prop) {
    parts.push(...prop.split('.'));
  }
  return parts.join('/');
}

/** A WARN diagnostic that is accepted because aws-cdk-lib, not this construct, causes it. */
export interface AllowedWarning {
  readonly ruleId: string;
  /** Equals `CfnDiagnostic.resourceType`, when given. */
  readonly resourceType?: string;
  /** Matches `CfnDiagnostic.path`. */
  readonly path: RegExp;
  /** Matches `CfnDiagnostic.message`. */
  readonly message: RegExp;
  /** Where in aws-cdk-lib it comes from. */
  readonly cause: string;
}

export const ALLOWED_WARNINGS: AllowedWarning[] = [
  {
    ruleId: 'W3005',
    resourceType: 'AWS::RDS::DBProxyTargetGroup',
    path: /^Resources\/\w*ProxyProxyTargetGroup[0-9A-F]{8}\/DependsOn$/,
    message: /^'\w*Cluster[0-9A-F]{8}' dependency already enforced by a 'Ref' at 'Properties\.DBClusterIdentifiers\.0'$/,
    cause:
      'aws-cdk-lib rds.DatabaseProxy (aws-rds/lib/proxy.ts) adds DependsOn from the proxy target group to the ' +
      "cluster's CfnDBCluster and its CfnDBInstances (so that the target group waits for the instances), " +
      'although the target group already Refs the cluster in DBClusterIdentifiers',
  },
  {
    ruleId: 'W3005',
    resourceType: 'AWS::Lambda::Function',
    path: /^Resources\/\w+\/DependsOn$/,
    message: /^'\w+' dependency already enforced by a 'GetAtt' at 'Properties\.Role'$/,
    cause:
      'aws-cdk-lib lambda.Function (aws-lambda/lib/function.ts) calls resource.node.addDependency(this.role), ' +
      'although the function already names the role with Fn::GetAtt in its Role property',
  },
  {
    ruleId: 'W3010',
    resourceType: 'AWS::EC2::Subnet',
    path: /^Resources\/\w+Subnet\d+Subnet[0-9A-F]{8}\/Properties\/AvailabilityZone$/,
    message: /^Avoid hardcoding availability zones '[a-z]{2}(-[a-z]+)+-\d[a-z]'$/,
    cause:
      'aws-cdk-lib ec2.Vpc, in a stack bound to an account and region, writes the Availability Zone names it ' +
      'looked up (context key availability-zones:account=...:region=..., kept in cdk.context.json) instead of ' +
      'Fn::GetAZs, by design, so that synthesis is deterministic; only the pinned-stack variant draws it',
  },
];

/** The allowances that matched a diagnostic so far (a test checks that none is stale). */
export const usedAllowances = new Set<AllowedWarning>();

function allowance(d: CfnDiagnostic): AllowedWarning | undefined {
  return d.level === 'WARN'
    ? ALLOWED_WARNINGS.find(a => a.ruleId === d.ruleId && (a.resourceType ?? d.resourceType) === d.resourceType &&
      a.path.test(d.path) && a.message.test(d.message))
    : undefined;
}

/** FATAL and ERROR diagnostics, and WARN diagnostics not on the allow-list. */
export function unexpected(diagnostics: CfnDiagnostic[]): string[] {
  const found: string[] = [];
  for (const d of diagnostics) {
    const allowed = allowance(d);
    if (allowed) {
      usedAllowances.add(allowed);
    } else if (isError(d) || d.level === 'WARN') {
      found.push(formatDiagnostic(d));
    }
  }
  return found;
}
