<?php

declare(strict_types=1);

namespace ServerlessLamp\Doctrine;

use Doctrine\DBAL\Driver\Middleware\AbstractDriverMiddleware;
use ServerlessLamp\Config;
use ServerlessLamp\Database;
use ServerlessLamp\DatabaseException;

/**
 * The driver IamAuthMiddleware wraps around `pdo_mysql`: host, port, user and
 * database from the connection parameters (`host`, `port`, `user`, `dbname`),
 * else from the environment (DB_HOST, DB_PORT, DB_USER, DB_NAME); the
 * password is the token Database::connectWithToken() presents.
 */
final class IamAuthDriver extends AbstractDriverMiddleware
{
    /**
     * @param array<string, mixed> $params
     */
    public function connect(#[\SensitiveParameter] array $params)
    {
        if (isset($params['driver']) && $params['driver'] !== 'pdo_mysql') {
            throw new DatabaseException(DatabaseException::CONFIGURATION_ERROR, "IamAuthMiddleware needs the pdo_mysql driver, not {$params['driver']}");
        }
        $lamp = Config::fromEnvironment([
            'host' => $params['host'] ?? null,
            'port' => $params['port'] ?? null,
            'user' => $params['user'] ?? null,
            'database' => $params['dbname'] ?? null,
        ]);
        unset($params['url'], $params['unix_socket']);
        $params = [
            'host' => $lamp->host,
            'port' => $lamp->port,
            'user' => $lamp->user,
            'dbname' => $lamp->database,
            'charset' => 'utf8mb4',
            'persistent' => true,
            // The connector's options win over the application's.
            'driverOptions' => Database::pdoOptions($lamp) + ($params['driverOptions'] ?? []),
        ] + $params;
        return Database::connectWithToken(
            $lamp,
            fn (#[\SensitiveParameter] string $token) => parent::connect(['password' => $token] + $params),
        );
    }
}
