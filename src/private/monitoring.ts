/*
 * What each database watches: its alarms, its proxies' alarms and its
 * dashboard, including for proxies added later; and the `monitoring` prop.
 */
import { aws_cloudwatch as cloudwatch } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';
import { validateDatabaseAlarmsOptions } from './alarms';
import { DatabaseDashboard } from './dashboard';
import { ServerlessLampValidationError } from './errors';
import type { DatabaseAlarms, ProxyAlarms } from '../alarms';
import type { HandlerErrorCode } from '../handler-error-code';
import type { DatabaseAlarmsOptions, DashboardOptions, MonitoringOptions, ProxyAlarmsOptions } from '../monitoring';
import type { ProxyBase } from '../proxy-base';
import type { ServerlessLampDatabase } from '../serverless-lamp-database';

// Defined with the other metrics; the construct imports it from here.
export { handlerFailuresMetric } from './metrics';

interface DatabaseMonitoringState {
  /** The proxies added to the database, in the order they were created. */
  readonly proxies: ProxyBase[];
  alarms?: DatabaseAlarms;
  /** The alarm options for proxies added from now on, when they get alarms. */
  addedProxyAlarms?: ProxyAlarmsOptions;
  dashboard?: DatabaseDashboard;
}

const databases = new WeakMap<IConstruct, DatabaseMonitoringState>();
const proxyAlarms = new WeakMap<IConstruct, ProxyAlarms>();

function stateOf(db: IConstruct): DatabaseMonitoringState {
  let state = databases.get(db);
  if (!state) {
    state = { proxies: [] };
    databases.set(db, state);
  }
  return state;
}

export function proxyAlarmsOf(proxy: ProxyBase): ProxyAlarms | undefined {
  return proxyAlarms.get(proxy);
}

export function registerProxyAlarms(proxy: ProxyBase, alarms: ProxyAlarms): void {
  if (proxyAlarms.has(proxy)) {
    throw new ServerlessLampValidationError(`${proxy.node.path} already has its proxy alarms`);
  }
  proxyAlarms.set(proxy, alarms);
}

/**
 * Records the database's alarms; gives its own proxy alarms (unless it has
 * some) and, unless turned off, every added proxy, now and later.
 * Returns the alarms of the database's own proxy.
 */
export function registerDatabaseAlarms(db: ServerlessLampDatabase, alarms: DatabaseAlarms, o: DatabaseAlarmsOptions): ProxyAlarms {
  const state = stateOf(db);
  state.alarms = alarms;
  const own = proxyAlarmsOf(db) ?? db.addProxyAlarms(o);
  if (o.alarmAddedProxies ?? true) {
    state.addedProxyAlarms = o;
    for (const proxy of state.proxies) {
      if (!proxyAlarmsOf(proxy)) proxy.addProxyAlarms(o);
    }
  }
  return own;
}

/** A database has one set of alarms. */
export function assertNoDatabaseAlarms(db: ServerlessLampDatabase): void {
  if (stateOf(db).alarms) {
    throw new ServerlessLampValidationError(`${db.node.path} already has its alarms; adjust them with the options of the first addAlarms()`);
  }
}

export function databaseAlarmsOf(db: ServerlessLampDatabase): DatabaseAlarms | undefined {
  return databases.get(db)?.alarms;
}

/** Called by every `ApplicationProxy` of a database, last in its constructor. */
export function registerApplicationProxy(db: IConstruct, proxy: ProxyBase): void {
  const state = stateOf(db);
  state.proxies.push(proxy);
  if (state.addedProxyAlarms && !proxyAlarmsOf(proxy)) proxy.addProxyAlarms(state.addedProxyAlarms);
  state.dashboard?.addProxyRow(proxy);
}

/** The database's dashboard, with rows for the proxies it has; later proxies add theirs. */
export function addDashboard(db: ServerlessLampDatabase, options: DashboardOptions): cloudwatch.Dashboard {
  const state = stateOf(db);
  if (state.dashboard) {
    throw new ServerlessLampValidationError(`${db.node.path} already has its dashboard`);
  }
  state.dashboard = new DatabaseDashboard(db, options);
  for (const proxy of state.proxies) state.dashboard.addProxyRow(proxy);
  return state.dashboard.dashboard;
}

export function dashboardOf(db: ServerlessLampDatabase): cloudwatch.Dashboard | undefined {
  return databases.get(db)?.dashboard?.dashboard;
}

/** The `monitoring` prop: checked with its own property names, then applied. */
export function applyMonitoring(db: ServerlessLampDatabase, m: MonitoringOptions | undefined, codes: () => HandlerErrorCode[]): void {
  if (m === undefined) return;
  validateDatabaseAlarmsOptions(m, 'monitoring.', codes);
  if (m.dashboardName !== undefined && !m.dashboard) {
    throw new ServerlessLampValidationError(
      `monitoring.dashboardName ('${m.dashboardName}') applies only with monitoring.dashboard: true`);
  }
  if (m.alarms ?? true) db.addAlarms(m);
  if (m.dashboard) db.addDashboard({ dashboardName: m.dashboardName });
}
