<?php

declare(strict_types=1);

namespace ServerlessLamp;

/**
 * Why a connection attempt failed, decided by what happened on the wire, not
 * guessed from the error number alone: mysqlnd's statistics (which mysqli and
 * pdo_mysql share, `mysqlnd.collect_statistics`, on by default) tell whether
 * the server greeted and how many bytes the client sent. Before TLS the client
 * sends only the SSLRequest packet (36 bytes; mysqlnd counts 40 when the
 * handshake then fails); the handshake response that carries the user and the
 * token (at least 39 bytes more) goes out only inside TLS, since mysqlnd
 * refuses to go on without it. So the credentials were sent only when more
 * than CREDENTIALS_SENT_ABOVE bytes left.
 *
 * @see https://www.php.net/manual/en/mysqlnd.stats.php
 * @see https://dev.mysql.com/doc/dev/mysql-server/latest/page_protocol_connection_phase.html
 */
final class ConnectFailure
{
    /**
     * More bytes than the SSLRequest packet (4-byte header, 32-byte payload)
     * plus what mysqlnd adds when it gives up, fewer than SSLRequest plus the
     * shortest handshake response (75): measured, 40 when the TLS handshake fails.
     */
    private const CREDENTIALS_SENT_ABOVE = 64;

    private function __construct()
    {
    }

    /**
     * The exception for a failed connection attempt.
     *
     * @param list<string> $warnings PHP warnings raised during the attempt
     * @param array{sent: int, received: int, connects: int}|null $before Database::mysqlndCounters() before the attempt
     * @param array{sent: int, received: int, connects: int}|null $after the same after it
     */
    public static function classify(
        Config $config,
        int $errno,
        string $detail,
        array $warnings,
        ?array $before,
        ?array $after,
        #[\SensitiveParameter] string $token,
    ): DatabaseException {
        $detail = self::redact($detail, $token);
        // PDO words it "Cannot connect to MySQL using SSL", mysqli "... by using SSL".
        $tlsDetail = self::redact(self::tlsDetail(preg_match('/Cannot connect to MySQL (by )?using SSL/', $detail) === 1 ? [...$warnings, 'Cannot connect to MySQL by using SSL'] : $warnings), $token);
        $prefix = "cannot connect to {$config->where()} as {$config->user}";
        $sent = $before !== null && $after !== null ? $after['sent'] - $before['sent'] : null;
        $received = $before !== null && $after !== null ? $after['received'] - $before['received'] : null;
        if ($errno === 1045) {
            return new DatabaseException(DatabaseException::ACCESS_DENIED, "{$prefix}: access denied ({$detail}); check the token's user, host, port and Region and the function's rds-db:connect permission", $errno);
        }
        if ($errno === 9501) {
            return new DatabaseException(DatabaseException::PROXY_BORROW_TIMEOUT, "{$prefix}: {$detail}", $errno);
        }
        if ($errno === 1040) {
            return new DatabaseException(DatabaseException::TOO_MANY_CONNECTIONS, "{$prefix}: {$detail}", $errno);
        }
        if ($errno === 3159 || $errno === 4151) {
            return new DatabaseException(DatabaseException::TLS_REQUIRED, "{$prefix}: the server requires TLS ({$detail})", $errno);
        }
        if ($tlsDetail !== '' && ($sent === null || $sent <= self::CREDENTIALS_SENT_ABOVE)) {
            return new DatabaseException(DatabaseException::TLS_VERIFICATION_FAILED, "{$prefix}: TLS verification failed, the token was not sent: {$tlsDetail} (trusted: {$config->trust})", $errno);
        }
        if ($sent !== null && $received !== null) {
            if ($received > 0 && $sent === 0) {
                // The greeting lacked CLIENT_SSL: mysqlnd, asked for TLS, closed
                // the socket without sending anything ("server has gone away").
                return new DatabaseException(DatabaseException::TLS_REQUIRED, "{$prefix}: the server does not offer TLS, so the connection was closed before anything was sent; the token was not sent", $errno);
            }
            if ($sent > self::CREDENTIALS_SENT_ABOVE) {
                return new DatabaseException(DatabaseException::CONNECTION_LOST, "{$prefix}: the server closed the connection during authentication, after TLS was set up and the credentials were sent inside it: [{$errno}] {$detail}", $errno);
            }
            if ($sent > 0) {
                return new DatabaseException(DatabaseException::DATABASE_UNREACHABLE, "{$prefix}: the connection closed during the TLS handshake; the token was not sent: [{$errno}] {$detail}", $errno);
            }
        }
        $warningText = self::redact(implode('; ', array_map(self::warningLine(...), $warnings)), $token);
        return new DatabaseException(DatabaseException::DATABASE_UNREACHABLE, "{$prefix}: [{$errno}] {$detail}" . ($warningText !== '' ? " ({$warningText})" : ''), $errno);
    }

    public static function redact(string $text, #[\SensitiveParameter] string $token): string
    {
        return $token === '' ? $text : str_replace($token, '[token]', $text);
    }

    public static function warningLine(string $warning): string
    {
        // "mysqli::real_connect(): SSL operation failed with code 1. OpenSSL Error messages:\nerror:..."
        $text = preg_replace('/^[\w:]+\(\):\s*/', '', $warning) ?? $warning;
        return trim(preg_replace('/\s+/', ' ', $text) ?? $text);
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
}
