/*
 * The network: the created VPC, subnet choice, flow logs, security groups, the
 * Secrets Manager endpoint and the route to S3.
 */
import { Stack, aws_ec2 as ec2 } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { S3Route, ServerlessLampDatabase } from '../src';
import { build, recordTemplates, resourceOf, securityGroupId, useFreshStack, validateRecordedTemplates } from './support/harness';
import { LOOKED_UP_VPC, S3_PREFIX_LIST, concreteStack, vpcLookupContext } from './support/lookups';

const recorded = recordTemplates();
const ctx = useFreshStack();

describe('the created VPC', () => {
  test('spans 2 AZs with isolated subnets only and no NAT gateway', () => {
    const { template } = build(ctx);
    template.resourceCountIs('AWS::EC2::VPC', 1);
    template.resourceCountIs('AWS::EC2::Subnet', 2);
    template.resourceCountIs('AWS::EC2::NatGateway', 0);
    template.resourceCountIs('AWS::EC2::InternetGateway', 0);
    template.allResourcesProperties('AWS::EC2::Subnet', { MapPublicIpOnLaunch: false });
    // Called from inside the VPC: Secrets Manager (rotation, users provider) and
    // S3 (the users provider answering CloudFormation).
    expect(Object.values(template.findResources('AWS::EC2::VPCEndpoint')).map((e) => e.Properties.VpcEndpointType).sort())
      .toEqual(['Gateway', 'Interface']);
  });

  test('records flow logs, encrypted, unless turned off', () => {
    const { template } = build(ctx);
    const flowLog = resourceOf(template, 'AWS::EC2::FlowLog').props;
    expect(flowLog).toEqual(expect.objectContaining({ TrafficType: 'ALL', LogDestinationType: 'cloud-watch-logs' }));
    const group = template.findResources('AWS::Logs::LogGroup')[flowLog.LogGroupName.Ref];
    expect(group.Properties).toEqual({ KmsKeyId: { 'Fn::GetAtt': [expect.stringMatching(/^DbKey/), 'Arn'] }, RetentionInDays: 365 });
  });

  test('vpcFlowLogs: false creates no flow log', () => {
    const { template } = build(ctx, { vpcFlowLogs: false });
    template.resourceCountIs('AWS::EC2::FlowLog', 0);
  });
});

describe('your own VPC', () => {
  test('its private subnets are used when it has no isolated ones', () => {
    const vpc = new ec2.Vpc(ctx.stack, 'Mine', {
      maxAzs: 2,
      natGateways: 1,
      subnetConfiguration: [
        { name: 'Public', subnetType: ec2.SubnetType.PUBLIC },
        { name: 'App', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
      ],
    });
    const { db, template } = build(ctx, { vpc });
    expect(db.vpc).toBe(vpc);
    template.resourceCountIs('AWS::EC2::VPC', 1);
    const privateIds = vpc.privateSubnets.map((s) => ctx.stack.resolve(s.subnetId));
    template.hasResourceProperties('AWS::RDS::DBProxy', { VpcSubnetIds: privateIds });
    template.hasResourceProperties('AWS::Lambda::Function', { VpcConfig: { SubnetIds: privateIds } });
    template.hasResourceProperties('AWS::RDS::DBSubnetGroup', { SubnetIds: privateIds });
  });

  test('vpcSubnets chooses the subnets', () => {
    const vpc = new ec2.Vpc(ctx.stack, 'Mine', {
      maxAzs: 2,
      subnetConfiguration: [
        { name: 'Public', subnetType: ec2.SubnetType.PUBLIC },
        { name: 'A', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
        { name: 'B', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      ],
    });
    const { db, template } = build(ctx, { vpc, vpcSubnets: { subnetGroupName: 'B' } });
    const ids = vpc.selectSubnets({ subnetGroupName: 'B' }).subnetIds.map((s) => ctx.stack.resolve(s));
    template.hasResourceProperties('AWS::RDS::DBProxy', { VpcSubnetIds: ids });
    template.hasResourceProperties('AWS::Lambda::Function', { VpcConfig: { SubnetIds: ids } });
    expect(db.vpcSubnets).toEqual({ subnetGroupName: 'B' });
  });
});

describe('security groups', () => {
  test('handler -> proxy -> cluster; rotation and users provider -> cluster and Secrets Manager; nothing else', () => {
    const { template } = build(ctx);
    const handlerSg = securityGroupId(template, 'Query handler: no inbound, outbound only to the RDS Proxy');
    const proxySg = securityGroupId(template, 'RDS Proxy: inbound only from allowed clients, outbound only to the cluster');
    const clusterSg = securityGroupId(template, 'Aurora MySQL cluster: inbound only from the RDS Proxy');
    const usersSg = securityGroupId(template, 'Database users provider: no inbound, outbound only to the cluster and Secrets Manager');
    template.hasResourceProperties('AWS::RDS::DBCluster', { Port: 3306 });

    // No inline ingress. Inline egress: aws-cdk-lib's "disallow all"
    // placeholder on groups with no egress rule, and 443 to any address on the
    // users provider's group, whose subnets route only to S3 (the gateway
    // endpoint, for CloudFormation's answer URL) and the VPC itself.
    for (const [id, sg] of Object.entries(template.findResources('AWS::EC2::SecurityGroup'))) {
      expect(sg.Properties.SecurityGroupIngress).toBeUndefined();
      for (const rule of sg.Properties.SecurityGroupEgress ?? []) {
        if (id === usersSg) expect(rule).toEqual(expect.objectContaining({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443 }));
        else expect(rule).toEqual(expect.objectContaining({ CidrIp: '255.255.255.255/32', Description: 'Disallow all traffic' }));
      }
    }
    expect(JSON.stringify(template.toJSON())).not.toMatch(/::\/0/);

    const rotationSg = securityGroupId(template, 'Secret rotation function: no inbound, outbound only to the cluster and Secrets Manager');
    const endpointSg = securityGroupId(template, 'Secrets Manager endpoint: inbound only from the functions of this construct');
    template.resourceCountIs('AWS::EC2::SecurityGroup', 6);

    // Every rule between groups as "source -> destination:port", from ingress and egress resources alike.
    const edges = (type: string, from: string, to: string) => Object.values(template.findResources(type)).map((r) => {
      const p = r.Properties;
      expect(p.IpProtocol).toBe('tcp');
      expect(p.FromPort).toBe(p.ToPort);
      return `${p[from]['Fn::GetAtt'][0]} -> ${p[to]['Fn::GetAtt'][0]}:${p.FromPort}`;
    }).sort();
    const expected = [
      `${handlerSg} -> ${proxySg}:3306`,
      `${proxySg} -> ${clusterSg}:3306`,
      `${rotationSg} -> ${clusterSg}:3306`,
      `${rotationSg} -> ${endpointSg}:443`,
      `${usersSg} -> ${clusterSg}:3306`,
      `${usersSg} -> ${endpointSg}:443`,
    ].sort();
    expect(edges('AWS::EC2::SecurityGroupIngress', 'SourceSecurityGroupId', 'GroupId')).toEqual(expected);
    expect(edges('AWS::EC2::SecurityGroupEgress', 'GroupId', 'DestinationSecurityGroupId')).toEqual(expected);
  });

  test('without rotation: no rotation function, its group or rules; the users provider still reads the master secret', () => {
    const { template } = build(ctx, { secretRotation: false });
    template.resourceCountIs('AWS::EC2::SecurityGroup', 5);
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 4);
    template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 0);
    expect(Object.values(template.findResources('AWS::EC2::VPCEndpoint')).map((e) => e.Properties.VpcEndpointType).sort())
      .toEqual(['Gateway', 'Interface']);
  });

  test('given security groups are used instead of created ones', () => {
    const vpc = new ec2.Vpc(ctx.stack, 'Mine', { maxAzs: 2, natGateways: 0 });
    const sg = (id: string) => new ec2.SecurityGroup(ctx.stack, id, { vpc, allowAllOutbound: false });
    const [clusterSg, proxySg, handlerSg] = [sg('C'), sg('P'), sg('H')];
    const { template } = build(ctx, {
      vpc,
      clusterSecurityGroups: [clusterSg],
      proxy: { securityGroups: [proxySg] },
      handler: { securityGroups: [handlerSg] },
      secretRotation: false,
    });
    template.resourceCountIs('AWS::EC2::SecurityGroup', 5); // and the users provider's, and the Secrets Manager endpoint's
    template.hasResourceProperties('AWS::RDS::DBProxy', { VpcSecurityGroupIds: [ctx.stack.resolve(proxySg.securityGroupId)] });
    template.hasResourceProperties('AWS::RDS::DBCluster', { VpcSecurityGroupIds: [ctx.stack.resolve(clusterSg.securityGroupId)] });
    template.hasResourceProperties('AWS::Lambda::Function', {
      VpcConfig: { SecurityGroupIds: [ctx.stack.resolve(handlerSg.securityGroupId)] },
    });
  });

  test('connections opens the proxy port to other clients', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db');
    const other = new ec2.SecurityGroup(ctx.stack, 'Other', { vpc: db.vpc });
    db.connections.allowDefaultPortFrom(other);
    Template.fromStack(ctx.stack).hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      SourceSecurityGroupId: ctx.stack.resolve(other.securityGroupId),
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DbProxySecurityGroup'), 'GroupId'] },
      FromPort: 3306,
      ToPort: 3306,
    });
    expect(db.connections.defaultPort?.toString()).toBe('3306');
  });
});

describe('the Secrets Manager endpoint for rotation', () => {
  /** The `endpoint` parameter of the rotation application: the URL the rotation function calls. */
  const rotationEndpointUrl = (template: Template) => resourceOf(template, 'AWS::Serverless::Application').props.Parameters.endpoint;
  /** https://<the endpoint's first DNS entry, without its hosted zone id> */
  const ownDnsName = (endpointLogicalId: RegExp) => ({
    'Fn::Join': ['', ['https://', {
      'Fn::Select': [1, { 'Fn::Split': [':', { 'Fn::Select': [0, { 'Fn::GetAtt': [expect.stringMatching(endpointLogicalId), 'DnsEntries'] }] }] }],
    }]],
  });

  test('is created with private DNS off, and the rotation function is given its own DNS name', () => {
    const { template } = build(ctx);
    const endpoint = Object.values(template.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } }))[0].Properties;
    expect(endpoint).toEqual(expect.objectContaining({
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.secretsmanager']] },
      VpcEndpointType: 'Interface',
      // On, it would capture every Secrets Manager call in the VPC, and admit only this construct's functions.
      PrivateDnsEnabled: false,
    }));
    expect(rotationEndpointUrl(template)).toEqual(ownDnsName(/^DbSecretsManagerEndpoint/));
  });

  test('in a VPC that already has a Secrets Manager endpoint with private DNS, adds one without', () => {
    const vpc = new ec2.Vpc(ctx.stack, 'Mine', { natGateways: 0, subnetConfiguration: [{ name: 'I', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    vpc.addInterfaceEndpoint('Shared', { service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER, privateDnsEnabled: true });
    const { template } = build(ctx, { vpc });
    const endpoints = Object.values(template.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } }))
      .map((e) => e.Properties.PrivateDnsEnabled);
    // One private DNS zone for Secrets Manager per VPC: a second would fail to deploy.
    expect(endpoints.sort()).toEqual([false, true]);
  });

  test('a given endpoint of this app is used, admits the rotation function on 443, and is called by its own DNS name', () => {
    const vpc = new ec2.Vpc(ctx.stack, 'Mine', { natGateways: 0, subnetConfiguration: [{ name: 'I', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    const endpoint = vpc.addInterfaceEndpoint('Sm', { service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER, privateDnsEnabled: false });
    const { template } = build(ctx, { vpc, secretsManagerEndpoint: endpoint });
    expect(Object.keys(template.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } }))).toHaveLength(1);
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: ctx.stack.resolve(endpoint.connections.securityGroups[0].securityGroupId),
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DbRotationSecurityGroup'), 'GroupId'] },
      FromPort: 443,
    });
    expect(rotationEndpointUrl(template)).toEqual(ownDnsName(/^MineSm/));
  });

  test('an imported endpoint is called by the regional name, which its private DNS resolves', () => {
    const vpc = new ec2.Vpc(ctx.stack, 'Mine', { natGateways: 0, subnetConfiguration: [{ name: 'I', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    const endpoint = ec2.InterfaceVpcEndpoint.fromInterfaceVpcEndpointAttributes(ctx.stack, 'Imported', {
      vpcEndpointId: 'vpce-0123456789abcdef0',
      port: 443,
      securityGroups: [ec2.SecurityGroup.fromSecurityGroupId(ctx.stack, 'ImportedSg', 'sg-0123456789abcdef0')],
    });
    const { template } = build(ctx, { vpc, secretsManagerEndpoint: endpoint });
    expect(Object.keys(template.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Interface' } }))).toHaveLength(0);
    expect(rotationEndpointUrl(template)).toEqual({
      'Fn::Join': ['', ['https://secretsmanager.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }]],
    });
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', { GroupId: 'sg-0123456789abcdef0', FromPort: 443 });
  });

  test('none is created for subnets with internet egress: the rotation function may leave on 443 through the NAT', () => {
    const vpc = new ec2.Vpc(ctx.stack, 'Mine', { maxAzs: 2, natGateways: 1 });
    const { template } = build(ctx, { vpc });
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 1);
    const rotationSg = securityGroupId(template, 'Secret rotation function: no inbound, outbound only to the cluster and Secrets Manager');
    const egress = Object.values(template.findResources('AWS::EC2::SecurityGroup'))
      .filter((g) => g.Properties.GroupDescription.startsWith('Secret rotation'))[0].Properties.SecurityGroupEgress;
    expect(egress).toEqual([expect.objectContaining({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443 })]);
    expect(rotationSg).toMatch(/^DbRotationSecurityGroup/);
    expect(rotationEndpointUrl(template)).toEqual({
      'Fn::Join': ['', ['https://secretsmanager.', { Ref: 'AWS::Region' }, '.', { Ref: 'AWS::URLSuffix' }]],
    });
  });
});

describe('the route to S3 (where the users provider answers CloudFormation)', () => {
  const USERS_SG = 'Database users provider: no inbound, outbound only to the cluster and Secrets Manager';
  /** The S3 gateway endpoints of a template: their route tables (resolved), in logical id order. */
  const s3Endpoints = (template: Template) => Object.entries(template.findResources('AWS::EC2::VPCEndpoint', { Properties: { VpcEndpointType: 'Gateway' } }))
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([id, e]) => ({ id, routeTables: e.Properties.RouteTableIds, policy: e.Properties.PolicyDocument }));
  const routeTables = (stack: Stack, subnets: ec2.ISubnet[]) => subnets.map((s) => stack.resolve(s.routeTable.routeTableId));
  /**
   * The users provider's egress rules to addresses (not to security groups):
   * inline ones, and standalone ones (aws-cdk-lib writes a prefix-list rule as
   * its own resource).
   */
  const usersEgressRules = (template: Template) => {
    const id = securityGroupId(template, USERS_SG);
    const inline = template.findResources('AWS::EC2::SecurityGroup')[id].Properties.SecurityGroupEgress ?? [];
    const standalone = Object.values(template.findResources('AWS::EC2::SecurityGroupEgress'))
      .map((r) => r.Properties)
      .filter((p) => p.GroupId['Fn::GetAtt']?.[0] === id && p.DestinationSecurityGroupId === undefined);
    return [...inline, ...standalone].filter((r) => r.CidrIp !== '255.255.255.255/32'); // aws-cdk-lib's "disallow all" placeholder
  };
  const imported = (stack: Stack, routeTableIds?: string[]) => ec2.Vpc.fromVpcAttributes(stack, 'Imported', {
    vpcId: 'vpc-0123456789abcdef0',
    availabilityZones: ['eu-west-1a', 'eu-west-1b'],
    isolatedSubnetIds: ['subnet-0aaaaaaaaaaaaaaa1', 'subnet-0bbbbbbbbbbbbbbb2'],
    isolatedSubnetRouteTableIds: routeTableIds,
  });
  const twoIsolatedGroups = (stack: Stack) => new ec2.Vpc(stack, 'Mine', {
    maxAzs: 2,
    natGateways: 0,
    subnetConfiguration: [
      { name: 'App', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      { name: 'Data', subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    ],
  });

  test('the created VPC: one endpoint on both route tables, whose policy allows only s3:PutObject to CloudFormation\'s response bucket', () => {
    const { db, template } = build(ctx);
    const [endpoint, ...others] = s3Endpoints(template);
    expect(others).toEqual([]);
    expect(endpoint.routeTables).toEqual(routeTables(ctx.stack, db.vpc.isolatedSubnets));
    expect(endpoint.policy).toEqual({
      Version: '2012-10-17',
      Statement: [{
        Sid: 'CloudFormationCustomResourceResponses',
        Effect: 'Allow',
        Principal: { AWS: '*' },
        Action: 's3:PutObject',
        // The bucket's name carries the Region without its dashes (`...-response-useast1`).
        Resource: {
          'Fn::Join': ['', [
            'arn:', { Ref: 'AWS::Partition' }, ':s3:::cloudformation-custom-resource-response-',
            { 'Fn::Join': ['', { 'Fn::Split': ['-', { Ref: 'AWS::Region' }] }] }, '/*',
          ]],
        },
      }],
    });
    expect(db.s3Endpoint && ctx.stack.resolve(db.s3Endpoint.vpcEndpointId)).toEqual({ Ref: endpoint.id });
  });

  test('with a concrete Region, the policy names that Region\'s bucket, and the users provider may send on 443 only to S3\'s prefix list', () => {
    const stack = concreteStack();
    new ServerlessLampDatabase(stack, 'Db');
    const template = Template.fromStack(stack);
    expect(s3Endpoints(template)[0].policy.Statement[0].Resource).toEqual({
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::cloudformation-custom-resource-response-useast1/*']],
    });
    expect(usersEgressRules(template)).toEqual([
      expect.objectContaining({ DestinationPrefixListId: S3_PREFIX_LIST, IpProtocol: 'tcp', FromPort: 443, ToPort: 443 }),
    ]);
    // Secrets Manager still through its endpoint's group.
    template.hasResourceProperties('AWS::EC2::SecurityGroupEgress', {
      GroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DbUsersSecurityGroup'), 'GroupId'] },
      DestinationSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DbSecretsManagerEndpointSecurityGroup'), 'GroupId'] },
      FromPort: 443,
    });
  });

  test('environment-agnostic: the users provider may send on 443 to any address (its subnets route only to S3 and the VPC)', () => {
    const { template } = build(ctx);
    expect(usersEgressRules(template)).toEqual([expect.objectContaining({ CidrIp: '0.0.0.0/0', FromPort: 443, ToPort: 443 })]);
  });

  describe('an imported VPC with isolated subnets', () => {
    test('without s3Route, synth fails and says what to set', () => {
      expect(() => build(ctx, { vpc: imported(ctx.stack, ['rtb-0a', 'rtb-0b']) })).toThrow(new RegExp(
        '^s3Route is required here: the VPC \\(TestStack/Imported\\) is imported, not an ec2.Vpc of this app, and the selected ' +
          'subnets \\(subnet-0aaaaaaaaaaaaaaa1, subnet-0bbbbbbbbbbbbbbb2\\) are isolated.*Set s3Route: S3Route.CREATE_GATEWAY_ENDPOINT ' +
          '.*or S3Route.ALREADY_ROUTED'));
    });

    test('CREATE_GATEWAY_ENDPOINT: an endpoint on exactly those route tables', () => {
      const { db, template } = build(ctx, { vpc: imported(ctx.stack, ['rtb-0a', 'rtb-0b']), s3Route: S3Route.CREATE_GATEWAY_ENDPOINT });
      expect(s3Endpoints(template).map((e) => e.routeTables)).toEqual([['rtb-0a', 'rtb-0b']]);
      template.hasResourceProperties('AWS::EC2::VPCEndpoint', { VpcEndpointType: 'Gateway', VpcId: 'vpc-0123456789abcdef0' });
      expect(db.s3Endpoint).toBeDefined();
    });

    test('CREATE_GATEWAY_ENDPOINT without the route table ids is refused', () => {
      expect(() => build(ctx, { vpc: imported(ctx.stack), s3Route: S3Route.CREATE_GATEWAY_ENDPOINT })).toThrow(
        /^s3Route \(CREATE_GATEWAY_ENDPOINT\) needs the route table ids of the selected subnets, and the imported VPC \(TestStack\/Imported\) does not know them for subnet-0aaaaaaaaaaaaaaa1, subnet-0bbbbbbbbbbbbbbb2: import it with Vpc.fromVpcAttributes\(\{ \.\.\., isolatedSubnetRouteTableIds \}\)/);
    });

    test('ALREADY_ROUTED: no endpoint, and no error', () => {
      const { db, template } = build(ctx, { vpc: imported(ctx.stack), s3Route: S3Route.ALREADY_ROUTED });
      expect(s3Endpoints(template)).toEqual([]);
      expect(db.s3Endpoint).toBeUndefined();
      expect(usersEgressRules(template)).toEqual([expect.objectContaining({ CidrIp: '0.0.0.0/0', FromPort: 443 })]);
    });

    test('an S3 endpoint of this app on those route tables counts: none is added, and s3Route is not needed', () => {
      const vpc = imported(ctx.stack, ['rtb-0a', 'rtb-0b']);
      new ec2.GatewayVpcEndpoint(ctx.stack, 'Shared', { vpc, service: ec2.GatewayVpcEndpointAwsService.S3, subnets: [{ subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
      const { template } = build(ctx, { vpc });
      expect(s3Endpoints(template).map((e) => e.id)).toEqual([expect.stringMatching(/^Shared/)]);
    });

    test('Vpc.fromLookup: synth fails without s3Route; with CREATE_GATEWAY_ENDPOINT, the shared route table gets one endpoint', () => {
      const refused = concreteStack('Refused', vpcLookupContext());
      expect(() => new ServerlessLampDatabase(refused, 'Db', { vpc: ec2.Vpc.fromLookup(refused, 'Found', { vpcId: LOOKED_UP_VPC }) }))
        .toThrow(/^s3Route is required here: the VPC \(Refused\/Found\) is imported/);
      const stack = concreteStack('Created', vpcLookupContext());
      new ServerlessLampDatabase(stack, 'Db', {
        vpc: ec2.Vpc.fromLookup(stack, 'Found', { vpcId: LOOKED_UP_VPC }),
        s3Route: S3Route.CREATE_GATEWAY_ENDPOINT,
      });
      const template = Template.fromStack(stack);
      expect(s3Endpoints(template).map((e) => e.routeTables)).toEqual([['rtb-0shared000000000']]);
      expect(usersEgressRules(template)).toEqual([expect.objectContaining({ DestinationPrefixListId: S3_PREFIX_LIST, FromPort: 443 })]);
    });

    test('Vpc.fromLookup before its lookup (the CLI\'s first pass, a placeholder VPC): no error, so that the CLI can look it up', () => {
      const stack = concreteStack('FirstPass');
      expect(() => new ServerlessLampDatabase(stack, 'Db', { vpc: ec2.Vpc.fromLookup(stack, 'Found', { vpcId: LOOKED_UP_VPC }) })).not.toThrow();
    });
  });

  describe('a VPC of this app', () => {
    test('an S3 endpoint on other route tables does not count: the construct adds one on its subnets\' route tables', () => {
      const vpc = twoIsolatedGroups(ctx.stack);
      vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3, subnets: [{ subnetGroupName: 'App' }] });
      const { template } = build(ctx, { vpc, vpcSubnets: { subnetGroupName: 'Data' } });
      expect(s3Endpoints(template).map((e) => [e.id.replace(/[0-9A-F]{8}$/, ''), e.routeTables])).toEqual([
        ['DbS3Endpoint', routeTables(ctx.stack, vpc.selectSubnets({ subnetGroupName: 'Data' }).subnets)],
        ['MineS3', routeTables(ctx.stack, vpc.selectSubnets({ subnetGroupName: 'App' }).subnets)],
      ]);
    });

    test('an S3 endpoint on some of its subnets\' route tables: the construct adds one on the others only', () => {
      const vpc = twoIsolatedGroups(ctx.stack);
      const data = vpc.selectSubnets({ subnetGroupName: 'Data' }).subnets;
      vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3, subnets: [{ subnets: [data[0]] }] });
      const { template } = build(ctx, { vpc, vpcSubnets: { subnetGroupName: 'Data' } });
      // A route table holds one route to S3: a second endpoint on data[0]'s would fail at deploy.
      expect(s3Endpoints(template).map((e) => e.routeTables)).toEqual([routeTables(ctx.stack, [data[1]]), routeTables(ctx.stack, [data[0]])]);
    });

    test('an S3 endpoint on every route table: none is added', () => {
      const vpc = twoIsolatedGroups(ctx.stack);
      vpc.addGatewayEndpoint('S3', { service: ec2.GatewayVpcEndpointAwsService.S3 });
      const { db, template } = build(ctx, { vpc, vpcSubnets: { subnetGroupName: 'Data' } });
      expect(s3Endpoints(template).map((e) => e.id)).toEqual([expect.stringMatching(/^MineS3/)]);
      expect(db.s3Endpoint).toBeUndefined();
    });

    test('a DynamoDB gateway endpoint does not count', () => {
      const vpc = twoIsolatedGroups(ctx.stack);
      vpc.addGatewayEndpoint('Dynamo', { service: ec2.GatewayVpcEndpointAwsService.DYNAMODB });
      const { template } = build(ctx, { vpc, vpcSubnets: { subnetGroupName: 'Data' } });
      expect(s3Endpoints(template).map((e) => e.id.replace(/[0-9A-F]{8}$/, ''))).toEqual(['DbS3Endpoint', 'MineDynamo']);
    });

    test('two databases in one VPC share the first one\'s endpoint', () => {
      const vpc = twoIsolatedGroups(ctx.stack);
      new ServerlessLampDatabase(ctx.stack, 'First', { vpc, vpcSubnets: { subnetGroupName: 'Data' } });
      new ServerlessLampDatabase(ctx.stack, 'Second', { vpc, vpcSubnets: { subnetGroupName: 'Data' } });
      expect(s3Endpoints(Template.fromStack(ctx.stack)).map((e) => e.id)).toEqual([expect.stringMatching(/^FirstS3Endpoint/)]);
    });

    test('an endpoint in another stack of the app with the same logical ids does not count', () => {
      // Both stacks' created VPCs are `DbVpc...`: only the VPC itself, not its resolved id, identifies it.
      new ServerlessLampDatabase(new Stack(ctx.app, 'Other'), 'Db');
      const { template } = build(ctx);
      expect(s3Endpoints(template).map((e) => e.id)).toEqual([expect.stringMatching(/^DbS3Endpoint/)]);
    });

    test('an S3 endpoint added after the database on the same route tables fails synth', () => {
      const vpc = twoIsolatedGroups(ctx.stack);
      new ServerlessLampDatabase(ctx.stack, 'Db', { vpc, vpcSubnets: { subnetGroupName: 'Data' } });
      vpc.addGatewayEndpoint('Late', { service: ec2.GatewayVpcEndpointAwsService.S3 });
      expect(() => Template.fromStack(ctx.stack)).toThrow(
        /the S3 gateway endpoint TestStack\/Mine\/Late serves route tables that TestStack\/Db\/S3Endpoint \(added by the database for CloudFormation's answers\) serves too.*add your endpoint to the VPC before the database/);
    });

    test('ALREADY_ROUTED: none is added', () => {
      const { template } = build(ctx, { vpc: twoIsolatedGroups(ctx.stack), s3Route: S3Route.ALREADY_ROUTED });
      expect(s3Endpoints(template)).toEqual([]);
    });

    test('subnets with NAT: none, unless CREATE_GATEWAY_ENDPOINT asks for one on their route tables', () => {
      const vpc = new ec2.Vpc(ctx.stack, 'Mine', { maxAzs: 2, natGateways: 1 });
      const { template } = build(ctx, { vpc, s3Route: S3Route.CREATE_GATEWAY_ENDPOINT });
      expect(s3Endpoints(template).map((e) => e.routeTables)).toEqual([routeTables(ctx.stack, vpc.privateSubnets)]);
    });
  });
});

describe('the cluster port in security group rules', () => {
  test('the construct\'s rules name 3306; rules others add through cluster.connections are left as aws-cdk-lib makes them', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db');
    const other = new ec2.SecurityGroup(ctx.stack, 'Other', { vpc: db.vpc, allowAllOutbound: false });
    db.cluster.connections.allowDefaultPortFrom(other, 'mine');
    const rules = Object.values(Template.fromStack(ctx.stack).findResources('AWS::EC2::SecurityGroupIngress'))
      .map((r) => r.Properties)
      .filter((p) => JSON.stringify(p.GroupId).includes('DbClusterSecurityGroup'));
    const mine = rules.filter((p) => p.Description === 'mine');
    expect(mine).toEqual([expect.objectContaining({ FromPort: { 'Fn::GetAtt': [expect.stringMatching(/^DbCluster/), 'Endpoint.Port'] } })]);
    const ours = rules.filter((p) => p.Description !== 'mine');
    expect(ours.map((p) => [p.FromPort, p.ToPort])).toEqual([[3306, 3306], [3306, 3306], [3306, 3306]]); // rotation, users provider, proxy
  });
});

validateRecordedTemplates(recorded, 9);
