import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, Aspects, Stack, aws_ec2 as ec2, aws_rds as rds } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, HIPAASecurityChecks, NagPack, NIST80053R5Checks, PCIDSS321Checks, ServerlessChecks } from 'cdk-nag';
import { CheckedStack, checkedStacks } from './support/stacks';

/* The five rule packs this library is checked against. */
function packs(): NagPack[] {
  return [new AwsSolutionsChecks(), new HIPAASecurityChecks(), new NIST80053R5Checks(), new PCIDSS321Checks(), new ServerlessChecks()];
}

function findings(stack: Stack): string[] {
  for (const pack of packs()) Aspects.of(stack).add(pack);
  const annotations = Annotations.fromStack(stack);
  return [...annotations.findError('*', Match.anyValue()), ...annotations.findWarning('*', Match.anyValue())]
    .map((f) => `${f.id}: ${String(f.entry.data).split('\n')[0]}`);
}

/** Every cdk_nag acknowledgment written into a template: rule id -> reasons. */
function acknowledgments(template: Template): Array<{ resource: string; id: string; reason: string }> {
  const out: Array<{ resource: string; id: string; reason: string }> = [];
  for (const [logicalId, res] of Object.entries(template.toJSON().Resources as Record<string, any>)) {
    for (const rule of res.Metadata?.cdk_nag?.rules_to_suppress ?? []) {
      out.push({ resource: logicalId, id: rule.id, reason: rule.reason });
    }
  }
  return out;
}

describe('cdk-nag rule packs: AwsSolutions, HIPAA Security, NIST 800-53 rev 5, PCI DSS 3.2.1, Serverless', () => {
  const stacks: CheckedStack[] = checkedStacks();

  test.each(stacks.map((s) => [s.name, s] as const))('%s stack has no unacknowledged finding', (_name, s) => {
    // The user's own resources in the "everything" stack are the user's to
    // settle; the acknowledgments are made here, next to them.
    if (s.name === 'everything') acknowledgeUserResources(s.stack);
    expect(findings(s.stack)).toEqual([]);
  });

  test('every acknowledgment carries a reason and is listed in the README', () => {
    const readme = readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
    const all = checkedStacks().flatMap((s) => acknowledgments(Template.fromStack(s.stack)));
    expect(all.length).toBeGreaterThan(0);
    for (const ack of all) {
      expect(ack.reason.length).toBeGreaterThan(40);
      expect(readme).toContain(ack.id);
    }
  });

  test('the packs do find problems: a bare Aurora cluster fails them', () => {
    const stack = new Stack(new App(), 'Bare');
    const vpc = new ec2.Vpc(stack, 'Vpc');
    new rds.DatabaseCluster(stack, 'Cluster', {
      engine: rds.DatabaseClusterEngine.auroraMysql({ version: rds.AuroraMysqlEngineVersion.VER_3_10_4 }),
      vpc,
      writer: rds.ClusterInstance.serverlessV2('Writer'),
    });
    const found = findings(stack).join('\n');
    expect(found).toMatch(/AwsSolutions-RDS10/); // no deletion protection
    expect(found).toMatch(/HIPAA.Security-RDSStorageEncrypted/);
    expect(found).toMatch(/AwsSolutions-SMG4/); // no rotation
    expect(found).toMatch(/AwsSolutions-VPC7/); // no flow logs
  });
});

/** Acknowledgments for the resources the "everything" stack's user owns. */
function acknowledgeUserResources(stack: Stack): void {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { NagSuppressions } = require('cdk-nag') as typeof import('cdk-nag');
  NagSuppressions.addResourceSuppressionsByPath(stack, '/Everything/Vpc/Resource', [
    { id: 'HIPAA.Security-VPCDefaultSecurityGroupClosed', reason: 'Test fixture: the default security group of this VPC is unused.' },
    { id: 'NIST.800.53.R5-VPCDefaultSecurityGroupClosed', reason: 'Test fixture: the default security group of this VPC is unused.' },
    { id: 'PCI.DSS.321-VPCDefaultSecurityGroupClosed', reason: 'Test fixture: the default security group of this VPC is unused.' },
  ]);
  NagSuppressions.addResourceSuppressionsByPath(stack, '/Everything/Vpc/FlowLogs', [
    { id: 'HIPAA.Security-CloudWatchLogGroupEncrypted', reason: 'Test fixture: flow logs of the user VPC.' },
    { id: 'NIST.800.53.R5-CloudWatchLogGroupEncrypted', reason: 'Test fixture: flow logs of the user VPC.' },
    { id: 'PCI.DSS.321-CloudWatchLogGroupEncrypted', reason: 'Test fixture: flow logs of the user VPC.' },
    { id: 'HIPAA.Security-IAMNoInlinePolicy', reason: 'Test fixture: flow logs role of the user VPC.' },
    { id: 'NIST.800.53.R5-IAMNoInlinePolicy', reason: 'Test fixture: flow logs role of the user VPC.' },
    { id: 'PCI.DSS.321-IAMNoInlinePolicy', reason: 'Test fixture: flow logs role of the user VPC.' },
  ], true);
  NagSuppressions.addResourceSuppressionsByPath(stack, '/Everything/DeadLetters/Resource', [
    { id: 'Serverless-SQSRedrivePolicy', reason: 'Test fixture: this queue is itself the dead-letter queue.' },
  ]);
}
