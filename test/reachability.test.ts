/*
 * Off the default path: for every VPC, key and removal choice, what AWS will do.
 *
 * Each stack of the matrix is read by the network reachability model
 * (support/reachability.ts): every function the construct deploys reaches what
 * it calls (the proxy or the cluster on 3306, Secrets Manager on 443) and
 * nothing else; no interface endpoint takes over a service's DNS twice in one
 * VPC; with RETAIN, nothing the retained cluster uses is deleted. Each stack
 * also passes the rule packs (cdk-nag 3 and 2, on the construct's resources)
 * and the CloudFormation validator.
 */
import { Annotations, App, RemovalPolicy, Stack, aws_ec2 as ec2, aws_kms as kms } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { DatabaseAuthentication, ServerlessLampDatabase, ServerlessLampDatabaseProps } from '../src';
import { releaseValidator, unexpected, validateStack } from './support/cfn-validate';
import { REGION, S3_PREFIX_LIST, concreteStack } from './support/lookups';
import { findings2, findings3, withoutDefaultRuntimeFindings } from './support/nag';
import { NetworkModel } from './support/reachability';
import { retainedButDeleted } from './support/removal';

interface Case {
  readonly name: string;
  /** The VPC of the user, if any, and the props. */
  readonly build: (stack: Stack) => ServerlessLampDatabaseProps;
  /** How the rotation function reaches Secrets Manager: `endpoint`, `nat`, or none (rotation off). */
  readonly secretsManager?: 'endpoint' | 'nat';
  /** A stack with a concrete account and Region (its lookups answered), rather than an environment-agnostic one. */
  readonly concrete?: boolean;
}

/** Prefix list names by id, as the concrete stacks' lookups found them. */
const PREFIX_LISTS = { [S3_PREFIX_LIST]: `com.amazonaws.${REGION}.s3` };

const isolated = (stack: Stack) => new ec2.Vpc(stack, 'Vpc', {
  maxAzs: 2, natGateways: 0, subnetConfiguration: [{ name: 'Data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }],
});

/** Public subnets, private ones behind `natGateways` NAT gateways, and (`isolatedToo`) isolated ones. */
const withNat = (stack: Stack, natGateways: number, isolatedToo: boolean) => new ec2.Vpc(stack, 'Vpc', {
  maxAzs: 2,
  natGateways,
  subnetConfiguration: [
    { name: 'Public', subnetType: ec2.SubnetType.PUBLIC },
    { name: 'App', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
    ...(isolatedToo ? [{ name: 'Data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] : []),
  ],
});

const CASES: Case[] = [
  { name: 'the created VPC (defaults)', build: () => ({}), secretsManager: 'endpoint' },
  { name: 'your VPC, isolated subnets only', build: (s) => ({ vpc: isolated(s) }), secretsManager: 'endpoint' },
  { name: 'your VPC, private subnets behind NAT', build: (s) => ({ vpc: withNat(s, 1, false) }), secretsManager: 'nat' },
  { name: 'your VPC, public, private and isolated subnets', build: (s) => ({ vpc: withNat(s, 1, true) }), secretsManager: 'endpoint' },
  {
    name: 'your VPC with private subnets behind NAT, the construct in them explicitly',
    build: (s) => ({ vpc: withNat(s, 2, true), vpcSubnets: { subnetGroupName: 'App' } }),
    secretsManager: 'nat',
  },
  {
    name: 'a VPC that already has a Secrets Manager endpoint with private DNS',
    build: (s) => {
      const vpc = isolated(s);
      vpc.addInterfaceEndpoint('SharedSecretsManager', { service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER });
      return { vpc };
    },
    secretsManager: 'endpoint',
  },
  { name: 'the created VPC in a concrete account and Region (S3 by its prefix list)', build: () => ({}), secretsManager: 'endpoint', concrete: true },
  { name: 'rotation off', build: () => ({ secretRotation: false }) },
  { name: 'a supplied key', build: (s) => ({ encryptionKey: new kms.Key(s, 'Key', { enableKeyRotation: true }) }), secretsManager: 'endpoint' },
  { name: 'removalPolicy RETAIN', build: () => ({ removalPolicy: RemovalPolicy.RETAIN }), secretsManager: 'endpoint' },
  {
    name: 'removalPolicy DESTROY',
    build: (s) => {
      // The user's explicit choice, acknowledged where it is made.
      Annotations.of(s).acknowledgeWarning('serverless-lamp:removal-policy-destroy', 'A test stack: its data is disposable');
      return { removalPolicy: RemovalPolicy.DESTROY };
    },
    secretsManager: 'endpoint',
  },
];

function synth(c: Case): { stack: Stack; template: any } {
  const stack = c.concrete ? concreteStack('Matrix') : new Stack(new App(), 'Matrix');
  new ServerlessLampDatabase(stack, 'Db', c.build(stack));
  return { stack, template: Template.fromStack(stack).toJSON() };
}

/** Findings on the construct's own resources (the user's VPC, key and endpoint are theirs). */
const constructOwn = (findings: string[]) => findings.filter((f) => f.includes('/Db/') || f.includes('Matrix/Db'));

const logicalId = (template: any, type: string, prefix: string) => {
  const ids = Object.keys(template.Resources).filter((id) => template.Resources[id].Type === type && id.startsWith(prefix));
  expect(ids).toHaveLength(1);
  return ids[0];
};

afterAll(() => releaseValidator());

describe.each(CASES)('$name', (c) => {
  const { stack, template } = synth(c);
  const model = new NetworkModel(template, { prefixLists: PREFIX_LISTS });
  const proxy = logicalId(template, 'AWS::RDS::DBProxy', 'DbProxy');
  const cluster = logicalId(template, 'AWS::RDS::DBCluster', 'DbCluster');
  const sg = (prefix: string) => logicalId(template, 'AWS::EC2::SecurityGroup', prefix);

  test('the handler reaches the proxy on 3306, and nothing else', () => {
    const handler = model.workload('DbHandler');
    expect(model.canReach(handler, proxy)).toBe(true);
    expect(model.canReach(handler, cluster)).toBe(false);
    expect(model.egress(handler)).toEqual([`group ${sg('DbProxySecurityGroup')}:tcp/3306-3306`]);
    expect(model.secretsManager(handler).reachable).toBe(false);
  });

  test('the proxy reaches the cluster on 3306, and nothing else', () => {
    const p = model.workload('DbProxy');
    expect(model.canReach(p, cluster)).toBe(true);
    expect(model.egress(p)).toEqual([`group ${sg('DbClusterSecurityGroup')}:tcp/3306-3306`]);
  });

  test(`the users provider reaches the cluster on 3306, Secrets Manager (${c.secretsManager ?? 'endpoint'}) and S3 on 443, and nothing else`, () => {
    const users = model.workload('DbUsersFunction');
    expect(model.canReach(users, cluster)).toBe(true);
    expect(model.canReach(users, proxy)).toBe(false);
    const nat = c.secretsManager === 'nat';
    expect(model.secretsManager(users)).toEqual({ reachable: true, via: expect.stringMatching(nat ? /^nat / : /^endpoint DbSecretsManagerEndpoint/) });
    // CloudFormation's answer URL.
    expect(model.s3(users)).toEqual({ reachable: true, via: expect.stringMatching(nat ? /^nat / : /^gateway endpoint /) });
    // 443 to any address is routed only to S3 and the VPC itself unless the
    // subnets have NAT; with a concrete Region, 443 goes to S3's prefix list only.
    expect(model.internet(users)).toBe(nat);
    expect(model.egress(users)).toEqual([
      c.concrete ? `prefix-list ${S3_PREFIX_LIST}:tcp/443-443` : 'cidr 0.0.0.0/0:tcp/443-443',
      `group ${sg('DbClusterSecurityGroup')}:tcp/3306-3306`,
      ...(nat ? [] : [`group ${sg('DbSecretsManagerEndpointSecurityGroup')}:tcp/443-443`]),
    ].sort());
  });

  if (c.secretsManager) {
    test(`the rotation function reaches the cluster on 3306 and Secrets Manager on 443 (${c.secretsManager}), and nothing else`, () => {
      const rotation = model.workload('DbClusterRotationSingleUser');
      expect(model.canReach(rotation, cluster)).toBe(true);
      expect(model.canReach(rotation, proxy)).toBe(false);
      const path = model.secretsManager(rotation);
      expect(path).toEqual({ reachable: true, via: expect.stringMatching(c.secretsManager === 'nat' ? /^nat / : /^endpoint DbSecretsManagerEndpoint/) });
      expect(model.egress(rotation)).toEqual([
        c.secretsManager === 'nat' ? 'cidr 0.0.0.0/0:tcp/443-443' : `group ${sg('DbSecretsManagerEndpointSecurityGroup')}:tcp/443-443`,
        `group ${sg('DbClusterSecurityGroup')}:tcp/3306-3306`,
      ].sort());
    });
  } else {
    test('there is no rotation function', () => {
      expect(model.workloads().map((w) => w.id).filter((id) => id.includes('Rotation'))).toEqual([]);
    });
  }

  test('no endpoint takes over a service\'s private DNS twice in the VPC', () => {
    expect(model.privateDnsConflicts()).toEqual([]);
  });

  test('nothing a retained resource uses is deleted with the stack', () => {
    expect(retainedButDeleted(template)).toEqual([]);
  });

  test('the rule packs find nothing on the construct\'s resources (cdk-nag 3 and 2)', () => {
    expect(withoutDefaultRuntimeFindings(constructOwn(findings3(stack)))).toEqual([]);
    const again = synth(c).stack; // cdk-nag 2 adds aspects to the stack it checks
    expect(withoutDefaultRuntimeFindings(constructOwn(findings2(again)))).toEqual([]);
  }, 60_000);

  test('the CloudFormation validator finds nothing', () => {
    expect(unexpected(validateStack(stack))).toEqual([]);
  }, 30_000);
});

describe('users with secrets: every user\'s rotation function', () => {
  const stack = new Stack(new App(), 'Secrets');
  const db = new ServerlessLampDatabase(stack, 'Db', { authentication: DatabaseAuthentication.SECRETS });
  db.addUser('reporting');
  const template = Template.fromStack(stack).toJSON();
  const model = new NetworkModel(template);
  const cluster = logicalId(template, 'AWS::RDS::DBCluster', 'DbCluster');

  test('reaches the cluster on 3306 and Secrets Manager through the endpoint', () => {
    const rotations = model.workloads().filter((w) => w.kind === 'rotation');
    expect(rotations.map((w) => w.id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual([
      'DbClusterRotationSingleUser', 'DbUserlampappRotation', 'DbUserreportingRotation',
    ]);
    for (const rotation of rotations) {
      expect(model.canReach(rotation, cluster)).toBe(true);
      expect(model.secretsManager(rotation)).toEqual({ reachable: true, via: expect.stringMatching(/^endpoint DbSecretsManagerEndpoint/) });
    }
  });

  test('passes the rule packs and the validator', () => {
    expect(withoutDefaultRuntimeFindings(constructOwn(findings3(stack)))).toEqual([]);
    expect(unexpected(validateStack(stack))).toEqual([]);
  }, 60_000);
});

describe('the model can fail', () => {
  const nat = synth(CASES.find((c) => c.secretsManager === 'nat')!).template;

  test('it reports the rotation function cut off from Secrets Manager when its egress on 443 is missing (the NAT defect)', () => {
    const broken = JSON.parse(JSON.stringify(nat));
    const rotationSg = Object.keys(broken.Resources).find((id) => id.startsWith('DbRotationSecurityGroup') && broken.Resources[id].Type === 'AWS::EC2::SecurityGroup')!;
    // What the construct did before: the rotation group's only egress led to the cluster.
    broken.Resources[rotationSg].Properties.SecurityGroupEgress = broken.Resources[rotationSg].Properties.SecurityGroupEgress
      .filter((r: any) => r.CidrIp !== '0.0.0.0/0');
    expect(new NetworkModel(nat).secretsManager(new NetworkModel(nat).workload('DbClusterRotationSingleUser')).reachable).toBe(true);
    const model = new NetworkModel(broken);
    expect(model.secretsManager(model.workload('DbClusterRotationSingleUser'))).toEqual({
      reachable: false,
      why: 'its security groups allow no egress to the internet on 443',
    });
  });

  test('it reports a subnet without a route to a NAT gateway', () => {
    const broken = JSON.parse(JSON.stringify(nat));
    for (const [id, r] of Object.entries<any>(broken.Resources)) {
      if (r.Type === 'AWS::EC2::Route' && r.Properties.NatGatewayId) delete broken.Resources[id];
    }
    const model = new NetworkModel(broken);
    expect(model.secretsManager(model.workload('DbClusterRotationSingleUser')).why).toMatch(/not every subnet routes to a NAT gateway/);
  });

  test('it reports a function the target\'s security group does not admit', () => {
    const defaults = synth(CASES[0]).template;
    const broken = JSON.parse(JSON.stringify(defaults));
    for (const [id, r] of Object.entries<any>(broken.Resources)) {
      if (r.Type === 'AWS::EC2::SecurityGroupIngress' && JSON.stringify(r.Properties.SourceSecurityGroupId).includes('DbHandlerSecurityGroup')) {
        delete broken.Resources[id];
      }
    }
    const model = new NetworkModel(broken);
    expect(model.canReach(model.workload('DbHandler'), logicalId(broken, 'AWS::RDS::DBProxy', 'DbProxy'))).toBe(false);
    expect(new NetworkModel(defaults).canReach(new NetworkModel(defaults).workload('DbHandler'), logicalId(defaults, 'AWS::RDS::DBProxy', 'DbProxy'))).toBe(true);
  });

  test('it reports two endpoints with private DNS for one service in one VPC (the DNS defect)', () => {
    const shared = synth(CASES.find((c) => c.name.startsWith('a VPC that already'))!).template;
    const broken = JSON.parse(JSON.stringify(shared));
    // What the construct did before: its own endpoint had private DNS on too.
    broken.Resources[logicalId(broken, 'AWS::EC2::VPCEndpoint', 'DbSecretsManagerEndpoint')].Properties.PrivateDnsEnabled = true;
    expect(new NetworkModel(broken).privateDnsConflicts()).toHaveLength(1);
  });

  test('it reports an S3 endpoint whose policy does not let the users provider answer CloudFormation', () => {
    const defaults = synth(CASES[0]).template;
    const broken = JSON.parse(JSON.stringify(defaults));
    const endpoint = logicalId(broken, 'AWS::EC2::VPCEndpoint', 'DbS3Endpoint');
    // The bucket named with the Region's dashes, as one might guess it: not CloudFormation's.
    broken.Resources[endpoint].Properties.PolicyDocument.Statement[0].Resource = {
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::cloudformation-custom-resource-response-', { Ref: 'AWS::Region' }, '/*']],
    };
    const model = new NetworkModel(broken);
    expect(model.s3(model.workload('DbUsersFunction'))).toEqual({
      reachable: false,
      why: `the policy of gateway endpoint ${endpoint} does not allow s3:PutObject to CloudFormation's response bucket`,
    });
    expect(new NetworkModel(defaults).s3(new NetworkModel(defaults).workload('DbUsersFunction')).reachable).toBe(true);
  });

  test('it reports egress to a prefix list that is not S3\'s', () => {
    const concrete = synth(CASES.find((c) => c.concrete)!).template;
    const model = new NetworkModel(concrete, { prefixLists: { [S3_PREFIX_LIST]: `com.amazonaws.${REGION}.dynamodb` } });
    expect(model.s3(model.workload('DbUsersFunction'))).toEqual({ reachable: false, why: 'its security groups allow no egress to S3 on 443' });
    const right = new NetworkModel(concrete, { prefixLists: PREFIX_LISTS });
    expect(right.s3(right.workload('DbUsersFunction'))).toEqual({ reachable: true, via: expect.stringMatching(/^gateway endpoint DbS3Endpoint/) });
  });

  test('it reports a retained resource whose dependencies are deleted (the RETAIN defect)', () => {
    const retain = synth(CASES.find((c) => c.name === 'removalPolicy RETAIN')!).template;
    const broken = JSON.parse(JSON.stringify(retain));
    for (const r of Object.values<any>(broken.Resources)) {
      if (r.Type === 'AWS::SecretsManager::Secret') r.DeletionPolicy = 'Delete';
    }
    expect(retainedButDeleted(broken)).toEqual([
      expect.stringMatching(/^DbCluster[0-9A-F]+ uses .*Secret.* \(AWS::SecretsManager::Secret\)$/),
      expect.stringMatching(/^DbClusterWriter[0-9A-F]+ uses .*Secret.* \(AWS::SecretsManager::Secret\)$/),
    ]);
  });
});
