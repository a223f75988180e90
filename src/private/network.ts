import { Aws, Fn, RemovalPolicy, Stack, Token, aws_ec2 as ec2, aws_iam as iam, aws_kms as kms, aws_logs as logs } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ServerlessLampValidationError } from './errors';
import { S3Route } from '../s3-route';

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

/** The S3 gateway endpoint `allowS3` created for `database`, if any. */
export function createdS3Endpoint(database: Construct): ec2.GatewayVpcEndpoint | undefined {
  return database.node.tryFindChild('S3Endpoint') as ec2.GatewayVpcEndpoint | undefined;
}

/**
 * Lets `client` reach S3 in the Region on 443, where CloudFormation's answer
 * URLs point, and returns the S3 gateway endpoint created for it, if any.
 *
 * The decision, route table by route table (`route` is the `s3Route` prop):
 * - subnets with NAT egress reach S3 through the NAT; an endpoint is added
 *   only when `route` asks for one;
 * - isolated subnets need a route to an S3 gateway endpoint. An endpoint of
 *   this app (found anywhere in it, for this VPC: the user's, or another
 *   database's) counts only for the route tables it serves. For the others:
 *   - `ALREADY_ROUTED`: the user says they route to S3; nothing is added;
 *   - a VPC of this app (`ec2.Vpc`): the construct sees everything, so it adds
 *     an endpoint on exactly the route tables not served yet. Never on a
 *     served one: a route table holds one route per prefix list, and a second
 *     S3 endpoint on it fails at deploy;
 *   - an imported VPC: the construct cannot see the route tables, so without
 *     `route` synth fails and asks for it; with `CREATE_GATEWAY_ENDPOINT` it
 *     adds an endpoint on them, which needs their ids.
 *   An S3 endpoint added to the VPC after the database, on a route table the
 *   created one serves, fails synth (see `refuseLaterS3Endpoints`).
 *
 * The created endpoint's policy allows only what functions in these subnets
 * need from S3: `s3:PutObject` to CloudFormation's response bucket. Nothing
 * else of this construct calls S3 from the VPC: Lambda fetches function code
 * outside the VPC, and the rotation functions and the handler call only
 * Secrets Manager and the database.
 *
 * Egress: where the answer path is an S3 gateway endpoint, the client may
 * send on 443 to S3's prefix list when the stack's account and Region are
 * concrete (a context lookup; CloudFormation offers the list's id neither as
 * an attribute of the endpoint nor otherwise, and it differs per Region). In
 * an environment-agnostic stack the group may send to any address on 443:
 * isolated subnets route only to S3 and the VPC itself, so that reaches
 * nothing else.
 */
export function allowS3(
  database: Construct,
  network: Network,
  client: ec2.IConnectable,
  route: S3Route | undefined,
): ec2.GatewayVpcEndpoint | undefined {
  const existing = createdS3Endpoint(database);
  if (existing) return existing;
  const { vpc, vpcSubnets } = network;
  const stack = Stack.of(database);
  const selection = vpc.selectSubnets(vpcSubnets);
  const selected = selection.subnets;
  const isolated = !selection.hasPublic && selected.every((s) => vpc.isolatedSubnets.includes(s));
  const served = s3RouteTablesOf(database, vpc);
  // One subnet per route table not served by an S3 gateway endpoint yet (a
  // subnet whose route table id is unknown counts as not served).
  const unserved = new Map<string, ec2.ISubnet>();
  for (const subnet of selected) {
    const key = subnet.routeTable?.routeTableId ?? `unknown:${subnet.subnetId}`;
    if (!served.has(key) && !unserved.has(key)) unserved.set(key, subnet);
  }
  // The answer path is an S3 gateway endpoint: one serves every route table,
  // or the subnets are isolated (one is added, or the user's is there), or
  // one is asked for.
  const throughEndpoint = unserved.size === 0 || isolated || route === S3Route.CREATE_GATEWAY_ENDPOINT;

  let endpoint: ec2.GatewayVpcEndpoint | undefined;
  if (unserved.size > 0 && throughEndpoint && route !== S3Route.ALREADY_ROUTED) {
    const subnets = [...unserved.values()];
    if (awaitingLookup(vpc)) return allowAnyAddress(client);
    if (!(vpc instanceof ec2.Vpc) && route === undefined) {
      throw new ServerlessLampValidationError(
        `s3Route is required here: the VPC (${vpc.node.path}) is imported, not an ec2.Vpc of this app, and the selected ` +
          `subnets (${subnetList(selected)}) are isolated, so the construct cannot see whether their route tables route ` +
          'to S3, where the database users provider answers CloudFormation. Set s3Route: S3Route.CREATE_GATEWAY_ENDPOINT to add ' +
          'an S3 gateway endpoint to their route tables, or S3Route.ALREADY_ROUTED if they route to S3 already ' +
          '(an S3 gateway endpoint of yours, or a NAT)',
      );
    }
    const unknown = subnets.filter((s) => !s.routeTable?.routeTableId);
    if (unknown.length > 0) {
      throw new ServerlessLampValidationError(
        's3Route (CREATE_GATEWAY_ENDPOINT) needs the route table ids of the selected subnets, and the imported VPC ' +
          `(${vpc.node.path}) does not know them for ${subnetList(unknown)}: import it with Vpc.fromVpcAttributes({ ..., ` +
          'isolatedSubnetRouteTableIds }) (Vpc.fromLookup finds them), or set s3Route: S3Route.ALREADY_ROUTED if they route to S3 already',
      );
    }
    endpoint = new ec2.GatewayVpcEndpoint(database, 'S3Endpoint', {
      vpc,
      service: ec2.GatewayVpcEndpointAwsService.S3,
      subnets: [{ subnets }],
    });
    endpoint.addToPolicy(new iam.PolicyStatement({
      sid: 'CloudFormationCustomResourceResponses',
      principals: [new iam.AnyPrincipal()],
      actions: ['s3:PutObject'],
      resources: [customResourceResponseObjects(stack)],
    }));
    refuseLaterS3Endpoints(database, vpc, endpoint);
  }

  const prefixList = throughEndpoint ? s3PrefixList(database) : undefined;
  if (prefixList) {
    client.connections.allowTo(ec2.Peer.prefixList(prefixList.prefixListId), ec2.Port.tcp(443),
      'To S3 (CloudFormation answers), by its prefix list');
  } else {
    allowAnyAddress(client);
  }
  return endpoint;
}

/**
 * Lets the subnets' S3 gateway endpoint (the one the database created for
 * CloudFormation's answers) pass `s3:GetObject` on exactly `objectArn`: the
 * schema's migration files, which the users provider fetches. An endpoint of
 * the user's own (`s3Route: ALREADY_ROUTED`) or a NAT is not changed.
 */
export function allowObjectThroughEndpoint(endpoint: ec2.GatewayVpcEndpoint | undefined, objectArn: string): void {
  endpoint?.addToPolicy(new iam.PolicyStatement({
    sid: 'SchemaMigrationFiles',
    principals: [new iam.AnyPrincipal()],
    actions: ['s3:GetObject'],
    resources: [objectArn],
  }));
}

function allowAnyAddress(client: ec2.IConnectable): undefined {
  client.connections.allowTo(ec2.Peer.anyIpv4(), ec2.Port.tcp(443), 'To S3 (CloudFormation answers) and Secrets Manager');
  return undefined;
}

/**
 * Whether `vpc` is a `Vpc.fromLookup` whose context is not there yet: the CDK
 * CLI then synthesizes with a placeholder VPC (public, private and isolated
 * subnets), looks the VPC up and synthesizes again. Refusing the placeholder
 * would stop the CLI before its lookup, so the decision waits for the real one.
 * (`incompleteSubnetDefinition` is protected in aws-cdk-lib's `VpcBase`.)
 */
function awaitingLookup(vpc: ec2.IVpc): boolean {
  return (vpc as unknown as { incompleteSubnetDefinition?: boolean }).incompleteSubnetDefinition === true;
}

/**
 * `arn:<partition>:s3:::cloudformation-custom-resource-response-<region>/*`:
 * the objects of the bucket CloudFormation's custom resource answer URLs point
 * to in the stack's Region. Its name carries the Region without dashes
 * (`...-response-useast1`), unlike the wait condition bucket's.
 */
function customResourceResponseObjects(stack: Stack): string {
  const region = Token.isUnresolved(stack.region) ? Fn.join('', Fn.split('-', Aws.REGION)) : stack.region.replace(/-/g, '');
  return stack.formatArn({
    service: 's3',
    region: '',
    account: '',
    resource: `cloudformation-custom-resource-response-${region}`,
    resourceName: '*',
  });
}

/**
 * S3's prefix list in the stack's Region (`com.amazonaws.<region>.s3`, owned
 * by AWS), when the stack's account and Region are concrete: a context lookup,
 * done once by the CDK CLI and kept in cdk.context.json.
 */
function s3PrefixList(scope: Construct): ec2.IPrefixList | undefined {
  const stack = Stack.of(scope);
  if (Token.isUnresolved(stack.region) || Token.isUnresolved(stack.account)) return undefined;
  return ec2.PrefixList.fromLookup(scope, 'S3PrefixList', { prefixListName: `com.amazonaws.${stack.region}.s3`, ownerId: 'AWS' });
}

/*
 * VPCs and route tables are matched by their id strings as the L2 constructs
 * hold them: a token of this app's VPC or route table is the same string
 * wherever it is used (in any stack), and an imported id is the literal id.
 * (Resolved values would not do: two stacks can each have a `DbVpc` with the
 * same logical id.) Endpoints made with the L1 `CfnVPCEndpoint` are not seen.
 */

/** The S3 gateway endpoints of this app in `vpc` (wherever in the app they are). */
function s3GatewayEndpoints(scope: Construct, vpc: ec2.IVpc): ec2.GatewayVpcEndpoint[] {
  return scope.node.root.node.findAll().filter((c): c is ec2.GatewayVpcEndpoint => {
    if (!(c instanceof ec2.GatewayVpcEndpoint)) return false;
    const cfn = c.node.defaultChild as ec2.CfnVPCEndpoint;
    return cfn.vpcId === vpc.vpcId && /\.s3"(\]\]\})?$/.test(JSON.stringify(Stack.of(c).resolve(cfn.serviceName)));
  });
}

/** The ids of the route tables an S3 gateway endpoint serves. */
function routeTablesOf(endpoint: ec2.GatewayVpcEndpoint): string[] {
  return (endpoint.node.defaultChild as ec2.CfnVPCEndpoint).routeTableIds ?? [];
}

/** The route tables that S3 gateway endpoints of this app serve in `vpc`. */
function s3RouteTablesOf(scope: Construct, vpc: ec2.IVpc): Set<string> {
  return new Set(s3GatewayEndpoints(scope, vpc).flatMap(routeTablesOf));
}

/**
 * Fails synth when an S3 gateway endpoint added to the VPC after the database
 * shares a route table with the one the database created: CloudFormation
 * would refuse the second route to S3's prefix list in that table.
 */
function refuseLaterS3Endpoints(database: Construct, vpc: ec2.IVpc, created: ec2.GatewayVpcEndpoint): void {
  database.node.addValidation({
    validate: () => {
      const ours = new Set(routeTablesOf(created));
      return s3GatewayEndpoints(database, vpc).filter((other) => other !== created).flatMap((other) => {
        if (!routeTablesOf(other).some((id) => ours.has(id))) return [];
        return [`the S3 gateway endpoint ${other.node.path} serves route tables that ${created.node.path} (added by the database ` +
          'for CloudFormation\'s answers) serves too, and a route table holds one route to S3: add your endpoint to the VPC ' +
          'before the database, which then uses it, or set s3Route: S3Route.ALREADY_ROUTED'];
      });
    },
  });
}

/** Subnet ids for a message: literal ids, or construct paths. */
function subnetList(subnets: ec2.ISubnet[]): string {
  return subnets.map((s) => (Token.isUnresolved(s.subnetId) ? s.node.path : s.subnetId)).join(', ');
}
