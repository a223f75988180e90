/*
 * A throw-away MariaDB server for the handler's tests and benchmark.
 *
 * It stands in for RDS Proxy: TLS only (`require_secure_transport=ON`, a CA and
 * a server certificate made with openssl at start), and a database user that
 * authenticates with `mysql_clear_password`, the plugin RDS Proxy asks for when
 * a client presents an IAM token (MariaDB's `auth_test_plugin`, from Debian's
 * `mariadb-test` package). The "token" the server accepts is a plain string the
 * test sets with `setToken()`.
 *
 * No systemd: `mariadb-install-db` into a temporary datadir, then `mariadbd`
 * with its own defaults file, on a free loopback port and a unix socket. Admin
 * work goes through `root` over the unix socket (exempt from
 * require_secure_transport), with mysql2 (async) or the `mariadb` CLI (sync, to
 * act while the event loop is "frozen").
 */
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { createConnection } from 'mysql2/promise';
import type { Connection, RowDataPacket } from 'mysql2/promise';

/** Where Debian puts things; override with env MARIADBD / MARIADB_INSTALL_DB / MARIADB_PLUGIN_DIR. */
const MARIADBD_CANDIDATES = ['/usr/sbin/mariadbd', '/usr/local/sbin/mariadbd', '/usr/local/bin/mariadbd'];
const INSTALL_DB_CANDIDATES = ['/usr/bin/mariadb-install-db', '/usr/local/bin/mariadb-install-db', '/usr/scripts/mariadb-install-db'];
const CLIENT_CANDIDATES = ['/usr/bin/mariadb', '/usr/local/bin/mariadb'];
const PLUGIN_DIR_CANDIDATES = ['/usr/lib/mysql/plugin', '/usr/lib64/mysql/plugin', '/usr/local/lib/mysql/plugin'];

export interface MariaDbBinaries {
  readonly mariadbd: string;
  readonly installDb: string;
  readonly client: string;
  readonly pluginDir: string;
}

/** Either the binaries, or why they cannot be used. */
export type MariaDbAvailability =
  | { readonly available: true; readonly binaries: MariaDbBinaries }
  | { readonly available: false; readonly reason: string };

function firstExisting(envName: string, candidates: string[]): string | undefined {
  const fromEnv = process.env[envName];
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  return candidates.find((c) => existsSync(c));
}

function pluginDirOf(mariadbd: string): string | undefined {
  const fromEnv = process.env.MARIADB_PLUGIN_DIR;
  if (fromEnv) return fromEnv;
  try {
    const help = execFileSync(mariadbd, ['--no-defaults', '--help', '--verbose'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10_000,
    });
    const m = /^plugin-dir\s+(\S+)/m.exec(help);
    if (m && existsSync(m[1])) return m[1];
  } catch {
    // fall through to the usual places
  }
  return PLUGIN_DIR_CANDIDATES.find((d) => existsSync(d));
}

/** Find the MariaDB binaries (and the test auth plugin) this helper needs. */
export function mariaDbAvailability(): MariaDbAvailability {
  const mariadbd = firstExisting('MARIADBD', MARIADBD_CANDIDATES);
  if (!mariadbd) {
    const looked = process.env.MARIADBD ? `MARIADBD=${process.env.MARIADBD}` : MARIADBD_CANDIDATES.join(', ');
    return { available: false, reason: `no mariadbd binary (looked at ${looked}); apt-get install mariadb-server mariadb-test` };
  }
  const installDb = firstExisting('MARIADB_INSTALL_DB', INSTALL_DB_CANDIDATES);
  if (!installDb) {
    return { available: false, reason: `no mariadb-install-db (looked at ${INSTALL_DB_CANDIDATES.join(', ')})` };
  }
  const client = firstExisting('MARIADB_CLIENT', CLIENT_CANDIDATES);
  if (!client) {
    return { available: false, reason: `no mariadb client binary (looked at ${CLIENT_CANDIDATES.join(', ')})` };
  }
  const pluginDir = pluginDirOf(mariadbd);
  if (!pluginDir || !existsSync(join(pluginDir, 'auth_test_plugin.so'))) {
    return { available: false, reason: `no auth_test_plugin.so in ${pluginDir ?? 'any plugin dir'}; apt-get install mariadb-test` };
  }
  return { available: true, binaries: { mariadbd, installDb, client, pluginDir } };
}

/**
 * Decide whether a test file runs: outside CI a missing MariaDB skips with a
 * console.warn naming the reason; with CI set it is an error.
 */
export function mariaDbOrSkip(suite: string): MariaDbAvailability {
  const availability = mariaDbAvailability();
  if (!availability.available) {
    if (isCi()) {
      throw new Error(`${suite}: MariaDB is required in CI but unavailable: ${availability.reason}`);
    }
    // eslint-disable-next-line no-console
    console.warn(`SKIPPED ${suite}: ${availability.reason} (set CI=true to make this an error)`);
  }
  return availability;
}

export function isCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/** A free TCP port on the loopback interface (bind to 0, read, release). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export interface MariaDbServerOptions {
  /** Database the user may read; default `lampdb`. */
  readonly database?: string;
  /** Tables created in it; default `['customers', 'orders', 'products']`. */
  readonly tables?: string[];
  /** User authenticated by `mysql_clear_password`; default `lambda_user`. */
  readonly user?: string;
  /** Initial accepted token; default a placeholder nobody can know. */
  readonly token?: string;
  /** Extra `[mysqld]` lines. */
  readonly extraConfig?: string[];
  /**
   * Plugin shared objects (paths) to offer to `INSTALL SONAME` besides the
   * system's: the server then reads plugins from a directory of its own, with
   * links to every system plugin and copies of these. Nothing is installed.
   */
  readonly extraPlugins?: string[];
}

interface Tls {
  readonly caFile: string;
  readonly caPem: string;
  readonly strangerCaFile: string;
  readonly strangerCaPem: string;
}

/**
 * The server certificates, both signed by the server's CA:
 * - `default`: `localhost`, `${SERVER_DNS_NAME}` and 127.0.0.1;
 * - `otherHost`: `${OTHER_HOST_DNS_NAME}` only, a name the handler never connects to.
 */
export type ServerCertificate = 'default' | 'otherHost';

/** A DNS name in the default server certificate (a test resolves it to loopback). */
export const SERVER_DNS_NAME = 'db.lamp.test';
/** The only name in the `otherHost` certificate. */
export const OTHER_HOST_DNS_NAME = 'elsewhere.lamp.test';

/** One running (or stopped) MariaDB server with its temporary directory. */
export class MariaDbServer {
  /** Start a fresh server; throws with the error log's tail when it cannot. */
  static async start(options: MariaDbServerOptions = {}, binaries?: MariaDbBinaries): Promise<MariaDbServer> {
    let bin = binaries;
    if (!bin) {
      const availability = mariaDbAvailability();
      if (!availability.available) throw new Error(`cannot start MariaDB: ${availability.reason}`);
      bin = availability.binaries;
    }
    const dir = mkdtempSync(join(tmpdir(), 'lamp-mariadb-'));
    const server = new MariaDbServer(bin, dir, await freePort(), options);
    try {
      server.tls = makeCertificates(dir);
      server.preparePluginDir();
      server.writeConfig();
      server.installDb();
      await server.launch();
      await server.provision();
    } catch (err) {
      await server.destroy();
      throw err;
    }
    return server;
  }

  /** `localhost`: a name in the default server certificate (see `ServerCertificate`). */
  readonly host = 'localhost';
  readonly database: string;
  readonly user: string;
  readonly tables: string[];
  readonly socketPath: string;
  private tls?: Tls;
  private proc?: ChildProcess;
  private exited?: Promise<void>;
  private admin?: Connection;
  private currentToken: string;
  private currentCertificate: ServerCertificate = 'default';
  private frozen = false;

  private constructor(
    private readonly bin: MariaDbBinaries,
    /** Temporary directory holding datadir, socket, certificates and logs. */
    readonly dir: string,
    readonly port: number,
    private readonly options: MariaDbServerOptions,
  ) {
    this.database = options.database ?? 'lampdb';
    this.user = options.user ?? 'lambda_user';
    this.tables = [...(options.tables ?? ['customers', 'orders', 'products'])].sort();
    this.currentToken = options.token ?? `not-a-token-${process.pid}-${Date.now()}`;
    this.socketPath = join(dir, 'mysqld.sock');
  }

  /** PEM file of the CA that signed the server certificate. */
  get caFile(): string {
    return this.tls!.caFile;
  }

  get caPem(): string {
    return this.tls!.caPem;
  }

  /** PEM file of another CA, which did not sign the server certificate. */
  get strangerCaFile(): string {
    return this.tls!.strangerCaFile;
  }

  get strangerCaPem(): string {
    return this.tls!.strangerCaPem;
  }

  /** The certificate the server presents now. */
  get certificate(): ServerCertificate {
    return this.currentCertificate;
  }

  /** The token the server currently accepts for `user`. */
  get token(): string {
    return this.currentToken;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  private get datadir(): string {
    return join(this.dir, 'data');
  }

  private get defaultsFile(): string {
    return join(this.dir, 'my.cnf');
  }

  private get errorLog(): string {
    return join(this.dir, 'error.log');
  }

  /** The system plugin directory, or the server's own one when it has extra plugins. */
  private get pluginDir(): string {
    return this.options.extraPlugins?.length ? join(this.dir, 'plugin') : this.bin.pluginDir;
  }

  private preparePluginDir(): void {
    const extra = this.options.extraPlugins ?? [];
    if (extra.length === 0) return;
    const own = this.pluginDir;
    mkdirSync(own);
    const extraNames = new Set(extra.map((p) => basename(p)));
    for (const name of readdirSync(this.bin.pluginDir)) {
      if (!extraNames.has(name)) symlinkSync(join(this.bin.pluginDir, name), join(own, name));
    }
    for (const path of extra) copyFileSync(path, join(own, basename(path)));
  }

  private writeConfig(): void {
    const lines = [
      '[mysqld]',
      `datadir=${this.datadir}`,
      `socket=${this.socketPath}`,
      `pid-file=${join(this.dir, 'mysqld.pid')}`,
      `log-error=${this.errorLog}`,
      `port=${this.port}`,
      'bind-address=127.0.0.1',
      `plugin-dir=${this.pluginDir}`,
      'skip-name-resolve',
      'skip-log-bin',
      'performance-schema=OFF',
      'innodb-buffer-pool-size=16M',
      'innodb-log-file-size=8M',
      'key-buffer-size=1M',
      'max-connections=50',
      // auth_test_plugin is rated "unknown" maturity.
      'plugin-maturity=unknown',
      `ssl-ca=${this.tls!.caFile}`,
      `ssl-cert=${join(this.dir, 'server.pem')}`,
      `ssl-key=${join(this.dir, 'server.key')}`,
      'require-secure-transport=ON',
      ...(this.options.extraConfig ?? []),
      '',
      '[client]',
      `socket=${this.socketPath}`,
      '',
    ];
    writeFileSync(this.defaultsFile, lines.join('\n'));
  }

  private userArgs(): string[] {
    // mariadbd refuses to run as root unless told to.
    return process.getuid?.() === 0 ? ['--user=root'] : [];
  }

  private installDb(): void {
    try {
      execFileSync(
        this.bin.installDb,
        [
          `--defaults-file=${this.defaultsFile}`,
          ...this.userArgs(),
          '--auth-root-authentication-method=normal',
          '--skip-test-db',
          '--skip-name-resolve',
          `--datadir=${this.datadir}`,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'], timeout: 60_000 },
      );
    } catch (err) {
      const e = err as { stderr?: Buffer; stdout?: Buffer; message: string };
      throw new Error(`mariadb-install-db failed: ${e.message}\n${e.stdout?.toString() ?? ''}\n${e.stderr?.toString() ?? ''}`);
    }
  }

  private async launch(): Promise<void> {
    const proc = spawn(this.bin.mariadbd, [`--defaults-file=${this.defaultsFile}`, ...this.userArgs()], {
      stdio: 'ignore',
    });
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    const deadline = monotonicMs() + 30_000;
    let lastError: unknown;
    while (monotonicMs() < deadline) {
      if (!this.running) {
        throw new Error(`mariadbd exited during start (code ${proc.exitCode}, signal ${proc.signalCode}):\n${this.logTail()}`);
      }
      if (existsSync(this.socketPath)) {
        try {
          this.admin = await createConnection({ socketPath: this.socketPath, user: 'root', password: '' });
          return;
        } catch (err) {
          lastError = err;
        }
      }
      await sleep(25);
    }
    throw new Error(`mariadbd did not become ready in 30 s (${String(lastError)}):\n${this.logTail()}`);
  }

  private async provision(): Promise<void> {
    const db = this.database;
    await this.adminQuery("INSTALL SONAME 'auth_test_plugin'");
    await this.adminQuery(`CREATE DATABASE \`${db}\``);
    for (const table of this.tables) {
      await this.adminQuery(`CREATE TABLE \`${db}\`.\`${table}\` (id INT PRIMARY KEY, name VARCHAR(64))`);
    }
    await this.adminQuery(
      `CREATE USER '${this.user}'@'%' IDENTIFIED VIA cleartext_plugin_server USING ${quote(this.currentToken)} REQUIRE SSL`,
    );
    await this.adminQuery(`GRANT SELECT ON \`${db}\`.* TO '${this.user}'@'%'`);
  }

  /** A query as root over the unix socket. */
  async adminQuery<T = RowDataPacket[]>(sql: string): Promise<T> {
    if (!this.admin) {
      this.admin = await createConnection({ socketPath: this.socketPath, user: 'root', password: '' });
    }
    const [rows] = await this.admin.query(sql);
    return rows as unknown as T;
  }

  /** Make the server accept `token` (and only it) for new logins of `user`. */
  async setToken(token: string): Promise<void> {
    await this.adminQuery(`ALTER USER '${this.user}'@'%' IDENTIFIED VIA cleartext_plugin_server USING ${quote(token)}`);
    this.currentToken = token;
  }

  /** Ids of the sessions of `user` (default: the test user), from the processlist. */
  async connectionIds(user: string = this.user): Promise<number[]> {
    const rows = await this.adminQuery<Array<{ ID: number }>>(
      `SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ${quote(user)} ORDER BY ID`,
    );
    return rows.map((r) => Number(r.ID));
  }

  /** KILL every session of `user`; returns the killed ids. */
  async killConnections(user: string = this.user): Promise<number[]> {
    const ids = await this.connectionIds(user);
    for (const id of ids) {
      await this.adminQuery(`KILL CONNECTION ${id}`);
    }
    return ids;
  }

  /**
   * KILL every session of `user` while blocking this process's event loop, as
   * a frozen Lambda environment would be: the client sees the closed socket
   * only when it next uses it. Returns the killed ids.
   */
  killConnectionsSync(user: string = this.user): number[] {
    const list = () =>
      this.cli(`SELECT ID FROM information_schema.PROCESSLIST WHERE USER = ${quote(user)} ORDER BY ID`)
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map(Number);
    const ids = list();
    if (ids.length > 0) this.cli(ids.map((id) => `KILL CONNECTION ${id};`).join(' '));
    // KILL is asynchronous on the server side: wait until the sessions are gone.
    const deadline = monotonicMs() + 10_000;
    while (list().some((id) => ids.includes(id))) {
      if (monotonicMs() > deadline) throw new Error(`sessions ${ids.join(', ')} survived KILL`);
    }
    return ids;
  }

  private cli(sql: string): string {
    return execFileSync(this.bin.client, ['--no-defaults', `--socket=${this.socketPath}`, '-uroot', '-N', '-B', '-e', sql], {
      encoding: 'utf8',
      timeout: 10_000,
    });
  }

  /**
   * Present another server certificate to new connections: copies it over
   * the configured `ssl-cert`/`ssl-key` files and reloads them (`FLUSH SSL`).
   */
  async useCertificate(which: ServerCertificate): Promise<void> {
    copyFileSync(join(this.dir, `server-${which}.pem`), join(this.dir, 'server.pem'));
    copyFileSync(join(this.dir, `server-${which}.key`), join(this.dir, 'server.key'));
    await this.adminQuery('FLUSH SSL');
    this.currentCertificate = which;
  }

  /**
   * Stop the server process (SIGSTOP) without closing anything: the kernel
   * still accepts and buffers, nothing answers. `thaw()` resumes it.
   */
  freeze(): void {
    if (!this.running || this.frozen) return;
    this.proc!.kill('SIGSTOP');
    this.frozen = true;
  }

  thaw(): void {
    if (!this.frozen) return;
    this.proc!.kill('SIGCONT');
    this.frozen = false;
  }

  /** A global status counter, e.g. `Com_stmt_prepare`, `Prepared_stmt_count`, `Connections`. */
  async status(name: string): Promise<number> {
    const rows = await this.adminQuery<Array<{ Value: string }>>(`SHOW GLOBAL STATUS LIKE ${quote(name)}`);
    if (rows.length === 0) throw new Error(`no status variable ${name}`);
    return Number(rows[0].Value);
  }

  /** Stop the server (SIGTERM, then SIGKILL after 10 s); the datadir is kept. */
  async stop(): Promise<void> {
    this.thaw();
    const admin = this.admin;
    this.admin = undefined;
    if (admin) {
      admin.destroy();
    }
    const proc = this.proc;
    if (!proc || !this.running) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }

  /** Start again with the same port, datadir, users and token. */
  async start(): Promise<void> {
    if (this.running) return;
    await this.launch();
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Stop and delete the temporary directory. Safe to call more than once. */
  async destroy(): Promise<void> {
    try {
      await this.stop();
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }

  /** The last lines of the server's error log, for failure messages. */
  logTail(lines = 30): string {
    try {
      return readFileSync(this.errorLog, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no error log)';
    }
  }
}

function makeCertificates(dir: string): Tls {
  const openssl = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
  const ca = (name: string, cn: string) =>
    openssl([
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '3', '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE',
      '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
    ]);
  ca('ca', 'serverless-lamp-database test CA');
  ca('stranger-ca', 'serverless-lamp-database stranger CA');
  const serverCertificate = (which: ServerCertificate, cn: string, altNames: string) => {
    openssl([
      'req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', `server-${which}.key`, '-out', `server-${which}.csr`, '-subj', `/CN=${cn}`,
    ]);
    writeFileSync(
      join(dir, `server-${which}.ext`),
      [
        'basicConstraints=CA:FALSE',
        'keyUsage=critical,digitalSignature,keyEncipherment',
        'extendedKeyUsage=serverAuth',
        `subjectAltName=${altNames}`,
        '',
      ].join('\n'),
    );
    openssl([
      'x509', '-req', '-in', `server-${which}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
      '-out', `server-${which}.pem`, '-days', '3', '-extfile', `server-${which}.ext`,
    ]);
  };
  serverCertificate('default', 'localhost', `DNS:localhost,DNS:${SERVER_DNS_NAME},IP:127.0.0.1`);
  serverCertificate('otherHost', OTHER_HOST_DNS_NAME, `DNS:${OTHER_HOST_DNS_NAME}`);
  // The files the server is configured with (see useCertificate).
  copyFileSync(join(dir, 'server-default.pem'), join(dir, 'server.pem'));
  copyFileSync(join(dir, 'server-default.key'), join(dir, 'server.key'));
  const caFile = join(dir, 'ca.pem');
  const strangerCaFile = join(dir, 'stranger-ca.pem');
  return {
    caFile,
    caPem: readFileSync(caFile, 'utf8'),
    strangerCaFile,
    strangerCaPem: readFileSync(strangerCaFile, 'utf8'),
  };
}

export interface IamAuthTokenInput {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly region: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
  /** Signing instant, ms since the epoch (the token names it to the second). */
  readonly at: number;
}

/**
 * The RDS IAM authentication token for `input`, computed from the SigV4
 * specification (query-string presign of `GET https://host:port/?Action=connect
 * &DBUser=user`, service `rds-db`, 900 s, signed header `host`, empty payload),
 * with node:crypto only: an independent check of what @aws-sdk/rds-signer mints.
 */
export function iamAuthToken(input: IamAuthTokenInput): string {
  const { host, port, user, region, credentials, at } = input;
  const amzDate = new Date(at).toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const scope = `${day}/${region}/rds-db/aws4_request`;
  const query: Record<string, string> = {
    'Action': 'connect',
    'DBUser': user,
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': `${credentials.accessKeyId}/${scope}`,
    'X-Amz-Date': amzDate,
    'X-Amz-Expires': '900',
    ...(credentials.sessionToken ? { 'X-Amz-Security-Token': credentials.sessionToken } : {}),
    'X-Amz-SignedHeaders': 'host',
  };
  // RFC 3986 unreserved characters stay, everything else is %XX (upper case).
  const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const canonicalQuery = (q: Record<string, string>) =>
    Object.keys(q)
      .sort()
      .map((k) => `${enc(k)}=${enc(q[k])}`)
      .join('&');
  const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
  const canonicalRequest = ['GET', '/', canonicalQuery(query), `host:${host}:${port}\n`, 'host', sha256('')].join('\n');
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  let key: Buffer = createHmac('sha256', `AWS4${credentials.secretAccessKey}`).update(day).digest();
  for (const part of [region, 'rds-db', 'aws4_request']) key = createHmac('sha256', key).update(part).digest();
  const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
  return `${host}:${port}/?${canonicalQuery({ ...query, 'X-Amz-Signature': signature })}`;
}

/** A single-quoted SQL string literal. */
function quote(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** Milliseconds from a clock that tests' fake timers leave alone (they may freeze Date). */
function monotonicMs(): number {
  const [s, ns] = process.hrtime();
  return s * 1000 + ns / 1e6;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Fake AWS credentials for driving the handler; the server checks only the token string. */
export const FAKE_CREDENTIALS = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  // Lambda's credentials carry a session token, which makes tokens long. Real
  // ones are longer still, but MariaDB keeps at most 1024 characters of an
  // auth string, so the token must stay under that here (~930).
  sessionToken: `IQoJb3JpZ2luX2VjEXAMPLE/${'SeSsIoNtOkEn+/='.repeat(28)}`,
};
export const FAKE_REGION = 'us-east-1';

/**
 * The environment the handler reads, pointed at `server` (as the construct
 * points it at the proxy). The server's CA is not part of it: the handler
 * trusts Node's default store only; tests hand it the test CA through
 * `trustCaForTests()`, child processes through NODE_EXTRA_CA_CERTS.
 */
export function handlerEnvironment(server: MariaDbServer): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: FAKE_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: FAKE_CREDENTIALS.secretAccessKey,
    AWS_SESSION_TOKEN: FAKE_CREDENTIALS.sessionToken,
    AWS_REGION: FAKE_REGION,
    DB_HOST: server.host,
    DB_PORT: String(server.port),
    DB_USER: server.user,
    DB_NAME: server.database,
  };
}

/** Puts `process.env` back as `saved` (a copy taken before a test changed it): variables added since are removed. */
export function restoreEnvironment(saved: Record<string, string | undefined>): void {
  for (const k of Object.keys(process.env)) {
    if (!(k in saved)) delete process.env[k];
  }
  Object.assign(process.env, saved);
}
