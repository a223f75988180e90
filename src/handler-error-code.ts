import { ServerlessLampValidationError } from './private/errors';

/** How the handler spells an error code. */
const ERROR_CODE_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/;

/**
 * An `error.code` the query handler answers with, and publishes as the
 * `ErrorCode` dimension of its `QueryFailures` metric.
 *
 * There is one constant for each code this version of the handler answers
 * with, meaning what the README's table of codes says (a unit test fails when
 * the constants and the handler's list differ); `of()` names any other, for
 * example one a newer handler adds.
 */
export class HandlerErrorCode {
  /** Missing or invalid environment. */
  public static readonly CONFIGURATION_ERROR = new HandlerErrorCode('CONFIGURATION_ERROR');
  /** MySQL 1045: the proxy rejected the token, or the function may not `rds-db:connect` as that user. */
  public static readonly ACCESS_DENIED = new HandlerErrorCode('ACCESS_DENIED');
  /** MySQL 1044: the user may not use the database the handler connects to (`DB_NAME`). */
  public static readonly DATABASE_ACCESS_DENIED = new HandlerErrorCode('DATABASE_ACCESS_DENIED');
  /** MySQL 1049: the database the handler connects to (`DB_NAME`) does not exist. */
  public static readonly UNKNOWN_DATABASE = new HandlerErrorCode('UNKNOWN_DATABASE');
  /** 9501: no database connection became free within the proxy's `borrowTimeout`. */
  public static readonly PROXY_BORROW_TIMEOUT = new HandlerErrorCode('PROXY_BORROW_TIMEOUT');
  /** 1040 "IAM authentication rate limit exceeded": too many simultaneous IAM logins to the proxy. */
  public static readonly AUTH_RATE_LIMITED = new HandlerErrorCode('AUTH_RATE_LIMITED');
  /** 1040 with any other text: the connection count or connection rate limit was reached. */
  public static readonly TOO_MANY_CONNECTIONS = new HandlerErrorCode('TOO_MANY_CONNECTIONS');
  /** 1105 "Unknown error", which RDS Proxy documents with no cause. */
  public static readonly PROXY_UNKNOWN_ERROR = new HandlerErrorCode('PROXY_UNKNOWN_ERROR');
  /** 3159: the server refused a connection without TLS. */
  public static readonly TLS_REQUIRED = new HandlerErrorCode('TLS_REQUIRED');
  /** The proxy's certificate chain or host name did not verify. */
  public static readonly TLS_VERIFICATION_FAILED = new HandlerErrorCode('TLS_VERIFICATION_FAILED');
  /** The connection was refused or timed out, or the host name did not resolve. */
  public static readonly DATABASE_UNREACHABLE = new HandlerErrorCode('DATABASE_UNREACHABLE');
  /** The connection dropped mid-query, on the retry too. */
  public static readonly CONNECTION_LOST = new HandlerErrorCode('CONNECTION_LOST');
  /** The query outlived the invocation's time (or `DB_QUERY_TIMEOUT_MS`). */
  public static readonly QUERY_TIMEOUT = new HandlerErrorCode('QUERY_TIMEOUT');
  /** Anything else (the handler's log line has the detail). */
  public static readonly INTERNAL_ERROR = new HandlerErrorCode('INTERNAL_ERROR');

  /**
   * An error code by its name: upper-case letters, digits and underscores,
   * starting with a letter, as the handler writes them.
   *
   * @param code for example `DATABASE_UNREACHABLE`
   */
  public static of(code: string): HandlerErrorCode {
    if (!ERROR_CODE_PATTERN.test(code)) {
      throw new ServerlessLampValidationError(
        `HandlerErrorCode.of('${code}'): an error code is 1 to 64 upper-case letters, digits or underscores, starting with a letter`,
      );
    }
    return new HandlerErrorCode(code);
  }

  /**
   * The codes that say the path from the handler to its database is broken,
   * rather than that one query went wrong. Each gets its own alarm by default.
   *
   * A code is on the path when every connection the handler opens meets it
   * until the cause is fixed (or the proxy recovers), so it has no healthy rate:
   *
   * - `ACCESS_DENIED`: the IAM token or the `rds-db:connect` grant is refused at login.
   * - `DATABASE_ACCESS_DENIED`, `UNKNOWN_DATABASE`: the login succeeds but the
   *   database the handler is configured for is forbidden to its user or gone;
   *   the handler names it in its handshake, so no connection opens.
   * - `PROXY_BORROW_TIMEOUT`, `AUTH_RATE_LIMITED`, `TOO_MANY_CONNECTIONS`: the
   *   proxy cannot lend a database connection or turns clients away at its limits.
   * - `PROXY_UNKNOWN_ERROR`: the proxy's own failure, which it documents with no
   *   cause. The handler runs one fixed statement, `SHOW TABLES`, so the error
   *   cannot come from a query gone wrong.
   * - `TLS_REQUIRED`, `TLS_VERIFICATION_FAILED`: TLS to the proxy fails.
   * - `DATABASE_UNREACHABLE`: the network path (security groups, routes, DNS) or the proxy is down.
   *
   * Left to the alarm on failures of any code (`handlerFailures`):
   * `CONFIGURATION_ERROR` (the handler's own environment is wrong; it never
   * reaches the path), `CONNECTION_LOST` (the connection dropped mid-query,
   * on the retry too: a failover or a restart can do that once, so one is no
   * proof of a broken path), `QUERY_TIMEOUT` (the database answers, too
   * slowly: load, which the capacity and CPU alarms watch) and `INTERNAL_ERROR`
   * (unclassified; the handler's log line has the detail).
   */
  public static databasePathCodes(): HandlerErrorCode[] {
    return [
      HandlerErrorCode.ACCESS_DENIED,
      HandlerErrorCode.DATABASE_ACCESS_DENIED,
      HandlerErrorCode.UNKNOWN_DATABASE,
      HandlerErrorCode.PROXY_BORROW_TIMEOUT,
      HandlerErrorCode.AUTH_RATE_LIMITED,
      HandlerErrorCode.TOO_MANY_CONNECTIONS,
      HandlerErrorCode.PROXY_UNKNOWN_ERROR,
      HandlerErrorCode.TLS_REQUIRED,
      HandlerErrorCode.TLS_VERIFICATION_FAILED,
      HandlerErrorCode.DATABASE_UNREACHABLE,
    ];
  }

  private constructor(
    /** The code, as the handler writes it. */
    public readonly code: string,
  ) {}
}
