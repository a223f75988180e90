/*
 * The stand-in for Aurora MySQL's AWSAuthenticationPlugin (aws_auth_plugin.c
 * here): built on first use, once per source version, into the gitignored
 * `.tmp/` of the repository (build.sh; a C compiler, MariaDB's server headers
 * and OpenSSL are needed), offered to a test server (`MariaDbServer.start({
 * extraPlugins: [plugin.path] })`) and installed there with
 * `installAwsAuthPlugin()`.
 *
 * Outside CI, a machine without the compiler or the headers skips with a
 * warning (`awsAuthPluginOrSkip`); with CI set, it is an error. A plugin that
 * does not compile is an error everywhere.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isCi, type MariaDbServer } from '../mariadb';

/** The plugin's name, as `IDENTIFIED WITH` names it. */
export const AWS_AUTH_PLUGIN_NAME = 'AWSAuthenticationPlugin';
/** The shared object's name, as `INSTALL SONAME` names it. */
export const AWS_AUTH_PLUGIN_SONAME = 'aws_auth_plugin';

const SOURCE_DIR = __dirname;
const SOURCE = join(SOURCE_DIR, 'aws_auth_plugin.c');
const BUILD_SCRIPT = join(SOURCE_DIR, 'build.sh');
const BUILD_ROOT = join(SOURCE_DIR, '..', '..', '..', '.tmp', 'aws-auth-plugin');

/** Either the built shared object, or why it cannot be built here. */
export type AwsAuthPluginAvailability =
  | { readonly available: true; readonly path: string }
  | { readonly available: false; readonly reason: string };

let built: AwsAuthPluginAvailability | undefined;

/**
 * Build the plugin unless this version of its source is built already (the
 * output directory is named by a hash of the source and the build script).
 * Throws when the source does not compile.
 */
export function awsAuthPlugin(): AwsAuthPluginAvailability {
  if (built) return built;
  const hash = createHash('sha256')
    .update(readFileSync(SOURCE))
    .update(readFileSync(BUILD_SCRIPT))
    .update(process.arch)
    .digest('hex')
    .slice(0, 16);
  const dir = join(BUILD_ROOT, hash);
  const path = join(dir, `${AWS_AUTH_PLUGIN_SONAME}.so`);
  if (existsSync(path)) return (built = { available: true, path });
  mkdirSync(dir, { recursive: true });
  // Build under a name of this process's own, then rename: test files run in
  // parallel workers, and a reader must never see a half-written file.
  const partial = `${path}.${process.pid}.partial`;
  try {
    execFileSync('bash', [BUILD_SCRIPT, partial], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });
  } catch (err) {
    rmSync(partial, { force: true });
    const e = err as { status?: number | null; stderr?: Buffer; message: string };
    const stderr = e.stderr?.toString().trim() ?? '';
    // build.sh exits with 2 when a tool or header is missing.
    if (e.status === 2) return (built = { available: false, reason: stderr || 'build prerequisites missing' });
    throw new Error(`building the AWSAuthenticationPlugin stand-in failed: ${e.message}\n${stderr}`);
  }
  renameSync(partial, path);
  // Builds of older versions of the source are of no further use.
  for (const old of readdirSync(BUILD_ROOT)) {
    if (old !== hash) rmSync(join(BUILD_ROOT, old), { recursive: true, force: true });
  }
  return (built = { available: true, path });
}

/**
 * Decide whether a test file runs: outside CI a plugin that cannot be built
 * here skips with a console.warn naming the reason; with CI set it is an error.
 */
export function awsAuthPluginOrSkip(suite: string): AwsAuthPluginAvailability {
  const availability = awsAuthPlugin();
  if (!availability.available) {
    if (isCi()) {
      throw new Error(`${suite}: the AWSAuthenticationPlugin stand-in is required in CI but cannot be built: ${availability.reason}`);
    }
    // eslint-disable-next-line no-console
    console.warn(`SKIPPED ${suite}: ${availability.reason} (set CI=true to make this an error)`);
  }
  return availability;
}

/** The keys tokens are verified with. */
export interface AwsAuthPluginKeys {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  /** The region tokens must be signed for; default: any. */
  readonly region?: string;
}

/**
 * Install the plugin into `server` (started with the plugin among its
 * `extraPlugins`) and make it accept tokens signed with `keys`; calling it
 * again only changes the keys.
 */
export async function installAwsAuthPlugin(server: MariaDbServer, keys: AwsAuthPluginKeys): Promise<void> {
  const installed = await server.adminQuery<Array<{ n: number }>>(
    `SELECT COUNT(*) AS n FROM information_schema.PLUGINS WHERE PLUGIN_NAME = '${AWS_AUTH_PLUGIN_NAME}'`,
  );
  if (Number(installed[0].n) === 0) await server.adminQuery(`INSTALL SONAME '${AWS_AUTH_PLUGIN_SONAME}'`);
  const prefix = AWS_AUTH_PLUGIN_NAME.toLowerCase();
  await server.adminQuery(`SET GLOBAL ${prefix}_access_key_id = ${literal(keys.accessKeyId)}`);
  await server.adminQuery(`SET GLOBAL ${prefix}_secret_access_key = ${literal(keys.secretAccessKey)}`);
  await server.adminQuery(`SET GLOBAL ${prefix}_region = ${literal(keys.region ?? '')}`);
}

function literal(s: string): string {
  return `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}
