/*
 * Operating the construct: the metrics of every proxy and of the handler, the
 * alarms (each one's metric, dimensions, statistic, period, threshold,
 * comparison, evaluation and missing-data treatment, and its SNS action), how
 * alarms and the dashboard reach proxies added before or after them, and the
 * dashboard's rows.
 */
import { Duration, aws_ec2 as ec2, aws_rds as rds, aws_sns as sns } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { ApplicationProxy, HandlerErrorCode, ServerlessLampDatabase, ServerlessLampErrors } from '../src';
import { build, recordTemplates, useFreshStack, validateRecordedTemplates } from './support/harness';

const recorded = recordTemplates();
const ctx = useFreshStack();

/** The CloudFormation properties of every alarm, by logical id. */
function alarmsOf(template: Template): Record<string, any> {
  return Object.fromEntries(Object.entries(template.findResources('AWS::CloudWatch::Alarm')).map(([id, r]) => [id, r.Properties]));
}

/** The properties of the one alarm whose logical id is `<path>` plus the 8-character hash. */
function alarm(template: Template, path: string): any {
  const matches = Object.entries(alarmsOf(template)).filter(([id]) => new RegExp(`^${path}[0-9A-F]{8}$`).test(id));
  expect(matches.map(([id]) => id)).toHaveLength(1);
  return matches[0][1];
}

/** Dimensions as a map, whatever their order. */
function dims(list: Array<{ Name: string; Value: unknown }>): Record<string, unknown> {
  return Object.fromEntries(list.map((d) => [d.Name, d.Value]));
}

const ref = (prefix: string) => ({ Ref: expect.stringMatching(new RegExp(`^${prefix}[0-9A-F]{8}$`)) });
const handlerRef = ref('DbHandler');
const proxyRef = ref('DbProxy');

describe('metrics of every proxy', () => {
  test('each is published under its own dimension set, with the statistic that fits it', () => {
    const { db } = build(ctx);
    const name = ctx.stack.resolve(db.proxy.dbProxyName);
    const check = (m: any, metricName: string, statistic: string, periodMinutes: number, dimensions: Record<string, unknown>) => {
      expect(m.namespace).toBe('AWS/RDS');
      expect(m.metricName).toBe(metricName);
      expect(m.statistic).toBe(statistic);
      expect(m.period.toMinutes()).toBe(periodMinutes);
      expect(ctx.stack.resolve(m.dimensions)).toEqual(dimensions);
    };
    // Connection counts: per proxy node, summed per minute; dimension set 1.
    check(db.metricMaxDatabaseConnectionsAllowed(), 'MaxDatabaseConnectionsAllowed', 'Sum', 1, { ProxyName: name });
    check(db.metricClientConnectionsSetupFailedAuth(), 'ClientConnectionsSetupFailedAuth', 'Sum', 1, { ProxyName: name });
    // Latencies (microseconds): averaged.
    check(db.metricQueryDatabaseResponseLatency(), 'QueryDatabaseResponseLatency', 'Average', 5, { ProxyName: name });
    // Availability: published only under dimension set 4 (target group and role).
    check(db.metricAvailabilityPercentage(), 'AvailabilityPercentage', 'Average', 1,
      { ProxyName: name, TargetGroup: 'default', TargetRole: 'READ_WRITE' });
    check(db.metricAvailabilityPercentage({ targetRole: rds.ProxyEndpointTargetRole.READ_ONLY, statistic: 'Minimum' }),
      'AvailabilityPercentage', 'Minimum', 1, { ProxyName: name, TargetGroup: 'default', TargetRole: 'READ_ONLY' });
    // The existing methods keep their behaviour.
    check(db.metricDatabaseConnections(), 'DatabaseConnections', 'Sum', 1, { ProxyName: name });
    check(db.metricDatabaseConnectionsBorrowLatency(), 'DatabaseConnectionsBorrowLatency', 'Average', 5, { ProxyName: name });
  });

  test('connection utilization is 100 * connections / max allowed, both summed per minute', () => {
    const { db } = build(ctx);
    const e = db.metricDatabaseConnectionsUtilization();
    expect(e.expression).toBe('100 * connections / maxAllowed');
    expect(e.period.toMinutes()).toBe(1);
    expect(e.usingMetrics.connections).toMatchObject({ metricName: 'DatabaseConnections', statistic: 'Sum' });
    expect(e.usingMetrics.maxAllowed).toMatchObject({ metricName: 'MaxDatabaseConnectionsAllowed', statistic: 'Sum' });
  });

  test('an added proxy\'s metrics name that proxy', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db');
    const reporting = db.addProxy('Reporting');
    expect(ctx.stack.resolve(reporting.metricAvailabilityPercentage().dimensions).ProxyName)
      .toEqual(ctx.stack.resolve(reporting.proxy.dbProxyName));
    expect(ctx.stack.resolve(reporting.metricAvailabilityPercentage().dimensions).ProxyName)
      .not.toEqual(ctx.stack.resolve(db.proxy.dbProxyName));
  });
});

describe('metrics of the handler', () => {
  test('failures of every code, or of one code, under the dimension sets the handler publishes', () => {
    const { db } = build(ctx);
    const all = db.metricHandlerFailures();
    expect(all.namespace).toBe('ServerlessLampDatabase');
    expect(all.metricName).toBe('QueryFailures');
    expect(all.statistic).toBe('Sum');
    expect(ctx.stack.resolve(all.dimensions)).toEqual({ FunctionName: handlerRef });
    const one = db.metricHandlerFailures({ errorCode: HandlerErrorCode.DATABASE_UNREACHABLE, period: Duration.minutes(1) });
    expect(ctx.stack.resolve(one.dimensions)).toEqual({ FunctionName: handlerRef, ErrorCode: 'DATABASE_UNREACHABLE' });
    expect(one.period.toMinutes()).toBe(1);
    expect(ctx.stack.resolve(db.metricHandlerFailures({ errorCode: HandlerErrorCode.of('SOME_NEW_CODE') }).dimensions).ErrorCode)
      .toBe('SOME_NEW_CODE');
  });

  test('errors and throttles are the function\'s own Lambda metrics', () => {
    const { db } = build(ctx);
    expect(db.metricHandlerErrors()).toMatchObject({ namespace: 'AWS/Lambda', metricName: 'Errors', statistic: 'Sum' });
    expect(db.metricHandlerThrottles()).toMatchObject({ namespace: 'AWS/Lambda', metricName: 'Throttles', statistic: 'Sum' });
    expect(ctx.stack.resolve(db.metricHandlerErrors().dimensions)).toEqual({ FunctionName: handlerRef });
  });

  test('HandlerErrorCode.of() takes codes as the handler spells them, nothing else', () => {
    expect(HandlerErrorCode.of('DATABASE_UNREACHABLE').code).toBe('DATABASE_UNREACHABLE');
    for (const bad of ['', 'database_unreachable', '1CODE', 'A-B', 'X'.repeat(65)]) {
      let caught: unknown;
      try {
        HandlerErrorCode.of(bad);
      } catch (e) {
        caught = e;
      }
      expect(ServerlessLampErrors.isValidationError(caught)).toBe(true);
    }
  });
});

describe('alarms: opt-in', () => {
  test('the defaults create no alarm and no dashboard', () => {
    const { template } = build(ctx);
    template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
  });

  test('monitoring: {} creates the alarms (and no dashboard); alarms: false only the dashboard', () => {
    const { db, template } = build(ctx, { monitoring: {} });
    expect(Object.keys(alarmsOf(template)).length).toBe(db.alarms!.alarms.length);
    expect(db.alarms!.alarms.length).toBe(20);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 0);
    expect(db.dashboard).toBeUndefined();

    const other = new ServerlessLampDatabase(ctx.stack, 'Other', { monitoring: { alarms: false, dashboard: true } });
    expect(other.alarms).toBeUndefined();
    expect(other.dashboard).toBeDefined();
  });
});

describe('alarms: each one', () => {
  const minute = 60;
  /** Every default alarm of a default database, as the README's alarm table documents it. */
  const expected: Array<{ path: string; metric: any; threshold: number; operator: string; periods: number; datapoints: number; missing: string }> = [
    {
      path: 'DbProxyAlarmsAvailability',
      metric: { Namespace: 'AWS/RDS', MetricName: 'AvailabilityPercentage', Statistic: 'Average', Period: minute, Dimensions: { ProxyName: proxyRef, TargetGroup: 'default', TargetRole: 'READ_WRITE' } },
      threshold: 100,
      operator: 'LessThanThreshold',
      periods: 3,
      datapoints: 3,
      missing: 'notBreaching',
    },
    {
      path: 'DbProxyAlarmsSessionPinning',
      metric: { Namespace: 'AWS/RDS', MetricName: 'DatabaseConnectionsCurrentlySessionPinned', Statistic: 'Sum', Period: minute, Dimensions: { ProxyName: proxyRef } },
      threshold: 1,
      operator: 'GreaterThanOrEqualToThreshold',
      periods: 15,
      datapoints: 15,
      missing: 'notBreaching',
    },
    {
      path: 'DbProxyAlarmsBorrowLatency',
      metric: { Namespace: 'AWS/RDS', MetricName: 'DatabaseConnectionsBorrowLatency', Statistic: 'Average', Period: minute, Dimensions: { ProxyName: proxyRef } },
      threshold: 100_000,
      operator: 'GreaterThanThreshold',
      periods: 5,
      datapoints: 5,
      missing: 'notBreaching',
    },
    {
      path: 'DbProxyAlarmsFailedClientAuthentications',
      metric: { Namespace: 'AWS/RDS', MetricName: 'ClientConnectionsSetupFailedAuth', Statistic: 'Sum', Period: 5 * minute, Dimensions: { ProxyName: proxyRef } },
      threshold: 5,
      operator: 'GreaterThanOrEqualToThreshold',
      periods: 1,
      datapoints: 1,
      missing: 'notBreaching',
    },
    {
      path: 'DbAlarmsHandlerFailures',
      metric: { Namespace: 'ServerlessLampDatabase', MetricName: 'QueryFailures', Statistic: 'Sum', Period: minute, Dimensions: { FunctionName: handlerRef } },
      threshold: 1,
      operator: 'GreaterThanOrEqualToThreshold',
      periods: 3,
      datapoints: 3,
      missing: 'notBreaching',
    },
    ...['ACCESS_DENIED', 'DATABASE_ACCESS_DENIED', 'UNKNOWN_DATABASE', 'PROXY_BORROW_TIMEOUT', 'AUTH_RATE_LIMITED',
      'TOO_MANY_CONNECTIONS', 'PROXY_UNKNOWN_ERROR', 'TLS_REQUIRED', 'TLS_VERIFICATION_FAILED', 'DATABASE_UNREACHABLE'].map((code) => ({
      path: `DbAlarmsHandlerFailures${code.toLowerCase().split('_').map((w) => w[0].toUpperCase() + w.slice(1)).join('')}`,
      metric: { Namespace: 'ServerlessLampDatabase', MetricName: 'QueryFailures', Statistic: 'Sum', Period: minute, Dimensions: { FunctionName: handlerRef, ErrorCode: code } },
      threshold: 1,
      operator: 'GreaterThanOrEqualToThreshold',
      periods: 3,
      datapoints: 2,
      missing: 'notBreaching',
    })),
    {
      path: 'DbAlarmsHandlerErrors',
      metric: { Namespace: 'AWS/Lambda', MetricName: 'Errors', Statistic: 'Sum', Period: minute, Dimensions: { FunctionName: handlerRef } },
      threshold: 1,
      operator: 'GreaterThanOrEqualToThreshold',
      periods: 3,
      datapoints: 3,
      missing: 'notBreaching',
    },
    {
      path: 'DbAlarmsHandlerThrottles',
      metric: { Namespace: 'AWS/Lambda', MetricName: 'Throttles', Statistic: 'Sum', Period: minute, Dimensions: { FunctionName: handlerRef } },
      threshold: 1,
      operator: 'GreaterThanOrEqualToThreshold',
      periods: 5,
      datapoints: 5,
      missing: 'notBreaching',
    },
    {
      // The default writer is the one Serverless v2 instance.
      path: 'DbAlarmsCapacityAtMaximum',
      metric: { Namespace: 'AWS/RDS', MetricName: 'ACUUtilization', Statistic: 'Maximum', Period: minute, Dimensions: { DBInstanceIdentifier: ref('DbClusterWriter') } },
      threshold: 90,
      operator: 'GreaterThanOrEqualToThreshold',
      periods: 15,
      datapoints: 15,
      missing: 'notBreaching',
    },
    {
      path: 'DbAlarmsWriterCpu',
      metric: { Namespace: 'AWS/RDS', MetricName: 'CPUUtilization', Statistic: 'Average', Period: minute, Dimensions: { DBClusterIdentifier: ref('DbCluster'), Role: 'WRITER' } },
      threshold: 90,
      operator: 'GreaterThanThreshold',
      periods: 5,
      datapoints: 5,
      missing: 'missing',
    },
  ];

  test.each(expected.map((e) => [e.path, e] as const))('%s', (_path, e) => {
    const { template } = build(ctx, { monitoring: {} });
    const a = alarm(template, e.path);
    expect({
      Namespace: a.Namespace, MetricName: a.MetricName, Statistic: a.Statistic, Period: a.Period, Dimensions: dims(a.Dimensions),
    }).toEqual(e.metric);
    expect(a).toMatchObject({
      Threshold: e.threshold,
      ComparisonOperator: e.operator,
      EvaluationPeriods: e.periods,
      DatapointsToAlarm: e.datapoints,
      TreatMissingData: e.missing,
    });
    expect(a.AlarmActions).toBeUndefined();
    // The description says what, on what, the condition, and why.
    expect(a.AlarmDescription).toMatch(/^(RDS Proxy|Query handler|Aurora cluster) TestStack\/Db, .+: .+ in \d+ of \d+ periods of \d+ minutes?\. .{40,}/);
    expect(a.AlarmDescription.length).toBeLessThanOrEqual(1024);
  });

  test('DbProxyAlarmsDatabaseConnectionsUtilization: 100 * DatabaseConnections / MaxDatabaseConnectionsAllowed > 90 for 5 of 5 minutes', () => {
    const { template } = build(ctx, { monitoring: {} });
    const a = alarm(template, 'DbProxyAlarmsDatabaseConnectionsUtilization');
    expect(a).toMatchObject({
      Threshold: 90, ComparisonOperator: 'GreaterThanThreshold', EvaluationPeriods: 5, DatapointsToAlarm: 5, TreatMissingData: 'notBreaching',
    });
    expect(a.MetricName).toBeUndefined();
    const byId = Object.fromEntries(a.Metrics.map((m: any) => [m.Id, m]));
    expect(byId.expr_1).toMatchObject({ Expression: '100 * connections / maxAllowed' });
    for (const [id, metricName] of [['connections', 'DatabaseConnections'], ['maxAllowed', 'MaxDatabaseConnectionsAllowed']]) {
      expect(byId[id]).toEqual({
        Id: id,
        ReturnData: false,
        MetricStat: { Metric: { Namespace: 'AWS/RDS', MetricName: metricName, Dimensions: [{ Name: 'ProxyName', Value: proxyRef }] }, Period: 60, Stat: 'Sum' },
      });
    }
  });

  test('with an SNS topic, every alarm notifies it', () => {
    const topic = new sns.Topic(ctx.stack, 'Topic');
    const { template } = build(ctx, { monitoring: { alarmTopic: topic } });
    const alarms = Object.values(alarmsOf(template));
    expect(alarms).toHaveLength(20);
    for (const a of alarms) expect(a.AlarmActions).toEqual([{ Ref: expect.stringMatching(/^Topic[0-9A-F]{8}$/) }]);
  });

  test('an idle healthy stack puts no alarm into ALARM (the alarms evaluated as CloudWatch does, on idle data)', () => {
    const { template } = build(ctx, { monitoring: {} });
    // An idle stack: gauges publish idle values every minute; event metrics
    // (latencies, failures, throttles, failed authentications) publish nothing.
    const idle: Record<string, number | undefined> = {
      AvailabilityPercentage: 100,
      DatabaseConnectionsCurrentlySessionPinned: 0,
      DatabaseConnectionsBorrowLatency: undefined,
      ClientConnectionsSetupFailedAuth: undefined,
      QueryFailures: undefined,
      Errors: undefined,
      Throttles: undefined,
      ACUUtilization: 25, // 0.5 of 2 ACU
      CPUUtilization: 8,
    };
    const breaches = (op: string, value: number, threshold: number) => ({
      GreaterThanThreshold: value > threshold,
      GreaterThanOrEqualToThreshold: value >= threshold,
      LessThanThreshold: value < threshold,
      LessThanOrEqualToThreshold: value <= threshold,
    } as Record<string, boolean>)[op];
    for (const [id, a] of Object.entries(alarmsOf(template))) {
      // The utilization expression: 2 of 90 connections on an idle proxy.
      const value = a.Metrics ? 100 * 2 / 90 : idle[a.MetricName];
      expect(a.MetricName === undefined || a.MetricName in idle).toBe(true);
      // Missing data: notBreaching counts as not breaching, missing leaves the alarm out of ALARM.
      const breaching = value === undefined ? a.TreatMissingData === 'breaching' : breaches(a.ComparisonOperator, value, a.Threshold);
      expect([id, breaching]).toEqual([id, false]);
    }
  });
});

describe('alarms: adjustable and removable', () => {
  test('each alarm takes its own threshold, period, evaluation periods and datapoints, or is turned off', () => {
    const { db, template } = build(ctx, {
      monitoring: {
        sessionPinning: { threshold: 5, evaluationPeriods: 10, datapointsToAlarm: 8, period: Duration.minutes(2) },
        borrowLatency: { threshold: 250_000 },
        writerCpu: { enabled: false },
        // Only evaluationPeriods: all of them must breach.
        availability: { evaluationPeriods: 5 },
      },
    });
    expect(alarm(template, 'DbProxyAlarmsSessionPinning')).toMatchObject({ Threshold: 5, EvaluationPeriods: 10, DatapointsToAlarm: 8, Period: 120 });
    expect(alarm(template, 'DbProxyAlarmsBorrowLatency')).toMatchObject({ Threshold: 250_000, EvaluationPeriods: 5, DatapointsToAlarm: 5, Period: 60 });
    expect(alarm(template, 'DbProxyAlarmsAvailability')).toMatchObject({ EvaluationPeriods: 5, DatapointsToAlarm: 5 });
    expect(Object.keys(alarmsOf(template)).some((id) => id.startsWith('DbAlarmsWriterCpu'))).toBe(false);
    expect(db.alarms!.writerCpu).toBeUndefined();
    expect(alarm(template, 'DbProxyAlarmsSessionPinning').AlarmDescription).toContain('Sum >= 5 connections in 8 of 10 periods of 2 minutes');
  });

  test('per-code alarms: the codes you name, each with its own settings', () => {
    const { db, template } = build(ctx, {
      monitoring: {
        handlerFailuresByCode: [
          { errorCode: HandlerErrorCode.QUERY_TIMEOUT, threshold: 10, evaluationPeriods: 5, datapointsToAlarm: 3 },
          { errorCode: HandlerErrorCode.of('AUTH_RATE_LIMITED') },
        ],
      },
    });
    const codeAlarms = Object.values(alarmsOf(template)).filter((a) => a.Dimensions?.some((d: any) => d.Name === 'ErrorCode'));
    expect(codeAlarms.map((a) => dims(a.Dimensions).ErrorCode).sort()).toEqual(['AUTH_RATE_LIMITED', 'QUERY_TIMEOUT']);
    expect(alarm(template, 'DbAlarmsHandlerFailuresQueryTimeout')).toMatchObject({ Threshold: 10, EvaluationPeriods: 5, DatapointsToAlarm: 3 });
    expect(db.alarms!.handlerFailureAlarm(HandlerErrorCode.QUERY_TIMEOUT)).toBe(db.alarms!.handlerFailuresByCode[0]);
    expect(db.alarms!.handlerFailureAlarm(HandlerErrorCode.DATABASE_UNREACHABLE)).toBeUndefined();

    const none = new ServerlessLampDatabase(ctx.stack, 'None', { monitoring: { handlerFailuresByCode: [] } });
    expect(none.alarms!.handlerFailuresByCode).toEqual([]);
  });

  test.each([
    [{ sessionPinning: { datapointsToAlarm: 20 } }, /^monitoring\.sessionPinning\.datapointsToAlarm \(20\) must be <= monitoring\.sessionPinning\.evaluationPeriods \(15\)$/],
    [{ availability: { evaluationPeriods: 0 } }, /^monitoring\.availability\.evaluationPeriods \(0\) must be between 1 and 1440$/],
    [{ borrowLatency: { period: Duration.seconds(90) } }, /^monitoring\.borrowLatency\.period \(1 minute 30 seconds\) must be a whole number of minutes$/],
    [{ handlerThrottles: { period: Duration.hours(1), evaluationPeriods: 25 } }, /^monitoring\.handlerThrottles\.period \(1 hour\) times monitoring\.handlerThrottles\.evaluationPeriods \(25\) must be at most one day$/],
    [{ writerCpu: { threshold: NaN } }, /^monitoring\.writerCpu\.threshold \(NaN\) must be a finite number$/],
    [{ handlerFailuresByCode: [{ errorCode: HandlerErrorCode.TLS_REQUIRED }, { errorCode: HandlerErrorCode.TLS_REQUIRED }] },
      /^monitoring\.handlerFailuresByCode\[1\]\.errorCode \(TLS_REQUIRED\) appears twice/],
    [{ dashboardName: 'ops' }, /^monitoring\.dashboardName \('ops'\) applies only with monitoring\.dashboard: true$/],
  ])('invalid settings fail at synth: %j', (monitoring, message) => {
    expect(() => new ServerlessLampDatabase(ctx.stack, 'Db', { monitoring: monitoring as any })).toThrow(message);
  });

  test('the same settings given to addAlarms() are named without the prop prefix', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db');
    expect(() => db.addAlarms({ sessionPinning: { datapointsToAlarm: 20 } }))
      .toThrow(/^sessionPinning\.datapointsToAlarm \(20\) must be <= sessionPinning\.evaluationPeriods \(15\)$/);
  });
});

describe('alarms: the cluster\'s capacity', () => {
  test('a provisioned writer alone has no Serverless v2 capacity to alarm on', () => {
    const { db, template } = build(ctx, {
      writer: rds.ClusterInstance.provisioned('Writer', { instanceType: ec2.InstanceType.of(ec2.InstanceClass.R6G, ec2.InstanceSize.LARGE) }),
      monitoring: {},
    });
    expect(db.alarms!.capacityAtMaximum).toBeUndefined();
    expect(Object.keys(alarmsOf(template)).some((id) => id.startsWith('DbAlarmsCapacityAtMaximum'))).toBe(false);
  });

  test('with several Serverless v2 instances, the highest of them (per instance, not the cluster average)', () => {
    const { template } = build(ctx, {
      writer: rds.ClusterInstance.provisioned('Writer', { instanceType: ec2.InstanceType.of(ec2.InstanceClass.R6G, ec2.InstanceSize.LARGE) }),
      readers: [rds.ClusterInstance.serverlessV2('ReaderA', { scaleWithWriter: true }), rds.ClusterInstance.serverlessV2('ReaderB')],
      monitoring: {},
    });
    const a = alarm(template, 'DbAlarmsCapacityAtMaximum');
    const byId = Object.fromEntries(a.Metrics.map((m: any) => [m.Id, m]));
    expect(byId.expr_1.Expression).toBe('MAX([acu0, acu1])');
    expect([byId.acu0, byId.acu1].map((m) => m.MetricStat)).toEqual([
      { Metric: { Namespace: 'AWS/RDS', MetricName: 'ACUUtilization', Dimensions: [{ Name: 'DBInstanceIdentifier', Value: ref('DbClusterReaderA') }] }, Period: 60, Stat: 'Maximum' },
      { Metric: { Namespace: 'AWS/RDS', MetricName: 'ACUUtilization', Dimensions: [{ Name: 'DBInstanceIdentifier', Value: ref('DbClusterReaderB') }] }, Period: 60, Stat: 'Maximum' },
    ]);
    expect(a).toMatchObject({ Threshold: 90, ComparisonOperator: 'GreaterThanOrEqualToThreshold', EvaluationPeriods: 15 });
  });
});

describe('alarms for every proxy', () => {
  const proxyAlarmIds = (template: Template, path: string) =>
    Object.keys(alarmsOf(template)).filter((id) => new RegExp(`^${path}ProxyAlarms[A-Za-z]+[0-9A-F]{8}$`).test(id)).sort();

  test('proxies added before and after the alarms get the proxy alarms, naming their own proxy', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db', { proxy: { maxConnectionsPercent: 40 } });
    const before = db.addProxy('Before', { maxConnectionsPercent: 20 });
    db.addAlarms({ sessionPinning: { threshold: 3 } });
    const after = db.addProxy('After', { maxConnectionsPercent: 20 });
    const direct = new ApplicationProxy(ctx.stack, 'Direct', { database: db, maxConnectionsPercent: 20 });
    const template = Template.fromStack(ctx.stack);
    for (const [p, path] of [[before, 'DbBefore'], [after, 'DbAfter'], [direct, 'Direct']] as const) {
      expect(proxyAlarmIds(template, path)).toHaveLength(5);
      const pinned = alarm(template, `${path}ProxyAlarmsSessionPinning`);
      expect(pinned.Threshold).toBe(3);
      expect(pinned.Dimensions).toEqual([{ Name: 'ProxyName', Value: ctx.stack.resolve(p.proxy.dbProxyName) }]);
      expect(p.proxyAlarms!.alarms).toHaveLength(5);
    }
    expect(db.proxyAlarms).toBe(db.alarms!.proxy);
  });

  test('alarmAddedProxies: false leaves added proxies to addProxyAlarms() with their own settings', () => {
    const topic = new sns.Topic(ctx.stack, 'Topic');
    const db = new ServerlessLampDatabase(ctx.stack, 'Db', { proxy: { maxConnectionsPercent: 50 }, monitoring: { alarmAddedProxies: false } });
    const batch = db.addProxy('Batch', { maxConnectionsPercent: 50 });
    expect(batch.proxyAlarms).toBeUndefined();
    expect(batch.node.tryFindChild('ProxyAlarms')).toBeUndefined();

    batch.addProxyAlarms({ alarmTopic: topic, borrowLatency: { threshold: 500_000 }, sessionPinning: { enabled: false } });
    const template = Template.fromStack(ctx.stack);
    expect(proxyAlarmIds(template, 'DbBatch')).toHaveLength(4);
    expect(alarm(template, 'DbBatchProxyAlarmsBorrowLatency')).toMatchObject({ Threshold: 500_000, AlarmActions: [{ Ref: expect.stringMatching(/^Topic/) }] });
    expect(() => batch.addProxyAlarms()).toThrow(/^TestStack\/Db\/Batch already has its proxy alarms$/);
    expect(() => db.addAlarms()).toThrow(/already has its alarms/);
  });

  test('a proxy that already has its alarms keeps them when the database adds its own', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db', { proxy: { maxConnectionsPercent: 50 } });
    const batch = db.addProxy('Batch', { maxConnectionsPercent: 50 });
    const own = batch.addProxyAlarms({ borrowLatency: { threshold: 1_000_000 } });
    db.addAlarms();
    expect(batch.proxyAlarms).toBe(own);
    expect(alarm(Template.fromStack(ctx.stack), 'DbBatchProxyAlarmsBorrowLatency').Threshold).toBe(1_000_000);
  });
});

describe('dashboard', () => {
  /** The dashboard body with its tokens written as `@Ref(id)` / `@GetAtt(id.attr)`, parsed. */
  function body(template: Template): { widgets: any[] } {
    const dashboards = Object.values(template.findResources('AWS::CloudWatch::Dashboard'));
    expect(dashboards).toHaveLength(1);
    const parts: unknown[] = dashboards[0].Properties.DashboardBody['Fn::Join'][1];
    const text = parts.map((p: any) => typeof p === 'string' ? p
      : p.Ref ? `@Ref(${p.Ref})`
        : p['Fn::GetAtt'] ? `@GetAtt(${p['Fn::GetAtt'].join('.')})`
          : `@${JSON.stringify(p).replace(/"/g, '\'')}`).join('');
    return JSON.parse(text);
  }

  /** The proxy each row shows, by row (y), from the widget titles. */
  function rows(b: { widgets: any[] }): Array<{ y: number; titles: string[] }> {
    const byY = new Map<number, string[]>();
    for (const w of b.widgets) byY.set(w.y, [...(byY.get(w.y) ?? []), w.properties.title]);
    return [...byY.entries()].sort(([a], [c]) => a - c).map(([y, titles]) => ({ y, titles }));
  }

  function proxyNameRef(template: Template, path: string): string {
    return Object.keys(template.findResources('AWS::RDS::DBProxy')).find((id) => new RegExp(`^${path}Proxy[0-9A-F]{8}$`).test(id))!;
  }

  test('the handler and the cluster side by side, then one row per proxy, later proxies included, in creation order', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db', { proxy: { maxConnectionsPercent: 40 }, monitoring: { alarms: false, dashboard: true } });
    db.addProxy('A', { maxConnectionsPercent: 30 });
    new ApplicationProxy(ctx.stack, 'B', { database: db, maxConnectionsPercent: 30 });
    const template = Template.fromStack(ctx.stack);
    const b = body(template);
    expect(rows(b)).toEqual([
      { y: 0, titles: ['Handler TestStack/Db: invocations', 'Handler TestStack/Db: failed answers by error code', 'Cluster TestStack/Db: capacity', 'Cluster TestStack/Db: writer CPU (%) and connections'] },
      ...[[6, 'TestStack/Db'], [12, 'TestStack/Db/A'], [18, 'TestStack/B']].map(([y, path]) => ({
        y,
        titles: ['connections', 'latency (microseconds)', 'pinned connections, failed client authentications', 'availability (%)'].map((t) => `Proxy ${path}: ${t}`),
      })),
    ]);
    // Each proxy row graphs its own proxy's metrics.
    for (const [y, path] of [[6, 'Db'], [12, 'DbA'], [18, 'B']] as const) {
      const names = b.widgets.filter((w) => w.y === y).flatMap((w) => w.properties.metrics)
        .map((m: any[]) => m[m.indexOf('ProxyName') + 1]);
      expect(new Set(names)).toEqual(new Set([`@Ref(${proxyNameRef(template, path)})`]));
    }
    // Failures of every error code the handler publishes, by search.
    const search = b.widgets.find((w) => w.properties.title.endsWith('failed answers by error code')).properties.metrics[0][0].expression;
    expect(search).toMatch(/^SEARCH\('\{ServerlessLampDatabase,ErrorCode,FunctionName\} MetricName="QueryFailures" FunctionName="@Ref\(DbHandler[0-9A-F]{8}\)"', 'Sum', 60\)$/);
  });

  test('proxies added before addDashboard() get their rows too, in the same order', () => {
    const db = new ServerlessLampDatabase(ctx.stack, 'Db', { proxy: { maxConnectionsPercent: 40 } });
    db.addProxy('A', { maxConnectionsPercent: 30 });
    const dashboard = db.addDashboard({ dashboardName: 'shop-database' });
    db.addProxy('B', { maxConnectionsPercent: 30 });
    expect(db.dashboard).toBe(dashboard);
    const template = Template.fromStack(ctx.stack);
    template.hasResourceProperties('AWS::CloudWatch::Dashboard', { DashboardName: 'shop-database' });
    expect(rows(body(template)).map((r) => r.titles[0])).toEqual([
      'Handler TestStack/Db: invocations', 'Proxy TestStack/Db: connections', 'Proxy TestStack/Db/A: connections', 'Proxy TestStack/Db/B: connections',
    ]);
    expect(() => db.addDashboard()).toThrow(/^TestStack\/Db already has its dashboard$/);
  });

  test('readers: the proxy row shows the readers\' availability too', () => {
    const { template } = build(ctx, {
      readers: [rds.ClusterInstance.serverlessV2('Reader', { scaleWithWriter: true })],
      monitoring: { alarms: false, dashboard: true },
    });
    const availability = body(template).widgets.find((w) => w.properties.title === 'Proxy TestStack/Db: availability (%)');
    expect(availability.properties.metrics.map((m: any[]) => m[m.indexOf('TargetRole') + 1])).toEqual(['READ_WRITE', 'READ_ONLY']);
    expect(availability.properties.yAxis).toEqual({ left: { min: 0, max: 100 } });
  });

  test('the dashboard and the alarms draw no warning (metric math included)', () => {
    build(ctx, { monitoring: { dashboard: true } });
    Annotations.fromStack(ctx.stack).hasNoWarning('*', Match.anyValue());
  });
});

validateRecordedTemplates(recorded, 20);
