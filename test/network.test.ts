/*
 * The network: the created VPC, subnet choice, flow logs, security groups and
 * the Secrets Manager endpoint.
 */
import { aws_ec2 as ec2 } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { ServerlessLampDatabase } from '../src';
import { build, recordTemplates, securityGroupId, useFreshStack, validateRecordedTemplates } from './support/harness';

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
    // The one AWS API called from inside the VPC: Secrets Manager, by the rotation function.
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 1);
    template.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      ServiceName: { 'Fn::Join': ['', ['com.amazonaws.', { Ref: 'AWS::Region' }, '.secretsmanager']] },
      VpcEndpointType: 'Interface',
      PrivateDnsEnabled: true,
    });
  });

  test('records flow logs, encrypted, unless turned off', () => {
    const { template } = build(ctx);
    template.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'ALL', LogDestinationType: 'cloud-watch-logs' });
    template.resourceCountIs('AWS::Logs::LogGroup', 2);
    template.allResourcesProperties('AWS::Logs::LogGroup', {
      KmsKeyId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DbKey'), 'Arn'] },
      RetentionInDays: 365,
    });
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
  test('handler -> proxy:3306 -> cluster:3306, rotation -> cluster:3306 and -> endpoint:443, nothing else', () => {
    const { template } = build(ctx);
    const handlerSg = securityGroupId(template, 'Query handler: no inbound, outbound only to the RDS Proxy');
    const proxySg = securityGroupId(template, 'RDS Proxy: inbound only from allowed clients, outbound only to the cluster');
    const clusterSg = securityGroupId(template, 'Aurora MySQL cluster: inbound only from the RDS Proxy');
    template.hasResourceProperties('AWS::RDS::DBCluster', { Port: 3306 });

    // No inline rules: no CIDR ingress, and no allow-all egress. A group with
    // no egress rule at all carries aws-cdk-lib's "disallow all" placeholder;
    // the others get standalone egress rules, which make CloudFormation drop
    // the default allow-all rule.
    for (const sg of Object.values(template.findResources('AWS::EC2::SecurityGroup'))) {
      expect(sg.Properties.SecurityGroupIngress).toBeUndefined();
      for (const rule of sg.Properties.SecurityGroupEgress ?? []) {
        expect(rule).toEqual(expect.objectContaining({ CidrIp: '255.255.255.255/32', Description: 'Disallow all traffic' }));
      }
    }
    expect(JSON.stringify(template.toJSON())).not.toMatch(/0\.0\.0\.0\/0|::\/0/);

    const rotationSg = securityGroupId(template, 'Secret rotation function: no inbound, outbound only to the cluster and Secrets Manager');
    const endpointSg = securityGroupId(template, 'Secrets Manager endpoint: inbound only from the secret rotation function');
    template.resourceCountIs('AWS::EC2::SecurityGroup', 5);

    // Every rule as "source -> destination:port", from ingress and egress resources alike.
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
    ].sort();
    expect(edges('AWS::EC2::SecurityGroupIngress', 'SourceSecurityGroupId', 'GroupId')).toEqual(expected);
    expect(edges('AWS::EC2::SecurityGroupEgress', 'GroupId', 'DestinationSecurityGroupId')).toEqual(expected);
  });

  test('without rotation: only handler -> proxy -> cluster', () => {
    const { template } = build(ctx, { secretRotation: false });
    template.resourceCountIs('AWS::EC2::SecurityGroup', 3);
    template.resourceCountIs('AWS::EC2::SecurityGroupIngress', 2);
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 0);
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
    template.resourceCountIs('AWS::EC2::SecurityGroup', 3);
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
  test('a given endpoint is used, and admits the rotation function on 443', () => {
    const vpc = new ec2.Vpc(ctx.stack, 'Mine', { natGateways: 0, subnetConfiguration: [{ name: 'I', subnetType: ec2.SubnetType.PRIVATE_ISOLATED }] });
    const endpoint = vpc.addInterfaceEndpoint('Sm', { service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER });
    const { template } = build(ctx, { vpc, secretsManagerEndpoint: endpoint });
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 1);
    template.hasResourceProperties('AWS::EC2::SecurityGroupIngress', {
      GroupId: ctx.stack.resolve(endpoint.connections.securityGroups[0].securityGroupId),
      SourceSecurityGroupId: { 'Fn::GetAtt': [Match.stringLikeRegexp('^DbRotationSecurityGroup'), 'GroupId'] },
      FromPort: 443,
    });
  });

  test('none is created for subnets with internet egress', () => {
    const vpc = new ec2.Vpc(ctx.stack, 'Mine', { maxAzs: 2, natGateways: 1 });
    const { template } = build(ctx, { vpc });
    template.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    template.resourceCountIs('AWS::SecretsManager::RotationSchedule', 1);
  });
});

validateRecordedTemplates(recorded, 9);
