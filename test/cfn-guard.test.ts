/*
 * "The Control Tower proactive controls of @cdklabs/cdk-validator-cfnguard report
 * zero violations on the defaults."
 *
 * Violations are never suppressed here: a failure lists each violated control with
 * its rule, the resource (logical id and construct path) and the rule's message.
 * About 1 s per template (cfn-guard runs as a child process).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CfnGuardValidator } from '@cdklabs/cdk-validator-cfnguard';
import { App, Stack, Validations, aws_ec2 as ec2, aws_rds as rds } from 'aws-cdk-lib';
import { GuardViolation, formatViolation, guardViolations } from './support/cfn-guard';
import { defaultsStack, everythingStack } from './support/stacks';

/** Violations on resources the construct creates (under `<stack>/Db/`), or not attributed to any resource. */
function constructOwn(stack: Stack, violations: GuardViolation[]): GuardViolation[] {
  const prefix = `${stack.node.path}/Db/`;
  return violations.filter(v => v.constructPath === undefined || v.constructPath.startsWith(prefix));
}

/** An Aurora MySQL cluster that breaks CT.RDS.PR.16 (storage not encrypted), among others. */
function nonCompliantStack(app: App): Stack {
  const stack = new Stack(app, 'NonCompliant');
  const vpc = new ec2.Vpc(stack, 'Vpc', { maxAzs: 2, natGateways: 0 });
  new rds.DatabaseCluster(stack, 'Cluster', {
    engine: rds.DatabaseClusterEngine.auroraMysql({ version: rds.AuroraMysqlEngineVersion.VER_3_10_4 }),
    vpc,
    vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
    writer: rds.ClusterInstance.serverlessV2('Writer'),
    storageEncrypted: false,
  });
  return stack;
}

describe('Control Tower proactive controls (cfn-guard)', () => {
  test('the defaults stack violates none', () => {
    const { app, stack } = defaultsStack();
    expect(guardViolations(app, stack).map(formatViolation)).toEqual([]);
  }, 30_000);

  test('the everything stack: none on the resources the construct creates', () => {
    // Resources the test stack itself adds (its VPC, key, queue) are not the construct's;
    // what they draw is aws-cdk-lib's defaults for them, reported but not asserted here.
    const { app, stack } = everythingStack();
    expect(constructOwn(stack, guardViolations(app, stack)).map(formatViolation)).toEqual([]);
  }, 30_000);
});

describe('the guard check can fail', () => {
  test('an unencrypted Aurora cluster violates CT.RDS.PR.16', () => {
    const app = new App();
    const stack = nonCompliantStack(app);
    const violations = guardViolations(app, stack);
    expect(violations).toContainEqual(expect.objectContaining({
      rule: 'rds_cluster_storage_encrypted_check',
      control: 'CT.RDS.PR.16',
      constructPath: 'NonCompliant/Cluster/Resource',
      locations: expect.arrayContaining([expect.stringMatching(/\/Properties\/StorageEncrypted$/)]),
    }));
  }, 30_000);

  test('as a synth-time plugin: the synth fails, the report file names the violation, process.exitCode is restored', () => {
    // The in-process synth path. A failing plugin makes aws-cdk-lib 2.257 set
    // process.exitCode = 1 (it does not throw); newer releases throw a
    // "ValidationFailed" error instead. Both fail the synth. The legacy report
    // file, policy-validation-report.json, is written by the older releases
    // always and by the newer ones with @aws-cdk/core:validationReportJson.
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cfn-guard-'));
    const app = new App({ outdir, context: { '@aws-cdk/core:validationReportJson': true } });
    Validations.of(app).addPlugins(new CfnGuardValidator());
    nonCompliantStack(app);
    const exitCode = process.exitCode;
    const consoleError = jest.spyOn(console, 'error').mockImplementation(() => undefined);
    let failed = false;
    try {
      app.synth();
      failed = process.exitCode === 1;
    } catch (e) {
      failed = (e as Error).name === 'ValidationFailed';
    } finally {
      process.exitCode = exitCode;
      consoleError.mockRestore();
    }
    expect(failed).toBe(true);
    const report = JSON.parse(fs.readFileSync(path.join(outdir, 'policy-validation-report.json'), 'utf8'));
    fs.rmSync(outdir, { recursive: true, force: true });
    const guard = report.pluginReports.find((r: any) => r.summary.pluginName === 'cdk-validator-cfnguard');
    expect(guard.summary.status).toBe('failure');
    expect(guard.violations).toContainEqual(expect.objectContaining({
      ruleName: 'rds_cluster_storage_encrypted_check',
      violatingConstructs: expect.arrayContaining([expect.objectContaining({ constructPath: 'NonCompliant/Cluster/Resource' })]),
    }));
  }, 30_000);
});
