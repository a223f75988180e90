import { Fn, RemovalPolicy, Stack, aws_ec2 as ec2, aws_kms as kms, aws_logs as logs } from 'aws-cdk-lib';
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

/** How the functions in the VPC that call Secrets Manager reach it. */
export interface SecretsManagerAccess {
  /** The interface endpoint they call, or none: then they leave through the subnets' egress path on 443. */
  readonly endpoint?: ec2.IInterfaceVpcEndpoint;
  /**
   * The URL they must call: the endpoint's own DNS name when it is known (an
   * endpoint of this app), otherwise the regional name, which resolves to a
   * given endpoint only when that endpoint has private DNS on.
   */
  readonly url?: string;
}

/**
 * How functions in these subnets reach Secrets Manager: through the endpoint
 * given; for subnets without internet access, through a new interface
 * endpoint; otherwise through the subnets' own egress path.
 *
 * A created endpoint has private DNS off: with it on, every Secrets Manager
 * call in the VPC would resolve to an endpoint that admits only this
 * construct's functions, and a VPC that already has such an endpoint would
 * refuse a second one. Its callers are given the endpoint's own DNS name.
 */
export function secretsManagerAccess(
  scope: Construct,
  vpc: ec2.IVpc,
  vpcSubnets: ec2.SubnetSelection,
  given: ec2.IInterfaceVpcEndpoint | undefined,
): SecretsManagerAccess {
  if (given) return { endpoint: given, url: endpointUrl(given) };
  const subnets = vpc.selectSubnets(vpcSubnets);
  if (subnets.hasPublic || !subnets.subnets.every((s) => vpc.isolatedSubnets.includes(s))) return {};
  const existing = scope.node.tryFindChild('SecretsManagerEndpoint') as ec2.InterfaceVpcEndpoint | undefined;
  const endpoint = existing ?? new ec2.InterfaceVpcEndpoint(scope, 'SecretsManagerEndpoint', {
    vpc,
    service: ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    subnets: vpcSubnets,
    privateDnsEnabled: false,
    open: false,
    securityGroups: [closedSecurityGroup(scope, 'SecretsManagerEndpointSecurityGroup', vpc,
      'Secrets Manager endpoint: inbound only from the functions of this construct')],
  });
  return { endpoint, url: endpointUrl(endpoint) };
}

/**
 * `https://<the endpoint's regional DNS name>` for an endpoint of this app (its
 * first DNS entry, `<hosted zone id>:<name>`), nothing for an imported one.
 */
function endpointUrl(endpoint: ec2.IInterfaceVpcEndpoint): string | undefined {
  if (!(endpoint instanceof ec2.InterfaceVpcEndpoint)) return undefined;
  return `https://${Fn.select(1, Fn.split(':', Fn.select(0, endpoint.vpcEndpointDnsEntries)))}`;
}

/**
 * Lets `client` reach Secrets Manager on 443: into the endpoint's security
 * group, or, without an endpoint, out of the client's security group to any
 * address (the subnets' NAT or other egress path carries it).
 */
export function allowSecretsManager(access: SecretsManagerAccess, client: ec2.IConnectable, description: string): void {
  if (access.endpoint) {
    access.endpoint.connections.allowDefaultPortFrom(client, description);
  } else {
    client.connections.allowTo(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), `${description} (through the subnets' egress path)`);
  }
}

/**
 * Lets `client` reach S3 in the Region on 443 (for CloudFormation's answer
 * URLs): subnets without internet access get an S3 gateway endpoint (free),
 * unless the VPC, one of this app, has one already; an imported VPC's isolated
 * subnets must route to S3 themselves. The client's group may send to any
 * address on 443: the subnets' routes lead only to S3 and the VPC itself.
 */
export function allowS3(
  database: Construct & { vpc: ec2.IVpc; vpcSubnets: ec2.SubnetSelection },
  client: ec2.IConnectable,
): ec2.GatewayVpcEndpoint | undefined {
  const { vpc, vpcSubnets } = database;
  const subnets = vpc.selectSubnets(vpcSubnets);
  const isolated = !subnets.hasPublic && subnets.subnets.every((s) => vpc.isolatedSubnets.includes(s));
  const hasS3Endpoint = vpc.node.findAll().some((c) => c instanceof ec2.GatewayVpcEndpoint &&
    JSON.stringify(Stack.of(c).resolve((c.node.defaultChild as ec2.CfnVPCEndpoint).serviceName)).includes('.s3'));
  client.connections.allowTo(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'To S3 (CloudFormation answers) and Secrets Manager');
  const existing = database.node.tryFindChild('S3Endpoint') as ec2.GatewayVpcEndpoint | undefined;
  if (existing || !isolated || !(vpc instanceof ec2.Vpc) || hasS3Endpoint) return existing;
  return new ec2.GatewayVpcEndpoint(database, 'S3Endpoint', { vpc, service: ec2.GatewayVpcEndpointAwsService.S3, subnets: [vpcSubnets] });
}
