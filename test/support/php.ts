/* eslint-disable no-bitwise -- the fake server below writes MySQL protocol bytes */
/*
 * Drive the PHP connector (php/serverless-lamp/Database.php) from jest.
 *
 * A `PhpWorker` is one long-lived PHP CLI process, like a warm Lambda
 * environment: it `require`s the connector once and runs commands read as JSON
 * lines from stdin, so the connector's static state (connection, token cache,
 * counters) carries over from one command to the next, and the test can act on
 * the server in between (kill the connection, change the accepted token).
 *
 * PHP runs with `zend.exception_ignore_args=0` and no limit on the length of
 * string arguments in stack traces (production settings hide them), so a
 * token passed around unredacted would show in the traces the worker reports.
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { isCi, MariaDbServer } from './mariadb';
import { listen } from './net';

/** The connector as it ships. */
export const CONNECTOR = resolve(__dirname, '..', '..', 'php', 'serverless-lamp', 'Database.php');

/** Either a usable PHP CLI, or why there is none. */
export type PhpAvailability =
  | { readonly available: true; readonly php: string; readonly version: string }
  | { readonly available: false; readonly reason: string };

/** Find a PHP CLI (env PHP_BINARY, else `php` on PATH), 8.2 or later, with mysqli on mysqlnd and openssl. */
export function phpAvailability(): PhpAvailability {
  const php = process.env.PHP_BINARY || 'php';
  let out: string;
  try {
    out = execFileSync(
      php,
      ['-r', 'echo PHP_VERSION, "|", implode(",", array_filter(["mysqli", "mysqlnd", "openssl"], fn ($e) => !extension_loaded($e)));'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 },
    );
  } catch (err) {
    return { available: false, reason: `no PHP CLI '${php}' (${(err as Error).message.split('\n')[0]}); apt-get install php-cli php-mysql` };
  }
  const [version, missing] = out.trim().split('|');
  const [major, minor] = version.split('.').map(Number);
  if (major < 8 || (major === 8 && minor < 2)) {
    return { available: false, reason: `PHP ${version} is older than 8.2` };
  }
  if (missing) {
    return { available: false, reason: `PHP ${version} lacks the extensions ${missing}; apt-get install php-mysql` };
  }
  return { available: true, php, version };
}

/**
 * Decide whether a test file runs: outside CI a missing PHP skips with a
 * console.warn naming the reason; with CI set it is an error.
 */
export function phpOrSkip(suite: string): PhpAvailability {
  const availability = phpAvailability();
  if (!availability.available) {
    if (isCi()) {
      throw new Error(`${suite}: PHP is required in CI but unavailable: ${availability.reason}`);
    }
    // eslint-disable-next-line no-console
    console.warn(`SKIPPED ${suite}: ${availability.reason} (set CI=true to make this an error)`);
  }
  return availability;
}

/** Settings under which the connector must keep the token out of every output. */
const PHP_INI = [
  'zend.exception_ignore_args=0',
  'zend.exception_string_param_max_len=1000000',
  'display_errors=stderr',
  'error_reporting=-1',
  'log_errors=0',
  'html_errors=0',
];

/* The worker's command loop. `$argv[1]` is the connector. */
const DRIVER = String.raw`<?php
declare(strict_types=1);
require $argv[1];
use ServerlessLamp\Database;
use ServerlessLamp\DatabaseException;

$rows = static fn ($result) => $result instanceof mysqli_result ? $result->fetch_all(MYSQLI_NUM) : $result;
while (($line = fgets(STDIN)) !== false) {
    $request = json_decode($line, true, 512, JSON_THROW_ON_ERROR);
    $args = $request['args'] ?? [];
    try {
        $result = match ($request['op']) {
            'clock' => Database::useClock($args['at'] === null ? null : static fn (): int => $args['at']),
            'query' => $rows(Database::query($args['sql'], $args['params'] ?? [])),
            'connectionQuery' => $rows(Database::connection()->query($args['sql'])),
            'pdo' => Database::pdo()->query($args['sql'])->fetchAll(PDO::FETCH_NUM),
            // Statements in Database::transaction(); with 'swallow', a failed
            // one is caught and the rest still attempted (as careless code does).
            'transaction' => Database::transaction(static function () use ($args, $rows): array {
                $results = [];
                foreach ($args['statements'] as $sql) {
                    try {
                        $results[] = $rows(Database::query($sql));
                    } catch (DatabaseException $e) {
                        if (!($args['swallow'] ?? false)) {
                            throw $e;
                        }
                        $results[] = ['failed' => $e->reason];
                    }
                }
                return $results;
            }),
            'authToken' => Database::authToken(),
            'sign' => array_map(static fn (array $i): string => Database::signAuthToken(...$i), $args['inputs']),
            'stats' => Database::stats(),
            'close' => Database::close(),
        };
        $response = ['id' => $request['id'], 'result' => $result];
    } catch (Throwable $e) {
        $response = ['id' => $request['id'], 'error' => [
            'class' => get_class($e),
            'reason' => $e instanceof DatabaseException ? $e->reason : null,
            'code' => $e->getCode(),
            'message' => $e->getMessage(),
            'output' => (string) $e,
        ]];
    }
    fwrite(STDOUT, json_encode($response, JSON_THROW_ON_ERROR | JSON_INVALID_UTF8_SUBSTITUTE) . "\n");
}
`;

/** What a failed command threw in PHP. */
export interface PhpError {
  readonly class: string;
  /** `DatabaseException::$reason`, or null for other exceptions. */
  readonly reason: string | null;
  readonly code: number;
  readonly message: string;
  /** The exception as PHP prints it, with its stack trace. */
  readonly output: string;
}

/** A thrown PHP exception, carried to the test. */
export class PhpException extends Error {
  constructor(readonly php: PhpError) {
    super(`${php.class}${php.reason ? ` (${php.reason})` : ''}: ${php.message}`);
  }
}

export interface PhpWorkerOptions {
  /** The whole environment of the PHP process (nothing is inherited but PATH). */
  readonly env: Record<string, string | undefined>;
  /** Extra `-d` settings, e.g. `openssl.cafile=...`. */
  readonly ini?: string[];
}

let driverDir: string | undefined;

/** Write the driver script (once per test file). */
function driverFile(): string {
  driverDir ??= mkdtempSync(join(tmpdir(), 'lamp-php-'));
  const file = join(driverDir, 'driver.php');
  writeFileSync(file, DRIVER);
  return file;
}

/** One PHP process holding the connector's state. */
export class PhpWorker {
  static start(php: string, options: PhpWorkerOptions): PhpWorker {
    return new PhpWorker(php, options);
  }

  /** Remove the driver script written for this test file. */
  static cleanup(): void {
    if (driverDir) rmSync(driverDir, { recursive: true, force: true });
    driverDir = undefined;
  }

  private readonly proc: ChildProcess;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private stderr = '';
  private readonly errors: PhpError[] = [];
  private readonly exited: Promise<void>;

  private constructor(php: string, options: PhpWorkerOptions) {
    const driver = driverFile();
    // The connector keeps tokens and counters per process in a file under the
    // temporary directory (the CLI has no APCu): one of this test file's own.
    const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/bin:/bin', TMPDIR: driverDir! };
    for (const [k, v] of Object.entries(options.env)) if (v !== undefined) env[k] = v;
    const ini = [...PHP_INI, ...(options.ini ?? [])].flatMap((s) => ['-d', s]);
    this.proc = spawn(php, [...ini, driver, CONNECTOR], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    createInterface({ input: this.proc.stdout! }).on('line', (line) => {
      let response: { id: number; result?: unknown; error?: PhpError };
      try {
        response = JSON.parse(line);
      } catch {
        this.stderr += `${line}\n`; // not a response: PHP printed something
        return;
      }
      if (response.error) this.errors.push(response.error);
      const waiter = this.pending.get(response.id);
      this.pending.delete(response.id);
      if (!waiter) return;
      if (response.error) waiter.reject(new PhpException(response.error));
      else waiter.resolve(response.result);
    });
    this.exited = new Promise((done) =>
      this.proc.once('exit', (code, signal) => {
        for (const waiter of this.pending.values()) {
          waiter.reject(new Error(`PHP exited (code ${code}, signal ${signal}):\n${this.stderr}`));
        }
        this.pending.clear();
        done();
      }),
    );
  }

  /** Run one driver command; rejects with a `PhpException` when PHP threw. */
  call<T = unknown>(op: string, args: Record<string, unknown> = {}): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolvePromise, reject) => {
      this.pending.set(id, { resolve: resolvePromise as (v: unknown) => void, reject });
      this.proc.stdin!.write(`${JSON.stringify({ id, op, args })}\n`);
    });
  }

  /** The PHP exception a command threw (fails when it did not throw). */
  async error(op: string, args: Record<string, unknown> = {}): Promise<PhpError> {
    try {
      await this.call(op, args);
    } catch (err) {
      if (err instanceof PhpException) return err.php;
      throw err;
    }
    throw new Error(`${op} did not fail`);
  }

  /**
   * What PHP printed besides its answers (warnings, notices, fatal errors),
   * and every exception it threw, with message and stack trace.
   */
  get diagnostics(): string {
    return [this.stderr, ...this.errors.map((e) => e.output)].join('\n');
  }

  /** End the process (stdin closed, so the loop ends) and wait for it. */
  async stop(): Promise<void> {
    this.proc.stdin!.end();
    const timer = setTimeout(() => this.proc.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
  }
}

/** Run a PHP snippet (no `<?php`) once with `env`; resolves with its output. */
export function runPhp(
  php: string,
  code: string,
  env: Record<string, string> = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const proc = spawn(php, [...PHP_INI.flatMap((s) => ['-d', s]), '-r', code], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.on('error', reject);
    proc.on('exit', (status) => resolvePromise({ status, stdout, stderr }));
  });
}

/**
 * A MariaDB server whose certificate chains to its own CA (`caFile`) but names
 * only `db.example.invalid`: not 127.0.0.1, the address clients reach it at.
 * (The later ssl-* lines override the defaults of test/support/mariadb.ts.)
 */
export async function startWrongNameServer(): Promise<{ server: MariaDbServer; caFile: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'lamp-php-tls-'));
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  openssl([
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '3', '-subj', '/CN=serverless-lamp-database wrong-name test CA',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  openssl([
    'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=db.example.invalid',
  ]);
  writeFileSync(
    join(dir, 'server.ext'),
    [
      'basicConstraints=CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=DNS:db.example.invalid',
      '',
    ].join('\n'),
  );
  openssl([
    'x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.pem', '-days', '3', '-extfile', 'server.ext',
  ]);
  const server = await MariaDbServer.start({
    extraConfig: [`ssl-ca=${join(dir, 'ca.pem')}`, `ssl-cert=${join(dir, 'server.pem')}`, `ssl-key=${join(dir, 'server.key')}`],
  });
  return { server, caFile: join(dir, 'ca.pem'), dir };
}

/**
 * `openssl s_client -starttls mysql` against 127.0.0.1:port: the verify result
 * line for the chain against `caFile` (and `hostname`, when given).
 */
export function opensslVerify(port: number, caFile: string, hostname?: string): string {
  let out: string;
  try {
    out = execFileSync(
      'openssl',
      ['s_client', '-starttls', 'mysql', '-connect', `127.0.0.1:${port}`, '-CAfile', caFile, ...(hostname ? ['-verify_hostname', hostname] : [])],
      { input: '', encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], timeout: 10_000 },
    );
  } catch (err) {
    out = String((err as { stdout?: string }).stdout ?? '');
  }
  return /Verify return code: .*/.exec(out)?.[0] ?? `no verify result in:\n${out}`;
}

/**
 * A fake MySQL server whose greeting lacks CLIENT_SSL, as a downgrading man in
 * the middle would send. Like RDS Proxy, it greets with mysql_native_password
 * and answers the client's first packet with a switch to mysql_clear_password
 * (mysqlnd cannot put more than 255 bytes of auth data in its first packet).
 * It records whatever a client sends and hangs up after the second packet.
 */
export async function noTlsServer() {
  const received: Buffer[] = [];
  const packet = (seq: number, payload: Buffer) =>
    Buffer.concat([Buffer.from([payload.length & 0xff, (payload.length >> 8) & 0xff, (payload.length >> 16) & 0xff, seq]), payload]);
  const server = await listen(
    createServer((socket) => {
      socket.on('error', () => undefined);
      const scramble = Buffer.from('abcdefghijklmnopqrst');
      let pending = Buffer.alloc(0);
      let packets = 0;
      socket.on('data', (d: Buffer) => {
        received.push(Buffer.from(d));
        pending = Buffer.concat([pending, d]);
        while (pending.length >= 4 && pending.length >= 4 + pending.readUIntLE(0, 3)) {
          const seq = pending[3];
          pending = pending.subarray(4 + pending.readUIntLE(0, 3));
          packets++;
          if (packets === 1) {
            // AuthSwitchRequest: send the password in clear text.
            socket.write(packet(seq + 1, Buffer.concat([Buffer.from([0xfe]), Buffer.from('mysql_clear_password\0'), scramble, Buffer.from([0])])));
          } else {
            socket.destroy();
          }
        }
      });
      const CLIENT_LONG_PASSWORD = 0x1;
      const CLIENT_CONNECT_WITH_DB = 0x8;
      const CLIENT_PROTOCOL_41 = 0x200;
      const CLIENT_SECURE_CONNECTION = 0x8000;
      const CLIENT_PLUGIN_AUTH = 0x80000;
      const caps = CLIENT_LONG_PASSWORD | CLIENT_CONNECT_WITH_DB | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH;
      socket.write(packet(0, Buffer.concat([
        Buffer.from([0x0a]),
        Buffer.from('8.0.40-fake\0'),
        Buffer.from([1, 0, 0, 0]),
        scramble.subarray(0, 8),
        Buffer.from([0]),
        Buffer.from([caps & 0xff, (caps >> 8) & 0xff]),
        Buffer.from([0xff]), // utf8mb4_0900_ai_ci
        Buffer.from([2, 0]),
        Buffer.from([(caps >> 16) & 0xff, (caps >> 24) & 0xff]),
        Buffer.from([21]),
        Buffer.alloc(10),
        scramble.subarray(8),
        Buffer.from([0]),
        Buffer.from('mysql_native_password\0'),
      ])));
    }),
  );
  return { server, received: () => Buffer.concat(received) };
}

/**
 * A `scratch` database the test user may write to (the server's own database
 * is read-only for it, and its tables are what SHOW TABLES must list), with a
 * table `scratch.runs (id, note)`.
 */
export async function createScratch(server: MariaDbServer): Promise<void> {
  await server.adminQuery('CREATE DATABASE IF NOT EXISTS scratch');
  await server.adminQuery('CREATE TABLE IF NOT EXISTS scratch.runs (id INT AUTO_INCREMENT PRIMARY KEY, note VARCHAR(40))');
  await server.adminQuery(`GRANT SELECT, INSERT, DELETE ON scratch.* TO '${server.user}'@'%'`);
}
