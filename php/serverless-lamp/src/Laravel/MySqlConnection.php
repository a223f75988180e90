<?php

declare(strict_types=1);

namespace ServerlessLamp\Laravel;

use Closure;
use Illuminate\Database\MySqlConnection as LaravelMySqlConnection;
use Illuminate\Database\QueryException;

/**
 * Laravel's MySQL connection, except that a statement whose connection was
 * lost is not run again. Laravel reconnects and re-runs it (outside
 * transactions), but it may already have run on the server: an INSERT would
 * then happen twice. Here it fails; the connection is dropped, and the next
 * statement opens (or finds again) a live one.
 */
class MySqlConnection extends LaravelMySqlConnection
{
    /**
     * @param string $query
     * @param array<mixed> $bindings
     * @return mixed
     */
    protected function tryAgainIfCausedByLostConnection(QueryException $e, $query, $bindings, Closure $callback)
    {
        if ($this->causedByLostConnection($e->getPrevious())) {
            $this->disconnect();
        }
        throw $e;
    }
}
