<?php

declare(strict_types=1);

namespace ServerlessLamp\Laravel;

use Illuminate\Database\Connectors\MySqlConnector as LaravelMySqlConnector;
use ServerlessLamp\Config;
use ServerlessLamp\Database;

/**
 * Laravel's MySQL connector with an IAM token as password, supplied when a
 * connection is opened (never written into the configuration, so
 * `php artisan config:cache` cannot freeze an expiring token), over verified
 * TLS, with emulated prepares and a persistent PDO that outlives PHP-FPM
 * requests (Database::connectWithToken()).
 *
 * Host, port, user and database come from the connection's configuration
 * (`host`, `port`, `username`, `database`), else from the environment
 * `connectFunction()` sets (DB_HOST, DB_PORT, DB_USER, DB_NAME). Laravel's
 * session settings (`isolation_level`, `timezone`, `strict`/`modes`) run
 * only on a new server connection, not on every request; `charset` is always
 * utf8mb4, set in the handshake (no `SET NAMES`), and the database is chosen
 * in the DSN (no `USE`). Each of those SET statements pins an RDS Proxy session
 * unless the proxy's EXCLUDE_VARIABLE_SETS filter is on.
 *
 * ServerlessLampServiceProvider binds it as `db.connector.mysql`, which
 * Laravel's ConnectionFactory resolves before its own connector.
 *
 * @see https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-proxy-pinning.html
 */
class MySqlConnector extends LaravelMySqlConnector
{
    /**
     * @param array<string, mixed> $config
     * @return \PDO
     */
    public function connect(array $config)
    {
        $host = $config['host'] ?? null;
        $lamp = Config::fromEnvironment([
            'host' => is_array($host) ? ($host[0] ?? null) : $host,
            'port' => $config['port'] ?? null,
            'user' => $config['username'] ?? null,
            'database' => $config['database'] ?? null,
        ]);
        // The connector's options win over Laravel's defaults and the app's
        // `options` (Laravel turns emulated prepares off).
        $options = Database::pdoOptions($lamp) + $this->getOptions($config);
        $dsn = Database::pdoDsn($lamp);
        $pdo = Database::connectWithToken(
            $lamp,
            fn (#[\SensitiveParameter] string $token): \PDO => $this->createPdoConnection($dsn, $lamp->user, $token, $options),
        );
        if (Database::openedNewConnection()) {
            $this->configureIsolationLevel($pdo, $config);
            $this->configureTimezone($pdo, $config);
            $this->setModes($pdo, $config);
        }
        return $pdo;
    }
}
