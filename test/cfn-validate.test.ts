/*
 * Every template the construct produces passes AWS's offline CloudFormation
 * validator (`@aws/cloudformation-validate`): no FATAL or ERROR diagnostic, and no
 * WARN diagnostic except those aws-cdk-lib itself emits (ALLOWED_WARNINGS, each with
 * its cause). INFO diagnostics (create-only properties, missing tags, Fn::Sub
 * preferred over Fn::Join, ...) are ignored.
 *
 * Cost: creating the engine and its first validation take a few seconds (beforeAll);
 * after that a template takes well under a second.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { App, Duration, RemovalPolicy, Stack, aws_ec2 as ec2, aws_iam as iam, aws_rds as rds } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ServerlessLampDatabase } from '../src';
import { ALLOWED_WARNINGS, CfnDiagnostic, isError, releaseValidator, unexpected, usedAllowances, validateStack, validateTemplate, warmUpValidator } from './support/cfn-validate';
import { checkedStacks, defaultsStack } from './support/stacks';

// ------------------------------------------------------------------ variants

/**
 * Own VPC with only PRIVATE_WITH_EGRESS (and public) subnets, a provisioned writer and
 * a serverless reader, caller-supplied security groups and proxy role.
 */
function egressVpcStack(): Stack {
  const app = new App();
  const stack = new Stack(app, 'EgressVpc');
  const vpc = new ec2.Vpc(stack, 'Vpc', {
    maxAzs: 2,
    natGateways: 1,
    subnetConfiguration: [
      { name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
      { name: 'App', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
    ],
  });
  const sg = (id: string) => new ec2.SecurityGroup(stack, id, { vpc, allowAllOutbound: false });
  new ServerlessLampDatabase(stack, 'Db', {
    vpc,
    clusterSecurityGroups: [sg('ClusterSg')],
    proxy: { securityGroups: [sg('ProxySg')] },
    handler: { securityGroups: [sg('HandlerSg')] },
    proxyRole: new iam.Role(stack, 'ProxyRole', { assumedBy: new iam.ServicePrincipal('rds.amazonaws.com') }),
    writer: rds.ClusterInstance.provisioned('Writer', {
      instanceType: ec2.InstanceType.of(ec2.InstanceClass.T4G, ec2.InstanceSize.MEDIUM),
    }),
    readers: [rds.ClusterInstance.serverlessV2('Reader')],
  });
  return stack;
}

/**
 * The construct's own VPC in a stack pinned to an account and region, with the
 * risky-but-legal options: RemovalPolicy.DESTROY (no deletion protection, logs
 * destroyed too), auto-pause capacity, enhanced monitoring off.
 */
function riskyPinnedStack(): { app: App; stack: Stack } {
  const account = '123456789012';
  const region = 'eu-west-1';
  const app = new App({
    outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-validate-')),
    context: { [`availability-zones:account=${account}:region=${region}`]: ['eu-west-1a', 'eu-west-1b', 'eu-west-1c'] },
  });
  const stack = new Stack(app, 'RiskyPinned', { env: { account, region } });
  new ServerlessLampDatabase(stack, 'Db', {
    removalPolicy: RemovalPolicy.DESTROY,
    serverlessV2MinCapacity: 0,
    serverlessV2MaxCapacity: 1,
    monitoringInterval: Duration.seconds(0),
  });
  return { app, stack };
}

// --------------------------------------------------------------------- tests

beforeAll(() => {
  warmUpValidator();
}, 60_000);

afterAll(() => {
  releaseValidator();
});

describe('templates pass @aws/cloudformation-validate', () => {
  test.each(checkedStacks().map(s => [s.name, s.stack] as const))('%s stack', (_name, stack) => {
    expect(unexpected(validateStack(stack))).toEqual([]);
  }, 30_000);

  test('own VPC with PRIVATE_WITH_EGRESS subnets, own security groups and role, provisioned writer', () => {
    expect(unexpected(validateStack(egressVpcStack()))).toEqual([]);
  }, 30_000);

  test('DESTROY, auto-pause, monitoring off, pinned to eu-west-1 (the synthesized file)', () => {
    const { app, stack } = riskyPinnedStack();
    const templateFile = app.synth().getStackByName(stack.stackName).templateFullPath;
    try {
      expect(unexpected(validateTemplate(templateFile, { region: 'eu-west-1' }))).toEqual([]);
    } finally {
      fs.rmSync(app.outdir, { recursive: true, force: true });
    }
  }, 30_000);

  test('every allow-list entry is still needed', () => {
    // Runs after the tests above (jest runs the tests of a file in order).
    expect(ALLOWED_WARNINGS.filter(a => !usedAllowances.has(a)).map(a => `${a.ruleId} ${a.path}`)).toEqual([]);
  });
});

describe('the validator catches broken templates', () => {
  let pristine: any;
  beforeAll(() => {
    pristine = Template.fromStack(defaultsStack().stack).toJSON();
  }, 30_000);

  /** A copy of the defaults template, changed by `mutate(resources of that type)`. */
  function broken(type: string, mutate: (logicalId: string, properties: any) => void): { template: any; logicalId: string } {
    const template = JSON.parse(JSON.stringify(pristine));
    const [logicalId, resource] = Object.entries<any>(template.Resources).find(([, r]) => r.Type === type)!;
    mutate(logicalId, resource.Properties);
    return { template, logicalId };
  }

  function errorsOf(template: object): CfnDiagnostic[] {
    return validateTemplate(template).filter(isError);
  }

  test('value out of range: MaxConnectionsPercent 150', () => {
    const { template, logicalId } = broken('AWS::RDS::DBProxyTargetGroup', (_id, p) => {
      p.ConnectionPoolConfigurationInfo.MaxConnectionsPercent = 150;
    });
    expect(errorsOf(template)).toEqual([expect.objectContaining({
      level: 'FATAL',
      ruleId: 'F3034',
      path: `Resources/${logicalId}/Properties/ConnectionPoolConfigurationInfo/MaxConnectionsPercent`,
      message: expect.stringContaining('150 is greater than the maximum of 100'),
    })]);
  });

  test('unknown property: RequireTls instead of RequireTLS', () => {
    const { template, logicalId } = broken('AWS::RDS::DBProxy', (_id, p) => {
      p.RequireTls = p.RequireTLS;
      delete p.RequireTLS;
    });
    expect(errorsOf(template)).toEqual([expect.objectContaining({
      ruleId: 'F3002',
      path: `Resources/${logicalId}/Properties/RequireTls`,
      message: expect.stringContaining("'RequireTls' was unexpected"),
    })]);
  });

  test('wrong type: IdleClientTimeout "30m"', () => {
    const { template, logicalId } = broken('AWS::RDS::DBProxy', (_id, p) => {
      p.IdleClientTimeout = '30m';
    });
    expect(errorsOf(template)).toEqual([expect.objectContaining({
      ruleId: 'F3012',
      path: `Resources/${logicalId}/Properties/IdleClientTimeout`,
      message: expect.stringContaining("is not of type 'integer'"),
    })]);
  });

  test('broken reference: Ref to a resource that does not exist', () => {
    const { template, logicalId } = broken('AWS::RDS::DBCluster', (_id, p) => {
      p.DBClusterParameterGroupName = { Ref: 'NoSuchParameterGroup' };
    });
    expect(errorsOf(template)).toEqual([expect.objectContaining({
      ruleId: 'F1020',
      path: `Resources/${logicalId}/Properties/DBClusterParameterGroupName`,
      message: expect.stringContaining("'NoSuchParameterGroup' is not one of"),
    })]);
  });

  test('a WARN that is not on the allow-list fails the check: deprecated runtime nodejs16.x', () => {
    const { template, logicalId } = broken('AWS::Lambda::Function', (_id, p) => {
      p.Runtime = 'nodejs16.x';
    });
    expect(unexpected(validateTemplate(template))).toEqual([
      expect.stringMatching(new RegExp(`^WARN W2531 at Resources/${logicalId}/Properties/Runtime .*'nodejs16\\.x' was deprecated`)),
    ]);
  });

  // Not caught by 1.9.0-beta (its schemas carry no bounds for these), so not asserted
  // here; the construct validates them itself: ConnectionBorrowTimeout 5000 (API: 0-300),
  // IdleClientTimeout 99999999 (API: 1-28800), Lambda Timeout 901 and MemorySize 20000.
});
