import { Names } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/**
 * A physical name unique to the construct path that satisfies the RDS
 * identifier rules (1 to 63 lowercase letters, digits or hyphens, starting with
 * a letter, no trailing or double hyphen), ending in `-<suffix>`.
 *
 * aws-cdk-lib names a proxy after its construct id ("Proxy") unless told
 * otherwise, so two stacks in one account and Region would collide; and a
 * cluster's log groups can only be created ahead of it when its identifier is
 * known at synth time.
 */
export function rdsPhysicalName(scope: Construct, suffix: string): string {
  const unique = Names.uniqueResourceName(scope, { maxLength: 54, separator: '-', allowedSpecialCharacters: '-' });
  const cleaned = `${unique}-${suffix}`.toLowerCase().replace(/[^a-z0-9-]/g, '').replace(/-+/g, '-').replace(/^[^a-z]+/, '');
  return cleaned.slice(0, 63).replace(/-+$/, '');
}
