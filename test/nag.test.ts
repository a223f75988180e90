/*
 * cdk-nag's AwsSolutions, HIPAA Security, NIST 800-53 rev 5, PCI DSS 3.2.1 and
 * Serverless rule packs over the checked stacks, with both cdk-nag majors:
 * 3 reads acknowledgments from aws-cdk-lib's `Validations` metadata, 2 from
 * the `cdk_nag` resource metadata; the construct writes both.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { App, Stack, Validations, aws_ec2 as ec2, aws_rds as rds } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as nag2 from 'cdk-nag-v2';
import { NEWER_NODE_KNOWN, findings2, findings3, withoutDefaultRuntimeFindings } from './support/nag';
import { CheckedStack, checkedStacks } from './support/stacks';

/** Every cdk_nag acknowledgment written into a template. */
function acknowledgments(template: Template): Array<{ resource: string; id: string; reason: string }> {
  const out: Array<{ resource: string; id: string; reason: string }> = [];
  for (const [logicalId, res] of Object.entries(template.toJSON().Resources as Record<string, any>)) {
    for (const rule of res.Metadata?.cdk_nag?.rules_to_suppress ?? []) {
      out.push({ resource: logicalId, id: rule.id, reason: rule.reason });
    }
  }
  return out;
}

/**
 * Findings on the resources the "everything" stack's user owns (their VPC,
 * key, queue): the user's to settle, acknowledged here next to them.
 */
const USER_RESOURCE_ACKS: Array<{ path: string; ids: string[]; reason: string }> = [
  {
    path: 'Vpc',
    ids: ['VPCDefaultSecurityGroupClosed'].flatMap((r) => ['HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321'].map((p) => `${p}-${r}`)),
    reason: 'Test fixture: the default security group of the user VPC is unused.',
  },
  {
    path: 'Vpc/FlowLogs',
    ids: ['CloudWatchLogGroupEncrypted', 'IAMNoInlinePolicy'].flatMap((r) => ['HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321'].map((p) => `${p}-${r}`)),
    reason: 'Test fixture: flow logs of the user VPC, with aws-cdk-lib defaults.',
  },
  { path: 'DeadLetters', ids: ['Serverless-SQSRedrivePolicy'], reason: 'Test fixture: this queue is itself a dead-letter queue.' },
];

function acknowledgeUserResources(s: CheckedStack, major: 2 | 3): void {
  if (s.name !== 'everything') return;
  for (const { path: p, ids, reason } of USER_RESOURCE_ACKS) {
    const scope = s.stack.node.findChild(p.split('/')[0]);
    const target = p.includes('/') ? scope.node.findChild(p.split('/')[1]) : scope;
    if (major === 3) Validations.of(target).acknowledge(...ids.map((id) => ({ id, reason })));
    else nag2.NagSuppressions.addResourceSuppressions(target, ids.map((id) => ({ id, reason })), true);
  }
}

/*
 * The functions' default runtime (Node.js 24) is not acknowledged (see
 * src/private/function-runtime.ts): with an aws-cdk-lib that knows a newer
 * Node.js runtime, the runtime rules report both functions of a stack that
 * keeps the default, and nothing else.
 */
/** Stacks whose functionRuntime is chosen (see support/stacks.ts). */
const RUNTIME_CHOSEN = new Set(['everything']);

function expectOnlyRuntimeFindings(s: CheckedStack, found: string[]): void {
  const reported = NEWER_NODE_KNOWN && !RUNTIME_CHOSEN.has(s.name);
  expect(reported ? withoutDefaultRuntimeFindings(found) : found).toEqual([]);
  for (const rule of ['AwsSolutions-L1', 'Serverless-LambdaLatestVersion']) {
    for (const fn of ['Handler', 'UsersFunction']) {
      expect(found.some((f) => f.includes(rule) && f.includes(`/Db/${fn}/`))).toBe(reported);
    }
  }
}

describe('cdk-nag rule packs: AwsSolutions, HIPAA Security, NIST 800-53 rev 5, PCI DSS 3.2.1, Serverless', () => {
  const names = checkedStacks().map((s) => s.name);

  test.each(names)('cdk-nag 3: %s stack has no unacknowledged finding but the runtime\'s', (name) => {
    const s = checkedStacks().find((x) => x.name === name)!;
    acknowledgeUserResources(s, 3);
    expectOnlyRuntimeFindings(s, findings3(s.stack));
  });

  test.each(names)('cdk-nag 2: %s stack has no unacknowledged finding but the runtime\'s', (name) => {
    const s = checkedStacks().find((x) => x.name === name)!;
    acknowledgeUserResources(s, 2);
    expectOnlyRuntimeFindings(s, findings2(s.stack));
  });

  test('every acknowledgment carries a reason and is listed in the README', () => {
    const readme = readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
    const all = checkedStacks().flatMap((s) => acknowledgments(Template.fromStack(s.stack)));
    expect(all.length).toBeGreaterThan(0);
    for (const ack of all) {
      expect(ack.reason.length).toBeGreaterThan(40);
      expect(readme).toContain(`\`${ack.id}\``);
    }
  });

  test('the packs do find problems: a bare Aurora cluster fails them, under both majors', () => {
    const bare = () => {
      const stack = new Stack(new App(), 'Bare');
      new rds.DatabaseCluster(stack, 'Cluster', {
        engine: rds.DatabaseClusterEngine.auroraMysql({ version: rds.AuroraMysqlEngineVersion.VER_3_10_4 }),
        vpc: new ec2.Vpc(stack, 'Vpc'),
        writer: rds.ClusterInstance.serverlessV2('Writer'),
      });
      return stack;
    };
    for (const found of [findings3(bare()).join('\n'), findings2(bare()).join('\n')]) {
      expect(found).toMatch(/AwsSolutions-RDS10/); // no deletion protection
      expect(found).toMatch(/HIPAA.Security-RDSStorageEncrypted/);
      expect(found).toMatch(/AwsSolutions-SMG4/); // no rotation
      expect(found).toMatch(/AwsSolutions-VPC7/); // no flow logs
    }
  });
});
