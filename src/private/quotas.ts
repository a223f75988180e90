/*
 * AWS's default quotas that a growing application meets first, checked at
 * synth (as validations, once every part exists) and reported as warnings:
 * each can be raised, so none is an error here.
 *
 * - "Amazon VPC quotas": 60 inbound rules per security group;
 * - "Quotas and constraints for Amazon RDS": 20 proxies per account and Region.
 */
import { Annotations, Stack, aws_ec2 as ec2, aws_rds as rds } from 'aws-cdk-lib';
import { Construct, IConstruct } from 'constructs';

/** AWS's default number of inbound rules per security group. */
export const INBOUND_RULES_PER_SECURITY_GROUP = 60;
/** AWS's default number of RDS proxies per account and Region. */
export const PROXIES_PER_REGION = 20;

/**
 * The inbound rules of `group` that this stack declares: its inline rules and
 * the standalone ones (rules that other stacks add to it are not counted).
 */
export function inboundRules(group: ec2.ISecurityGroup): number {
  const stack = Stack.of(group);
  const id = JSON.stringify(stack.resolve(group.securityGroupId));
  const cfn = group.node.defaultChild;
  let count = cfn instanceof ec2.CfnSecurityGroup ? ((stack.resolve(cfn.securityGroupIngress) as unknown[] | undefined) ?? []).length : 0;
  for (const c of stack.node.findAll()) {
    if (c instanceof ec2.CfnSecurityGroupIngress && JSON.stringify(stack.resolve(c.groupId)) === id) count++;
  }
  return count;
}

/** Warns on `scope` when one of `groups()` holds more inbound rules than AWS allows by default. */
export function warnAtRuleQuota(scope: Construct, groups: () => ec2.ISecurityGroup[]): void {
  scope.node.addValidation({
    validate: () => {
      for (const group of groups()) {
        const rules = inboundRules(group);
        if (rules > INBOUND_RULES_PER_SECURITY_GROUP) {
          Annotations.of(scope).addWarningV2('serverless-lamp:security-group-rules',
            `Security group ${group.node.path} has ${rules} inbound rules; AWS allows ${INBOUND_RULES_PER_SECURITY_GROUP} ` +
              'per security group by default, so the deploy fails unless the quota is raised: connect functions with ' +
              'admission: ClientAdmission.CLIENT_SECURITY_GROUP (one rule for all of them)');
        }
      }
      return [];
    },
  });
}

/** Warns on `database` when it has more proxies than AWS allows in an account and Region by default. */
export function warnAtProxyQuota(database: IConstruct): void {
  database.node.addValidation({
    validate: () => {
      const proxies = database.node.findAll().filter((c) => c instanceof rds.CfnDBProxy).length;
      if (proxies > PROXIES_PER_REGION) {
        Annotations.of(database).addWarningV2('serverless-lamp:proxies-per-region',
          `${database.node.path} has ${proxies} proxies; AWS allows ${PROXIES_PER_REGION} per account and Region by ` +
            'default (others in the account count too), so the deploy fails unless the quota is raised');
      }
      return [];
    },
  });
}
