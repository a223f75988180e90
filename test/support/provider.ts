/*
 * Test support for the users provider: a local stand-in for Secrets Manager
 * (the GetSecretValue operation of its JSON 1.1 protocol, over HTTP), and a
 * runner that invokes the bundled function in a Node.js process of its own,
 * as a cold Lambda execution environment would.
 *
 * Why a process and not `require` in the test: the SDK's HTTP handler loads
 * `node:http` with a dynamic `import()`, which Jest's module sandbox refuses
 * (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING_FLAG). Production endpoints are
 * HTTPS (loaded statically), the stand-in here speaks HTTP.
 */
import { spawn } from 'node:child_process';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FAKE_CREDENTIALS, FAKE_REGION } from './mariadb';

/** The versions of one secret, by stage. */
export interface FakeSecret {
  /** AWSCURRENT's SecretString. */
  current: string;
  /** AWSPENDING's SecretString, if a rotation is under way. */
  pending?: string;
}

/** One request the fake received. */
export interface SecretRequest {
  readonly target: string;
  readonly secretId?: string;
  readonly versionStage?: string;
  /** The SigV4 Authorization header (the fake does not verify signatures, only that one is sent). */
  readonly authorization?: string;
}

/**
 * A Secrets Manager stand-in answering `secretsmanager.GetSecretValue` as the
 * service does (`application/x-amz-json-1.1`), with ResourceNotFoundException
 * for unknown secrets and missing version stages.
 */
export class FakeSecretsManager {
  static async start(): Promise<FakeSecretsManager> {
    const fake = new FakeSecretsManager();
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  readonly secrets = new Map<string, FakeSecret>();
  readonly requests: SecretRequest[] = [];
  /** While true, requests are read and never answered (an endpoint that hangs). */
  stall = false;
  private readonly server: Server;

  private constructor() {
    this.server = createServer((req, res) => this.handle(req, res));
  }

  /** The endpoint URL to give the function (`SECRETS_MANAGER_ENDPOINT`). */
  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Store `value` as JSON under `arn` (AWSCURRENT), without a pending version. */
  put(arn: string, value: object | string): void {
    this.secrets.set(arn, { current: typeof value === 'string' ? value : JSON.stringify(value) });
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (this.stall) return;
      const target = String(req.headers['x-amz-target'] ?? '');
      let body: { SecretId?: string; VersionStage?: string } = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      } catch {
        // answered below as a bad request
      }
      this.requests.push({
        target,
        secretId: body.SecretId,
        versionStage: body.VersionStage,
        authorization: req.headers.authorization,
      });
      const reply = (status: number, payload: object) => {
        res.writeHead(status, { 'content-type': 'application/x-amz-json-1.1', 'x-amzn-requestid': 'fake-request' });
        res.end(JSON.stringify(payload));
      };
      if (target !== 'secretsmanager.GetSecretValue') {
        reply(400, { __type: 'UnknownOperationException', message: `unsupported target ${target}` });
        return;
      }
      const secret = body.SecretId ? this.secrets.get(body.SecretId) : undefined;
      const stage = body.VersionStage ?? 'AWSCURRENT';
      const value = stage === 'AWSCURRENT' ? secret?.current : stage === 'AWSPENDING' ? secret?.pending : undefined;
      if (!secret || value === undefined) {
        reply(400, {
          __type: 'ResourceNotFoundException',
          message: secret ? "Secrets Manager can't find the specified secret value for staging label: " + stage : "Secrets Manager can't find the specified secret.",
        });
        return;
      }
      reply(200, {
        ARN: body.SecretId,
        Name: body.SecretId!.split(':').pop(),
        SecretString: value,
        VersionId: `${stage}-version`,
        VersionStages: [stage],
        CreatedDate: 1767225600,
      });
    });
  }
}

/** A Secrets Manager secret ARN in the fake account. */
export function secretArn(name: string): string {
  return `arn:aws:secretsmanager:us-east-1:123456789012:secret:${name}-AbCdEf`;
}

/** What one invocation of the bundle returned or threw, and everything it wrote. */
export interface Invocation<R> {
  readonly ok: boolean;
  readonly result?: R;
  /** The thrown error: its message, name, and own enumerable keys (Lambda reports those too). */
  readonly error?: { readonly message: string; readonly name: string; readonly keys: string[] };
  /** The function's counters (`stats`) after the invocation. */
  readonly stats: Record<string, number>;
  /** Host names the process resolved through the test's host map. */
  readonly resolved: string[];
  /** Every line the process wrote to stdout and stderr, except the result. */
  readonly lines: string[];
  /** The process was ended at `killAfterMs`, before it finished. */
  readonly killed?: boolean;
}

export interface InvokeOptions {
  /** What `context.getRemainingTimeInMillis()` starts from. */
  readonly remainingMs: number;
  /** The process environment. */
  readonly env: Record<string, string>;
  /** Host names resolved to another name (e.g. `{ 'db.lamp.test': 'localhost' }`), by wrapping `dns.lookup`. */
  readonly hosts?: Record<string, string>;
  /**
   * TCP ports connected to another port (e.g. `{ 3306: 41234 }`: the
   * template's MySQL port to the test server's), by wrapping `net.connect`.
   */
  readonly ports?: Record<number, number>;
  /** End the process after this long, as Lambda ends a function at its timeout (default: never). */
  readonly killAfterMs?: number;
}

const RESULT_MARK = '@@provider-test-result@@';

/** The process's program: map host names, load the bundle, invoke its handler once, print the outcome. */
const RUNNER = `
const [bundle, eventJson, remainingMs, hostsJson, mark, portsJson] = process.argv.slice(1);
const hosts = JSON.parse(hostsJson);
const ports = JSON.parse(portsJson);
const resolved = [];
const dns = require('node:dns');
const lookup = dns.lookup;
dns.lookup = (hostname, ...rest) => {
  if (hosts[hostname] !== undefined) resolved.push(hostname);
  if (hosts[hostname] === '') {
    // An unknown name, as the resolver answers for a deleted cluster.
    const callback = rest[rest.length - 1];
    const err = Object.assign(new Error('getaddrinfo ENOTFOUND ' + hostname), { code: 'ENOTFOUND', errno: -3008, syscall: 'getaddrinfo', hostname });
    return process.nextTick(() => callback(err));
  }
  return lookup(hosts[hostname] ?? hostname, ...rest);
};
const net = require('node:net');
for (const name of ['connect', 'createConnection']) {
  const original = net[name];
  net[name] = function (...args) {
    if (typeof args[0] === 'number' && ports[args[0]] !== undefined) args[0] = ports[args[0]];
    else if (typeof args[0] === 'object' && args[0] && ports[args[0].port] !== undefined) args[0] = { ...args[0], port: ports[args[0].port] };
    return original.apply(this, args);
  };
}
const mod = require(bundle);
const end = Date.now() + Number(remainingMs);
const context = { getRemainingTimeInMillis: () => Math.max(0, end - Date.now()), awsRequestId: 'test-request' };
const report = (outcome) => process.stdout.write('\\n' + mark + JSON.stringify({ ...outcome, stats: mod.stats, resolved }) + '\\n', () => process.exit(0));
mod.handler(JSON.parse(eventJson), context).then(
  (result) => report({ ok: true, result }),
  (err) => report({ ok: false, error: { message: String(err && err.message), name: String(err && err.name), keys: Object.keys(err || {}) } }),
);
`;

/** Invoke the bundle's `handler` with `event` in a new Node.js process. */
export async function invokeBundle<R>(bundle: string, event: object, options: InvokeOptions): Promise<Invocation<R>> {
  const child = spawn(
    process.execPath,
    ['--no-warnings', '-e', RUNNER, bundle, JSON.stringify(event), String(options.remainingMs), JSON.stringify(options.hosts ?? {}), RESULT_MARK,
      JSON.stringify(options.ports ?? {})],
    { env: options.env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const killer = options.killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.killAfterMs);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(killer);
  const at = stdout.lastIndexOf(RESULT_MARK);
  if (at < 0 && options.killAfterMs !== undefined) {
    // Ended like a function at its timeout: no result, only what it wrote.
    return { ok: false, killed: true, stats: {}, resolved: [], lines: (stdout + '\n' + stderr).split('\n').filter((l) => l.trim() !== '') };
  }
  if (at < 0) {
    throw new Error(`the function's process ended (code ${code}) without a result:\n${stdout}\n${stderr}`);
  }
  const outcome = JSON.parse(stdout.slice(at + RESULT_MARK.length).trim());
  const lines = (stdout.slice(0, at) + '\n' + stderr).split('\n').filter((l) => l.trim() !== '');
  return { ...outcome, lines };
}

/**
 * The users provider's environment, as Lambda and the construct set it,
 * pointed at the stand-ins: nothing else (no AWS config files, no metadata
 * service).
 */
export function providerEnvironment(secrets: FakeSecretsManager, caFile: string): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: FAKE_CREDENTIALS.sessionToken,
    AWS_REGION: FAKE_REGION,
    AWS_CONFIG_FILE: '/nonexistent/aws-config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
    AWS_EC2_METADATA_DISABLED: 'true',
    SECRETS_MANAGER_ENDPOINT: secrets.endpoint,
    DB_CA_BUNDLE_FILE: caFile,
  };
}

/** Makes the master user on a test server as Aurora's is: a password, every privilege, the grant option, TLS required. */
export async function createMasterUser(server: { adminQuery(sql: string): Promise<unknown> }, username: string, password: string): Promise<void> {
  const literal = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
  await server.adminQuery(`CREATE USER '${username}'@'%' IDENTIFIED BY ${literal(password)} REQUIRE SSL`);
  await server.adminQuery(`GRANT ALL PRIVILEGES ON *.* TO '${username}'@'%' WITH GRANT OPTION`);
}
