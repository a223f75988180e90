<?php

declare(strict_types=1);

namespace ServerlessLamp;

/**
 * Where and how to connect, read from the environment `connectFunction()`
 * and Lambda give a function.
 *
 * DB_HOST, DB_PORT (default 3306), DB_USER (or Laravel's DB_USERNAME), DB_NAME
 * (or Laravel's DB_DATABASE), AWS_REGION; optional DB_CA_BUNDLE_FILE,
 * DB_CONNECT_TIMEOUT_MS (default 5000), DB_QUERY_TIMEOUT_MS (default 30000;
 * mysqlnd counts both in whole seconds, rounded up) and DB_IDLE_CHECK_MS
 * (default 10000: a connection unused for longer is checked before use).
 */
final class Config
{
    private function __construct(
        public readonly string $host,
        public readonly int $port,
        public readonly string $user,
        public readonly string $database,
        public readonly string $region,
        public readonly ?string $caFile,
        public readonly ?string $caPath,
        public readonly string $trust,
        public readonly int $connectTimeout,
        public readonly int $readTimeout,
        public readonly int $idleCheckMs,
    ) {
    }

    /**
     * @param array<string, string|int|null> $overrides values that win over the
     *   environment (host, port, user, database), as a framework's
     *   configuration gives them
     * @throws DatabaseException CONFIGURATION_ERROR
     */
    public static function fromEnvironment(array $overrides = []): self
    {
        // The environment of a Lambda function does not change while it runs:
        // read once per request (PHP-FPM) or process.
        if ($overrides === [] && self::$fromEnvironment !== null) {
            return self::$fromEnvironment;
        }
        $config = self::read($overrides);
        if ($overrides === []) {
            self::$fromEnvironment = $config;
        }
        return $config;
    }

    private static ?self $fromEnvironment = null;

    /** @param array<string, string|int|null> $overrides */
    private static function read(array $overrides): self
    {
        $env = static fn (string ...$names): string => array_reduce(
            $names,
            static fn (string $found, string $name): string => $found !== '' ? $found : (string) getenv($name),
            '',
        );
        $values = [
            'DB_HOST' => (string) ($overrides['host'] ?? $env('DB_HOST')),
            'DB_USER' => (string) ($overrides['user'] ?? $env('DB_USER', 'DB_USERNAME')),
            'DB_NAME' => (string) ($overrides['database'] ?? $env('DB_NAME', 'DB_DATABASE')),
            'AWS_REGION' => $env('AWS_REGION'),
        ];
        $missing = array_keys(array_filter($values, static fn (string $value): bool => $value === ''));
        if ($missing !== []) {
            throw self::error('missing environment variables: ' . implode(', ', $missing));
        }
        $host = $values['DB_HOST'];
        if (strtolower($host) === 'localhost') {
            throw self::error("DB_HOST 'localhost' makes mysqlnd use a Unix socket; use 127.0.0.1 or a host name");
        }
        if (str_starts_with($host, 'p:')) {
            throw self::error('DB_HOST must not ask for a persistent connection (p:): mysqlnd breaks them with tokens over 255 bytes');
        }
        if (preg_match('/[\s\/;=]/', $host) === 1) {
            throw self::error("DB_HOST must be a host name or IP address, got '{$host}'");
        }
        $port = isset($overrides['port']) && $overrides['port'] !== ''
            ? self::integer('DB_PORT', (string) $overrides['port'], 1, 65535)
            : ($env('DB_PORT') === '' ? 3306 : self::integer('DB_PORT', $env('DB_PORT'), 1, 65535));

        // Trust: an explicit CA bundle, else PHP's openssl settings, else OpenSSL's default store.
        $caFile = null;
        $caPath = null;
        $override = $env('DB_CA_BUNDLE_FILE');
        if ($override !== '') {
            if (!is_file($override) || !is_readable($override)) {
                throw self::error("DB_CA_BUNDLE_FILE '{$override}' is not a readable file");
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
        return new self(
            $host,
            $port,
            $values['DB_USER'],
            $values['DB_NAME'],
            $values['AWS_REGION'],
            $caFile,
            $caPath,
            $trust,
            self::seconds('DB_CONNECT_TIMEOUT_MS', $env('DB_CONNECT_TIMEOUT_MS'), 5000),
            self::seconds('DB_QUERY_TIMEOUT_MS', $env('DB_QUERY_TIMEOUT_MS'), 30000),
            $env('DB_IDLE_CHECK_MS') === '' ? 10_000 : self::integer('DB_IDLE_CHECK_MS', $env('DB_IDLE_CHECK_MS'), 0, 86_400_000),
        );
    }

    /**
     * The AWS credentials Lambda puts in the environment.
     *
     * @return array{accessKeyId: string, secretAccessKey: string, sessionToken: ?string}
     * @throws DatabaseException CONFIGURATION_ERROR
     */
    public static function credentials(): array
    {
        $accessKeyId = (string) getenv('AWS_ACCESS_KEY_ID');
        $secretAccessKey = (string) getenv('AWS_SECRET_ACCESS_KEY');
        $missing = array_keys(array_filter(
            ['AWS_ACCESS_KEY_ID' => $accessKeyId, 'AWS_SECRET_ACCESS_KEY' => $secretAccessKey],
            static fn (string $value): bool => $value === '',
        ));
        if ($missing !== []) {
            throw self::error('missing AWS credentials in the environment: ' . implode(', ', $missing));
        }
        $sessionToken = (string) getenv('AWS_SESSION_TOKEN');
        return [
            'accessKeyId' => $accessKeyId,
            'secretAccessKey' => $secretAccessKey,
            'sessionToken' => $sessionToken === '' ? null : $sessionToken,
        ];
    }

    /** `host:port`, for messages. */
    public function where(): string
    {
        return "{$this->host}:{$this->port}";
    }

    private static function integer(string $name, string $value, int $min, int $max): int
    {
        if (preg_match('/^\d+$/', $value) !== 1 || (int) $value < $min || (int) $value > $max) {
            throw self::error("{$name} must be an integer from {$min} to {$max}, got '{$value}'");
        }
        return (int) $value;
    }

    private static function seconds(string $name, string $value, int $defaultMs): int
    {
        $ms = $value === '' ? $defaultMs : self::integer($name, $value, 1, 86_400_000);
        return intdiv($ms + 999, 1000);
    }

    private static function error(string $message): DatabaseException
    {
        return new DatabaseException(DatabaseException::CONFIGURATION_ERROR, $message);
    }
}
