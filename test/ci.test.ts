/*
 * CI outside this repository: the GitHub workflows projen generates run the same
 * tests with CI set, so they must install what .ci/run installs (MariaDB, PHP,
 * and a C compiler with MariaDB's server headers), before they build.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..');
const read = (file: string) => readFileSync(join(root, file), 'utf8');

test('.ci/run installs the test dependencies with .ci/install-test-deps', () => {
  const run = read('.ci/run');
  expect(run).toMatch(/^bash \.ci\/install-test-deps$/m);
  expect(run.indexOf('bash .ci/install-test-deps')).toBeLessThan(run.indexOf('npx projen build)'));
  const install = read('.ci/install-test-deps');
  for (const pkg of ['mariadb-server', 'mariadb-test', 'php-cli', 'php-mysql']) expect(install).toContain(pkg);
  // What building the AWSAuthenticationPlugin stand-in needs (test/support/aws-auth-plugin).
  for (const pkg of ['gcc', 'libc6-dev', 'libmariadbd-dev', 'libssl-dev']) expect(install).toContain(pkg);
});

test.each([
  ['.github/workflows/build.yml', 'run: npx projen build'],
  ['.github/workflows/release.yml', 'run: npx projen release'],
])('%s installs them before it builds', (file, build) => {
  const workflow = read(file);
  const install = workflow.indexOf('run: bash .ci/install-test-deps');
  expect(install).toBeGreaterThan(0);
  expect(workflow.indexOf(build)).toBeGreaterThan(install);
  expect(workflow).toMatch(/CI: "true"|env:\s*\n\s*CI: "true"/);
});
