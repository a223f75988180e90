/*
 * One list of error codes: the handler's (`QUERY_ERROR_CODES`, what it
 * answers with and publishes as the `ErrorCode` dimension) and the
 * construct's (`HandlerErrorCode`, what alarms and metrics are built on) must
 * name the same codes, the README must list them, and both sides must name
 * the failure metric the same way. Each test fails when one side changes
 * without the other.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HandlerErrorCode } from '../src';
import {
  classifyError,
  ERROR_CODE_DIMENSION,
  FUNCTION_NAME_DIMENSION,
  METRIC_NAMESPACE,
  QUERY_ERROR_CODES,
  QUERY_FAILURES_DIMENSIONS,
  QUERY_FAILURES_METRIC,
  readConfig,
} from '../src/handler/query.lambda';
import type { QueryErrorCode } from '../src/handler/query.lambda';
import { QUERY_FAILURES_METRIC as CONSTRUCT_METRIC } from '../src/private/metrics';

/** Every `HandlerErrorCode` constant, by property name. */
function constants(): Map<string, HandlerErrorCode> {
  return new Map(
    Object.entries(HandlerErrorCode).filter((entry): entry is [string, HandlerErrorCode] => entry[1] instanceof HandlerErrorCode),
  );
}

const README = readFileSync(join(__dirname, '..', 'README.md'), 'utf8');

/** The codes in the first column of the README's table headed `| \`error.code\` | Meaning |`. */
function readmeCodeTable(): string[] {
  const lines = README.split('\n');
  const header = lines.findIndex((l) => /^\| `error\.code` \| Meaning \|$/.test(l));
  expect(header).toBeGreaterThan(0);
  const rows: string[] = [];
  for (const line of lines.slice(header + 2)) {
    if (!line.startsWith('|')) break;
    rows.push(/^\| `([A-Z_]+)` \|/.exec(line)?.[1] ?? `unreadable row: ${line}`);
  }
  return rows;
}

/** The codes the README's alarm table gives one alarm each by default. */
function readmePerCodeAlarms(): string[] {
  const row = README.split('\n').filter((l) => l.startsWith('| `handlerFailuresByCode` '));
  expect(row).toHaveLength(1);
  const metricCell = row[0].split(' | ')[1];
  return [...metricCell.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]);
}

/** An error shaped as mysql2 reports a server's ERR packet. */
const serverError = (errno: number, message: string) => Object.assign(new Error(message), { errno, sqlState: 'HY000', fatal: true });
const clientError = (code: string, message: string) => Object.assign(new Error(message), { code });
function configurationError(): unknown {
  try {
    readConfig({});
  } catch (err) {
    return err;
  }
  throw new Error('readConfig({}) did not throw');
}

/** For every code, an error the handler answers with it (one entry per code: a new code needs a new entry). */
const ONE_ERROR_PER_CODE: Record<QueryErrorCode, () => unknown> = {
  CONFIGURATION_ERROR: configurationError,
  ACCESS_DENIED: () => serverError(1045, "Access denied for user 'app'@'%' (using password: YES)"),
  DATABASE_ACCESS_DENIED: () => serverError(1044, "Access denied for user 'app'@'%' to database 'shop'"),
  UNKNOWN_DATABASE: () => serverError(1049, "Unknown database 'shop'"),
  PROXY_BORROW_TIMEOUT: () => serverError(9501, 'Timed-out waiting to acquire database connection'),
  AUTH_RATE_LIMITED: () => serverError(1040, 'IAM authentication rate limit exceeded'),
  TOO_MANY_CONNECTIONS: () => serverError(1040, 'Number simultaneous connections exceeded (1000)'),
  PROXY_UNKNOWN_ERROR: () => serverError(1105, 'Unknown error'),
  TLS_REQUIRED: () => serverError(3159, 'This RDS Proxy requires TLS connections.'),
  TLS_VERIFICATION_FAILED: () => clientError('UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'unable to verify the first certificate'),
  DATABASE_UNREACHABLE: () => clientError('ECONNREFUSED', 'connect ECONNREFUSED 10.0.0.1:3306'),
  CONNECTION_LOST: () => clientError('PROTOCOL_CONNECTION_LOST', 'Connection lost: The server closed the connection.'),
  QUERY_TIMEOUT: () => clientError('PROTOCOL_SEQUENCE_TIMEOUT', 'Query inactivity timeout'),
  INTERNAL_ERROR: () => new TypeError('something unforeseen'),
};

describe('the handler\'s list of codes', () => {
  test('has no duplicates', () => {
    expect(new Set(QUERY_ERROR_CODES).size).toBe(QUERY_ERROR_CODES.length);
  });

  test('is what the handler answers with: each code is the answer to some error', () => {
    expect(Object.keys(ONE_ERROR_PER_CODE).sort()).toEqual([...QUERY_ERROR_CODES].sort());
    for (const code of QUERY_ERROR_CODES) {
      expect({ code, answered: classifyError(ONE_ERROR_PER_CODE[code]()).code }).toEqual({ code, answered: code });
    }
  });
});

describe('HandlerErrorCode has exactly one constant per handler code', () => {
  test('every handler code is a HandlerErrorCode constant of the same name', () => {
    const byName = constants();
    const missing = QUERY_ERROR_CODES.filter((code) => byName.get(code)?.code !== code);
    expect(missing).toEqual([]);
  });

  test('every HandlerErrorCode constant is a handler code, under its own name', () => {
    const handlerCodes = new Set<string>(QUERY_ERROR_CODES);
    const extra = [...constants()].filter(([name, c]) => c.code !== name || !handlerCodes.has(c.code)).map(([name]) => name);
    expect(extra).toEqual([]);
    expect(constants().size).toBe(QUERY_ERROR_CODES.length);
  });

  test('the database path codes are constants, each once', () => {
    const codes = HandlerErrorCode.databasePathCodes();
    const all = [...constants().values()];
    expect(codes.filter((c) => !all.includes(c))).toEqual([]);
    expect(new Set(codes.map((c) => c.code)).size).toBe(codes.length);
  });
});

describe('the README says the same', () => {
  test('its table of error codes lists the handler\'s codes, in the same order', () => {
    expect(readmeCodeTable()).toEqual([...QUERY_ERROR_CODES]);
  });

  test('its alarm table names the database path codes as the per-code alarms', () => {
    expect(readmePerCodeAlarms()).toEqual(HandlerErrorCode.databasePathCodes().map((c) => c.code));
  });
});

describe('the failure metric has the same names on both sides', () => {
  test('namespace, metric name and dimension names', () => {
    expect({
      namespace: METRIC_NAMESPACE,
      metricName: QUERY_FAILURES_METRIC,
      functionNameDimension: FUNCTION_NAME_DIMENSION,
      errorCodeDimension: ERROR_CODE_DIMENSION,
    }).toEqual(CONSTRUCT_METRIC);
  });

  test('the handler publishes under the dimension sets the construct reads', () => {
    expect(QUERY_FAILURES_DIMENSIONS).toEqual([
      [CONSTRUCT_METRIC.functionNameDimension],
      [CONSTRUCT_METRIC.functionNameDimension, CONSTRUCT_METRIC.errorCodeDimension],
    ]);
  });
});
