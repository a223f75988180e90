<?php

/*
 * serverless-lamp-database: the PHP connector.
 *
 * One file, no dependencies beyond PHP 8.2+ with mysqli (mysqlnd) and openssl,
 * as Bref's Lambda layers ship them. A function connects to the RDS Proxy of a
 * ServerlessLampDatabase with an IAM authentication token over verified TLS:
 *
 *     require '/opt/serverless-lamp/Database.php';
 *     $tables = \ServerlessLamp\Database::query('SHOW TABLES')->fetch_all();
 *
 * Design notes (each one is a failure seen in the wild):
 * - The token is minted here (SigV4 query presign, as @aws-sdk/rds-signer does)
 *   from the credentials Lambda puts in the environment: no AWS SDK needed.
 * - TLS is required and verified (chain and host name) before the token is
 *   sent: mysqlnd sends a mysql_clear_password token in clear text to a server
 *   that offers no TLS unless the connect flags demand TLS; these do.
 * - One connection per PHP process, reused while the process lives. A
 *   connection that died in between is replaced once, with a valid token.
 * - Text protocol only (client-side escaping): server-side prepared statements
 *   pin the RDS Proxy session to one database connection.
 * - No `p:` persistent connections and no change_user(): mysqlnd breaks both
 *   with passwords over 255 bytes, and IAM tokens are longer.
 * - Exception messages and stack traces never contain the token.
 */

declare(strict_types=1);

namespace ServerlessLamp;

/**
 * A database failure, with a stable reason (the constants below, the same codes
 * as the Node.js handler's answers) and the MySQL error number as the code
 * (0 when there is none). The message never contains the token.
 */
final class DatabaseException extends \RuntimeException
{
    /** Missing or invalid environment. */
    public const CONFIGURATION_ERROR = 'CONFIGURATION_ERROR';
    /** MySQL 1045: token rejected, or no rds-db:connect for the user. */
    public const ACCESS_DENIED = 'ACCESS_DENIED';
    /** 9501: no database connection free within the proxy's borrow timeout. */
    public const PROXY_BORROW_TIMEOUT = 'PROXY_BORROW_TIMEOUT';
    /** 1040: connection limit reached. */
    public const TOO_MANY_CONNECTIONS = 'TOO_MANY_CONNECTIONS';
    /** The server offers no TLS (the token was not sent), or refused a connection without TLS. */
    public const TLS_REQUIRED = 'TLS_REQUIRED';
    /** The certificate chain or host name did not verify (the token was not sent). */
    public const TLS_VERIFICATION_FAILED = 'TLS_VERIFICATION_FAILED';
    /** Connection refused, timed out, or host not found. */
    public const DATABASE_UNREACHABLE = 'DATABASE_UNREACHABLE';
    /** The connection dropped mid-statement, on the retry too. */
    public const CONNECTION_LOST = 'CONNECTION_LOST';
    /** The statement outlived DB_QUERY_TIMEOUT_MS. */
    public const QUERY_TIMEOUT = 'QUERY_TIMEOUT';
    /** The server refused the statement (syntax, privileges, constraints, ...). */
    public const QUERY_ERROR = 'QUERY_ERROR';

    public function __construct(
        public readonly string $reason,
        string $message,
        int $code = 0,
    ) {
        parent::__construct($message, $code);
    }
}

/**
 * The connection to the database, shared by everything in this PHP process.
 *
 * Environment: DB_HOST, DB_PORT (default 3306), DB_USER, DB_NAME, AWS_REGION,
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN (as Lambda sets
 * them); optional DB_CA_BUNDLE_FILE (PEM file of the CAs to trust instead of
 * openssl.cafile / openssl.capath / OpenSSL's default store),
 * DB_CONNECT_TIMEOUT_MS (default 5000) and DB_QUERY_TIMEOUT_MS (default 30000);
 * mysqlnd counts both in whole seconds, rounded up.
 */
final class Database
{
    /** IAM authentication tokens are valid for 15 minutes. */
    public const TOKEN_VALIDITY_SECONDS = 900;

    /**
     * A cached token is replaced this long before it expires, so it is used for
     * at most 12 minutes. The proxy checks the token only while a connection
     * authenticates; the margin covers clock skew between the function and the
     * proxy and a slow connect, and matches the Node.js handler.
     */
    public const TOKEN_REFRESH_MARGIN_SECONDS = 180;

    /** MySQL client errors that mean "this connection is dead". */
    private const LOST_CONNECTION_ERRORS = [
        2006, // CR_SERVER_GONE_ERROR: mysqlnd's error for a closed socket
        2013, // CR_SERVER_LOST
        2055, // CR_SERVER_LOST_EXTENDED
        4031, // ER_CLIENT_INTERACTION_TIMEOUT: MySQL 8 closed an idle connection
    ];

    private const EMPTY_PAYLOAD_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

    private static ?\mysqli $connection = null;

    /** @var array{key: string, value: string, mintedAt: int}|null */
    private static ?array $token = null;

    /** @var \Closure(): int|null */
    private static ?\Closure $clock = null;

    /** @var array{tokensMinted: int, connectionsOpened: int, reconnects: int} */
    private static array $stats = ['tokensMinted' => 0, 'connectionsOpened' => 0, 'reconnects' => 0];

    private function __construct()
    {
    }

    /**
     * The connected mysqli, opened on first use and reused afterwards.
     *
     * A reused connection is checked first with one round trip (`DO 1`); if it
     * is dead it is replaced once, with a valid token. What you then run on it
     * is yours: use query() for the "retry once" behaviour.
     *
     * @throws DatabaseException
     */
    public static function connection(): \mysqli
    {
        if (self::$connection !== null) {
            if (self::isAlive(self::$connection)) {
                return self::$connection;
            }
            self::close();
            self::$stats['reconnects']++;
        }
        return self::$connection = self::open();
    }

    /**
     * Run one statement with the text protocol; `?` placeholders outside quotes
     * and comments are replaced by the escaped `$params`, in order
     * (string, int, float, bool or null). Returns the buffered result of a
     * statement that has one, true otherwise.
     *
     * When the reused connection turns out dead (closed while the function was
     * frozen, or by the proxy), the statement is run once more on a new
     * connection. A connection that dies while the server runs the statement
     * looks the same to the client, so the statement may then run twice: use
     * query() for statements that are safe to repeat, and connection() for
     * transactions.
     *
     * @param list<string|int|float|bool|null> $params
     * @throws DatabaseException
     * @throws \InvalidArgumentException when placeholders and parameters do not match
     */
    public static function query(string $sql, array $params = []): \mysqli_result|bool
    {
        $reused = self::$connection !== null;
        $connection = self::$connection ?? (self::$connection = self::open());
        try {
            return self::run($connection, $sql, $params);
        } catch (DatabaseException $e) {
            if ($e->reason !== DatabaseException::CONNECTION_LOST || !$reused) {
                throw $e;
            }
        }
        // The reused connection was dead: once more, on a new connection.
        self::$stats['reconnects']++;
        return self::run(self::$connection = self::open(), $sql, $params);
    }

    /**
     * The IAM authentication token for the configured proxy, user and Region,
     * signed with the environment's credentials. Cached, and minted again
     * TOKEN_REFRESH_MARGIN_SECONDS before it expires or when an input changes.
     *
     * @throws DatabaseException CONFIGURATION_ERROR when the environment is incomplete
     */
    public static function authToken(): string
    {
        $config = self::config();
        $credentials = self::credentials();
        $now = self::now();
        $key = hash('sha256', implode("\0", [
            $config['host'], (string) $config['port'], $config['user'], $config['region'],
            $credentials['accessKeyId'], $credentials['secretAccessKey'], $credentials['sessionToken'] ?? '',
        ]));
        $cached = self::$token;
        if (
            $cached !== null && $cached['key'] === $key && $now >= $cached['mintedAt']
            && $now < $cached['mintedAt'] + self::TOKEN_VALIDITY_SECONDS - self::TOKEN_REFRESH_MARGIN_SECONDS
        ) {
            return $cached['value'];
        }
        $value = self::signAuthToken(
            $config['host'],
            $config['port'],
            $config['user'],
            $config['region'],
            $credentials['accessKeyId'],
            $credentials['secretAccessKey'],
            $credentials['sessionToken'],
            $now,
        );
        self::$token = ['key' => $key, 'value' => $value, 'mintedAt' => $now];
        self::$stats['tokensMinted']++;
        return $value;
    }

    /**
     * The RDS IAM authentication token for these inputs at `$time` (seconds
     * since the epoch), byte for byte what @aws-sdk/rds-signer's
     * `Signer.getAuthToken()` returns: a SigV4 query presign of
     * `GET https://host:port/?Action=connect&DBUser=user`, service `rds-db`,
     * valid 900 seconds, without the `https://`. Pure: no environment, no clock.
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
        $amzDate = gmdate('Ymd\THis\Z', $time);
        $day = substr($amzDate, 0, 8);
        $scope = "{$day}/{$region}/rds-db/aws4_request";
        $query = [
            'Action' => 'connect',
            'DBUser' => $user,
            'X-Amz-Algorithm' => 'AWS4-HMAC-SHA256',
            'X-Amz-Credential' => "{$accessKeyId}/{$scope}",
            'X-Amz-Date' => $amzDate,
            'X-Amz-Expires' => (string) self::TOKEN_VALIDITY_SECONDS,
            'X-Amz-SignedHeaders' => 'host',
        ];
        // The SDK adds the session token only when it is not empty.
        if ($sessionToken !== null && $sessionToken !== '') {
            $query['X-Amz-Security-Token'] = $sessionToken;
        }
        $canonicalRequest = implode("\n", [
            'GET',
            '/',
            self::canonicalQuery($query),
            "host:{$host}:{$port}",
            '',
            'host',
            self::EMPTY_PAYLOAD_SHA256,
        ]);
        $stringToSign = implode("\n", ['AWS4-HMAC-SHA256', $amzDate, $scope, hash('sha256', $canonicalRequest)]);
        $key = 'AWS4' . $secretAccessKey;
        foreach ([$day, $region, 'rds-db', 'aws4_request'] as $part) {
            $key = hash_hmac('sha256', $part, $key, true);
        }
        $query['X-Amz-Signature'] = hash_hmac('sha256', $stringToSign, $key);
        return "{$host}:{$port}/?" . self::canonicalQuery($query);
    }

    /** Close and forget the connection (the cached token is kept). */
    public static function close(): void
    {
        $connection = self::$connection;
        self::$connection = null;
        if ($connection !== null) {
            // A dead connection may fail to say goodbye: nothing to report.
            $warnings = [];
            self::guarded($warnings, static fn (): bool => $connection->close(), $failure);
        }
    }

    /**
     * Counters of this process: tokens minted, connections opened, dead
     * connections replaced.
     *
     * @return array{tokensMinted: int, connectionsOpened: int, reconnects: int}
     */
    public static function stats(): array
    {
        return self::$stats;
    }

    /**
     * Replace the clock tokens are signed with (a function returning seconds
     * since the epoch); null restores time(). For tests.
     */
    public static function useClock(?\Closure $clock): void
    {
        self::$clock = $clock;
    }

    /* ------------------------------------------------------------------ */

    private static function now(): int
    {
        return self::$clock === null ? time() : (int) (self::$clock)();
    }

    /** @param array<string, string> $query */
    private static function canonicalQuery(array $query): string
    {
        // Keys sorted by byte value; RFC 3986 escaping (rawurlencode) of keys and
        // values, as the SDK's escapeUri does.
        ksort($query, SORT_STRING);
        $pairs = [];
        foreach ($query as $name => $value) {
            $pairs[] = rawurlencode((string) $name) . '=' . rawurlencode($value);
        }
        return implode('&', $pairs);
    }

    /**
     * @return array{host: string, port: int, user: string, database: string, region: string,
     *   caFile: ?string, caPath: ?string, trust: string, connectTimeout: int, readTimeout: int}
     */
    private static function config(): array
    {
        $env = static fn (string $name): string => (string) getenv($name);
        $missing = array_values(array_filter(
            ['DB_HOST', 'DB_USER', 'DB_NAME', 'AWS_REGION'],
            static fn (string $name): bool => $env($name) === '',
        ));
        if ($missing !== []) {
            throw self::configError('missing environment variables: ' . implode(', ', $missing));
        }
        $host = $env('DB_HOST');
        if (strtolower($host) === 'localhost') {
            throw self::configError("DB_HOST 'localhost' makes mysqlnd use a Unix socket; use 127.0.0.1 or a host name");
        }
        if (str_starts_with($host, 'p:')) {
            throw self::configError('DB_HOST must not ask for a persistent connection (p:): mysqlnd breaks them with tokens over 255 bytes');
        }
        if (preg_match('/\s|\//', $host) === 1) {
            throw self::configError("DB_HOST must be a host name or IP address, got '{$host}'");
        }
        $port = $env('DB_PORT') === '' ? 3306 : self::integer('DB_PORT', $env('DB_PORT'), 1, 65535);

        // Trust: an explicit CA bundle, else PHP's openssl settings, else OpenSSL's default store.
        $caFile = null;
        $caPath = null;
        $override = $env('DB_CA_BUNDLE_FILE');
        if ($override !== '') {
            if (!is_file($override) || !is_readable($override)) {
                throw self::configError("DB_CA_BUNDLE_FILE '{$override}' is not a readable file");
            }
            $caFile = $override;
            $trust = "CA bundle {$override} (DB_CA_BUNDLE_FILE)";
        } else {
            $caFile = ((string) ini_get('openssl.cafile')) ?: null;
            $caPath = ((string) ini_get('openssl.capath')) ?: null;
            $trust = $caFile !== null || $caPath !== null
                ? 'openssl.cafile/openssl.capath (' . implode(', ', array_filter([$caFile, $caPath])) . ')'
                : "OpenSSL's default trust store";
        }
        return [
            'host' => $host,
            'port' => $port,
            'user' => $env('DB_USER'),
            'database' => $env('DB_NAME'),
            'region' => $env('AWS_REGION'),
            'caFile' => $caFile,
            'caPath' => $caPath,
            'trust' => $trust,
            'connectTimeout' => self::seconds('DB_CONNECT_TIMEOUT_MS', $env('DB_CONNECT_TIMEOUT_MS'), 5000),
            'readTimeout' => self::seconds('DB_QUERY_TIMEOUT_MS', $env('DB_QUERY_TIMEOUT_MS'), 30000),
        ];
    }

    /** @return array{accessKeyId: string, secretAccessKey: string, sessionToken: ?string} */
    private static function credentials(): array
    {
        $accessKeyId = (string) getenv('AWS_ACCESS_KEY_ID');
        $secretAccessKey = (string) getenv('AWS_SECRET_ACCESS_KEY');
        $missing = array_keys(array_filter(
            ['AWS_ACCESS_KEY_ID' => $accessKeyId, 'AWS_SECRET_ACCESS_KEY' => $secretAccessKey],
            static fn (string $value): bool => $value === '',
        ));
        if ($missing !== []) {
            throw self::configError('missing AWS credentials in the environment: ' . implode(', ', $missing));
        }
        $sessionToken = (string) getenv('AWS_SESSION_TOKEN');
        return [
            'accessKeyId' => $accessKeyId,
            'secretAccessKey' => $secretAccessKey,
            'sessionToken' => $sessionToken === '' ? null : $sessionToken,
        ];
    }

    private static function integer(string $name, string $value, int $min, int $max): int
    {
        if (preg_match('/^\d+$/', $value) !== 1 || (int) $value < $min || (int) $value > $max) {
            throw self::configError("{$name} must be an integer from {$min} to {$max}, got '{$value}'");
        }
        return (int) $value;
    }

    private static function seconds(string $name, string $value, int $defaultMs): int
    {
        $ms = $value === '' ? $defaultMs : self::integer($name, $value, 1, 86_400_000);
        return intdiv($ms + 999, 1000);
    }

    private static function configError(string $message): DatabaseException
    {
        return new DatabaseException(DatabaseException::CONFIGURATION_ERROR, $message);
    }

    /** Open a new connection: token, TLS with verification, authentication. */
    private static function open(): \mysqli
    {
        $config = self::config();
        $token = self::authToken();
        $where = "{$config['host']}:{$config['port']}";
        $warnings = [];
        $connection = self::guarded($warnings, static function () use ($config, $token): \mysqli {
            $connection = mysqli_init();
            if ($connection === false) {
                throw new \mysqli_sql_exception('mysqli_init() failed', 2000);
            }
            $connection->options(MYSQLI_OPT_CONNECT_TIMEOUT, $config['connectTimeout']);
            $connection->options(MYSQLI_OPT_READ_TIMEOUT, $config['readTimeout']);
            // Sent in the handshake: no SET NAMES statement, nothing to pin.
            $connection->options(MYSQLI_SET_CHARSET_NAME, 'utf8mb4');
            $connection->ssl_set(null, null, $config['caFile'], $config['caPath'], null);
            // MYSQLI_CLIENT_SSL makes mysqlnd close the connection, before it
            // sends the token, when the server offers no TLS;
            // MYSQLI_CLIENT_SSL_VERIFY_SERVER_CERT verifies the chain and that the
            // certificate names DB_HOST. (MYSQLI_OPT_SSL_VERIFY_SERVER_CERT would be
            // overwritten by these flags.)
            $connection->real_connect(
                $config['host'],
                $config['user'],
                $token,
                $config['database'],
                $config['port'],
                null,
                MYSQLI_CLIENT_SSL | MYSQLI_CLIENT_SSL_VERIFY_SERVER_CERT,
            );
            return $connection;
        }, $failure);
        if ($connection instanceof \mysqli) {
            self::$stats['connectionsOpened']++;
            return $connection;
        }
        $errno = $failure->getCode();
        $detail = self::redact($failure->getMessage(), $token);
        $tlsDetail = self::redact(self::tlsDetail($warnings), $token);
        $prefix = "cannot connect to {$where} as {$config['user']}";
        if ($errno === 1045) {
            // A token the proxy refused is not worth reusing.
            self::$token = null;
            throw new DatabaseException(DatabaseException::ACCESS_DENIED, "{$prefix}: access denied ({$detail}); check the token's user, host, port and Region and the function's rds-db:connect permission", $errno);
        }
        if ($errno === 9501) {
            throw new DatabaseException(DatabaseException::PROXY_BORROW_TIMEOUT, "{$prefix}: {$detail}", $errno);
        }
        if ($errno === 1040) {
            throw new DatabaseException(DatabaseException::TOO_MANY_CONNECTIONS, "{$prefix}: {$detail}", $errno);
        }
        if ($errno === 3159 || $errno === 4151) {
            throw new DatabaseException(DatabaseException::TLS_REQUIRED, "{$prefix}: the server requires TLS ({$detail})", $errno);
        }
        if ($tlsDetail !== '') {
            throw new DatabaseException(DatabaseException::TLS_VERIFICATION_FAILED, "{$prefix}: TLS verification failed, the token was not sent: {$tlsDetail} (trusted: {$config['trust']})", $errno);
        }
        if ($errno === 2006 && !self::sawGreetingFailure($warnings)) {
            // mysqlnd's answer when the greeting lacks CLIENT_SSL: it closes the
            // socket without sending anything, and reports "server has gone away".
            throw new DatabaseException(DatabaseException::TLS_REQUIRED, "{$prefix}: the server does not offer TLS, so the connection was closed before authentication; the token was not sent", $errno);
        }
        $warningText = self::redact(self::warningText($warnings), $token);
        throw new DatabaseException(DatabaseException::DATABASE_UNREACHABLE, "{$prefix}: [{$errno}] {$detail}" . ($warningText !== '' ? " ({$warningText})" : ''), $errno);
    }

    /** True when the connection answers a no-op statement. */
    private static function isAlive(\mysqli $connection): bool
    {
        $warnings = [];
        $result = self::guarded($warnings, static fn (): bool => $connection->query('DO 1') === true, $failure);
        return $result === true;
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
            self::close();
            $elapsed = (hrtime(true) - $started) / 1e9;
            $readTimeout = self::config()['readTimeout'];
            if ($errno === 2006 && $elapsed >= $readTimeout - 0.05) {
                // mysqlnd reports a read timeout as "server has gone away" too.
                throw new DatabaseException(DatabaseException::QUERY_TIMEOUT, "the statement did not answer within DB_QUERY_TIMEOUT_MS ({$readTimeout} s); the connection was closed", $errno);
            }
            throw new DatabaseException(DatabaseException::CONNECTION_LOST, "the connection was lost during the statement: [{$errno}] {$message}", $errno);
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

    /** @param list<string> $warnings */
    private static function tlsDetail(array $warnings): string
    {
        $details = [];
        foreach ($warnings as $warning) {
            $text = self::warningLine($warning);
            if (preg_match('/SSL|certificate|Peer|crypto/i', $text) === 1 && !str_contains($text, 'Cannot connect to MySQL by using SSL')) {
                $details[] = $text;
            }
        }
        if ($details === []) {
            foreach ($warnings as $warning) {
                if (str_contains($warning, 'Cannot connect to MySQL by using SSL')) {
                    return 'the TLS handshake failed';
                }
            }
        }
        return implode('; ', $details);
    }

    /** @param list<string> $warnings */
    private static function sawGreetingFailure(array $warnings): bool
    {
        foreach ($warnings as $warning) {
            if (str_contains($warning, 'greeting packet')) {
                return true;
            }
        }
        return false;
    }

    /** @param list<string> $warnings */
    private static function warningText(array $warnings): string
    {
        return implode('; ', array_map(self::warningLine(...), $warnings));
    }

    private static function warningLine(string $warning): string
    {
        // "mysqli::real_connect(): SSL operation failed with code 1. OpenSSL Error messages:\nerror:..."
        $text = preg_replace('/^[\w:]+\(\):\s*/', '', $warning) ?? $warning;
        return trim(preg_replace('/\s+/', ' ', $text) ?? $text);
    }

    private static function redact(string $text, #[\SensitiveParameter] string $token): string
    {
        return $token === '' ? $text : str_replace($token, '[token]', $text);
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
