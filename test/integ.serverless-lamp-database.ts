/*
 * Integration test: the construct with defaults, plus an assertion that the
 * handler answers with the tables of the default database.
 *
 * Checked here as a snapshot by integ-runner (no deployment). With AWS
 * credentials, `npx integ-runner --update-on-failed` deploys it, invokes the
 * handler and destroys the stack.
 */
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { ServerlessLampDatabase } from '../src';

// No stack traces in the recorded metadata: the snapshot must not depend on
// where the repository is checked out.
const app = new App({ context: { 'aws:cdk:disable-stack-trace': true, 'aws:cdk:disable-creation-stack-traces': true } });
const stack = new Stack(app, 'ServerlessLampDatabaseInteg');

const db = new ServerlessLampDatabase(stack, 'Db', {
  // Tests only: leave nothing behind.
  removalPolicy: RemovalPolicy.DESTROY,
});

const integ = new IntegTest(app, 'ServerlessLampDatabaseTest', {
  testCases: [stack],
  diffAssets: false,
});

// The lamp lights: the handler reaches Aurora through the proxy with an IAM
// token over TLS and lists the (empty) default database.
integ.assertions
  .invokeFunction({ functionName: db.handler.functionName })
  .expect(ExpectedResult.objectLike({
    Payload: '{"ok":true,"database":"lamp","tables":[]}',
  }));
