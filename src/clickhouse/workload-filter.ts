/**
 * Which GPUs a Kubernetes workload filter (namespace, pod, container; each exact) picks,
 * in the registry queries. A GPU is used by the pods of its own datapoints and by those
 * of its MIG instances (migration 7 keeps them apart), so it matches when its own
 * workload or one of its instances' has every non-empty value asked for. An empty value
 * asks for "none": `namespace=` picks GPUs that neither they nor any of their instances
 * are used by a pod of any namespace.
 *
 * Only which fields are given shapes the SQL; every value is a parameter.
 */

export const workloadFields = ["namespace", "pod", "container"] as const;
export type WorkloadField = (typeof workloadFields)[number];
export type WorkloadFilter = Partial<Record<WorkloadField, string | undefined>>;

/** Whether the filter asks anything of the workload. */
export function hasWorkloadFilter(filter: WorkloadFilter): boolean {
  return workloadFields.some((field) => filter[field] !== undefined);
}

/** The given fields' values, as query parameters named after the fields. */
export function workloadParams(filter: WorkloadFilter): Record<string, string> {
  const params: Record<string, string> = {};
  for (const field of workloadFields) {
    const value = filter[field];
    if (value !== undefined) params[field] = value;
  }
  return params;
}

/**
 * Joins each registry row (alias `registryAlias`, with its own workload columns) with
 * its instances' workloads as three parallel arrays `mig.namespaces`, `mig.pods`,
 * `mig.containers` (empty for a GPU without instances).
 */
export function migWorkloadsJoin(registryAlias: string): string {
  return `LEFT JOIN (
    SELECT uuid, groupArray(namespace) AS namespaces, groupArray(pod) AS pods, groupArray(container) AS containers
    FROM (
        SELECT uuid, gpu_instance,
            tupleElement(max(workload), 'namespace') AS namespace,
            tupleElement(max(workload), 'pod') AS pod,
            tupleElement(max(workload), 'container') AS container
        FROM mig_instances
        GROUP BY uuid, gpu_instance
    )
    GROUP BY uuid
) AS mig ON mig.uuid = ${registryAlias}.uuid`;
}

const arrayOf: Record<WorkloadField, string> = {
  namespace: "mig.namespaces",
  pod: "mig.pods",
  container: "mig.containers",
};
const lambdaOf: Record<WorkloadField, string> = { namespace: "n", pod: "p", container: "c" };

/** The condition on a row of the join above; undefined when the filter asks nothing. */
export function workloadCondition(filter: WorkloadFilter, registryAlias: string): string | undefined {
  const given = workloadFields.filter((field) => filter[field] !== undefined);
  if (given.length === 0) return undefined;
  const wanted = given.filter((field) => filter[field] !== "");
  const none = given.filter((field) => filter[field] === "");
  const conditions: string[] = [];
  if (wanted.length > 0) {
    const own = wanted.map((field) => `${registryAlias}.${field} = {${field}:String}`).join(" AND ");
    const inInstance = wanted.map((field) => `${lambdaOf[field]} = {${field}:String}`).join(" AND ");
    conditions.push(`((${own}) OR arrayExists((n, p, c) -> ${inInstance}, mig.namespaces, mig.pods, mig.containers))`);
  }
  for (const field of none) {
    conditions.push(`${registryAlias}.${field} = '' AND arrayAll(value -> value = '', ${arrayOf[field]})`);
  }
  return conditions.join("\n  AND ");
}
