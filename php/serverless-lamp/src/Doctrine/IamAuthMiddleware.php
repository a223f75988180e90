<?php

declare(strict_types=1);

namespace ServerlessLamp\Doctrine;

use Doctrine\DBAL\Driver;
use Doctrine\DBAL\Driver\Middleware;

/**
 * A Doctrine DBAL (3.x) driver middleware for the `pdo_mysql` driver: every
 * connection is opened with an IAM token (supplied at connect time, never in
 * the configuration), over verified TLS, with emulated prepares, as a
 * persistent PDO that outlives PHP-FPM requests.
 *
 *     $config = (new \Doctrine\DBAL\Configuration())->setMiddlewares([new IamAuthMiddleware()]);
 *     $connection = \Doctrine\DBAL\DriverManager::getConnection(['driver' => 'pdo_mysql'], $config);
 *
 * Symfony: tag the service `doctrine.middleware`.
 *
 * @see https://www.doctrine-project.org/projects/doctrine-dbal/en/3.6/reference/architecture.html#middlewares
 */
final class IamAuthMiddleware implements Middleware
{
    public function wrap(Driver $driver): Driver
    {
        return new IamAuthDriver($driver);
    }
}
