/*
 * PHP-FPM configured as Bref's web runtime configures it (layers/php-fpm.conf
 * in brefphp/aws-lambda-layers: `pm = static`, `pm.max_children = 1`,
 * `clear_env = no`, a Unix socket, `catch_workers_output = yes`), serving
 * the test web app (test/fixtures/php-web/index.php), and requests sent to it
 * over FastCGI with `cgi-fcgi` (Debian's libfcgi-bin), as API Gateway's
 * adapter would.
 */
import { ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isCi } from './mariadb';
import { closeServer, listen, portOf } from './net';
import { CONNECTOR } from './php';

/** The front controller of the test web app. */
export const WEB_APP = resolve(__dirname, '..', 'fixtures', 'php-web', 'index.php');

export type FpmAvailability =
  | { readonly available: true; readonly fpm: string; readonly cgiFcgi: string }
  | { readonly available: false; readonly reason: string };

const PACKAGES = 'apt-get install php-fpm php-apcu php-mysql libfcgi-bin php-laravel-framework php-doctrine-dbal';

function which(names: string[]): string | undefined {
  for (const name of names) {
    for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/usr/local/sbin'])) {
      if (dir && existsSync(join(dir, name))) return join(dir, name);
    }
  }
  return undefined;
}

/** PHP-FPM (8.2+) with pdo_mysql, mysqli and APCu, cgi-fcgi, Laravel's and Doctrine DBAL's sources. */
export function fpmAvailability(): FpmAvailability {
  const fpm = process.env.PHP_FPM_BINARY || which(['php-fpm', 'php-fpm8.5', 'php-fpm8.4', 'php-fpm8.3', 'php-fpm8.2']);
  if (!fpm) return { available: false, reason: `no php-fpm; ${PACKAGES}` };
  const cgiFcgi = which(['cgi-fcgi']);
  if (!cgiFcgi) return { available: false, reason: `no cgi-fcgi; ${PACKAGES}` };
  let modules: string;
  try {
    modules = execFileSync(fpm, ['-m'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  } catch (err) {
    return { available: false, reason: `${fpm} -m failed: ${(err as Error).message.split('\n')[0]}` };
  }
  const missing = ['pdo_mysql', 'mysqli', 'apcu', 'openssl'].filter((m) => !new RegExp(`^${m}$`, 'm').test(modules));
  if (missing.length > 0) return { available: false, reason: `${fpm} lacks ${missing.join(', ')}; ${PACKAGES}` };
  for (const source of ['/usr/share/php/Illuminate/Database/autoload.php', '/usr/share/php/Doctrine/DBAL/autoload.php']) {
    if (!existsSync(source)) return { available: false, reason: `no ${source}; ${PACKAGES}` };
  }
  return { available: true, fpm, cgiFcgi };
}

/** As phpOrSkip: outside CI a missing PHP-FPM skips with a warning; with CI set it is an error. */
export function fpmOrSkip(suite: string): FpmAvailability {
  const availability = fpmAvailability();
  if (!availability.available) {
    if (isCi()) throw new Error(`${suite}: PHP-FPM is required in CI but unavailable: ${availability.reason}`);
    // eslint-disable-next-line no-console
    console.warn(`SKIPPED ${suite}: ${availability.reason} (set CI=true to make this an error)`);
  }
  return availability;
}

export interface FpmResponse {
  /** The HTTP status PHP set (200 when it set none). */
  readonly status: number;
  /** The body, parsed as JSON. */
  readonly json: any;
  readonly body: string;
}

export interface PhpFpmOptions {
  /** The environment of PHP-FPM, which its worker keeps (`clear_env = no`). */
  readonly env: Record<string, string | undefined>;
  /** `-d` settings, e.g. `apc.enabled=0`. */
  readonly ini?: string[];
}

/** One PHP-FPM master with one static worker. */
export class PhpFpm {
  static async start(availability: FpmAvailability & { available: true }, options: PhpFpmOptions): Promise<PhpFpm> {
    const fpm = new PhpFpm(availability, options);
    await fpm.ready();
    return fpm;
  }

  readonly dir: string;
  readonly socket: string;
  private readonly proc: ChildProcess;
  private log = '';
  private readonly exited: Promise<void>;

  private constructor(private readonly availability: FpmAvailability & { available: true }, options: PhpFpmOptions) {
    this.dir = mkdtempSync(join(tmpdir(), 'lamp-fpm-'));
    this.socket = join(this.dir, 'php-fpm.sock');
    const conf = join(this.dir, 'php-fpm.conf');
    writeFileSync(conf, [
      '[global]',
      `error_log = ${join(this.dir, 'php-fpm.log')}`,
      `pid = ${join(this.dir, 'php-fpm.pid')}`,
      'daemonize = no',
      'log_limit = 8192',
      '[default]',
      'pm = static',
      'pm.max_children = 1',
      `listen = ${this.socket}`,
      'clear_env = no',
      'catch_workers_output = yes',
      'decorate_workers_output = no',
      '',
    ].join('\n'));
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', TMPDIR: this.dir, LAMP_CONNECTOR: CONNECTOR };
    for (const [k, v] of Object.entries(options.env)) if (v !== undefined) env[k] = v;
    const ini = ['display_errors=stderr', 'log_errors=0', 'error_reporting=-1', ...(options.ini ?? [])].flatMap((s) => ['-d', s]);
    // The master runs as root only when told to (-R); the worker as the same user.
    const root = process.getuid?.() === 0 ? ['-R'] : [];
    this.proc = spawn(availability.fpm, ['-F', '-y', conf, ...root, ...ini], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc.stdout!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.proc.stderr!.on('data', (d: Buffer) => (this.log += d.toString()));
    this.exited = new Promise((done) => this.proc.once('exit', () => done()));
  }

  /** What PHP-FPM and its worker printed. */
  get output(): string {
    const file = join(this.dir, 'php-fpm.log');
    return this.log + (existsSync(file) ? readFileSync(file, 'utf8') : '');
  }

  private async ready(): Promise<void> {
    for (let i = 0; i < 200; i++) {
      if (existsSync(this.socket) && /ready to handle connections/.test(this.output)) return;
      if (this.proc.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`PHP-FPM did not start:\n${this.output}`);
  }

  /** One GET request to the web app, through cgi-fcgi. */
  request(query: Record<string, string | number>): Promise<FpmResponse> {
    const queryString = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)])).toString();
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      GATEWAY_INTERFACE: 'CGI/1.1',
      REQUEST_METHOD: 'GET',
      SCRIPT_FILENAME: WEB_APP,
      SCRIPT_NAME: '/index.php',
      REQUEST_URI: `/?${queryString}`,
      QUERY_STRING: queryString,
      SERVER_PROTOCOL: 'HTTP/1.1',
      SERVER_NAME: 'localhost',
    };
    return new Promise((resolvePromise, reject) => {
      execFile(this.availability.cgiFcgi, ['-bind', '-connect', this.socket], { env, encoding: 'utf8', timeout: 30_000 }, (err, stdout) => {
        if (err) return reject(new Error(`cgi-fcgi failed: ${err.message}\n${this.output}`));
        const split = stdout.indexOf('\r\n\r\n');
        const head = split < 0 ? '' : stdout.slice(0, split);
        const body = split < 0 ? stdout : stdout.slice(split + 4);
        const status = Number(/^Status: (\d+)/im.exec(head)?.[1] ?? 200);
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          return reject(new Error(`not JSON (status ${status}): ${body}\n${this.output}`));
        }
        resolvePromise({ status, json, body });
      });
    });
  }

  async stop(): Promise<void> {
    this.log = this.output;
    if (this.proc.exitCode === null) {
      this.proc.kill('SIGTERM');
      const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
      await this.exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * A TCP relay to 127.0.0.1:port whose connections the test can cut: the
 * client's side only (the server goes on and finishes what it runs), or both.
 */
export async function severableRelay(port: number) {
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  const upstreams = new Set<Socket>();
  const server = await listen(
    createServer((client) => {
      const upstream = new Socket();
      upstreams.add(upstream);
      upstream.on('close', () => upstreams.delete(upstream));
      const pair = { client, upstream };
      pairs.add(pair);
      upstream.connect(port, '127.0.0.1');
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('error', () => undefined);
      upstream.on('error', () => undefined);
      client.on('close', () => {
        pairs.delete(pair);
        client.unpipe(upstream);
        upstream.unpipe(client);
      });
      upstream.on('close', () => client.destroy());
    }),
  );
  return {
    server,
    port: portOf(server),
    /** Cut every connection: the client's side, and with `upstream` the server's too. */
    sever(opts: { upstream: boolean }): number {
      let n = 0;
      for (const pair of [...pairs]) {
        pair.client.unpipe(pair.upstream);
        pair.upstream.unpipe(pair.client);
        pair.client.destroy();
        if (opts.upstream) pair.upstream.destroy();
        else pair.upstream.resume(); // drain the server's answer
        n++;
      }
      return n;
    },
    close(): Promise<void> {
      this.sever({ upstream: true });
      for (const upstream of upstreams) upstream.destroy();
      return closeServer(server);
    },
  };
}

/**
 * A TCP relay to 127.0.0.1:port that hangs up on both sides, without passing
 * it on, the first time the client's bytes would exceed `limit`: placed after
 * the TLS handshake and before the encrypted handshake response (which holds
 * the ~1 KB token) gets through, it stands for a proxy that drops a connection
 * after TLS, once the credentials were sent (as in a failover).
 */
export async function hangUpAfter(port: number, limit: number) {
  let cut = 0;
  const server = await listen(
    createServer((client) => {
      const upstream = new Socket();
      let sent = 0;
      upstream.connect(port, '127.0.0.1');
      upstream.pipe(client);
      client.on('data', (d: Buffer) => {
        if (sent + d.length > limit) {
          cut++;
          client.destroy();
          upstream.destroy();
          return;
        }
        sent += d.length;
        upstream.write(d);
      });
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    }),
  );
  return { server, port: portOf(server), cut: () => cut, close: () => closeServer(server) };
}
