<?php

/*
 * serverless-lamp-database: the PHP connector.
 *
 * PHP 8.2+ with mysqlnd, mysqli and/or pdo_mysql, and openssl, as Bref's
 * Lambda layers ship them. Code connects to the RDS Proxy of a
 * ServerlessLampDatabase with an IAM authentication token over verified TLS:
 *
 *     $pdo = \ServerlessLamp\Database::pdo();                 // PDO, persistent
 *     $rows = \ServerlessLamp\Database::query('SHOW TABLES'); // mysqli
 *
 * Design notes (each one is a failure seen in the wild):
 * - The token is minted here (SigV4 query presign, as @aws-sdk/rds-signer does)
 *   from the credentials Lambda puts in the environment: no AWS SDK needed.
 * - TLS is required and verified (chain and host name) before the token is
 *   sent: mysqlnd sends a mysql_clear_password token in clear text to a server
 *   that offers no TLS unless it is asked for TLS (mysqli: the connect flags;
 *   PDO: a CA file, PDO::MYSQL_ATTR_SSL_CA).
 * - PHP-FPM (Bref's web runtime) resets static properties after every request.
 *   PDO persistent connections survive it: PDO keys them by DSN, user and
 *   password and reuses one without authenticating again (it pings it). So the
 *   token that opened it is kept across requests (TokenStore) and presented
 *   again; a new one is minted only when a connection must be opened and the
 *   old one is refused (1045) or missing.
 * - mysqli `p:` persistent connections are no such way: mysqlnd re-authenticates
 *   a reused link with COM_CHANGE_USER, which cannot carry more than 255 bytes
 *   of password; IAM tokens are longer, so every reuse opens a new connection.
 * - Nothing is run twice: a statement on a connection that drops may have run,
 *   so the connector never re-runs it. A connection unused for DB_IDLE_CHECK_MS
 *   is checked before use (one ping), not on every call.
 * - Text protocol only (client-side escaping; PDO emulates prepares):
 *   server-side prepared statements pin the RDS Proxy session to one database
 *   connection.
 * - Exception messages and stack traces never contain the token.
 */

declare(strict_types=1);

namespace ServerlessLamp;

/**
 * The connection to the database: a mysqli shared by the PHP process, and a
 * persistent PDO that also outlives PHP-FPM requests.
 *
 * Environment: see Config. AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
 * AWS_SESSION_TOKEN as Lambda sets them.
 */
final class Database
{
    /** IAM authentication tokens are valid for 15 minutes. */
    public const TOKEN_VALIDITY_SECONDS = AuthToken::VALIDITY_SECONDS;

    /**
     * A token minted for a new mysqli connection is replaced this long before
     * it expires, so it is used for at most 12 minutes. The proxy checks the
     * token only while a connection authenticates; the margin covers clock skew
     * between the function and the proxy and a slow connect, and matches the
     * Node.js handler.
     */
    public const TOKEN_REFRESH_MARGIN_SECONDS = 180;

    /** MySQL client errors that mean "this connection is dead". */
    public const LOST_CONNECTION_ERRORS = [
        2006, // CR_SERVER_GONE_ERROR: mysqlnd's error for a closed socket
        2013, // CR_SERVER_LOST
        2055, // CR_SERVER_LOST_EXTENDED
        4031, // ER_CLIENT_INTERACTION_TIMEOUT: MySQL 8 closed an idle connection
    ];

    private static ?\mysqli $connection = null;
    private static float $connectionUsedAt = 0.0;
    private static ?\PDO $pdo = null;
    private static float $pdoUsedAt = 0.0;
    private static bool $inTransaction = false;

    /** @var \Closure(): int|null */
    private static ?\Closure $clock = null;

    /**
     * This process's record in the TokenStore, loaded once per request.
     *
     * @var array{key: string, mysqli: ?array{value: string, mintedAt: int}, pdo: ?array{value: string, mintedAt: int},
     *   stats: array{tokensMinted: int, connectionsOpened: int, reconnects: int}}|null
     */
    private static ?array $state = null;

    private function __construct()
    {
    }

    /* ---------------------------------------------------------------- PDO */

    /**
     * A persistent PDO connected over verified TLS with an IAM token: under
     * PHP-FPM one server connection per worker, reused by every request.
     *
     * Within a request (or a long-running process) the same object is
     * returned; one unused for DB_IDLE_CHECK_MS, or whose last statement lost
     * the connection, is acquired again, which makes PDO ping the connection
     * and open a new one when it is dead (nothing you ran is repeated).
     *
     * @throws DatabaseException
     */
    public static function pdo(): \PDO
    {
        $config = Config::fromEnvironment();
        if (self::$pdo !== null && (self::$inTransaction || (!self::idle(self::$pdoUsedAt, $config) && !self::lost(self::$pdo)))) {
            self::$pdoUsedAt = hrtime(true) / 1e9;
            return self::$pdo;
        }
        self::$pdo = null;
        $dsn = self::pdoDsn($config);
        $options = self::pdoOptions($config);
        $pdo = self::connectWithToken(
            $config,
            static fn (#[\SensitiveParameter] string $token): \PDO => new \PDO($dsn, $config->user, $token, $options),
        );
        self::$pdoUsedAt = hrtime(true) / 1e9;
        return self::$pdo = $pdo;
    }

    /**
     * The DSN for the configured proxy: host, port, database, and the
     * `utf8mb4` character set, which pdo_mysql sets in the handshake (no
     * `SET NAMES` statement).
     *
     * @see https://www.php.net/manual/en/ref.pdo-mysql.connection.php
     */
    public static function pdoDsn(?Config $config = null): string
    {
        $config ??= Config::fromEnvironment();
        return "mysql:host={$config->host};port={$config->port};dbname={$config->database};charset=utf8mb4";
    }

    /**
     * The PDO options the connector uses, for those who build their own PDO
     * (pass the token as password, see connectWithToken()):
     * - a CA file (DB_CA_BUNDLE_FILE, else `openssl.cafile`), required: without
     *   `PDO::MYSQL_ATTR_SSL_CA` pdo_mysql does not ask for TLS and sends the
     *   token in clear text to a server that offers none;
     * - `PDO::MYSQL_ATTR_SSL_VERIFY_SERVER_CERT` true: chain and host name;
     * - `PDO::ATTR_EMULATE_PREPARES` true: no server-side prepared statements,
     *   which pin the proxy session (and which Laravel's defaults turn on);
     * - `PDO::ATTR_PERSISTENT` true, exceptions, the connect timeout.
     *
     * @return array<int, mixed>
     * @throws DatabaseException CONFIGURATION_ERROR without a CA file
     * @see https://www.php.net/manual/en/ref.pdo-mysql.php#pdo-mysql.constants
     * @see https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-pinning.html
     */
    public static function pdoOptions(?Config $config = null): array
    {
        $config ??= Config::fromEnvironment();
        if ($config->caFile === null) {
            throw new DatabaseException(
                DatabaseException::CONFIGURATION_ERROR,
                'PDO needs a CA file to require TLS: set DB_CA_BUNDLE_FILE or openssl.cafile (Bref sets it); without one pdo_mysql would send the token to a server that offers no TLS',
            );
        }
        return [
            \PDO::ATTR_PERSISTENT => true,
            \PDO::ATTR_ERRMODE => \PDO::ERRMODE_EXCEPTION,
            \PDO::ATTR_EMULATE_PREPARES => true,
            \PDO::ATTR_TIMEOUT => $config->connectTimeout,
            \PDO::MYSQL_ATTR_SSL_CA => $config->caFile,
            \PDO::MYSQL_ATTR_SSL_VERIFY_SERVER_CERT => true,
        ];
    }

    /**
     * Run `$work($pdo)` in a transaction on Database::pdo(), commit and
     * return its result. Nothing is retried and the connection is never
     * swapped while it runs: if it drops, the transaction fails with
     * CONNECTION_LOST (whether the commit happened is unknown when the commit
     * itself was cut off) and later statements fail too, none in autocommit.
     *
     * @template T
     * @param \Closure(\PDO): T $work
     * @return T
     * @throws DatabaseException when the connection drops or cannot be opened
     */
    public static function pdoTransaction(\Closure $work): mixed
    {
        $pdo = self::pdo();
        self::$inTransaction = true;
        try {
            $pdo->beginTransaction();
            $result = $work($pdo);
            $pdo->commit();
            return $result;
        } catch (\Throwable $e) {
            $errno = self::pdoErrno($e);
            if (in_array($errno, self::LOST_CONNECTION_ERRORS, true)) {
                self::$pdo = null;
                throw new DatabaseException(DatabaseException::CONNECTION_LOST, "the connection was lost during the transaction, which did not complete (a cut-off COMMIT may have happened): [{$errno}] " . self::pdoMessage($e), $errno);
            }
            if ($pdo->inTransaction()) {
                $pdo->rollBack();
            }
            throw $e;
        } finally {
            self::$inTransaction = false;
        }
    }

    /**
     * Open a connection with `$open($token)`, presenting the token this
     * process opened its persistent connection with, so that PDO finds it
     * again (its key is DSN, user and password); a token is minted when there
     * is none, and once more when the server refuses the kept one (1045: it
     * expired while the connection was alive, then the connection died).
     * Failures are classified (see ConnectFailure). For framework
     * integrations (Laravel, Doctrine) and code that builds its own PDO.
     *
     * @template T
     * @param \Closure(string): T $open
     * @return T
     * @throws DatabaseException
     */
    public static function connectWithToken(Config $config, \Closure $open): mixed
    {
        $state = &self::state($config);
        $fresh = false;
        if ($state['pdo'] === null) {
            $state['pdo'] = self::mint($config);
            $fresh = true;
            self::saveState();
        }
        for (;;) {
            $token = $state['pdo']['value'];
            $warnings = [];
            $before = self::mysqlndCounters();
            $failure = null;
            set_error_handler(static function (int $level, string $message) use (&$warnings): bool {
                $warnings[] = $message;
                return true;
            });
            try {
                $connection = $open($token);
            } catch (\Throwable $e) {
                $failure = $e;
            } finally {
                restore_error_handler();
            }
            $after = self::mysqlndCounters();
            if ($failure === null) {
                self::$openedNew = $before === null || $after === null || $after['connects'] > $before['connects'];
                if (self::$openedNew) {
                    // A new server connection (unknown without mysqlnd's statistics: counted).
                    if ($state['stats']['connectionsOpened'] > 0) {
                        $state['stats']['reconnects']++;
                    }
                    $state['stats']['connectionsOpened']++;
                    self::saveState();
                }
                return $connection;
            }
            $errno = self::pdoErrno($failure);
            $error = ConnectFailure::classify($config, $errno, self::pdoMessage($failure), $warnings, $before, $after, $token);
            if ($error->reason === DatabaseException::ACCESS_DENIED) {
                // A refused token is not presented again.
                if (!$fresh) {
                    $state['pdo'] = self::mint($config);
                    $fresh = true;
                    self::saveState();
                    continue;
                }
                $state['pdo'] = null;
                self::saveState();
            }
            throw $error;
        }
    }

    /**
     * True when the connection opened by the last Database::pdo() or
     * connectWithToken() call in this process was new (the first, or one
     * replacing a dead one) rather than the persistent one found again: a
     * framework runs its session setup only then. True when unknown.
     */
    public static function openedNewConnection(): bool
    {
        return self::$openedNew;
    }

    private static bool $openedNew = true;

    /* ------------------------------------------------------------- mysqli */

    /**
     * The connected mysqli, opened on first use and reused afterwards in this
     * process (PHP-FPM: in this request).
     *
     * A connection unused for DB_IDLE_CHECK_MS is checked first (one ping);
     * if it is dead it is replaced, before anything is sent on it. Inside
     * transaction() it is never checked nor replaced.
     *
     * @throws DatabaseException
     */
    public static function connection(): \mysqli
    {
        $config = Config::fromEnvironment();
        if (self::$inTransaction && self::$connection === null) {
            // Inside transaction(), a lost connection is not replaced: the
            // rest of the transaction would run in autocommit.
            throw new DatabaseException(DatabaseException::CONNECTION_LOST, 'the transaction\'s connection was lost; nothing more runs until the transaction ends');
        }
        if (self::$connection !== null) {
            if (self::$inTransaction || !self::idle(self::$connectionUsedAt, $config) || self::ping(self::$connection)) {
                self::$connectionUsedAt = hrtime(true) / 1e9;
                return self::$connection;
            }
            self::close();
            $state = &self::state($config);
            $state['stats']['reconnects']++;
            self::saveState();
        }
        self::$connection = self::open($config);
        self::$connectionUsedAt = hrtime(true) / 1e9;
        return self::$connection;
    }

    /**
     * Run one statement with the text protocol; `?` placeholders outside quotes
     * and comments are replaced by the escaped `$params`, in order
     * (string, int, float, bool or null). Returns the buffered result of a
     * statement that has one, true otherwise.
     *
     * A statement is never run twice: when the connection drops while it runs
     * (it may have run on the server) it fails with CONNECTION_LOST, and the
     * next call opens a new connection.
     *
     * @param list<string|int|float|bool|null> $params
     * @throws DatabaseException
     * @throws \InvalidArgumentException when placeholders and parameters do not match
     */
    public static function query(string $sql, array $params = []): \mysqli_result|bool
    {
        return self::run(self::connection(), $sql, $params);
    }

    /**
     * Run `$work($mysqli)` in a transaction, commit and return its result.
     * Nothing is retried and the connection is never replaced while it runs:
     * if it drops, the transaction fails with CONNECTION_LOST and every later
     * query() inside `$work` fails too, none in autocommit.
     *
     * @template T
     * @param \Closure(\mysqli): T $work
     * @return T
     * @throws DatabaseException
     */
    public static function transaction(\Closure $work): mixed
    {
        $connection = self::connection();
        self::$inTransaction = true;
        try {
            self::run($connection, 'START TRANSACTION', []);
            $result = $work($connection);
            if (self::$connection !== $connection) {
                // A statement inside lost the connection and the failure was
                // caught: the transaction is gone, whatever $work returned.
                throw new DatabaseException(DatabaseException::CONNECTION_LOST, 'the transaction\'s connection was lost; it was rolled back by the server');
            }
            self::run($connection, 'COMMIT', []);
            return $result;
        } catch (\Throwable $e) {
            if (self::$connection === $connection) {
                $warnings = [];
                self::guarded($warnings, static fn (): bool => $connection->rollback(), $failure);
            }
            throw $e;
        } finally {
            self::$inTransaction = false;
        }
    }

    /* -------------------------------------------------------------- token */

    /**
     * The IAM authentication token for the configured proxy, user and Region,
     * signed with the environment's credentials, as mysqli connections use it:
     * cached across requests, and minted again TOKEN_REFRESH_MARGIN_SECONDS
     * before it expires or when an input changes.
     *
     * @throws DatabaseException CONFIGURATION_ERROR when the environment is incomplete
     */
    public static function authToken(): string
    {
        $config = Config::fromEnvironment();
        $state = &self::state($config);
        $now = self::now();
        $cached = $state['mysqli'];
        if (
            $cached !== null && $now >= $cached['mintedAt']
            && $now < $cached['mintedAt'] + self::TOKEN_VALIDITY_SECONDS - self::TOKEN_REFRESH_MARGIN_SECONDS
        ) {
            return $cached['value'];
        }
        $state['mysqli'] = self::mint($config);
        self::saveState();
        return $state['mysqli']['value'];
    }

    /**
     * The RDS IAM authentication token for these inputs at `$time`, byte for
     * byte what @aws-sdk/rds-signer's `Signer.getAuthToken()` returns.
     *
     * @see AuthToken::sign()
     */
    public static function signAuthToken(
        string $host,
        int $port,
        string $user,
        string $region,
        string $accessKeyId,
        #[\SensitiveParameter] string $secretAccessKey,
        #[\SensitiveParameter] ?string $sessionToken,
        int $time,
    ): string {
        return AuthToken::sign($host, $port, $user, $region, $accessKeyId, $secretAccessKey, $sessionToken, $time);
    }

    /* -------------------------------------------------------------- admin */

    /**
     * Close and forget the mysqli connection, and forget the PDO (its
     * persistent connection stays with PHP, which pings it when next used).
     * Cached tokens are kept.
     */
    public static function close(): void
    {
        self::$pdo = null;
        $connection = self::$connection;
        self::$connection = null;
        if ($connection !== null) {
            // A dead connection may fail to say goodbye: nothing to report.
            $warnings = [];
            self::guarded($warnings, static fn (): bool => $connection->close(), $failure);
        }
    }

    /**
     * Counters of this process (under PHP-FPM: of this worker, across its
     * requests): tokens minted, connections opened, dead connections replaced.
     *
     * @return array{tokensMinted: int, connectionsOpened: int, reconnects: int}
     * @throws DatabaseException CONFIGURATION_ERROR when the environment is incomplete
     */
    public static function stats(): array
    {
        return self::state(Config::fromEnvironment())['stats'];
    }

    /** Where tokens are kept across requests: 'apcu' or 'file'. */
    public static function tokenCache(): string
    {
        return TokenStore::backend();
    }

    /**
     * Replace the clock tokens are signed with (a function returning seconds
     * since the epoch); null restores time(). For tests.
     */
    public static function useClock(?\Closure $clock): void
    {
        self::$clock = $clock;
    }

    /* ------------------------------------------------------------ private */

    private static function now(): int
    {
        return self::$clock === null ? time() : (int) (self::$clock)();
    }

    /** @return array{value: string, mintedAt: int} */
    private static function mint(Config $config): array
    {
        $credentials = Config::credentials();
        $now = self::now();
        $value = AuthToken::sign(
            $config->host,
            $config->port,
            $config->user,
            $config->region,
            $credentials['accessKeyId'],
            $credentials['secretAccessKey'],
            $credentials['sessionToken'],
            $now,
        );
        self::$state['stats']['tokensMinted']++;
        return ['value' => $value, 'mintedAt' => $now];
    }

    /**
     * This process's record for the configuration and credentials (loaded from
     * the TokenStore once per request; a record for other inputs is replaced).
     *
     * @return array<string, mixed>
     */
    private static function &state(Config $config): array
    {
        $credentials = Config::credentials();
        $key = substr(hash('sha256', implode("\0", [
            $config->host, (string) $config->port, $config->user, $config->region,
            $credentials['accessKeyId'], $credentials['secretAccessKey'], $credentials['sessionToken'] ?? '',
        ])), 0, 32);
        if (self::$state === null || self::$state['key'] !== $key) {
            $stored = TokenStore::load($key);
            self::$state = is_array($stored) && ($stored['key'] ?? null) === $key && isset($stored['stats'])
                ? $stored
                : ['key' => $key, 'mysqli' => null, 'pdo' => null, 'stats' => ['tokensMinted' => 0, 'connectionsOpened' => 0, 'reconnects' => 0]];
        }
        return self::$state;
    }

    private static function saveState(): void
    {
        if (self::$state !== null) {
            TokenStore::save(self::$state['key'], self::$state);
        }
    }

    private static function idle(float $usedAt, Config $config): bool
    {
        return (hrtime(true) / 1e9 - $usedAt) * 1000 >= $config->idleCheckMs;
    }

    /** True when the PDO's last statement (through PDO::query/exec) lost the connection. */
    private static function lost(\PDO $pdo): bool
    {
        return in_array((int) ($pdo->errorInfo()[1] ?? 0), self::LOST_CONNECTION_ERRORS, true);
    }

    private static function pdoErrno(\Throwable $e): int
    {
        if ($e instanceof \PDOException && is_array($e->errorInfo) && isset($e->errorInfo[1])) {
            return (int) $e->errorInfo[1];
        }
        if ($e instanceof DatabaseException || is_int($e->getCode())) {
            $code = (int) $e->getCode();
            if ($code !== 0) {
                return $code;
            }
        }
        // "SQLSTATE[HY000] [2002] ..." as PDO's constructor words it.
        if (preg_match('/\[(\d{4})\]/', $e->getMessage(), $m) === 1) {
            return (int) $m[1];
        }
        $previous = $e->getPrevious();
        return $previous !== null ? self::pdoErrno($previous) : 0;
    }

    private static function pdoMessage(\Throwable $e): string
    {
        return $e->getMessage();
    }

    /**
     * mysqlnd's bytes sent and received, and connections made, in this
     * process so far; null when unknown (mysqli not loaded, or statistics
     * off). mysqli and pdo_mysql share them.
     *
     * @return array{sent: int, received: int, connects: int}|null
     * @see https://www.php.net/manual/en/mysqlnd.stats.php
     */
    private static function mysqlndCounters(): ?array
    {
        if (!function_exists('mysqli_get_client_stats')) {
            return null;
        }
        $stats = mysqli_get_client_stats();
        if (!is_array($stats) || !isset($stats['bytes_sent'], $stats['bytes_received'], $stats['connect_success'])) {
            return null;
        }
        return ['sent' => (int) $stats['bytes_sent'], 'received' => (int) $stats['bytes_received'], 'connects' => (int) $stats['connect_success']];
    }

    /** True when the connection answers a ping (COM_PING). */
    private static function ping(\mysqli $connection): bool
    {
        $warnings = [];
        return self::guarded($warnings, static fn (): bool => $connection->ping(), $failure) === true;
    }

    /** Open a new mysqli connection: token, TLS with verification, authentication. */
    private static function open(Config $config): \mysqli
    {
        $token = self::authToken();
        $state = &self::state($config);
        $warnings = [];
        $before = self::mysqlndCounters();
        $connection = self::guarded($warnings, static function () use ($config, $token): \mysqli {
            $connection = mysqli_init();
            if ($connection === false) {
                throw new \mysqli_sql_exception('mysqli_init() failed', 2000);
            }
            $connection->options(MYSQLI_OPT_CONNECT_TIMEOUT, $config->connectTimeout);
            $connection->options(MYSQLI_OPT_READ_TIMEOUT, $config->readTimeout);
            // Sent in the handshake: no SET NAMES statement, nothing to pin.
            $connection->options(MYSQLI_SET_CHARSET_NAME, 'utf8mb4');
            $connection->ssl_set(null, null, $config->caFile, $config->caPath, null);
            // MYSQLI_CLIENT_SSL makes mysqlnd close the connection, before it
            // sends the token, when the server offers no TLS;
            // MYSQLI_CLIENT_SSL_VERIFY_SERVER_CERT verifies the chain and that the
            // certificate names DB_HOST. (MYSQLI_OPT_SSL_VERIFY_SERVER_CERT would be
            // overwritten by these flags.)
            $connection->real_connect(
                $config->host,
                $config->user,
                $token,
                $config->database,
                $config->port,
                null,
                MYSQLI_CLIENT_SSL | MYSQLI_CLIENT_SSL_VERIFY_SERVER_CERT,
            );
            return $connection;
        }, $failure);
        $after = self::mysqlndCounters();
        if ($connection instanceof \mysqli) {
            $state['stats']['connectionsOpened']++;
            self::saveState();
            return $connection;
        }
        $error = ConnectFailure::classify($config, $failure->getCode(), $failure->getMessage(), $warnings, $before, $after, $token);
        if ($error->reason === DatabaseException::ACCESS_DENIED) {
            // A token the proxy refused is not worth reusing.
            $state['mysqli'] = null;
            self::saveState();
        }
        throw $error;
    }

    /**
     * @param list<string|int|float|bool|null> $params
     * @throws DatabaseException
     */
    private static function run(\mysqli $connection, string $sql, array $params): \mysqli_result|bool
    {
        $statement = $params === [] ? $sql : self::bind($connection, $sql, $params);
        $warnings = [];
        $started = hrtime(true);
        $result = self::guarded($warnings, static fn (): \mysqli_result|bool => $connection->query($statement), $failure);
        if ($failure === null) {
            return $result;
        }
        $errno = $failure->getCode();
        $message = $failure->getMessage();
        if (in_array($errno, self::LOST_CONNECTION_ERRORS, true)) {
            if (self::$connection === $connection) {
                self::close();
            }
            $elapsed = (hrtime(true) - $started) / 1e9;
            $readTimeout = Config::fromEnvironment()->readTimeout;
            if ($errno === 2006 && $elapsed >= $readTimeout - 0.05) {
                // mysqlnd reports a read timeout as "server has gone away" too.
                throw new DatabaseException(DatabaseException::QUERY_TIMEOUT, "the statement did not answer within DB_QUERY_TIMEOUT_MS ({$readTimeout} s); the connection was closed", $errno);
            }
            throw new DatabaseException(DatabaseException::CONNECTION_LOST, "the connection was lost during the statement, which may have run; it is not run again: [{$errno}] {$message}", $errno);
        }
        $reason = match ($errno) {
            9501 => DatabaseException::PROXY_BORROW_TIMEOUT,
            default => DatabaseException::QUERY_ERROR,
        };
        throw new DatabaseException($reason, "query failed: [{$errno}] {$message}", $errno);
    }

    /**
     * Run $action with mysqli errors as exceptions and PHP warnings collected
     * (not printed, not turned into exceptions by an application's error
     * handler); restores both settings afterwards.
     *
     * @template T
     * @param list<string> $warnings
     * @param \Closure(): T $action
     * @return T|null null when it failed; the failure is then in $failure
     */
    private static function guarded(array &$warnings, \Closure $action, ?\mysqli_sql_exception &$failure): mixed
    {
        $failure = null;
        $driver = new \mysqli_driver();
        $reportMode = $driver->report_mode;
        mysqli_report(MYSQLI_REPORT_ERROR | MYSQLI_REPORT_STRICT);
        set_error_handler(static function (int $level, string $message) use (&$warnings): bool {
            $warnings[] = $message;
            return true;
        });
        try {
            return $action();
        } catch (\mysqli_sql_exception $e) {
            $failure = $e;
            return null;
        } finally {
            restore_error_handler();
            mysqli_report($reportMode);
        }
    }

    /**
     * Replace the `?` placeholders of $sql (outside quoted strings, quoted
     * identifiers and comments) by SQL literals of $params.
     *
     * @param list<mixed> $params
     */
    private static function bind(\mysqli $connection, string $sql, array $params): string
    {
        if (!array_is_list($params)) {
            throw new \InvalidArgumentException('query parameters must be a list (positional ? placeholders)');
        }
        $out = '';
        $next = 0;
        $length = strlen($sql);
        $i = 0;
        while ($i < $length) {
            $c = $sql[$i];
            if ($c === "'" || $c === '"' || $c === '`') {
                $end = self::skipQuoted($sql, $i, $c);
                $out .= substr($sql, $i, $end - $i);
                $i = $end;
            } elseif ($c === '#' || ($c === '-' && substr($sql, $i, 2) === '--' && ($i + 2 >= $length || ctype_space($sql[$i + 2]) || ord($sql[$i + 2]) < 32))) {
                $end = strpos($sql, "\n", $i);
                $end = $end === false ? $length : $end;
                $out .= substr($sql, $i, $end - $i);
                $i = $end;
            } elseif ($c === '/' && substr($sql, $i, 2) === '/*') {
                $end = strpos($sql, '*/', $i + 2);
                $end = $end === false ? $length : $end + 2;
                $out .= substr($sql, $i, $end - $i);
                $i = $end;
            } elseif ($c === '?') {
                if ($next >= count($params)) {
                    throw new \InvalidArgumentException(sprintf('the statement has more ? placeholders than the %d parameters given', count($params)));
                }
                $out .= self::literal($connection, $params[$next], $next);
                $next++;
                $i++;
            } else {
                $out .= $c;
                $i++;
            }
        }
        if ($next !== count($params)) {
            throw new \InvalidArgumentException(sprintf('the statement has %d ? placeholders but %d parameters were given', $next, count($params)));
        }
        return $out;
    }

    /** Index just past the quoted string, identifier or literal starting at $start. */
    private static function skipQuoted(string $sql, int $start, string $quote): int
    {
        $length = strlen($sql);
        $i = $start + 1;
        while ($i < $length) {
            $c = $sql[$i];
            if ($c === '\\' && $quote !== '`') {
                $i += 2;
            } elseif ($c === $quote) {
                if ($i + 1 < $length && $sql[$i + 1] === $quote) {
                    $i += 2; // doubled quote
                } else {
                    return $i + 1;
                }
            } else {
                $i++;
            }
        }
        return $length;
    }

    private static function literal(\mysqli $connection, mixed $value, int $index): string
    {
        return match (true) {
            $value === null => 'NULL',
            is_bool($value) => $value ? 'TRUE' : 'FALSE',
            is_int($value) => (string) $value,
            is_float($value) && is_finite($value) => var_export($value, true),
            is_string($value) => "'" . $connection->real_escape_string($value) . "'",
            default => throw new \InvalidArgumentException(sprintf(
                'query parameter %d is %s; use string, int, finite float, bool or null',
                $index,
                is_float($value) ? 'a non-finite float' : get_debug_type($value),
            )),
        };
    }
}
