/*
 * The handler's error codes and its failure metric line, from the source (no
 * database). The live counterparts, through the bundle and a real MariaDB,
 * are in handler.mariadb.test.ts.
 */
import { emfProblems } from './support/emf';
import {
  classifyError,
  ERROR_CODE_DIMENSION,
  failureMetricLine,
  FUNCTION_NAME_DIMENSION,
  FUNCTION_NAME_OUTSIDE_LAMBDA,
  METRIC_NAMESPACE,
  QUERY_FAILURES_DIMENSIONS,
  QUERY_FAILURES_METRIC,
  readConfig,
} from '../src/handler/query.lambda';

/** An error shaped as mysql2 reports a server's ERR packet. */
function serverError(errno: number, code: string, message: string): Error {
  return Object.assign(new Error(message), { errno, code, sqlState: 'HY000', fatal: true });
}

describe('classifyError: answers of RDS Proxy and MySQL', () => {
  // Numbers and texts as the RDS Proxy troubleshooting guide lists them for MySQL clients.
  test.each([
    [1040, 'ER_CON_COUNT_ERROR', 'IAM authentication rate limit exceeded', 'AUTH_RATE_LIMITED'],
    [1040, 'ER_CON_COUNT_ERROR', 'Connections rate limit exceeded (100)', 'TOO_MANY_CONNECTIONS'],
    [1040, 'ER_CON_COUNT_ERROR', 'Number simultaneous connections exceeded (1000)', 'TOO_MANY_CONNECTIONS'],
    [1040, 'ER_CON_COUNT_ERROR', 'Too many connections', 'TOO_MANY_CONNECTIONS'],
    [1045, 'ER_ACCESS_DENIED_ERROR', "Access denied for user 'app'@'%' (using password: YES)", 'ACCESS_DENIED'],
    [1044, 'ER_DBACCESS_DENIED_ERROR', "Access denied for user 'app'@'%' to database 'shop'", 'DATABASE_ACCESS_DENIED'],
    [1049, 'ER_BAD_DB_ERROR', "Unknown database 'shop'", 'UNKNOWN_DATABASE'],
    [1105, 'ER_UNKNOWN_ERROR', 'Unknown error', 'PROXY_UNKNOWN_ERROR'],
    [3159, 'ER_SECURE_TRANSPORT_REQUIRED', 'This RDS Proxy requires TLS connections.', 'TLS_REQUIRED'],
    [9501, 'UNKNOWN_CODE_PLEASE_REPORT', 'Timed-out waiting to acquire database connection', 'PROXY_BORROW_TIMEOUT'],
  ])('errno %i (%s) "%s" is %s', (errno, code, message, expected) => {
    expect(classifyError(serverError(errno, code, message))).toEqual({ code: expected, message });
  });

  test('the IAM rate limit is told apart by its text only under 1040', () => {
    // The same words under another number are not the proxy's rate limit answer.
    expect(classifyError(serverError(1105, 'ER_UNKNOWN_ERROR', 'IAM authentication rate limit exceeded')).code).toBe('PROXY_UNKNOWN_ERROR');
  });
});

describe('classifyError: client-side failures', () => {
  test.each([
    [{ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 10.0.0.1:3306' }, 'DATABASE_UNREACHABLE'],
    [{ code: 'ETIMEDOUT', message: 'connect ETIMEDOUT' }, 'DATABASE_UNREACHABLE'],
    [{ code: 'ENOTFOUND', message: 'getaddrinfo ENOTFOUND proxy.example' }, 'DATABASE_UNREACHABLE'],
    [{ code: 'ERR_TLS_CERT_ALTNAME_INVALID', message: "Hostname/IP does not match certificate's altnames" }, 'TLS_VERIFICATION_FAILED'],
    [{ code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', message: 'unable to verify the first certificate' }, 'TLS_VERIFICATION_FAILED'],
    [{ code: 'HANDSHAKE_NO_SSL_SUPPORT', message: 'Server does not support secure connection' }, 'TLS_REQUIRED'],
    [{ code: 'PROTOCOL_CONNECTION_LOST', message: 'Connection lost: The server closed the connection.' }, 'CONNECTION_LOST'],
    [{ code: 'PROTOCOL_SEQUENCE_TIMEOUT', message: 'Query inactivity timeout' }, 'QUERY_TIMEOUT'],
    [{ code: 'SOMETHING_ELSE', message: 'surprise' }, 'INTERNAL_ERROR'],
  ])('%j is %s', (fields, expected) => {
    expect(classifyError(Object.assign(new Error(fields.message), fields)).code).toBe(expected);
  });

  test('a bad environment is CONFIGURATION_ERROR', () => {
    let thrown: unknown;
    try {
      readConfig({ DB_HOST: 'h', DB_USER: 'u', DB_NAME: 'd', AWS_REGION: 'r', DB_PORT: 'x' });
    } catch (err) {
      thrown = err;
    }
    expect(classifyError(thrown)).toEqual({ code: 'CONFIGURATION_ERROR', message: "DB_PORT must be a TCP port, got 'x'" });
  });
});

describe('failure metric (CloudWatch embedded metric format)', () => {
  test('names: what the construct and the README refer to', () => {
    expect(METRIC_NAMESPACE).toBe('ServerlessLampDatabase');
    expect(QUERY_FAILURES_METRIC).toBe('QueryFailures');
    expect(QUERY_FAILURES_DIMENSIONS).toEqual([['FunctionName'], ['FunctionName', 'ErrorCode']]);
  });

  test('one failure is one valid EMF document: Count 1 under both dimension sets', () => {
    const line = failureMetricLine('ACCESS_DENIED', 'lamp-query', 1767000000123, 'req-1');
    expect(line).not.toContain('\n');
    expect(emfProblems(line)).toEqual([]);
    expect(JSON.parse(line)).toEqual({
      _aws: {
        Timestamp: 1767000000123,
        CloudWatchMetrics: [
          {
            Namespace: 'ServerlessLampDatabase',
            Dimensions: [['FunctionName'], ['FunctionName', 'ErrorCode']],
            Metrics: [{ Name: 'QueryFailures', Unit: 'Count' }],
          },
        ],
      },
      [FUNCTION_NAME_DIMENSION]: 'lamp-query',
      [ERROR_CODE_DIMENSION]: 'ACCESS_DENIED',
      QueryFailures: 1,
      requestId: 'req-1',
    });
  });

  test('the checker itself rejects what the specification forbids', () => {
    const good = JSON.parse(failureMetricLine('QUERY_TIMEOUT', 'f', 1, undefined));
    const variants: Array<[string, (doc: any) => void]> = [
      ['dimension value missing', (d) => delete d.ErrorCode],
      ['metric value not a number', (d) => (d.QueryFailures = '1')],
      ['timestamp not an integer', (d) => (d._aws.Timestamp = 1.5)],
      ['unknown unit', (d) => (d._aws.CloudWatchMetrics[0].Metrics[0].Unit = 'Things')],
      ['no namespace', (d) => delete d._aws.CloudWatchMetrics[0].Namespace],
    ];
    for (const [, spoil] of variants) {
      const doc = JSON.parse(JSON.stringify(good));
      spoil(doc);
      expect(emfProblems(JSON.stringify(doc))).not.toEqual([]);
    }
    expect(emfProblems(`START ${JSON.stringify(good)}`)).not.toEqual([]);
  });

  test('outside Lambda the FunctionName dimension is a fixed placeholder', () => {
    const env = { DB_HOST: 'h', DB_USER: 'u', DB_NAME: 'd', AWS_REGION: 'r' };
    expect(readConfig(env).functionName).toBe(FUNCTION_NAME_OUTSIDE_LAMBDA);
    expect(readConfig({ ...env, AWS_LAMBDA_FUNCTION_NAME: 'lamp-query' }).functionName).toBe('lamp-query');
  });
});
