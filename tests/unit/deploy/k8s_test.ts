/**
 * Renders deploy/k8s with `kubectl kustomize` and checks every workload against DESIGN §8 and
 * §10: probes on the metrics port, pinned image, hardened securityContext, StatefulSets with
 * `--replica <ordinal>/N` for partition-ordered kinds and singletons, HPA only on the
 * autoscaled kinds of the catalog, PDBs, metrics Services for the ServiceMonitor, ConfigMap
 * keys = config files, Secret keys = the template's.
 */
import { assert, assertEquals } from "../../helpers/assert.ts";
import { workerCatalog } from "../../../runtime/catalog.ts";
import { loadConfig } from "../../../config/loader.ts";
import { K8S_OVERRIDES, staleFiles } from "../../../deploy/k8s/generate.ts";
import denoJson from "../../../deno.json" with { type: "json" };
import {
  decodeYaml,
  type K8sObject,
  kubectlAvailable,
  renderKustomization,
  REPO_ROOT,
} from "./render.ts";

const hasKubectl = await kubectlAvailable();
const requireTools = Deno.env.get("AUGUR_REQUIRE_SERVICES") === "1";
const ignore = !hasKubectl;
const objects: K8sObject[] = hasKubectl ? await renderKustomization("deploy/k8s") : [];
const workloads = objects.filter((o) => o.kind === "Deployment" || o.kind === "StatefulSet");
const catalog = workerCatalog();

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

function podLabels(w: K8sObject): Record<string, string> {
  return w.spec.template.metadata.labels;
}

// deno-lint-ignore no-explicit-any
function mainContainer(w: K8sObject): any {
  return w.spec.template.spec.containers[0];
}

Deno.test("deploy/k8s: kubectl is available where CI requires it", () => {
  assert(hasKubectl || !requireTools, "kubectl not found but AUGUR_REQUIRE_SERVICES=1");
});

Deno.test({
  name: "deploy/k8s: generated workloads and copied config are up to date",
  async fn() {
    const stale = await staleFiles();
    assertEquals(stale, [], "run: deno run -A deploy/k8s/generate.ts");
  },
});

Deno.test({
  name: "deploy/k8s: renders one workload per catalog kind (per platform for pollers)",
  ignore,
  fn() {
    const components = new Set(workloads.map((w) => podLabels(w)["app.kubernetes.io/component"]));
    for (const kind of catalog) {
      if (kind.mode === "all-in-one") {
        assert(!components.has(kind.kind), "the engine is not a Kubernetes workload");
        continue;
      }
      assert(components.has(kind.kind), `no workload for catalog kind ${kind.kind}`);
    }
    const pollers = workloads.filter((w) =>
      podLabels(w)["app.kubernetes.io/component"] === "poller"
    );
    assertEquals(pollers.map((w) => mainContainer(w).args.slice(0, 4).join(" ")).sort(), [
      "run poller --platform kalshi",
      "run poller --platform polymarket",
    ]);
    for (const o of objects) {
      if (o.kind === "Namespace") continue;
      assertEquals(o.metadata.namespace, "augur", `${o.kind}/${o.metadata.name} namespace`);
    }
  },
});

Deno.test({
  name: "deploy/k8s: every workload has probes on the metrics port, resources, pinned image",
  ignore,
  fn() {
    assert(workloads.length >= 12, `expected >= 12 workloads, got ${workloads.length}`);
    for (const w of workloads) {
      const id = `${w.kind}/${w.metadata.name}`;
      const c = mainContainer(w);
      const metrics = c.ports.find((p: { name: string }) => p.name === "metrics");
      assertEquals(metrics?.containerPort, 9090, `${id}: metrics port`);
      for (const [probe, path] of [["readinessProbe", "/readyz"], ["livenessProbe", "/healthz"]]) {
        assertEquals(c[probe]?.httpGet?.path, path, `${id}: ${probe} path`);
        assert(
          c[probe].httpGet.port === "metrics" || c[probe].httpGet.port === 9090,
          `${id}: ${probe} must target the metrics port, got ${c[probe].httpGet.port}`,
        );
      }
      for (const key of ["requests", "limits"]) {
        assert(c.resources?.[key]?.cpu && c.resources?.[key]?.memory, `${id}: resources.${key}`);
      }
      const image: string = c.image;
      assert(!image.endsWith(":latest"), `${id}: image ${image} uses :latest`);
      const tag = /^[^@]+:([^/:@]+)$/.exec(image)?.[1];
      assert(tag !== undefined || image.includes("@sha256:"), `${id}: image ${image} not pinned`);
      if (tag !== undefined) {
        assertEquals(tag, denoJson.version, `${id}: image tag follows deno.json version`);
      }
    }
  },
});

Deno.test({
  name: "deploy/k8s: every container is non-root, read-only, without privileges",
  ignore,
  fn() {
    for (const w of workloads) {
      const id = `${w.kind}/${w.metadata.name}`;
      const pod = w.spec.template.spec;
      for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
        const sc = { ...pod.securityContext, ...c.securityContext };
        assertEquals(sc.runAsNonRoot, true, `${id}: runAsNonRoot`);
        assert(Number.isInteger(sc.runAsUser) && sc.runAsUser > 0, `${id}: numeric runAsUser`);
        assertEquals(c.securityContext?.readOnlyRootFilesystem, true, `${id}: readOnlyRootFs`);
        assertEquals(c.securityContext?.allowPrivilegeEscalation, false, `${id}: no escalation`);
        assertEquals(c.securityContext?.capabilities?.drop, ["ALL"], `${id}: drop ALL`);
        assert(!c.securityContext?.capabilities?.add, `${id}: adds capabilities`);
        const tmp = c.volumeMounts.find((m: { mountPath: string }) => m.mountPath === "/tmp");
        assert(tmp, `${id}: needs a writable /tmp (native addons are extracted there)`);
      }
      assertEquals(pod.automountServiceAccountToken, false, `${id}: no service account token`);
    }
  },
});

Deno.test({
  name: "deploy/k8s: partition-ordered kinds and singletons are Parallel StatefulSets",
  ignore,
  async fn() {
    const bus = (await loadConfig({
      dir: `${REPO_ROOT}deploy/k8s/config`,
      env: { AUGUR_TIMESCALE_URL: "postgres://x" },
    })).bus;
    for (const w of workloads) {
      const kindName = podLabels(w)["app.kubernetes.io/component"];
      const kind = catalog.find((k) => k.kind === kindName);
      assert(kind, `${w.metadata.name}: unknown component ${kindName}`);
      const id = `${w.kind}/${w.metadata.name}`;
      const c = mainContainer(w);
      if (kind.mode === "partition-ordered" || kind.mode === "singleton") {
        assertEquals(w.kind, "StatefulSet", `${id}: ${kind.mode} must be a StatefulSet`);
        assertEquals(w.spec.podManagementPolicy, "Parallel", `${id}: podManagementPolicy`);
        const headless = objects.find((o) =>
          o.kind === "Service" && o.metadata.name === w.spec.serviceName
        );
        assertEquals(headless?.spec.clusterIP, "None", `${id}: headless Service`);
      } else {
        assertEquals(w.kind, "Deployment", `${id}: ${kind.mode} runs as a Deployment`);
      }
      const at = c.args.indexOf("--replica");
      if (kind.replica) {
        assert(at >= 0, `${id}: partition-ordered kind needs --replica`);
        const [index, count] = c.args[at + 1].split("/");
        assertEquals(index, "$(AUGUR_REPLICA_INDEX)", `${id}: replica index from the pod`);
        assertEquals(Number(count), w.spec.replicas, `${id}: N = spec.replicas`);
        assertEquals(bus.backend.partitions % Number(count), 0, `${id}: N divides P`);
        const env = c.env.find((e: { name: string }) => e.name === "AUGUR_REPLICA_INDEX");
        assertEquals(
          env?.valueFrom?.fieldRef?.fieldPath,
          "metadata.labels['apps.kubernetes.io/pod-index']",
          `${id}: ordinal from the StatefulSet pod-index label`,
        );
      } else {
        assertEquals(at, -1, `${id}: --replica only for partition-ordered kinds`);
      }
      assertEquals(c.args[0] === "run" ? c.args[1] : c.args[0], kindName, `${id}: command`);
      if (c.args[0] === "run") {
        const holder = c.args.indexOf("--replica-id");
        assertEquals(c.args[holder + 1], "$(POD_NAME)", `${id}: holder id = pod name`);
        const pod = c.env.find((e: { name: string }) => e.name === "POD_NAME");
        assertEquals(pod?.valueFrom?.fieldRef?.fieldPath, "metadata.name", `${id}: POD_NAME`);
      }
    }
  },
});

Deno.test({
  name: "deploy/k8s: HPAs only on the catalog's autoscaled kinds, never a StatefulSet",
  ignore,
  fn() {
    const hpas = objects.filter((o) => o.kind === "HorizontalPodAutoscaler");
    const autoscaled = catalog.filter((k) => k.autoscale).map((k) => k.kind).sort();
    assertEquals(autoscaled, ["context", "store", "websocket"]);
    const targeted: string[] = [];
    for (const h of hpas) {
      const ref = h.spec.scaleTargetRef;
      assertEquals(ref.kind, "Deployment", `HPA ${h.metadata.name} targets a ${ref.kind}`);
      const target = workloads.find((w) => w.kind === ref.kind && w.metadata.name === ref.name);
      assert(target, `HPA ${h.metadata.name} targets missing ${ref.name}`);
      const kind = catalog.find((k) => k.kind === podLabels(target)["app.kubernetes.io/component"]);
      assert(kind?.autoscale, `HPA on ${kind?.kind} (${kind?.mode}) which must not autoscale`);
      assert(kind.mode !== "partition-ordered" && kind.mode !== "singleton");
      const names = h.spec.metrics.map((m: { pods?: { metric: { name: string } } }) =>
        m.pods?.metric.name
      );
      assert(names.includes("augur_bus_pending_messages"), `${h.metadata.name}: pending metric`);
      assert(!("replicas" in target.spec), `${ref.name}: replicas owned by the HPA`);
      targeted.push(kind.kind);
    }
    assertEquals(targeted.sort(), autoscaled);
  },
});

Deno.test({
  name: "deploy/k8s: every workload has one PDB and a metrics Service the ServiceMonitor selects",
  ignore,
  fn() {
    const pdbs = objects.filter((o) => o.kind === "PodDisruptionBudget");
    const monitors = objects.filter((o) => o.kind === "ServiceMonitor");
    assertEquals(monitors.length, 1);
    const monitor = monitors[0];
    assert(
      monitor.spec.endpoints.some((e: { port: string; path: string }) =>
        e.port === "metrics" && e.path === "/metrics"
      ),
      "ServiceMonitor scrapes port metrics at /metrics",
    );
    const services = objects.filter((o) => o.kind === "Service");
    for (const w of workloads) {
      const labels = podLabels(w);
      const matching = pdbs.filter((p) => selects(p.spec.selector.matchLabels, labels));
      assertEquals(matching.length, 1, `${w.metadata.name}: exactly one PDB`);
      const metricsService = services.find((s) =>
        selects(s.spec.selector, labels) &&
        s.spec.ports.some((p: { name: string }) => p.name === "metrics") &&
        selects(monitor.spec.selector.matchLabels, s.metadata.labels)
      );
      assert(metricsService, `${w.metadata.name}: no metrics Service selected by ServiceMonitor`);
    }
    const ws = services.find((s) => s.metadata.name === "augur-websocket");
    assertEquals(ws?.spec.ports[0].port, 8765, "websocket Service");
  },
});

Deno.test({
  name: "deploy/k8s: ConfigMap keys are the files of config/, mounted at /etc/augur",
  ignore,
  async fn() {
    const maps = objects.filter((o) => o.kind === "ConfigMap");
    assertEquals(maps.length, 1);
    const data: Record<string, string> = maps[0].data;
    const files: string[] = [];
    for await (const e of Deno.readDir(`${REPO_ROOT}config`)) {
      if (e.isFile && e.name.endsWith(".toml")) files.push(e.name);
    }
    assertEquals(Object.keys(data).sort(), files.sort(), "ConfigMap keys = config/*.toml");
    for (const file of files) {
      if (K8S_OVERRIDES.includes(file)) continue;
      assertEquals(
        data[file],
        await Deno.readTextFile(`${REPO_ROOT}config/${file}`),
        `${file} drifted from config/`,
      );
    }
    const config = await loadConfig({
      dir: `${REPO_ROOT}deploy/k8s/config`,
      env: { AUGUR_TIMESCALE_URL: "postgres://x" },
    });
    assert(config.bus.backend.kind !== "memory", "workers refuse the memory bus");
    assertEquals(config.bus.nats.replication_factor, 3, "3 JetStream replicas on Kubernetes");
    assertEquals(config.storage.backend.kind, "timescaledb");
    for (const w of workloads) {
      const pod = w.spec.template.spec;
      const vol = pod.volumes.find((v: { configMap?: { name: string } }) =>
        v.configMap?.name === maps[0].metadata.name
      );
      assert(vol, `${w.metadata.name}: mounts the ConfigMap`);
      const mount = mainContainer(w).volumeMounts.find((m: { name: string }) =>
        m.name === vol.name
      );
      assertEquals(mount?.mountPath, "/etc/augur", `${w.metadata.name}: config mount`);
    }
  },
});

Deno.test({
  name: "deploy/k8s: every referenced secret key exists in secret.template.yaml",
  ignore,
  async fn() {
    const template = await decodeYaml(
      await Deno.readTextFile(`${REPO_ROOT}deploy/k8s/secret.template.yaml`),
    );
    const keys = new Map<string, Set<string>>();
    for (const s of template) {
      assertEquals(s.kind, "Secret");
      keys.set(s.metadata.name, new Set(Object.keys(s.stringData ?? s.data ?? {})));
    }
    const main = keys.get("augur-secrets");
    for (
      const name of [
        "AUGUR_TIMESCALE_URL",
        "REDIS_URL",
        "NATS_CREDENTIALS_FILE",
        "ANTHROPIC_API_KEY",
      ]
    ) {
      assert(main?.has(name), `template lacks ${name}`);
    }
    assert(
      !objects.some((o) => o.kind === "Secret"),
      "real Secrets are never in the kustomization",
    );
    let refs = 0;
    for (const w of workloads) {
      const pod = w.spec.template.spec;
      for (const c of pod.containers) {
        for (const e of c.env ?? []) {
          const ref = e.valueFrom?.secretKeyRef;
          if (!ref) continue;
          refs++;
          assert(keys.get(ref.name)?.has(ref.key), `${w.metadata.name}: ${ref.name}/${ref.key}`);
        }
        for (const e of c.envFrom ?? []) {
          assert(!e.secretRef || keys.has(e.secretRef.name), `${w.metadata.name}: envFrom`);
        }
      }
      for (const v of pod.volumes ?? []) {
        if (v.secret) {
          assert(keys.has(v.secret.secretName), `${w.metadata.name}: ${v.secret.secretName}`);
        }
      }
      const anthropic = mainContainer(w).env.some((e: { name: string }) =>
        e.name === "ANTHROPIC_API_KEY"
      );
      assertEquals(
        anthropic,
        podLabels(w)["app.kubernetes.io/component"] === "llm",
        `${w.metadata.name}: only llm gets ANTHROPIC_API_KEY`,
      );
    }
    assert(refs >= workloads.length, "every workload reads the store URL from the Secret");
  },
});
