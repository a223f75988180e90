/*
 * What happens when the stack is deleted: a resource CloudFormation keeps
 * (`DeletionPolicy: Retain`) still uses what it references; if that is
 * deleted, the stack deletion fails (a security group or subnet in use) or the
 * retained resource is broken (its credentials gone).
 */

type Json = any;

/**
 * References (`Ref`, `Fn::GetAtt`, `${...}` in `Fn::Sub`) to other resources
 * anywhere in `value`, except in a key policy: a policy naming a principal that
 * is deleted neither blocks the deletion nor breaks the key (IAM keeps the
 * principal's unique id there).
 */
function references(value: Json, into: Set<string>): Set<string> {
  if (Array.isArray(value)) {
    for (const v of value) references(v, into);
  } else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === 'KeyPolicy') continue;
      if (k === 'Ref' && typeof v === 'string') {into.add(v);} else if (k === 'Fn::GetAtt') {into.add(Array.isArray(v) ? String(v[0]) : String(v).split('.')[0]);} else if (k === 'Fn::Sub') {
        const text = Array.isArray(v) ? v[0] : v;
        for (const m of String(text).matchAll(/\$\{([A-Za-z0-9]+)(\.[^}]*)?\}/g)) into.add(m[1]);
        references(v, into);
      } else {references(v, into);}
    }
  }
  return into;
}

/**
 * Every resource a retained resource references, directly or through other
 * references, that the stack deletion would delete: `<retained> uses <deleted> (<type>)`.
 */
export function retainedButDeleted(template: Json): string[] {
  const resources: Record<string, Json> = template.Resources ?? {};
  // (`Snapshot` deletes the resource after the snapshot: nothing of it is left to use anything.)
  const retained = (id: string) => ['Retain', 'RetainExceptOnCreate'].includes(resources[id]?.DeletionPolicy);
  const out: string[] = [];
  for (const id of Object.keys(resources).filter(retained)) {
    const seen = new Set<string>();
    const queue = [...references(resources[id].Properties ?? {}, new Set())];
    while (queue.length > 0) {
      const dep = queue.shift()!;
      if (seen.has(dep) || !resources[dep]) continue; // pseudo parameters and parameters
      seen.add(dep);
      if (!retained(dep)) {
        out.push(`${id} uses ${dep} (${resources[dep].Type})`);
        continue;
      }
      queue.push(...references(resources[dep].Properties ?? {}, new Set()));
    }
  }
  return out.sort();
}
