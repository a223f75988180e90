/*
 * The command line's arguments, parsed and checked without touching a
 * database, so that every rule is unit-tested.
 */
import { parseArgs } from 'node:util';

export const USAGE = `Usage: serverless-lamp-database <command> [options] <migrations directory>

Commands:
  migrate   apply the pending migrations (V<version>__<description>.sql) in version order
  status    list the applied, pending, failed and missing versions

Options:
  --host <host>          server host (default 127.0.0.1)
  --port <port>          server port (default 3306)
  --user <user>          database user (required)
  --database <name>      database to migrate, which holds the history table (required)
  --password-env <VAR>   read the password from this environment variable (default MYSQL_PWD, if set)
  --ssl-ca <file>        use TLS, verifying the server's certificate and host name against this CA bundle
  --ssl                  use TLS, verifying against the system's certificate authorities
  --out-of-order         allow a pending version lower than the newest applied one (migrate)
  --lock-timeout <s>     seconds to wait for another migration run's lock (migrate; default 60)
  --help                 show this help
`;

export interface CliOptions {
  readonly command: 'migrate' | 'status';
  readonly directory: string;
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly database: string;
  /** The environment variable holding the password, if any. */
  readonly passwordEnv?: string;
  readonly sslCa?: string;
  readonly ssl: boolean;
  readonly outOfOrder: boolean;
  readonly lockTimeoutSeconds: number;
}

/** A usage mistake: the message and the usage go to standard error, the exit code is 2. */
export class UsageError extends Error {}

/** The options of `argv` (the arguments after the program), `'help'`, or throws a `UsageError`. */
export function parseCli(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): CliOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        'host': { type: 'string' },
        'port': { type: 'string' },
        'user': { type: 'string' },
        'database': { type: 'string' },
        'password-env': { type: 'string' },
        'ssl-ca': { type: 'string' },
        'ssl': { type: 'boolean' },
        'out-of-order': { type: 'boolean' },
        'lock-timeout': { type: 'string' },
        'help': { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  const [command, directory, ...extra] = positionals;
  if (command !== 'migrate' && command !== 'status') {
    throw new UsageError(command === undefined ? 'no command given' : `unknown command: ${command}`);
  }
  if (directory === undefined) throw new UsageError('no migrations directory given');
  if (extra.length > 0) throw new UsageError(`unexpected arguments: ${extra.join(' ')}`);
  if (!values.user) throw new UsageError('--user is required');
  if (!values.database) throw new UsageError('--database is required');
  const port = Number(values.port ?? '3306');
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--port must be a port number (1-65535), not ${values.port}`);
  const lockTimeoutSeconds = Number(values['lock-timeout'] ?? '60');
  if (!Number.isInteger(lockTimeoutSeconds) || lockTimeoutSeconds < 0) {
    throw new UsageError(`--lock-timeout must be a whole number of seconds, not ${values['lock-timeout']}`);
  }
  const passwordEnv = values['password-env'] ?? (env.MYSQL_PWD !== undefined ? 'MYSQL_PWD' : undefined);
  if (passwordEnv !== undefined && env[passwordEnv] === undefined) {
    throw new UsageError(`--password-env ${passwordEnv}: that environment variable is not set`);
  }
  return {
    command,
    directory,
    host: values.host ?? '127.0.0.1',
    port,
    user: values.user,
    database: values.database,
    ...(passwordEnv !== undefined ? { passwordEnv } : {}),
    ...(values['ssl-ca'] !== undefined ? { sslCa: values['ssl-ca'] } : {}),
    ssl: values.ssl === true || values['ssl-ca'] !== undefined,
    outOfOrder: values['out-of-order'] === true,
    lockTimeoutSeconds,
  };
}
