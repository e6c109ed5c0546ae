/**
 * Generator of the Kubernetes workloads (deploy/k8s/workloads/) from the worker catalog
 * (runtime/catalog.ts), and of the ConfigMap sources (deploy/k8s/config/) from config/.
 *
 * Why generated: every worker kind needs the same pod hardening, probes, volumes and
 * secret wiring, and the StatefulSet/Deployment/HPA choice follows the catalog's mode — a
 * generator keeps the twelve workloads consistent with the catalog; kustomize overlays stay
 * the place for site changes (replica counts of competing kinds, resources, image).
 *
 * Why copied config: kustomize's load restrictor forbids `configMapGenerator` files outside
 * the kustomization folder, and `kubectl apply -k deploy/k8s` must work as is. So
 * deploy/k8s/config/ holds a copy of every config/*.toml except the files in
 * {@linkcode K8S_OVERRIDES} (bus.toml and storage.toml: NATS with 3 stream replicas and
 * TimescaleDB), which are maintained by hand. `--check` fails when anything drifted
 * (tests/unit/deploy/k8s_test.ts runs it).
 *
 * Usage: `deno run -A deploy/k8s/generate.ts [--check]`
 *
 * @example
 * ```ts
 * import { renderAll } from "./generate.ts";
 * const files = await renderAll();
 * console.log([...files.keys()]); // ["workloads/poller-kalshi.yaml", ...]
 * ```
 * @module
 */
import { workerCatalog, type WorkerKind } from "../../runtime/catalog.ts";
import { PLATFORMS } from "../../config/schemas/markets.ts";

/** Config files whose Kubernetes version differs from config/ (kept by hand). */
export const K8S_OVERRIDES: readonly string[] = ["bus.toml", "storage.toml"];

/** Replica counts of partition-ordered kinds; each must divide `bus.backend.partitions`. */
export const PARTITION_REPLICAS: Readonly<Record<string, number>> = {
  feature: 4,
  detector: 4,
  manipulation: 2,
  calibration: 2,
};

/** Port of /metrics, /healthz and /readyz (observability.toml `[metrics] port`). */
export const METRICS_PORT = 9090;
/** Port of the websocket endpoint (formatters.toml `[websocket] port`). */
export const WEBSOCKET_PORT = 8765;
/** The non-root user and group of the image (deploy/docker/rootfs.sh `--uid`). */
export const RUN_AS = 65532;
/** Name of the Secret every workload reads (deploy/k8s/secret.template.yaml). */
export const SECRET_NAME = "augur-secrets";
/** Name of the Secret holding the NATS credentials file. */
export const NATS_CREDENTIALS_SECRET = "augur-nats-credentials";
/** Where the NATS credentials Secret is mounted. */
export const NATS_CREDENTIALS_DIR = "/var/run/augur/nats";

/** Lock holder id = the pod name (DESIGN §8), expanded by the kubelet from POD_NAME. */
const HOLDER = ["--replica-id", "$(POD_NAME)"] as const;

type Json = string | number | boolean | null | Json[] | { [key: string]: Json };

/** One workload to render: a catalog kind, possibly per platform. */
export interface WorkloadSpec {
  /** Resource name suffix, e.g. `poller-kalshi` → `augur-poller-kalshi`. */
  readonly name: string;
  /** The catalog entry. */
  readonly kind: WorkerKind;
  /** `augur` arguments; `$(AUGUR_REPLICA_INDEX)` is expanded by the kubelet. */
  readonly args: readonly string[];
  /** StatefulSet (singletons, partition-ordered) or Deployment (competing). */
  readonly controller: "StatefulSet" | "Deployment";
  /** Initial (or fixed) replica count. */
  readonly replicas: number;
  /** HPA bounds for autoscaled kinds. */
  readonly hpa?: { min: number; max: number };
}

const RESOURCES: Record<string, { cpu: [string, string]; memory: [string, string] }> = {
  poller: { cpu: ["100m", "500m"], memory: ["128Mi", "256Mi"] },
  feature: { cpu: ["250m", "1"], memory: ["256Mi", "512Mi"] },
  detector: { cpu: ["250m", "1"], memory: ["256Mi", "512Mi"] },
  manipulation: { cpu: ["100m", "500m"], memory: ["192Mi", "384Mi"] },
  calibration: { cpu: ["100m", "500m"], memory: ["192Mi", "384Mi"] },
  divergence: { cpu: ["100m", "500m"], memory: ["192Mi", "384Mi"] },
  dedup: { cpu: ["250m", "1"], memory: ["256Mi", "512Mi"] },
  context: { cpu: ["250m", "1"], memory: ["256Mi", "512Mi"] },
  llm: { cpu: ["100m", "500m"], memory: ["128Mi", "256Mi"] },
  store: { cpu: ["250m", "1"], memory: ["256Mi", "512Mi"] },
  websocket: { cpu: ["100m", "500m"], memory: ["128Mi", "384Mi"] },
  "dual-write": { cpu: ["100m", "500m"], memory: ["192Mi", "384Mi"] },
};

const HPA: Record<string, { min: number; max: number }> = {
  context: { min: 2, max: 10 },
  store: { min: 2, max: 6 },
  websocket: { min: 2, max: 10 },
};

/**
 * The workloads derived from the catalog: one per kind (one per platform for the poller),
 * the engine excluded (it is the single-process mode, not a Kubernetes workload).
 *
 * @example
 * ```ts
 * import { workloadSpecs } from "./generate.ts";
 * workloadSpecs().map((w) => `${w.name}:${w.controller}`);
 * ```
 */
export function workloadSpecs(): WorkloadSpec[] {
  const specs: WorkloadSpec[] = [];
  for (const kind of workerCatalog()) {
    switch (kind.mode) {
      case "all-in-one":
        break;
      case "singleton":
        if (kind.kind === "poller") {
          for (const platform of [...PLATFORMS].sort()) {
            specs.push({
              name: `poller-${platform}`,
              kind,
              args: ["run", "poller", "--platform", platform, ...HOLDER],
              controller: "StatefulSet",
              replicas: 2,
            });
          }
        } else {
          specs.push({
            name: kind.kind,
            kind,
            args: ["run", kind.kind, ...HOLDER],
            controller: "StatefulSet",
            replicas: 2,
          });
        }
        break;
      case "partition-ordered": {
        const n = PARTITION_REPLICAS[kind.kind];
        if (n === undefined) throw new Error(`no replica count for partition-ordered ${kind.kind}`);
        specs.push({
          name: kind.kind,
          kind,
          args: ["run", kind.kind, "--replica", `$(AUGUR_REPLICA_INDEX)/${n}`, ...HOLDER],
          controller: "StatefulSet",
          replicas: n,
        });
        break;
      }
      case "competing": {
        const dualWrite = kind.kind === "dual-write";
        specs.push({
          name: kind.kind,
          kind,
          args: dualWrite ? ["dual-write"] : ["run", kind.kind, ...HOLDER],
          controller: "Deployment",
          // dual-write runs only during a cutover (docs/operations.md): scaled to 1 then.
          replicas: dualWrite ? 0 : (HPA[kind.kind]?.min ?? 1),
          hpa: kind.autoscale ? HPA[kind.kind] ?? { min: 2, max: 6 } : undefined,
        });
        break;
      }
    }
  }
  return specs;
}

function labels(spec: WorkloadSpec): Record<string, Json> {
  return {
    "app.kubernetes.io/name": "augur",
    "app.kubernetes.io/instance": `augur-${spec.name}`,
    "app.kubernetes.io/component": spec.kind.kind,
    "augur.dev/mode": spec.kind.mode,
  };
}

function selector(spec: WorkloadSpec): Record<string, Json> {
  return {
    "app.kubernetes.io/name": "augur",
    "app.kubernetes.io/instance": `augur-${spec.name}`,
  };
}

function env(spec: WorkloadSpec): Json[] {
  const out: Json[] = [
    { name: "AUGUR_CONFIG_DIR", value: "/etc/augur" },
    { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
  ];
  if (spec.kind.mode === "partition-ordered") {
    // The StatefulSet controller labels each pod with its ordinal (Kubernetes >= 1.28), the
    // same number that ends the pod name (augur-feature-3 -> 3).
    out.push({
      name: "AUGUR_REPLICA_INDEX",
      valueFrom: { fieldRef: { fieldPath: "metadata.labels['apps.kubernetes.io/pod-index']" } },
    });
  }
  const secret = (name: string, optional: boolean): Json => ({
    name,
    valueFrom: { secretKeyRef: { name: SECRET_NAME, key: name, optional } },
  });
  out.push(secret("AUGUR_TIMESCALE_URL", false));
  out.push(secret("REDIS_URL", true));
  out.push(secret("NATS_CREDENTIALS_FILE", true));
  if (spec.kind.kind === "llm") out.push(secret("ANTHROPIC_API_KEY", true));
  return out;
}

function container(spec: WorkloadSpec): Json {
  const res = RESOURCES[spec.kind.kind] ?? RESOURCES.context;
  const ports: Json[] = [{ name: "metrics", containerPort: METRICS_PORT, protocol: "TCP" }];
  if (spec.kind.kind === "websocket") {
    ports.push({ name: "websocket", containerPort: WEBSOCKET_PORT, protocol: "TCP" });
  }
  return {
    name: "augur",
    image: "augur",
    imagePullPolicy: "IfNotPresent",
    args: [...spec.args],
    env: env(spec),
    ports,
    readinessProbe: {
      httpGet: { path: "/readyz", port: "metrics" },
      periodSeconds: 5,
      timeoutSeconds: 2,
      failureThreshold: 3,
    },
    livenessProbe: {
      httpGet: { path: "/healthz", port: "metrics" },
      initialDelaySeconds: 10,
      periodSeconds: 10,
      timeoutSeconds: 2,
      failureThreshold: 6,
    },
    resources: {
      requests: { cpu: res.cpu[0], memory: res.memory[0] },
      limits: { cpu: res.cpu[1], memory: res.memory[1] },
    },
    securityContext: {
      runAsNonRoot: true,
      runAsUser: RUN_AS,
      runAsGroup: RUN_AS,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ["ALL"] },
    },
    volumeMounts: [
      { name: "config", mountPath: "/etc/augur", readOnly: true },
      { name: "tmp", mountPath: "/tmp" },
      { name: "nats-credentials", mountPath: NATS_CREDENTIALS_DIR, readOnly: true },
    ],
  };
}

function podTemplate(spec: WorkloadSpec): Json {
  return {
    metadata: { labels: labels(spec) },
    spec: {
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      // bus.toml drain_timeout_seconds (30) plus room to flush and exit.
      terminationGracePeriodSeconds: 45,
      securityContext: {
        runAsNonRoot: true,
        runAsUser: RUN_AS,
        runAsGroup: RUN_AS,
        fsGroup: RUN_AS,
        seccompProfile: { type: "RuntimeDefault" },
      },
      affinity: {
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [{
            weight: 100,
            podAffinityTerm: {
              topologyKey: "kubernetes.io/hostname",
              labelSelector: { matchLabels: selector(spec) },
            },
          }],
        },
      },
      containers: [container(spec)],
      volumes: [
        { name: "config", configMap: { name: "augur-config" } },
        { name: "tmp", emptyDir: { sizeLimit: "256Mi" } },
        {
          name: "nats-credentials",
          secret: { secretName: NATS_CREDENTIALS_SECRET, optional: true },
        },
      ],
    },
  };
}

function workload(spec: WorkloadSpec): Json {
  const metadata = {
    name: `augur-${spec.name}`,
    labels: labels(spec),
    annotations: {
      "augur.dev/command": `augur ${spec.args.join(" ")}`,
      ...(spec.kind.lock ? { "augur.dev/lock": spec.kind.lock } : {}),
      ...(spec.kind.kind === "dual-write"
        ? { "augur.dev/scale": "0 normally; 1 during a cutover (docs/operations.md)" }
        : {}),
    },
  };
  if (spec.controller === "StatefulSet") {
    return {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata,
      spec: {
        serviceName: `augur-${spec.name}-headless`,
        replicas: spec.replicas,
        podManagementPolicy: "Parallel",
        updateStrategy: { type: "RollingUpdate" },
        selector: { matchLabels: selector(spec) },
        template: podTemplate(spec),
      },
    };
  }
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata,
    spec: {
      ...(spec.hpa ? {} : { replicas: spec.replicas }),
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      selector: { matchLabels: selector(spec) },
      template: podTemplate(spec),
    },
  };
}

function headlessService(spec: WorkloadSpec): Json {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: `augur-${spec.name}-headless`,
      labels: { ...labels(spec), "augur.dev/metrics": "true" },
    },
    spec: {
      clusterIP: "None",
      // Peers and Prometheus see pods that are not ready yet (a passive singleton is ready,
      // but a starting one must still be scraped).
      publishNotReadyAddresses: true,
      selector: selector(spec),
      ports: [{ name: "metrics", port: METRICS_PORT, targetPort: "metrics", protocol: "TCP" }],
    },
  };
}

function websocketService(spec: WorkloadSpec): Json {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "augur-websocket", labels: labels(spec) },
    spec: {
      type: "ClusterIP",
      selector: selector(spec),
      ports: [{
        name: "websocket",
        port: WEBSOCKET_PORT,
        targetPort: "websocket",
        protocol: "TCP",
      }],
    },
  };
}

function pdb(spec: WorkloadSpec): Json {
  const budget: Record<string, Json> = spec.kind.mode === "singleton"
    ? { minAvailable: 1 }
    : { maxUnavailable: 1 };
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: { name: `augur-${spec.name}`, labels: labels(spec) },
    spec: { ...budget, selector: { matchLabels: selector(spec) } },
  };
}

function hpa(spec: WorkloadSpec, bounds: { min: number; max: number }): Json {
  const pods = (metric: string, target: string): Json => ({
    type: "Pods",
    pods: { metric: { name: metric }, target: { type: "AverageValue", averageValue: target } },
  });
  return {
    apiVersion: "autoscaling/v2",
    kind: "HorizontalPodAutoscaler",
    metadata: { name: `augur-${spec.name}`, labels: labels(spec) },
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: `augur-${spec.name}` },
      minReplicas: bounds.min,
      maxReplicas: bounds.max,
      metrics: [
        {
          type: "Resource",
          resource: { name: "cpu", target: { type: "Utilization", averageUtilization: 70 } },
        },
        // Served by prometheus-adapter from the workers' /metrics (docs/operations.md).
        pods("augur_bus_pending_messages", "1000"),
        pods("augur_bus_consume_lag_seconds", "5"),
      ],
      behavior: { scaleDown: { stabilizationWindowSeconds: 300 } },
    },
  };
}

/**
 * The Kubernetes objects of one workload: controller, headless metrics Service,
 * PodDisruptionBudget, and the HPA / websocket Service where they apply.
 *
 * @example
 * ```ts
 * import { workloadObjects, workloadSpecs } from "./generate.ts";
 * workloadObjects(workloadSpecs()[0]).length; // 3
 * ```
 */
export function workloadObjects(spec: WorkloadSpec): Json[] {
  const out: Json[] = [workload(spec), headlessService(spec)];
  if (spec.kind.kind === "websocket") out.push(websocketService(spec));
  out.push(pdb(spec));
  if (spec.hpa) out.push(hpa(spec, spec.hpa));
  return out;
}

const PLAIN_KEY = /^[A-Za-z0-9_./-]+$/;

function yamlKey(key: string): string {
  return PLAIN_KEY.test(key) ? key : JSON.stringify(key);
}

function yamlScalar(value: Json): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

function isEmpty(value: Json): boolean {
  return (Array.isArray(value) && value.length === 0) ||
    (value !== null && typeof value === "object" && Object.keys(value).length === 0);
}

function emptyText(value: Json): string {
  return Array.isArray(value) ? "[]" : "{}";
}

/**
 * A YAML rendering of a JSON value (block style, every string double-quoted, so no value
 * is ever read as a YAML 1.1 boolean or number).
 *
 * @example
 * ```ts
 * import { toYaml } from "./generate.ts";
 * toYaml({ a: ["x"], b: { c: 1 } }); // 'a:\n  - "x"\nb:\n  c: 1\n'
 * ```
 */
export function toYaml(value: Json, indent = ""): string {
  if (Array.isArray(value)) {
    if (value.length === 0) return `${indent}[]\n`;
    return value.map((item) => {
      if (item !== null && typeof item === "object" && !isEmpty(item)) {
        const inner = toYaml(item, `${indent}  `);
        return `${indent}- ${inner.slice(indent.length + 2)}`;
      }
      return `${indent}- ${isEmpty(item) ? emptyText(item) : yamlScalar(item)}\n`;
    }).join("");
  }
  if (value !== null && typeof value === "object") {
    return Object.entries(value).map(([k, v]) => {
      if (v !== null && typeof v === "object" && !isEmpty(v)) {
        return `${indent}${yamlKey(k)}:\n${toYaml(v, Array.isArray(v) ? indent : `${indent}  `)}`;
      }
      return `${indent}${yamlKey(k)}: ${isEmpty(v) ? emptyText(v) : yamlScalar(v)}\n`;
    }).join("");
  }
  return `${indent}${yamlScalar(value)}\n`;
}

async function denoFmt(text: string, ext: string): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["fmt", `--ext=${ext}`, "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  if (!out.success) throw new Error(`deno fmt failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

const ROOT = new URL("../../", import.meta.url);
const K8S = new URL("./", import.meta.url);

/**
 * Every generated file, relative to deploy/k8s/, with its content.
 *
 * @example
 * ```ts
 * import { renderAll } from "./generate.ts";
 * (await renderAll()).get("workloads/kustomization.yaml");
 * ```
 */
export async function renderAll(): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  const header = "# GENERATED by deploy/k8s/generate.ts — do not edit.\n" +
    "# Regenerate: deno run -A deploy/k8s/generate.ts\n";
  const specs = workloadSpecs();
  for (const spec of specs) {
    const docs = workloadObjects(spec).map((o) => toYaml(o)).join("---\n");
    files.set(`workloads/${spec.name}.yaml`, await denoFmt(header + docs, "yaml"));
  }
  files.set(
    "workloads/kustomization.yaml",
    await denoFmt(
      header + toYaml({
        apiVersion: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        resources: specs.map((s) => `${s.name}.yaml`),
      }),
      "yaml",
    ),
  );
  const tomls: string[] = [];
  for await (const entry of Deno.readDir(new URL("config/", ROOT))) {
    if (!entry.isFile || !entry.name.endsWith(".toml")) continue;
    tomls.push(entry.name);
    if (K8S_OVERRIDES.includes(entry.name)) continue;
    files.set(
      `config/${entry.name}`,
      await Deno.readTextFile(new URL(`config/${entry.name}`, ROOT)),
    );
  }
  // One ConfigMap key per file of config/; the hash suffix rolls every workload on a change.
  files.set(
    "config/kustomization.yaml",
    await denoFmt(
      header + toYaml({
        apiVersion: "kustomize.config.k8s.io/v1beta1",
        kind: "Kustomization",
        configMapGenerator: [{ name: "augur-config", files: tomls.sort() }],
      }),
      "yaml",
    ),
  );
  return new Map([...files.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * Paths (relative to deploy/k8s/) that differ from what the generator produces, including
 * stray files in workloads/ and config/ that it would not produce.
 *
 * @example
 * ```ts
 * import { staleFiles } from "./generate.ts";
 * (await staleFiles()).length; // 0 when up to date
 * ```
 */
export async function staleFiles(): Promise<string[]> {
  const files = await renderAll();
  const stale: string[] = [];
  for (const [path, text] of files) {
    let current: string | undefined;
    try {
      current = await Deno.readTextFile(new URL(path, K8S));
    } catch {
      current = undefined;
    }
    if (current !== text) stale.push(path);
  }
  for (const dir of ["workloads", "config"]) {
    try {
      for await (const entry of Deno.readDir(new URL(`${dir}/`, K8S))) {
        const path = `${dir}/${entry.name}`;
        if (files.has(path)) continue;
        if (dir === "config" && K8S_OVERRIDES.includes(entry.name)) continue;
        stale.push(`${path} (not generated)`);
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return stale;
}

if (import.meta.main) {
  if (Deno.args.includes("--check")) {
    const stale = await staleFiles();
    if (stale.length > 0) {
      console.error(
        `deploy/k8s is stale: ${stale.join(", ")}\nrun: deno run -A deploy/k8s/generate.ts`,
      );
      Deno.exit(1);
    }
    console.log("deploy/k8s is up to date");
  } else {
    const files = await renderAll();
    await Deno.mkdir(new URL("workloads/", K8S), { recursive: true });
    await Deno.mkdir(new URL("config/", K8S), { recursive: true });
    for (const [path, text] of files) await Deno.writeTextFile(new URL(path, K8S), text);
    console.log(`wrote ${files.size} files under deploy/k8s/`);
  }
}
