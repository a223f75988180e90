import { RemovalPolicy, aws_ec2 as ec2, aws_kms as kms, aws_logs as logs } from 'aws-cdk-lib';
import { Construct } from 'constructs';

export interface NetworkProps {
  readonly vpc?: ec2.IVpc;
  readonly vpcSubnets?: ec2.SubnetSelection;
  readonly vpcFlowLogs?: boolean;
  readonly encryptionKey: kms.IKey;
  readonly logRetention: logs.RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
}

export interface Network {
  readonly vpc: ec2.IVpc;
  readonly vpcSubnets: ec2.SubnetSelection;
}

/**
 * The VPC (the one given, or a new one with isolated subnets only and flow
 * logs) and the subnets of the cluster, the proxies and the functions.
 */
export function createNetwork(scope: Construct, props: NetworkProps): Network {
  const vpc = props.vpc ?? createVpc(scope, props);
  const vpcSubnets = props.vpcSubnets ?? {
    subnetType: vpc.isolatedSubnets.length > 0 ? ec2.SubnetType.PRIVATE_ISOLATED : ec2.SubnetType.PRIVATE_WITH_EGRESS,
  };
  return { vpc, vpcSubnets };
}

function createVpc(scope: Construct, props: NetworkProps): ec2.Vpc {
  const vpc = new ec2.Vpc(scope, 'Vpc', {
    maxAzs: 2,
    natGateways: 0,
    subnetConfiguration: [{ name: 'Isolated', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 24 }],
    // Whatever the app's feature flags say: closing the default security
    // group takes a custom resource (see the acknowledgments).
    restrictDefaultSecurityGroup: false,
  });
  if (props.vpcFlowLogs ?? true) {
    vpc.addFlowLog('FlowLogs', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(new logs.LogGroup(scope, 'FlowLogsLogGroup', {
        retention: props.logRetention,
        encryptionKey: props.encryptionKey,
        removalPolicy: props.logRemovalPolicy,
      })),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });
  }
  return vpc;
}

/** A security group that admits nothing and sends nothing until rules are added. */
export function closedSecurityGroup(scope: Construct, id: string, vpc: ec2.IVpc, description: string): ec2.SecurityGroup {
  return new ec2.SecurityGroup(scope, id, { vpc, description, allowAllOutbound: false });
}

/**
 * The Secrets Manager interface endpoint the rotation function calls: the one
 * given; or, for subnets without internet access, a new one that admits only
 * the rotation function; or none.
 */
export function rotationEndpoint(
  scope: Construct,
  vpc: ec2.IVpc,
  vpcSubnets: ec2.SubnetSelection,
  given: ec2.IInterfaceVpcEndpoint | undefined,
): ec2.IInterfaceVpcEndpoint | undefined {
  if (given) return given;
  const subnets = vpc.selectSubnets(vpcSubnets);
  // Isolated subnets cannot reach Secrets Manager without an endpoint.
  if (subnets.hasPublic || !subnets.subnets.every((s) => vpc.isolatedSubnets.includes(s))) return undefined;
  return new ec2.InterfaceVpcEndpoint(scope, 'SecretsManagerEndpoint', {
    vpc,
    service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    subnets: vpcSubnets,
    privateDnsEnabled: true,
    open: false,
    securityGroups: [closedSecurityGroup(scope, 'SecretsManagerEndpointSecurityGroup', vpc,
      'Secrets Manager endpoint: inbound only from the secret rotation function')],
  });
}
