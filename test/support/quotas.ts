/*
 * AWS's default quotas that a growing application meets first, and how a
 * synthesized template measures against them.
 *
 * Sources (AWS documentation pages, by title):
 * - "Amazon VPC quotas", security groups: 60 inbound and 60 outbound rules per
 *   security group, 5 security groups per network interface (a VPC Lambda
 *   function's network interfaces carry all of its groups);
 * - "IAM and AWS STS quotas": a role's inline policies together at most
 *   10,240 characters, a managed policy at most 6,144, both counted without
 *   white space; 10 managed policies attached to a role (adjustable to 20);
 * - "CloudFormation quotas": 500 resources per stack;
 * - "Quotas and constraints for Amazon RDS": 20 proxies per account and
 *   Region (adjustable);
 * - "CloudWatch service quotas": 500 widgets per dashboard, no limit on the
 *   number of alarms.
 */
import { CfnTemplate, ENV, Resolver } from './iam-contract';

export const DEFAULT_QUOTAS = {
  inboundRulesPerSecurityGroup: 60,
  outboundRulesPerSecurityGroup: 60,
  securityGroupsPerNetworkInterface: 5,
  roleInlinePolicyCharacters: 10_240,
  managedPolicyCharacters: 6_144,
  managedPoliciesPerRole: 10,
  resourcesPerStack: 500,
  proxiesPerRegion: 20,
} as const;

/**
 * The longest partition and Region names AWS has, put in place of the
 * resolver's `aws` and `us-east-1`: a policy that fits with them fits
 * anywhere. (`aws-us-gov` is the longest partition; `ap-southeast-7` and
 * `eusc-de-east-1` are among the longest Regions, 14 characters.)
 */
export const LONGEST = { partition: 'aws-us-gov', region: 'ap-southeast-7' } as const;

type Json = any;

/** `value` resolved as in the Region, with the longest partition and Region names. */
function resolvedAtLongest(resolver: Resolver, name: string, value: unknown): Json {
  const resolved = resolver.resolve(name, value);
  const text = JSON.stringify(resolved)
    .split(`arn:${ENV.partition}:`).join(`arn:${LONGEST.partition}:`)
    .split(`:${ENV.region}:`).join(`:${LONGEST.region}:`);
  return JSON.parse(text);
}

/** IAM's size of a policy document: its characters without white space outside strings (JSON.stringify writes none). */
export function policySize(document: Json): number {
  return JSON.stringify(document).length;
}

export interface RolePolicies {
  /** Characters of all inline policies together (AWS::IAM::Policy on the role and the role's own Policies). */
  readonly inlineCharacters: number;
  /** Each managed policy the template attaches to the role: logical id and characters. */
  readonly managed: Array<{ readonly id: string; readonly characters: number }>;
  /** Managed policies attached in all (the role's ManagedPolicyArns and AWS::IAM::ManagedPolicy naming the role). */
  readonly managedCount: number;
  /** Every statement that applies to the role, resolved (longest names). */
  readonly statements: Json[];
}

/** What the template gives the role `roleId` to carry, measured as IAM measures it. */
export function rolePolicies(template: CfnTemplate, roleId: string, name = 'Stack'): RolePolicies {
  const resolver = new Resolver({ [name]: template });
  const resources = template.Resources ?? {};
  const role = resources[roleId];
  if (role?.Type !== 'AWS::IAM::Role') throw new Error(`${roleId} is not a role`);
  const namesRole = (roles: Json) => (roles ?? []).some((r: Json) => r?.Ref === roleId);
  const statements: Json[] = [];
  let inlineCharacters = 0;
  for (const p of role.Properties?.Policies ?? []) {
    const doc = resolvedAtLongest(resolver, name, p.PolicyDocument);
    inlineCharacters += policySize(doc);
    statements.push(...doc.Statement);
  }
  const managed: Array<{ id: string; characters: number }> = [];
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type === 'AWS::IAM::Policy' && namesRole(r.Properties?.Roles)) {
      const doc = resolvedAtLongest(resolver, name, r.Properties.PolicyDocument);
      inlineCharacters += policySize(doc);
      statements.push(...doc.Statement);
    } else if (r.Type === 'AWS::IAM::ManagedPolicy' && namesRole(r.Properties?.Roles)) {
      const doc = resolvedAtLongest(resolver, name, r.Properties.PolicyDocument);
      managed.push({ id, characters: policySize(doc) });
      statements.push(...doc.Statement);
    }
  }
  const managedCount = managed.length + (role.Properties?.ManagedPolicyArns ?? []).length;
  return { inlineCharacters, managed, managedCount, statements };
}

/** Every resource ARN the statements allow `action` on. */
export function allowedResources(statements: Json[], action: string): string[] {
  return statements
    .filter((s) => s.Effect === 'Allow' && [s.Action].flat().includes(action))
    .flatMap((s) => [s.Resource].flat());
}
