/*
 * More readers: the proxy's read-only endpoint. When it exists, who can reach
 * it, what grants cover it, and what the construct tells about it.
 */
import { aws_ec2 as ec2, aws_iam as iam, aws_rds as rds } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ServerlessLampDatabase, ServerlessLampDatabaseProps } from '../src';
import { build, recordTemplates, resourceOf, useFreshStack, validateRecordedTemplates, handlerOf } from './support/harness';

const recorded = recordTemplates();
const ctx = useFreshStack();

const readers: ServerlessLampDatabaseProps = {
  readers: [rds.ClusterInstance.serverlessV2('Reader', { scaleWithWriter: true })],
};

describe('when it exists', () => {
  test('none without readers: no endpoint, no environment variable, no output', () => {
    const { db, template } = build(ctx);
    template.resourceCountIs('AWS::RDS::DBProxyEndpoint', 0);
    expect(db.readOnlyEndpoint).toBeUndefined();
    expect(db.proxyReadOnlyEndpoint).toBeUndefined();
    expect(handlerOf(template).props.Environment.Variables.DB_READER_HOST).toBeUndefined();
    expect(Object.keys(template.findOutputs('*')).some((k) => k.startsWith('DbProxyReadOnlyEndpoint'))).toBe(false);
  });

  test('by default with readers: READ_ONLY on the construct\'s proxy, in the proxy\'s subnets (at least 2)', () => {
    const { db, template } = build(ctx, readers);
    const { logicalId, props } = resourceOf(template, 'AWS::RDS::DBProxyEndpoint');
    expect(props.TargetRole).toBe('READ_ONLY');
    expect(props.DBProxyName).toEqual({ Ref: expect.stringMatching(/^DbProxy[0-9A-F]{8}$/) });
    const proxy = resourceOf(template, 'AWS::RDS::DBProxy').props;
    expect(props.VpcSubnetIds).toEqual(proxy.VpcSubnetIds);
    expect(props.VpcSubnetIds.length).toBeGreaterThanOrEqual(2);
    expect(props.DBProxyEndpointName).toMatch(/^teststack-db-[0-9a-f]{8}-read-only$/);
    expect(db.readOnlyEndpoint).toBeInstanceOf(rds.DatabaseProxyEndpoint);
    expect(ctx.stack.resolve(db.proxyReadOnlyEndpoint)).toEqual({ 'Fn::GetAtt': [logicalId, 'Endpoint'] });
  });

  test('the handler learns its host name (DB_READER_HOST) and a stack output names it', () => {
    const { template } = build(ctx, readers);
    const endpointId = resourceOf(template, 'AWS::RDS::DBProxyEndpoint').logicalId;
    const vars = handlerOf(template).props.Environment.Variables;
    expect(vars.DB_READER_HOST).toEqual({ 'Fn::GetAtt': [endpointId, 'Endpoint'] });
    const outputs = template.findOutputs('*');
    const key = Object.keys(outputs).find((k) => k.startsWith('DbProxyReadOnlyEndpoint'))!;
    expect(outputs[key].Value).toEqual({ 'Fn::GetAtt': [endpointId, 'Endpoint'] });
  });

  test('readOnlyEndpoint: false leaves it out; true without readers fails at synth', () => {
    const { template } = build(ctx, { ...readers, readOnlyEndpoint: false });
    template.resourceCountIs('AWS::RDS::DBProxyEndpoint', 0);
    expect(() => new ServerlessLampDatabase(ctx.stack, 'Other', { readOnlyEndpoint: true }))
      .toThrow(/^readOnlyEndpoint \(true\) needs readers: a read-only proxy endpoint routes to the cluster's readers, and readers is empty$/);
  });

  test('two databases in one stack get different endpoint names', () => {
    new ServerlessLampDatabase(ctx.stack, 'A', readers);
    new ServerlessLampDatabase(ctx.stack, 'B', { readers: [rds.ClusterInstance.serverlessV2('Reader', { scaleWithWriter: true })] });
    const names = Object.values(Template.fromStack(ctx.stack).findResources('AWS::RDS::DBProxyEndpoint'))
      .map((r) => r.Properties.DBProxyEndpointName);
    expect(new Set(names).size).toBe(2);
    for (const n of names) expect(n).toMatch(/^[a-z](?!.*--)[a-z0-9-]{0,61}[a-z0-9]$/);
  });
});

describe('who can reach it', () => {
  test('exactly the clients allowed to the proxy: it uses the proxy\'s security group', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db', readers);
    const allowed = new ec2.SecurityGroup(ctx.stack, 'Allowed', { vpc: db.vpc, allowAllOutbound: false });
    new ec2.SecurityGroup(ctx.stack, 'Other', { vpc: db.vpc, allowAllOutbound: false });
    db.connections.allowDefaultPortFrom(allowed);
    const template = Template.fromStack(ctx.stack);

    const endpoint = resourceOf(template, 'AWS::RDS::DBProxyEndpoint').props;
    const proxy = resourceOf(template, 'AWS::RDS::DBProxy').props;
    expect(endpoint.VpcSecurityGroupIds).toEqual(proxy.VpcSecurityGroupIds);
    expect(endpoint.VpcSecurityGroupIds).toEqual([{ 'Fn::GetAtt': [expect.stringMatching(/^DbProxySecurityGroup/), 'GroupId'] }]);
    const proxySg = endpoint.VpcSecurityGroupIds[0]['Fn::GetAtt'][0];

    // Into that group: the handler and the client allowed in, on 3306; nothing else, no CIDR.
    const sg = template.findResources('AWS::EC2::SecurityGroup')[proxySg].Properties;
    expect(sg.SecurityGroupIngress).toBeUndefined();
    const ingress = Object.values(template.findResources('AWS::EC2::SecurityGroupIngress'))
      .map((r) => r.Properties)
      .filter((p) => p.GroupId['Fn::GetAtt']?.[0] === proxySg);
    expect(ingress.map((p) => [p.SourceSecurityGroupId['Fn::GetAtt'][0].replace(/[0-9A-F]{8}$/, ''), p.FromPort, p.ToPort]).sort()).toEqual([
      ['Allowed', 3306, 3306],
      ['DbHandlerSecurityGroup', 3306, 3306],
    ]);
    for (const p of ingress) expect(p.CidrIp ?? p.CidrIpv6).toBeUndefined();
  });

  test('grantConnect() on the proxy covers its endpoints: the grant names the proxy\'s resource id, not an endpoint', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db', readers);
    const role = new iam.Role(ctx.stack, 'Reader', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    db.grantConnect(role, 'reporting');
    const template = Template.fromStack(ctx.stack);
    const policy = Object.values(template.findResources('AWS::IAM::Policy'))
      .find((p) => p.Properties.Roles.some((r: any) => String(r.Ref).startsWith('Reader')))!;
    const resource = JSON.stringify(policy.Properties.PolicyDocument.Statement[0].Resource);
    expect(policy.Properties.PolicyDocument.Statement[0].Action).toBe('rds-db:connect');
    // arn:...:rds-db:<region>:<account>:dbuser:<prx- id of the proxy>/reporting
    expect(resource).toMatch(/dbuser:.*"Fn::Select":\[6,\{"Fn::Split":\[":",\{"Fn::GetAtt":\["DbProxy[0-9A-F]{8}","DBProxyArn"\]\}\]\}\].*\/reporting/);
    expect(resource).not.toMatch(/ReadOnlyEndpoint/);
  });
});

validateRecordedTemplates(recorded, 6);
