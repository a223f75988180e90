import { CfnResource, Validations, aws_iam as iam, aws_lambda as lambda, aws_rds as rds } from 'aws-cdk-lib';
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

/*
 * Every acknowledgment the construct makes, with its reason, in one place.
 * Each is inherent to the architecture or follows from an option the user
 * chose, and names the one resource concerned.
 */

/** The VPC the construct creates. */
export function acknowledgeCreatedVpc(vpc: IConstruct): void {
  acknowledgeRules(vpc, acrossPacks('VPCDefaultSecurityGroupClosed', [HIPAA, NIST, PCI],
    'No resource uses the VPC default security group: every resource of this construct has its own. ' +
    'Closing the default group takes a custom resource (a Lambda function outside the VPC), which adds more than it removes.'));
}

const DELETION_PROTECTION_OFF = 'Deletion protection was turned off explicitly (deletionProtection: false, ' +
  'or removalPolicy: RemovalPolicy.DESTROY, which draws a warning).';

/** The cluster, its instances, its enhanced monitoring role and (rotation off) its secret. */
export function acknowledgeCluster(
  cluster: rds.DatabaseCluster,
  opts: { backtrack: boolean; rotation: boolean; deletionProtection: boolean },
): void {
  acknowledgeRules(cluster.node.defaultChild as rds.CfnDBCluster, [
    {
      id: 'AwsSolutions-RDS11',
      reason: 'Clients never reach the cluster port: the cluster admits only the RDS Proxy, ' +
        'whose MySQL endpoint listens on 3306 whatever the cluster port is. A different port would add no protection.',
    },
    ...(opts.backtrack ? [] : [{
      id: 'AwsSolutions-RDS14',
      reason: 'Backtracking is not available in every AWS Region and does not combine with binary log replication, ' +
        'so it is opt-in (backtrackWindow); automated backups with point-in-time restore are always on.',
    }]),
    ...(opts.deletionProtection ? [] : [
      { id: 'AwsSolutions-RDS10', reason: DELETION_PROTECTION_OFF },
      ...acrossPacks('RDSInstanceDeletionProtectionEnabled', [HIPAA, NIST], DELETION_PROTECTION_OFF),
    ]),
  ]);
  const instanceAck = acrossPacks('RDSInBackupPlan', [HIPAA, NIST],
    'Aurora backs the cluster up continuously (backupRetention, point-in-time restore) and snapshots it on removal. ' +
    'Add it to your organisation\'s AWS Backup plan with BackupResource.fromRdsDatabaseCluster(db.cluster) where one exists.');
  for (const child of cluster.node.findAll()) {
    if (child instanceof rds.CfnDBInstance) acknowledgeRules(child, instanceAck);
  }
  const monitoringRole = cluster.node.tryFindChild('MonitoringRole');
  if (monitoringRole) {
    acknowledgeRules(monitoringRole, [{
      id: 'AwsSolutions-IAM4',
      reason: 'AmazonRDSEnhancedMonitoringRole is the AWS managed policy made for enhanced monitoring (CloudWatch Logs for RDS only).',
      appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole'],
    }]);
  }
  if (!opts.rotation) {
    const reason = 'Secret rotation was turned off explicitly (secretRotation: false).';
    // The secret itself is the cluster's child (db.secret is its attachment).
    acknowledgeRules(cluster.node.findChild('Secret'), [
      { id: 'AwsSolutions-SMG4', reason },
      ...acrossPacks('SecretsManagerRotationEnabled', [HIPAA, NIST], reason),
    ]);
  }
}

/** The query handler and its role. */
export function acknowledgeHandler(
  handler: lambda.Function,
  role: iam.Role,
  opts: { reservedConcurrency: boolean; deadLetterQueue: boolean; tracing: lambda.Tracing },
): void {
  acknowledgeRules(role, [{
    id: 'AwsSolutions-IAM4',
    reason: 'AWSLambdaVPCAccessExecutionRole is the AWS managed policy Lambda documents for functions in a VPC ' +
      '(network interface management, which has no resource-level permissions, and writing logs).',
    appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole'],
  }]);
  const handlerAcks = [
    ...(opts.reservedConcurrency ? [] : acrossPacks('LambdaConcurrency', [HIPAA, NIST],
      'Reserved concurrency is opt-in (handler.reservedConcurrentExecutions): it takes capacity from the account pool ' +
      'and fails to deploy in accounts with low limits. The RDS Proxy pool is what shields the database from bursts.')),
    ...(opts.deadLetterQueue ? [] : acrossPacks('LambdaDLQ', [HIPAA, NIST, SERVERLESS],
      'The handler answers synchronous invocations, whose errors go back to the caller; a dead-letter queue ' +
      'only receives failed asynchronous invocations. Set handler.deadLetterQueue for asynchronous use.')),
    ...(opts.tracing === lambda.Tracing.ACTIVE ? [] : [
      { id: 'Serverless-LambdaTracing', reason: `Tracing was set to ${opts.tracing} explicitly (handler.tracing).` },
    ]),
  ];
  if (handlerAcks.length > 0) acknowledgeRules(handler, handlerAcks);
  if (opts.tracing === lambda.Tracing.ACTIVE) {
    // Lambda adds xray:PutTraceSegments and xray:PutTelemetryRecords on "*" to the role.
    acknowledgeRules(role.node.findChild('DefaultPolicy').node.defaultChild as iam.CfnPolicy, [{
      id: 'AwsSolutions-IAM5',
      reason: 'xray:PutTraceSegments and xray:PutTelemetryRecords, added for active tracing, support no resource-level permissions.',
      appliesTo: ['Resource::*'],
    }]);
  }
}

/**
 * aws-cdk-lib grant methods write least-privilege statements into each role's
 * inline "DefaultPolicy". Call last, when every grant has been made.
 */
export function acknowledgeInlinePolicies(scope: IConstruct): void {
  const reason = 'Statements written by aws-cdk-lib grant methods, each naming this construct\'s own resources; ' +
    'an inline policy belongs to its one role and cannot be attached elsewhere by mistake.';
  for (const child of scope.node.findAll()) {
    if (child instanceof iam.CfnPolicy) {
      acknowledgeRules(child, acrossPacks('IAMNoInlinePolicy', [HIPAA, NIST, PCI], reason));
    }
  }
}

/** The users provider's function, in the VPC, and its role. */
export function acknowledgeProvider(fn: lambda.Function, role: iam.Role): void {
  acknowledgeRules(role, [{
    id: 'AwsSolutions-IAM4',
    reason: 'AWSLambdaVPCAccessExecutionRole is the AWS managed policy Lambda documents for functions in a VPC ' +
      '(network interface management, which has no resource-level permissions, and writing logs).',
    appliesTo: ['Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole'],
  }]);
  acknowledgeRules(role.node.findChild('DefaultPolicy').node.defaultChild as iam.CfnPolicy, [{
    id: 'AwsSolutions-IAM5',
    reason: 'xray:PutTraceSegments and xray:PutTelemetryRecords, added for active tracing, support no resource-level permissions.',
    appliesTo: ['Resource::*'],
  }]);
  const deployTime = 'It runs only when CloudFormation creates, changes or deletes a database user, ' +
    'one request at a time, and answers every request, failures included, to CloudFormation: ';
  acknowledgeRules(fn, [
    ...acrossPacks('LambdaConcurrency', [HIPAA, NIST], deployTime + 'reserving concurrency for it would only take capacity from the account.'),
    ...acrossPacks('LambdaDLQ', [HIPAA, NIST, SERVERLESS], deployTime + 'a dead-letter queue would receive nothing CloudFormation does not already report.'),
  ]);
  acknowledgeRules(fn.node.findChild('EventInvokeConfig'), [{
    id: 'Serverless-LambdaAsyncFailureDestination',
    reason: deployTime + 'a failure destination would receive nothing CloudFormation does not already report (retries are off: ' +
      'a retried request would answer twice).',
  }]);
}
