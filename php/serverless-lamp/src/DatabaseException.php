<?php

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
    /** The server greeted without offering TLS (nothing was sent to it), or refused a connection without TLS. */
    public const TLS_REQUIRED = 'TLS_REQUIRED';
    /** The certificate chain or host name did not verify (the token was not sent). */
    public const TLS_VERIFICATION_FAILED = 'TLS_VERIFICATION_FAILED';
    /** Connection refused, timed out, host not found, or closed before the server greeted. */
    public const DATABASE_UNREACHABLE = 'DATABASE_UNREACHABLE';
    /**
     * The connection dropped: during a statement (which may have run: it is
     * not run again), or during authentication after TLS was set up and the
     * credentials were sent inside it.
     */
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
