<?php

declare(strict_types=1);

namespace ServerlessLamp\Laravel;

use Illuminate\Database\Connection;
use Illuminate\Support\ServiceProvider;

/**
 * Makes Laravel's `mysql` connections use the connector: binds
 * MySqlConnector as `db.connector.mysql` (Laravel's ConnectionFactory
 * resolves that binding before its own connector) and resolves `mysql`
 * connections to MySqlConnection (no re-run after a lost connection).
 * Discovered through composer.json (`extra.laravel.providers`), or listed in
 * config/app.php.
 *
 * @see https://laravel.com/docs/8.x/providers
 */
class ServerlessLampServiceProvider extends ServiceProvider
{
    public function register(): void
    {
        $this->app->bind('db.connector.mysql', MySqlConnector::class);
        Connection::resolverFor('mysql', static fn ($pdo, $database, $prefix, $config) => new MySqlConnection($pdo, $database, $prefix, $config));
    }
}
