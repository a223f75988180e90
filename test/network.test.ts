/*
 * The network: the created VPC, subnet choice, flow logs, security groups and
 * the Secrets Manager endpoint.
 */
import { aws_ec2 as ec2 } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { ServerlessLampDatabase } from '../src';
import { build, recordTemplates, resourceOf, securityGroupId, useFreshStack, validateRecordedTemplates } from './support/harness';

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
