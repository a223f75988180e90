/*
 * Integration test: the construct with defaults, plus an assertion that the
 * handler answers with the tables of the default database; and a second stack
 * operated as in production: readers with the read-only proxy endpoint, a
 * second proxy, alarms notifying an SNS topic, and the dashboard; and a third
 * whose schema (the shop's migrations V1..V3) is applied at deploy time.
 *
 * Checked here as a snapshot by integ-runner (no deployment). With AWS
 * credentials, `npx integ-runner --update-on-failed` deploys them, invokes the
 * handlers and destroys the stacks.
 */
import * as path from 'node:path';
import { ExpectedResult, IntegTest } from '@aws-cdk/integ-tests-alpha';
import { App, RemovalPolicy, Stack, aws_rds as rds, aws_sns as sns } from 'aws-cdk-lib';
import { DatabaseSchema, ServerlessLampDatabase } from '../src';

// No stack traces in the recorded metadata: the snapshot must not depend on
// where the repository is checked out.
const app = new App({ context: { 'aws:cdk:disable-stack-trace': true, 'aws:cdk:disable-creation-stack-traces': true } });
const stack = new Stack(app, 'ServerlessLampDatabaseInteg');

const db = new ServerlessLampDatabase(stack, 'Db', {
  // Tests only: leave nothing behind.
  removalPolicy: RemovalPolicy.DESTROY,
});

const operated = new Stack(app, 'ServerlessLampDatabaseOperated');
const alarmTopic = new sns.Topic(operated, 'Alarms', { enforceSSL: true });
const operatedDb = new ServerlessLampDatabase(operated, 'Db', {
  removalPolicy: RemovalPolicy.DESTROY,
  readers: [rds.ClusterInstance.serverlessV2('Reader', { scaleWithWriter: true })],
  proxy: { maxConnectionsPercent: 60 },
  monitoring: { alarmTopic, dashboard: true },
});
// Added after the alarms and the dashboard: it gets its alarms and its row.
operatedDb.addProxy('Reporting', { maxConnectionsPercent: 40 });

const withSchema = new Stack(app, 'ServerlessLampDatabaseSchema');
const schemaDb = new ServerlessLampDatabase(withSchema, 'Db', {
  removalPolicy: RemovalPolicy.DESTROY,
  schema: DatabaseSchema.fromDirectory(path.join(__dirname, 'fixtures', 'migrations', 'shop')),
});

const integ = new IntegTest(app, 'ServerlessLampDatabaseTest', {
  testCases: [stack, operated, withSchema],
  diffAssets: false,
});

// The lamp lights: the handler reaches Aurora through the proxy with an IAM
// token over TLS and lists the (empty) default database.
for (const database of [db, operatedDb]) {
  integ.assertions
    .invokeFunction({ functionName: database.handler.functionName })
    .expect(ExpectedResult.objectLike({
      Payload: '{"ok":true,"database":"lamp","tables":[]}',
    }));
}

// The schema is there before the first query: the application user lists the
// tables the migrations made (and their history).
integ.assertions
  .invokeFunction({ functionName: schemaDb.handler.functionName })
  .expect(ExpectedResult.objectLike({
    Payload: '{"ok":true,"database":"lamp","tables":["customers","orders","serverless_lamp_schema_history"]}',
  }));
