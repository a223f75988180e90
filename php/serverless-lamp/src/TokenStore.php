<?php

declare(strict_types=1);

namespace ServerlessLamp;

/**
 * What one PHP process keeps across requests: the tokens it presents and its
 * counters. PHP-FPM resets static properties after every request (Bref's web
 * runtime runs one FPM worker per execution environment), so they live in
 * APCu when it is enabled (Bref ships it, off until `apc.enabled=1` and, for
 * the CLI, `apc.enable_cli=1`), else in a 0600 file in the temporary directory
 * (`/tmp` on Lambda).
 *
 * Records are per process (the key holds the process id): a worker's
 * persistent connection was opened with its own token, which it must keep
 * presenting (see Database::connectWithToken()).
 *
 * @see https://bref.sh/docs/environment/php#extensions-installed-but-disabled-by-default
 * @see https://www.php.net/manual/en/apcu.configuration.php
 */
final class TokenStore
{
    private function __construct()
    {
    }

    /** 'apcu' or 'file': where records live in this process. */
    public static function backend(): string
    {
        return function_exists('apcu_enabled') && apcu_enabled() ? 'apcu' : 'file';
    }

    /** @return array<string, mixed>|null */
    public static function load(string $key): ?array
    {
        if (self::backend() === 'apcu') {
            $value = apcu_fetch(self::name($key), $found);
            return $found && is_array($value) ? $value : null;
        }
        $file = self::file($key);
        // Only a file this user owns and nobody else can read or write.
        $stat = @stat($file);
        if ($stat === false || ($stat['mode'] & 0o077) !== 0 || (function_exists('posix_geteuid') && $stat['uid'] !== posix_geteuid())) {
            return null;
        }
        $text = @file_get_contents($file);
        $value = $text === false ? null : json_decode($text, true);
        return is_array($value) ? $value : null;
    }

    /** @param array<string, mixed> $record */
    public static function save(string $key, array $record): void
    {
        if (self::backend() === 'apcu') {
            apcu_store(self::name($key), $record);
            return;
        }
        $file = self::file($key);
        // tempnam() creates the file with mode 0600; rename() replaces atomically.
        $temp = @tempnam(dirname($file), 'serverless-lamp-');
        if ($temp === false) {
            return; // no cache: the next request mints again
        }
        @chmod($temp, 0o600);
        if (@file_put_contents($temp, json_encode($record, JSON_THROW_ON_ERROR)) === false || !@rename($temp, $file)) {
            @unlink($temp);
        }
    }

    private static function name(string $key): string
    {
        return 'serverless-lamp:' . $key . ':' . getmypid();
    }

    private static function file(string $key): string
    {
        return rtrim(sys_get_temp_dir(), '/') . '/serverless-lamp-' . $key . '-' . getmypid() . '.json';
    }
}
