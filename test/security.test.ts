/*
 * Secrets and privileges: what a security reviewer checks first, over the
 * templates of the checked stacks (defaults and every option on).
 */
import { Template } from 'aws-cdk-lib/assertions';
import { checkedStacks } from './support/stacks';

const stacks = checkedStacks().map((s) => ({ name: s.name, template: Template.fromStack(s.stack).toJSON() as any }));

/** IAM actions that AWS offers no resource-level permissions for, and so must name "*". */
const NO_RESOURCE_LEVEL_ACTIONS = new Set(['xray:PutTraceSegments', 'xray:PutTelemetryRecords']);

function resourcesOf(template: any, type: string): Array<[string, any]> {
  return Object.entries(template.Resources as Record<string, any>).filter(([, r]) => r.Type === type);
}

describe.each(stacks)('$name stack', ({ template }) => {
  test('no password or token in the template: the password is generated and resolved by CloudFormation', () => {
    const [, secret] = resourcesOf(template, 'AWS::SecretsManager::Secret')[0];
    expect(secret.Properties.GenerateSecretString).toEqual(expect.objectContaining({ GenerateStringKey: 'password' }));
    expect(secret.Properties.SecretString).toBeUndefined();
    const [, cluster] = resourcesOf(template, 'AWS::RDS::DBCluster')[0];
    expect(JSON.stringify(cluster.Properties.MasterUserPassword)).toMatch(/^\{"Fn::Join":\["",\["\{\{resolve:secretsmanager:/);
    const text = JSON.stringify(template);
    // Nothing that looks like an IAM auth token or a literal password value.
    expect(text).not.toMatch(/X-Amz-Signature|X-Amz-Credential/);
    expect(text).not.toMatch(/"(Master)?(User)?Password"\s*:\s*"/i);
  });

  test('the function environment names where to connect, never a secret', () => {
    for (const [, fn] of resourcesOf(template, 'AWS::Lambda::Function')) {
      const vars = fn.Properties.Environment?.Variables ?? {};
      for (const [name, value] of Object.entries(vars)) {
        // The users provider is told the Secrets Manager endpoint's URL: where to ask, not a secret.
        if (name === 'SECRETS_MANAGER_ENDPOINT') {
          expect(JSON.stringify(value)).toMatch(/^\{"Fn::Join":\["",\["https:\/\/",\{"Fn::Select":\[1,\{"Fn::Split":\[":",\{"Fn::Select":\[0,\{"Fn::GetAtt":\["DbSecretsManagerEndpoint[0-9A-F]{8}","DnsEntries"\]/);
          continue;
        }
        expect(name).not.toMatch(/PASS|SECRET|TOKEN|KEY/i);
        expect(JSON.stringify(value)).not.toMatch(/secretsmanager|SecretString|password/i);
      }
    }
  });

  test('every IAM statement names specific resources, except actions AWS offers no resource for', () => {
    const wildcard: string[] = [];
    for (const [id, policy] of resourcesOf(template, 'AWS::IAM::Policy')) {
      for (const st of policy.Properties.PolicyDocument.Statement) {
        const resources = [st.Resource].flat();
        const actions = [st.Action].flat();
        expect(st.Effect).toBe('Allow');
        for (const a of actions) expect(a).not.toMatch(/\*/);
        if (resources.some((r: unknown) => typeof r === 'string' && r.includes('*'))) {
          for (const a of actions) {
            if (!NO_RESOURCE_LEVEL_ACTIONS.has(a)) wildcard.push(`${id}: ${a} on ${JSON.stringify(resources)}`);
          }
        }
      }
    }
    expect(wildcard).toEqual([]);
  });

  test('roles: only AWS service principals, only the two documented AWS managed policies', () => {
    for (const [, role] of resourcesOf(template, 'AWS::IAM::Role')) {
      for (const st of role.Properties.AssumeRolePolicyDocument.Statement) {
        expect(Object.keys(st.Principal)).toEqual(['Service']);
      }
      for (const arn of role.Properties.ManagedPolicyArns ?? []) {
        expect(JSON.stringify(arn)).toMatch(/service-role\/(AWSLambdaVPCAccessExecutionRole|AmazonRDSEnhancedMonitoringRole)"/);
      }
    }
  });

  test('nothing is reachable from outside the VPC', () => {
    const text = JSON.stringify(template);
    expect(text).not.toMatch(/::\/0/);
    for (const type of ['AWS::EC2::InternetGateway', 'AWS::EC2::NatGateway', 'AWS::EC2::EIP', 'AWS::Lambda::Url', 'AWS::Lambda::Permission']) {
      expect(resourcesOf(template, type)).toEqual([]);
    }
    for (const [, subnet] of resourcesOf(template, 'AWS::EC2::Subnet')) {
      expect(subnet.Properties.MapPublicIpOnLaunch).toBe(false);
    }
    for (const [, instance] of resourcesOf(template, 'AWS::RDS::DBInstance')) {
      expect(instance.Properties.PubliclyAccessible).toBe(false);
    }
    // Security group rules only ever name another security group.
    for (const type of ['AWS::EC2::SecurityGroupIngress', 'AWS::EC2::SecurityGroupEgress']) {
      for (const [, rule] of resourcesOf(template, type)) {
        expect(rule.Properties.CidrIp ?? rule.Properties.CidrIpv6).toBeUndefined();
        expect(rule.Properties.SourceSecurityGroupId ?? rule.Properties.DestinationSecurityGroupId).toBeDefined();
      }
    }
    for (const [id, sg] of resourcesOf(template, 'AWS::EC2::SecurityGroup')) {
      expect(sg.Properties.SecurityGroupIngress).toBeUndefined();
      // The one address rule: the users provider may send to any address on 443,
      // which its subnets (no internet route) carry only to S3 (CloudFormation's
      // answer URL, through the gateway endpoint) and to the VPC's own endpoints.
      for (const rule of sg.Properties.SecurityGroupEgress ?? []) {
        if (rule.CidrIp === '255.255.255.255/32') continue; // aws-cdk-lib's "disallow all" placeholder
        expect([id, rule]).toEqual([expect.stringMatching(/^DbUsersSecurityGroup/), expect.objectContaining({ CidrIp: '0.0.0.0/0', IpProtocol: 'tcp', FromPort: 443, ToPort: 443 })]);
      }
    }
    for (const [, proxy] of resourcesOf(template, 'AWS::RDS::DBProxy')) {
      expect(proxy.Properties.RequireTLS).toBe(true);
      if (proxy.Properties.DefaultAuthScheme === 'IAM_AUTH') {
        // End-to-end IAM: clients authenticate with IAM, and there is no other scheme.
        expect(proxy.Properties.Auth).toBeUndefined();
      } else {
        // With secrets, every one of them requires IAM from the client.
        expect(proxy.Properties.Auth.length).toBeGreaterThan(0);
        for (const auth of proxy.Properties.Auth) expect(auth).toMatchObject({ AuthScheme: 'SECRETS', IAMAuth: 'REQUIRED' });
      }
    }
  });

  test('data at rest is encrypted with a customer managed key', () => {
    const [, cluster] = resourcesOf(template, 'AWS::RDS::DBCluster')[0];
    expect(cluster.Properties.StorageEncrypted).toBe(true);
    expect(cluster.Properties.KmsKeyId).toBeDefined();
    const [, secret] = resourcesOf(template, 'AWS::SecretsManager::Secret')[0];
    expect(secret.Properties.KmsKeyId).toBeDefined();
    for (const [id, group] of resourcesOf(template, 'AWS::Logs::LogGroup')) {
      if (id.startsWith('Db')) expect(group.Properties.KmsKeyId).toBeDefined();
    }
    for (const [, key] of resourcesOf(template, 'AWS::KMS::Key')) {
      expect(key.Properties.EnableKeyRotation).toBe(true);
    }
  });
});
