/*
 * Splitting a migration file into statements the way the mysql command-line
 * client does: `;` ends a statement except inside quotes ('...', "...",
 * `...`) and comments (`-- `, `/* *\/`), and `DELIMITER` changes the
 * terminator for routines and triggers whose bodies hold `;`.
 *
 * The splitter is dbgate-query-splitter (MIT, maintained, no dependencies),
 * with its MySQL options. It does not know MySQL's `#` comments: a `'` or `;`
 * in one would be read as a quote or a terminator. Files with a line that
 * starts with `#` are therefore refused with the line number, asking for
 * `-- ` instead, rather than split wrongly.
 */
import { mysqlSplitterOptions, splitQuery } from 'dbgate-query-splitter';
import type { SplitResultItem } from 'dbgate-query-splitter/lib/splitQuery';
import { MigrationError } from './errors';

/** One statement of a file. */
export interface Statement {
  /** The statement's text, without its terminator. */
  readonly sql: string;
  /** The 1-based line of the file where the statement starts. */
  readonly line: number;
}

/** Only whitespace and comments (an executable comment, `/*!...*\/`, is not a comment here). */
const NOTHING_TO_RUN = /^(?:\s+|--(?:[ \t][^\n]*)?(?:\n|$)|\/\*(?!!)[\s\S]*?\*\/)*$/;

/**
 * The statements of `sql` (already normalized to LF line endings), in order,
 * leaving out pieces with nothing to run (a trailing comment).
 *
 * @param script the file name, for error messages
 */
export function splitStatements(sql: string, script: string): Statement[] {
  const lines = sql.split('\n');
  const hash = lines.findIndex((l) => /^\s*#/.test(l));
  if (hash !== -1) {
    throw new MigrationError('files', `${script} line ${hash + 1}: '#' comments are not supported (the statement splitter ` +
      "does not read them, so a quote or ';' in one would split the file wrongly); write '-- ' comments instead");
  }
  const items: SplitResultItem[] = splitQuery(sql, { ...mysqlSplitterOptions, returnRichInfo: true });
  const statements: Statement[] = [];
  for (const item of items) {
    if (typeof item === 'string') throw new Error('the splitter returned no positions');
    if (item.specialMarker || NOTHING_TO_RUN.test(item.text)) continue;
    // The line of its first line of code, past any leading comment lines.
    const start = item.trimStart ?? item.start;
    const leading = item.text.split('\n').findIndex((l) => l.trim() !== '' && !/^\s*--/.test(l));
    statements.push({ sql: item.text, line: start.line + 1 + Math.max(0, leading) });
  }
  return statements;
}

/** The first line of a statement, shortened for a message. */
export function statementSummary(statement: Statement, max = 120): string {
  const firstCode = statement.sql.split('\n').map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('--')) ?? statement.sql.trim();
  return firstCode.length > max ? `${firstCode.slice(0, max - 1)}…` : firstCode;
}
