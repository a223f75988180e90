/*
 * CloudFormation's side of the custom resource protocol, built from a
 * synthesized template: the requests CloudFormation sends a custom resource's
 * function, field by field as CloudFormation builds them, and a stand-in for
 * the presigned S3 URL it waits at for the answer.
 *
 * Where each part of a request comes from:
 * - The request fields (`RequestType`, `ServiceToken`, `ResponseURL`,
 *   `StackId`, `RequestId`, `ResourceType`, `LogicalResourceId`,
 *   `PhysicalResourceId` for Update and Delete, `ResourceProperties`,
 *   `OldResourceProperties` for Update): "Custom resource request objects",
 *   https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requests.html,
 *   and the types of `@types/aws-lambda` (`CloudFormationCustomResourceEvent`),
 *   which `requestFor` is checked against at compile time.
 * - `ResourceProperties` holds every property of the template resource,
 *   `ServiceToken` and `ServiceTimeout` included (`@types/aws-lambda` types
 *   both in `CloudFormationCustomResourceResourcePropertiesCommon`), with
 *   intrinsic functions resolved, and every scalar a string: CloudFormation
 *   passes numbers and booleans to custom resources as strings (recorded
 *   events show `"ServiceTimeout": "30"`).
 * - `ResponseURL`: a presigned S3 URL of the stack's Region
 *   (`https://cloudformation-custom-resource-response-<region>.s3.<region>.amazonaws.com/...`);
 *   here a local HTTP server with the same path and query shape.
 * - Order: Create; Update with the old properties alongside; a new physical
 *   id in an Update's answer makes CloudFormation send a Delete for the old
 *   id (with the old properties) at clean-up; a failed Create is followed by
 *   a Delete for the physical id the failure answered; a failed Update by an
 *   Update back to the old properties.
 * - Values of attributes (`Fn::GetAtt`) and references (`Ref`) follow the
 *   formats AWS documents for each resource type's return values.
 */
import { randomUUID } from 'node:crypto';
import { createServer, IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type {
  CloudFormationCustomResourceCreateEvent, CloudFormationCustomResourceDeleteEvent, CloudFormationCustomResourceEvent,
  CloudFormationCustomResourceUpdateEvent,
} from 'aws-lambda';
import type { CustomResourceResponse } from '../../src/provider/custom-resource';

/** A template as synthesized. */
export interface Template {
  readonly Resources: Record<string, { Type: string; Properties?: Record<string, unknown>; DependsOn?: string | string[] }>;
}

/** Where the simulated stack lives. */
export interface StackEnvironment {
  readonly stackName: string;
  readonly region: string;
  readonly account: string;
  /** Values to use for `Fn::GetAtt` of given resources, e.g. `{ DbClusterA0CF0968: { 'Endpoint.Address': 'db.lamp.test' } }`. */
  readonly attributes?: Record<string, Record<string, string>>;
}

/** CloudFormation's view of one stack: its id, and the value of every reference in its template. */
export class SimulatedStack {
  readonly stackId: string;

  constructor(readonly template: Template, readonly env: StackEnvironment) {
    // arn:aws:cloudformation:<region>:<account>:stack/<name>/<uuid>
    this.stackId = `arn:aws:cloudformation:${env.region}:${env.account}:stack/${env.stackName}/${randomUUID()}`;
  }

  /** Logical ids of the resources of `type`. */
  resourcesOfType(type: string): string[] {
    return Object.entries(this.template.Resources).filter(([, r]) => r.Type === type).map(([id]) => id);
  }

  /** The custom resources (types `Custom::*` and `AWS::CloudFormation::CustomResource`). */
  customResources(): string[] {
    return Object.entries(this.template.Resources)
      .filter(([, r]) => r.Type.startsWith('Custom::') || r.Type === 'AWS::CloudFormation::CustomResource')
      .map(([id]) => id);
  }

  /** Resource properties as CloudFormation passes them: intrinsics resolved, every scalar a string. */
  properties(logicalId: string, template: Template = this.template): Record<string, any> {
    const resource = template.Resources[logicalId];
    if (!resource) throw new Error(`no resource ${logicalId} in the template`);
    return stringify(this.resolve(resource.Properties ?? {}, template)) as Record<string, any>;
  }

  /** The value CloudFormation substitutes for `value` (any intrinsic function this project's templates use). */
  resolve(value: unknown, template: Template = this.template): unknown {
    const resolve = (v: unknown) => this.resolve(v, template);
    if (Array.isArray(value)) return value.map(resolve);
    if (typeof value !== 'object' || value === null) return value;
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.length === 1) {
      const [fn, arg] = entries[0];
      switch (fn) {
        case 'Ref':
          return this.ref(String(arg), template);
        case 'Fn::GetAtt': {
          const [id, attribute] = Array.isArray(arg) ? arg.map(String) : String(arg).split(/\.(.+)/);
          return this.getAtt(id, attribute, template);
        }
        case 'Fn::Join': {
          const [sep, list] = arg as [string, unknown[]];
          return (resolve(list) as unknown[]).map(String).join(sep);
        }
        case 'Fn::Select': {
          const [index, list] = arg as [unknown, unknown];
          return (resolve(list) as unknown[])[Number(resolve(index))];
        }
        case 'Fn::Split': {
          const [sep, text] = arg as [string, unknown];
          return String(resolve(text)).split(sep);
        }
        case 'Fn::Sub': {
          const [text, vars] = (Array.isArray(arg) ? arg : [arg, {}]) as [string, Record<string, unknown>];
          return text.replace(/\$\{([^}]+)\}/g, (_, name: string) => {
            if (vars[name] !== undefined) return String(resolve(vars[name]));
            const [id, attribute] = name.split(/\.(.+)/);
            return String(attribute ? this.getAtt(id, attribute, template) : this.ref(id, template));
          });
        }
        default:
          if (fn.startsWith('Fn::')) throw new Error(`intrinsic ${fn} is not simulated`);
      }
    }
    return Object.fromEntries(entries.map(([k, v]) => [k, resolve(v)]));
  }

  private ref(id: string, template: Template): string {
    switch (id) {
      case 'AWS::Region': return this.env.region;
      case 'AWS::AccountId': return this.env.account;
      case 'AWS::Partition': return 'aws';
      case 'AWS::URLSuffix': return 'amazonaws.com';
      case 'AWS::StackName': return this.env.stackName;
      case 'AWS::StackId': return this.stackId;
      case 'AWS::NoValue': return '';
    }
    const resource = template.Resources[id];
    if (!resource) throw new Error(`Ref to ${id}, which is not in the template`);
    const name = physicalName(id);
    const { region, account } = this.env;
    switch (resource.Type) {
      // Ref returns the secret's ARN (for an attachment: the attached secret's).
      case 'AWS::SecretsManager::Secret':
      case 'AWS::SecretsManager::SecretTargetAttachment':
        return `arn:aws:secretsmanager:${region}:${account}:secret:${name}-AbCdEf`;
      case 'AWS::RDS::DBCluster':
      case 'AWS::RDS::DBInstance':
        return name.toLowerCase();
      case 'AWS::KMS::Key':
        return '0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0';
      default:
        return name;
    }
  }

  private getAtt(id: string, attribute: string, template: Template): string {
    const given = this.env.attributes?.[id]?.[attribute];
    if (given !== undefined) return given;
    const resource = template.Resources[id];
    if (!resource) throw new Error(`Fn::GetAtt of ${id}, which is not in the template`);
    const { region, account } = this.env;
    const name = physicalName(id);
    switch (`${resource.Type}.${attribute}`) {
      case 'AWS::Lambda::Function.Arn':
        return `arn:aws:lambda:${region}:${account}:function:${name}`;
      case 'AWS::RDS::DBCluster.Endpoint.Address':
        return `${name.toLowerCase()}.cluster-c0abcdefghij.${region}.rds.amazonaws.com`;
      case 'AWS::RDS::DBCluster.Endpoint.Port':
        return '3306';
      case 'AWS::RDS::DBCluster.DBClusterResourceId':
        return 'cluster-ABCDEFGHIJKLMNOPQRSTUVWXY0';
      case 'AWS::IAM::Role.Arn':
        return `arn:aws:iam::${account}:role/${name}`;
      case 'AWS::KMS::Key.Arn':
        return `arn:aws:kms:${region}:${account}:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0`;
      default:
        throw new Error(`Fn::GetAtt ${resource.Type}.${attribute} is not simulated`);
    }
  }

  /**
   * The request CloudFormation sends for `logicalId`. For Update and Delete,
   * give the physical id of the last answer; for Update, the properties it
   * had (`oldTemplate`, or the same template).
   */
  requestFor(
    requestType: 'Create' | 'Update' | 'Delete',
    logicalId: string,
    options: { bucket: ResponseUrls; physicalId?: string; template?: Template; oldTemplate?: Template; oldLogicalId?: string },
  ): CloudFormationCustomResourceEvent {
    const template = options.template ?? this.template;
    const resource = template.Resources[logicalId];
    const properties = this.properties(logicalId, template);
    const requestId = randomUUID();
    const common = {
      ServiceToken: properties.ServiceToken,
      ResponseURL: options.bucket.urlFor(requestId),
      StackId: this.stackId,
      RequestId: requestId,
      ResourceType: resource.Type,
      LogicalResourceId: logicalId,
      ResourceProperties: properties as { ServiceToken: string },
    };
    switch (requestType) {
      case 'Create':
        return { ...common, RequestType: 'Create' } satisfies CloudFormationCustomResourceCreateEvent;
      case 'Update':
        return {
          ...common,
          RequestType: 'Update',
          PhysicalResourceId: required(options.physicalId, 'Update needs the physical id'),
          OldResourceProperties: this.properties(options.oldLogicalId ?? logicalId, options.oldTemplate ?? template) as { ServiceToken: string },
        } satisfies CloudFormationCustomResourceUpdateEvent;
      case 'Delete':
        return {
          ...common,
          RequestType: 'Delete',
          PhysicalResourceId: required(options.physicalId, 'Delete needs the physical id'),
        } satisfies CloudFormationCustomResourceDeleteEvent;
    }
  }
}

function required<T>(value: T | undefined, message: string): T {
  if (value === undefined) throw new Error(message);
  return value;
}

/** A physical name in the style CloudFormation generates from a logical id. */
function physicalName(logicalId: string): string {
  return `${logicalId.slice(0, 40)}-A1B2C3D4E5F6`;
}

/** Every scalar as a string, as CloudFormation passes properties to a custom resource. */
export function stringify(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stringify);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, stringify(v)]));
  }
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
}

/** Where CloudFormation waits for the answer to each request: one presigned URL per request. */
export interface ResponseUrls {
  urlFor(requestId: string): string;
}

/** One answer the function PUT to the response URL, and when it arrived (ms since the epoch). */
export type Answer = CustomResourceResponse & { readonly at: number };

/** A stand-in for CloudFormation's presigned response URLs: records each answer by request. */
export class ResponseBucket implements ResponseUrls {
  static async start(region: string): Promise<ResponseBucket> {
    const bucket = new ResponseBucket(region);
    await new Promise<void>((resolve) => bucket.server.listen(0, '127.0.0.1', resolve));
    return bucket;
  }

  /** Answers by RequestId (each URL is unique to its request). */
  readonly answers = new Map<string, Answer[]>();
  private readonly server: Server;

  private constructor(private readonly region: string) {
    this.server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        const requestId = decodeURIComponent(/\/([^/?]+)\?/.exec(req.url ?? '')?.[1] ?? '');
        const list = this.answers.get(requestId) ?? [];
        // A presigned PUT accepts the body it was signed for: the function must send an empty content type.
        if (req.method !== 'PUT' || req.headers['content-type'] !== '') {
          res.statusCode = 403;
          res.end();
          return;
        }
        list.push({ ...JSON.parse(body), at: Date.now() });
        this.answers.set(requestId, list);
        res.end();
      });
    });
  }

  /**
   * A URL shaped like CloudFormation's:
   * `/<stack id>|<logical id>|<request id>?X-Amz-Algorithm=...`, with the
   * request id last in the path so that answers can be told apart.
   */
  urlFor(requestId: string): string {
    const port = (this.server.address() as AddressInfo).port;
    return `http://127.0.0.1:${port}/cloudformation-custom-resource-response-${this.region.replace(/-/g, '')}/${encodeURIComponent(requestId)}` +
      `?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20261204T120000Z&X-Amz-SignedHeaders=host&X-Amz-Expires=7200&X-Amz-Signature=${'0'.repeat(64)}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
