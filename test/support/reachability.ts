/*
 * A network reachability model of a synthesized template: what AWS will let
 * each workload in the VPC reach, read from the security groups (both
 * directions), subnets, route tables, NAT and internet gateways and interface
 * endpoints the template declares.
 *
 * Workloads: Lambda functions with a VpcConfig, secret rotation functions
 * (their Serverless Application's `vpcSubnetIds`/`vpcSecurityGroupIds`
 * parameters) and RDS proxies. Targets: a proxy or a cluster on its port, and
 * Secrets Manager (through an interface endpoint, or through a NAT gateway).
 *
 * The rules modelled, from the EC2 and VPC documentation:
 * - traffic needs an egress rule of one of the workload's groups AND an
 *   ingress rule of one of the target's groups (security groups are stateful:
 *   answers come back);
 * - a group declared without inline egress rules allows all egress unless a
 *   standalone egress rule is attached to it (CloudFormation then drops the
 *   default rule); aws-cdk-lib's "disallow all" placeholder (ICMP 252/86 to
 *   255.255.255.255/32) matches no TCP traffic;
 * - a rule names a security group (matched by identity), a CIDR (matched
 *   against the subnets' CIDR blocks, or, for the internet, must be 0.0.0.0/0)
 *   or a prefix list (its name given to the model, as a lookup found it: S3's
 *   is `com.amazonaws.<region>.s3`, and covers S3 alone);
 * - everything in one VPC is routable (the local route);
 * - the internet is reachable from a subnet whose route table sends 0.0.0.0/0
 *   to a NAT gateway that sits in a subnet whose route table sends 0.0.0.0/0 to
 *   an internet gateway attached to the VPC;
 * - a Secrets Manager URL that names an endpoint's own DNS entry goes to that
 *   endpoint; the regional name goes to the VPC's endpoint with private DNS on,
 *   if there is one, else to the internet;
 * - S3 in the Region is reached through a gateway endpoint on the subnet's
 *   route table, whose policy (if any) must allow `s3:PutObject` to
 *   CloudFormation's custom resource response bucket (named with the Region
 *   without dashes), or through a NAT gateway; to fetch one object (the
 *   schema's migration files), its policy must also allow `s3:GetObject` on
 *   that object (`s3Object`).
 *
 * Not modelled: network ACLs (the construct creates none; the default ACL
 * allows everything), IPv6, transit and peering routes, and
 * resources outside the template (an imported subnet is assumed to have no
 * internet route).
 */

type Json = any;

/** Something the model names: a logical id, or a literal id of an imported resource. */
type Key = string;

export type WorkloadKind = 'function' | 'rotation' | 'proxy';

export interface Workload {
  readonly kind: WorkloadKind;
  /** Logical id of the function, the Serverless Application or the proxy. */
  readonly id: string;
  readonly securityGroups: Key[];
  readonly subnets: Key[];
  /** The Secrets Manager URL the workload is configured with, if any. */
  readonly secretsManagerUrl?: Json;
}

interface Rule {
  readonly protocol: string;
  readonly from: number;
  readonly to: number;
  /** A security group, a CIDR, or a prefix list. */
  readonly peer: { readonly group: Key } | { readonly cidr: string } | { readonly prefixList: string };
}

/** How a workload reaches Secrets Manager, or why it cannot. */
export interface SecretsManagerPath {
  readonly reachable: boolean;
  /** `endpoint <logical id>` or `nat <logical id>`. */
  readonly via?: string;
  /** Why not, when not. */
  readonly why?: string;
}

const ANY_PORT = { from: 0, to: 65535 };

/** What the model knows beyond the template. */
export interface NetworkModelOptions {
  /** Prefix list names by id (`pl-...`), as the stack's lookups found them. */
  readonly prefixLists?: Record<string, string>;
}

export class NetworkModel {
  private readonly resources: Record<string, Json>;
  private readonly prefixLists: Record<string, string>;

  constructor(template: Json, options: NetworkModelOptions = {}) {
    this.resources = template.Resources ?? {};
    this.prefixLists = options.prefixLists ?? {};
  }

  /** Every workload in a VPC. */
  workloads(): Workload[] {
    const out: Workload[] = [];
    for (const [id, r] of Object.entries(this.resources)) {
      if (r.Type === 'AWS::Lambda::Function' && r.Properties?.VpcConfig) {
        const env = r.Properties.Environment?.Variables ?? {};
        out.push({
          kind: 'function',
          id,
          securityGroups: (r.Properties.VpcConfig.SecurityGroupIds ?? []).map(refKey),
          subnets: (r.Properties.VpcConfig.SubnetIds ?? []).map(refKey),
          secretsManagerUrl: env.SECRETS_MANAGER_ENDPOINT,
        });
      } else if (r.Type === 'AWS::Serverless::Application' && r.Properties?.Parameters?.vpcSubnetIds) {
        const p = r.Properties.Parameters;
        out.push({
          kind: 'rotation',
          id,
          securityGroups: joined(p.vpcSecurityGroupIds).map(refKey),
          subnets: joined(p.vpcSubnetIds).map(refKey),
          secretsManagerUrl: p.endpoint,
        });
      } else if (r.Type === 'AWS::RDS::DBProxy') {
        out.push({
          kind: 'proxy',
          id,
          securityGroups: (r.Properties.VpcSecurityGroupIds ?? []).map(refKey),
          subnets: (r.Properties.VpcSubnetIds ?? []).map(refKey),
        });
      }
    }
    return out;
  }

  /** The workload with this logical id prefix (exactly one). */
  workload(idPrefix: string): Workload {
    const found = this.workloads().filter((w) => w.id.startsWith(idPrefix));
    if (found.length !== 1) throw new Error(`${found.length} workloads match ${idPrefix}: ${this.workloads().map((w) => w.id).join(', ')}`);
    return found[0];
  }

  /** Whether `w` can open a TCP connection to the resource `targetId` (a DBProxy or DBCluster) on its port. */
  canReach(w: Workload, targetId: string): boolean {
    const target = this.resources[targetId];
    if (!target) throw new Error(`no resource ${targetId}`);
    const port = target.Type === 'AWS::RDS::DBProxy' ? 3306 : Number(target.Properties.Port ?? 3306);
    const groups: Key[] = (target.Properties.VpcSecurityGroupIds ?? []).map(refKey);
    const targetSubnets = target.Type === 'AWS::RDS::DBProxy'
      ? (target.Properties.VpcSubnetIds ?? []).map(refKey)
      : this.dbSubnets(target);
    return this.sameVpc(w.subnets, targetSubnets) && this.allowed(w, groups, targetSubnets, port);
  }

  /** How `w` reaches Secrets Manager on 443, if it can. */
  secretsManager(w: Workload): SecretsManagerPath {
    const vpc = this.vpcOf(w.subnets);
    const named = this.endpointNamedBy(w.secretsManagerUrl);
    const endpoint = named ?? this.privateDnsEndpoint(vpc, 'secretsmanager');
    if (named && this.vpcOf(this.endpointSubnets(named)) !== vpc) {
      return { reachable: false, why: `its URL names endpoint ${named}, which is in another VPC` };
    }
    if (endpoint) {
      const e = this.resources[endpoint].Properties;
      const ok = this.allowed(w, (e.SecurityGroupIds ?? []).map(refKey), this.endpointSubnets(endpoint), 443);
      return ok
        ? { reachable: true, via: `endpoint ${endpoint}` }
        : { reachable: false, why: `security groups do not let it reach endpoint ${endpoint} on 443` };
    }
    const nats = w.subnets.map((s) => this.natOf(s));
    if (nats.some((n) => n === undefined)) {
      return { reachable: false, why: 'no Secrets Manager endpoint it resolves to, and not every subnet routes to a NAT gateway' };
    }
    if (!this.egressAllows(w, { internet: true }, 443)) {
      return { reachable: false, why: 'its security groups allow no egress to the internet on 443' };
    }
    return { reachable: true, via: `nat ${[...new Set(nats)].join(', ')}` };
  }

  /**
   * How `w` answers CloudFormation at its presigned URL in S3 (the Region's
   * custom resource response bucket) on 443: through a gateway endpoint on
   * every one of its subnets' route tables whose policy lets it, or through a
   * NAT gateway; its groups must allow 443 to S3's addresses (0.0.0.0/0, or
   * S3's prefix list).
   */
  s3(w: Workload): SecretsManagerPath {
    if (!this.egressAllows(w, { s3: true }, 443)) return { reachable: false, why: 'its security groups allow no egress to S3 on 443' };
    const tables = w.subnets.map((s) => this.routeTableOf(s));
    const gateways = Object.entries(this.resources).filter(([, r]: [string, Json]) =>
      r.Type === 'AWS::EC2::VPCEndpoint' && r.Properties.VpcEndpointType === 'Gateway' && serviceOf(r.Properties.ServiceName) === 's3' &&
      tables.some((t) => t !== undefined && (r.Properties.RouteTableIds ?? []).map(refKey).includes(t)));
    const servedTables = new Set(gateways.flatMap(([, r]) => (r.Properties.RouteTableIds ?? []).map(refKey)));
    if (gateways.length > 0 && tables.every((t) => t !== undefined && servedTables.has(t))) {
      const closed = gateways.filter(([, r]) => !allowsCustomResourceResponses(r.Properties.PolicyDocument)).map(([id]) => id);
      if (closed.length > 0) {
        return { reachable: false, why: `the policy of gateway endpoint ${closed.join(', ')} does not allow s3:PutObject to CloudFormation's response bucket` };
      }
      return { reachable: true, via: `gateway endpoint ${gateways.map(([id]) => id).join(', ')}` };
    }
    const nats = w.subnets.map((s) => this.natOf(s));
    if (nats.every((n) => n !== undefined)) return { reachable: true, via: `nat ${[...new Set(nats)].join(', ')}` };
    return { reachable: false, why: 'not every subnet routes to S3 (gateway endpoint) or to a NAT gateway' };
  }

  /**
   * How `w` fetches one object (`s3:GetObject`; `bucket` and `key` as the
   * template writes them, e.g. the schema resource's `Bucket` and `Key`): as
   * `s3()`, but every gateway endpoint on its route tables must let that
   * object through, by a statement naming it (or its bucket's objects, or *).
   */
  s3Object(w: Workload, bucket: Json, key: string): SecretsManagerPath {
    const path = this.s3(w);
    if (!path.reachable || (path.via ?? '').startsWith('nat ')) return path;
    const ids = (path.via ?? '').replace(/^gateway endpoint /, '').split(', ');
    const closed = ids.filter((id) => !allowsObject(this.resources[id].Properties.PolicyDocument, bucket, key));
    if (closed.length > 0) {
      return { reachable: false, why: `the policy of gateway endpoint ${closed.join(', ')} does not allow s3:GetObject on ${key}` };
    }
    return path;
  }

  /** Whether every subnet of `w` has a default route to the internet (through a NAT gateway). */
  internet(w: Workload): boolean {
    return w.subnets.every((s) => this.natOf(s) !== undefined);
  }

  /**
   * Everything `w` may send to, as `group <key>:<ports>` or `cidr <cidr>:<ports>`
   * (`all` for a group without egress rules, which allows everything).
   */
  egress(w: Workload): string[] {
    const out = new Set<string>();
    for (const g of w.securityGroups) {
      const rules = this.egressRules(g);
      if (rules === 'all') out.add('all');
      else for (const r of rules) out.add(`${peerText(r.peer)}:${r.protocol}/${r.from}-${r.to}`);
    }
    return [...out].sort();
  }

  /** Interface endpoints with private DNS on, per VPC and service, where there is more than one (a conflict AWS refuses). */
  privateDnsConflicts(): string[] {
    const seen = new Map<string, string[]>();
    for (const [id, r] of Object.entries(this.resources)) {
      if (r.Type !== 'AWS::EC2::VPCEndpoint' || r.Properties.PrivateDnsEnabled !== true) continue;
      const key = `${refKey(r.Properties.VpcId)} ${serviceOf(r.Properties.ServiceName)}`;
      seen.set(key, [...(seen.get(key) ?? []), id]);
    }
    return [...seen.entries()].filter(([, ids]) => ids.length > 1).map(([key, ids]) => `${key}: ${ids.join(', ')}`);
  }

  /**
   * The rules of each security group the template declares, as AWS counts
   * them against "inbound (outbound) rules per security group": inline and
   * standalone rules alike; a group with no egress rule at all has the one
   * default "all traffic" rule.
   */
  ruleCounts(): Record<Key, { inbound: number; outbound: number }> {
    const out: Record<Key, { inbound: number; outbound: number }> = {};
    for (const [id, r] of Object.entries(this.resources)) {
      if (r.Type !== 'AWS::EC2::SecurityGroup') continue;
      const egress = this.egressRules(id);
      out[id] = { inbound: this.ingressRules(id).length, outbound: egress === 'all' ? 1 : egress.length };
    }
    return out;
  }

  // ------------------------------------------------------------ internals

  /** Egress of w to the target's groups/subnets, and ingress of the target from w, on `port`. */
  private allowed(w: Workload, targetGroups: Key[], targetSubnets: Key[], port: number): boolean {
    const out = this.egressAllows(w, { groups: targetGroups, subnets: targetSubnets }, port);
    const into = targetGroups.some((g) => this.ingressRules(g).some((r) => {
      if (!matchesPort(r, port)) return false;
      const peer = r.peer;
      if ('prefixList' in peer) return false;
      return 'group' in peer ? w.securityGroups.includes(peer.group) : w.subnets.every((s) => cidrCovers(peer.cidr, this.cidrOf(s)));
    }));
    return out && into;
  }

  private egressAllows(w: Workload, dest: { groups?: Key[]; subnets?: Key[]; internet?: boolean; s3?: boolean }, port: number): boolean {
    return w.securityGroups.some((g) => {
      const rules = this.egressRules(g);
      if (rules === 'all') return true;
      return rules.some((r) => {
        if (!matchesPort(r, port)) return false;
        if ('group' in r.peer) return (dest.groups ?? []).includes(r.peer.group);
        if ('prefixList' in r.peer) return dest.s3 === true && /^com\.amazonaws\.[a-z0-9-]+\.s3$/.test(this.prefixLists[r.peer.prefixList] ?? '');
        if (dest.internet || dest.s3) return r.peer.cidr === '0.0.0.0/0';
        const subnets = dest.subnets ?? [];
        const cidr = r.peer.cidr;
        return subnets.length > 0 && subnets.every((s) => cidrCovers(cidr, this.cidrOf(s)));
      });
    });
  }

  private egressRules(group: Key): Rule[] | 'all' {
    const sg = this.resources[group];
    const standalone = this.standaloneRules('AWS::EC2::SecurityGroupEgress', group, 'DestinationSecurityGroupId');
    if (!sg) return standalone; // imported: only what this template adds is known
    const inline = sg.Properties?.SecurityGroupEgress;
    if (inline === undefined && standalone.length === 0) return 'all';
    return [...(inline ?? []).map((r: Json) => toRule(r, 'DestinationSecurityGroupId')), ...standalone];
  }

  private ingressRules(group: Key): Rule[] {
    const inline = (this.resources[group]?.Properties?.SecurityGroupIngress ?? []).map((r: Json) => toRule(r, 'SourceSecurityGroupId'));
    return [...inline, ...this.standaloneRules('AWS::EC2::SecurityGroupIngress', group, 'SourceSecurityGroupId')];
  }

  private standaloneRules(type: string, group: Key, peerField: string): Rule[] {
    return Object.values(this.resources)
      .filter((r: Json) => r.Type === type && refKey(r.Properties.GroupId) === group)
      .map((r: Json) => toRule(this.resolvePorts(r.Properties), peerField));
  }

  /** Ports given as `Fn::GetAtt [cluster, Endpoint.Port]` are the cluster's Port. */
  private resolvePorts(p: Json): Json {
    const port = (v: Json) => {
      const att = v?.['Fn::GetAtt'];
      if (Array.isArray(att) && att[1] === 'Endpoint.Port') return Number(this.resources[att[0]]?.Properties?.Port ?? 3306);
      return v;
    };
    return { ...p, FromPort: port(p.FromPort), ToPort: port(p.ToPort) };
  }

  private dbSubnets(cluster: Json): Key[] {
    const group = this.resources[refKey(cluster.Properties.DBSubnetGroupName)];
    return (group?.Properties?.SubnetIds ?? []).map(refKey);
  }

  private endpointSubnets(endpointId: string): Key[] {
    return (this.resources[endpointId].Properties.SubnetIds ?? []).map(refKey);
  }

  private vpcOf(subnets: Key[]): Key | undefined {
    const vpcs = new Set(subnets.map((s) => (this.resources[s] ? refKey(this.resources[s].Properties.VpcId) : undefined)));
    return vpcs.size === 1 ? [...vpcs][0] : undefined;
  }

  private sameVpc(a: Key[], b: Key[]): boolean {
    const va = this.vpcOf(a);
    return va !== undefined && va === this.vpcOf(b);
  }

  private cidrOf(subnet: Key): string | undefined {
    const cidr = this.resources[subnet]?.Properties?.CidrBlock;
    return typeof cidr === 'string' ? cidr : undefined;
  }

  /** The NAT gateway a subnet's default route leads to, if that NAT itself reaches an internet gateway. */
  private natOf(subnet: Key): Key | undefined {
    const nat = this.defaultRoute(subnet)?.NatGatewayId;
    if (!nat) return undefined;
    const natId = refKey(nat);
    const natSubnet = refKey(this.resources[natId]?.Properties?.SubnetId);
    const igw = this.defaultRoute(natSubnet)?.GatewayId;
    if (!igw) return undefined;
    const attached = Object.values(this.resources).some((r: Json) =>
      r.Type === 'AWS::EC2::VPCGatewayAttachment' && refKey(r.Properties.InternetGatewayId) === refKey(igw));
    return attached ? natId : undefined;
  }

  private routeTableOf(subnet: Key): Key | undefined {
    const assoc = Object.values(this.resources).find((r: Json) =>
      r.Type === 'AWS::EC2::SubnetRouteTableAssociation' && refKey(r.Properties.SubnetId) === subnet) as Json;
    return assoc ? refKey(assoc.Properties.RouteTableId) : undefined;
  }

  private defaultRoute(subnet: Key): Json | undefined {
    const table = this.routeTableOf(subnet);
    if (!table) return undefined;
    const route = Object.values(this.resources).find((r: Json) =>
      r.Type === 'AWS::EC2::Route' && refKey(r.Properties.RouteTableId) === table && r.Properties.DestinationCidrBlock === '0.0.0.0/0') as Json;
    return route?.Properties;
  }

  /** The endpoint whose own DNS entry the URL names (`Fn::GetAtt [endpoint, DnsEntries]` inside it), if any. */
  private endpointNamedBy(url: Json): string | undefined {
    const m = /"Fn::GetAtt":\["([A-Za-z0-9]+)","DnsEntries"\]/.exec(JSON.stringify(url ?? null));
    return m ? m[1] : undefined;
  }

  private privateDnsEndpoint(vpc: Key | undefined, service: string): string | undefined {
    return Object.entries(this.resources).find(([, r]: [string, Json]) =>
      r.Type === 'AWS::EC2::VPCEndpoint' && r.Properties.PrivateDnsEnabled === true &&
      refKey(r.Properties.VpcId) === vpc && serviceOf(r.Properties.ServiceName) === service)?.[0];
  }
}

/** The key of `{Ref}`, `{Fn::GetAtt: [id, ...]}` or a literal id. */
function refKey(v: Json): Key {
  if (typeof v === 'string') return v;
  if (v?.Ref) return v.Ref;
  if (v?.['Fn::GetAtt']) return v['Fn::GetAtt'][0];
  return JSON.stringify(v);
}

/** The items of a comma-separated list: a string or an `Fn::Join`. */
function joined(v: Json): Json[] {
  if (typeof v === 'string') return v.split(',');
  const join = v?.['Fn::Join'];
  if (join?.[0] === ',') return join[1];
  // aws-cdk-lib writes `a,b` as Fn::Join ['', [a, ',', b]].
  if (join?.[0] === '') return join[1].filter((part: Json) => part !== ',');
  return [v];
}

function serviceOf(name: Json): string {
  const text = JSON.stringify(name);
  const m = /\.([a-z0-9-]+)"\]\]\}$|\.([a-z0-9-]+)"$/.exec(text);
  return m ? (m[1] ?? m[2]) : text;
}

function toRule(r: Json, peerField: string): Rule {
  const protocol = String(r.IpProtocol);
  const all = protocol === '-1';
  const prefixList = r.DestinationPrefixListId ?? r.SourcePrefixListId;
  return {
    protocol: protocol === '6' ? 'tcp' : protocol,
    from: all ? ANY_PORT.from : Number(r.FromPort),
    to: all ? ANY_PORT.to : Number(r.ToPort),
    peer: r[peerField] !== undefined ? { group: refKey(r[peerField]) }
      : prefixList !== undefined ? { prefixList: refKey(prefixList) }
        : { cidr: String(r.CidrIp ?? r.CidrIpv6) },
  };
}

function peerText(peer: Rule['peer']): string {
  if ('group' in peer) return `group ${peer.group}`;
  if ('prefixList' in peer) return `prefix-list ${peer.prefixList}`;
  return `cidr ${peer.cidr}`;
}

/**
 * Whether a gateway endpoint's policy lets anyone in the VPC put objects in
 * CloudFormation's custom resource response bucket (no policy: full access).
 * That bucket's name carries the Region without dashes, so a resource naming
 * the Region with them does not count.
 */
function allowsCustomResourceResponses(policy: Json): boolean {
  if (policy === undefined) return true;
  const list = (v: Json) => (Array.isArray(v) ? v : [v]);
  return list(policy.Statement ?? []).some((st: Json) => {
    if (st.Effect !== 'Allow') return false;
    if (!(st.Principal === '*' || st.Principal?.AWS === '*')) return false;
    if (!list(st.Action).some((a: string) => ['s3:PutObject', 's3:*', '*'].includes(a))) return false;
    return list(st.Resource).some((res: Json) => {
      const text = JSON.stringify(res);
      return text === '"*"' ||
        /cloudformation-custom-resource-response-([a-z]+[0-9]\/\*"|",\{"Fn::Join":\["",\{"Fn::Split":\["-",\{"Ref":"AWS::Region"\}\]\}\]\},"\/\*")/.test(text);
    });
  });
}

/**
 * Whether a gateway endpoint's policy lets anyone in the VPC get the object
 * `key` of `bucket` (no policy: full access): an Allow statement for any
 * principal, with s3:GetObject (or s3:*, *), whose resource is `*` or the
 * ARN `arn:<partition>:s3:::<bucket>/<key>` (or `<bucket>/*`), the bucket
 * written as in the template.
 */
function allowsObject(policy: Json, bucket: Json, key: string): boolean {
  if (policy === undefined) return true;
  const list = (v: Json) => (Array.isArray(v) ? v : [v]);
  const objectArn = (name: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':s3:::', bucket, `/${name}`]] });
  const accepted = new Set(['"*"', JSON.stringify(objectArn(key)), JSON.stringify(objectArn('*'))]);
  return list(policy.Statement ?? []).some((st: Json) => {
    if (st.Effect !== 'Allow') return false;
    if (!(st.Principal === '*' || st.Principal?.AWS === '*')) return false;
    if (!list(st.Action).some((a: string) => ['s3:GetObject', 's3:*', '*'].includes(a))) return false;
    return list(st.Resource).some((res: Json) => accepted.has(JSON.stringify(res)));
  });
}

function matchesPort(r: Rule, port: number): boolean {
  return (r.protocol === 'tcp' || r.protocol === '-1') && r.from <= port && port <= r.to;
}

/** Whether CIDR `outer` contains CIDR `inner` (IPv4). */
function cidrCovers(outer: string, inner: string | undefined): boolean {
  if (!inner) return false;
  const parse = (c: string) => {
    const [ip, bits] = c.split('/');
    const n = ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
    return { n, bits: Number(bits) };
  };
  const o = parse(outer);
  const i = parse(inner);
  if (Number.isNaN(o.n) || Number.isNaN(i.n) || i.bits < o.bits) return false;
  const size = 2 ** (32 - o.bits);
  return Math.floor(o.n / size) === Math.floor(i.n / size);
}
