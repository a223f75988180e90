<?php

declare(strict_types=1);

namespace ServerlessLamp;

/**
 * RDS IAM authentication tokens, signed in PHP: a SigV4 query presign, as
 * @aws-sdk/rds-signer makes them, with no AWS SDK.
 *
 * @see https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/UsingWithRDS.IAMDBAuth.Connecting.html
 * @see https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html
 */
final class AuthToken
{
    /** IAM authentication tokens are valid for 15 minutes. */
    public const VALIDITY_SECONDS = 900;

    private const EMPTY_PAYLOAD_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

    private function __construct()
    {
    }

    /**
     * The token for these inputs at `$time` (seconds since the epoch), byte
     * for byte what `Signer.getAuthToken()` returns: a presign of
     * `GET https://host:port/?Action=connect&DBUser=user`, service `rds-db`,
     * valid 900 seconds, without the `https://`. Pure: no environment, no clock.
     */
    public static function sign(
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
            'X-Amz-Expires' => (string) self::VALIDITY_SECONDS,
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
}
