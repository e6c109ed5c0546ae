/**
 * Test helper: render Kubernetes YAML to JSON objects without a cluster and without a YAML
 * dependency. `kubectl kustomize DIR` renders the kustomization; `kubectl annotate --local
 * -f - augur-render- -o json` then decodes every document offline (removing an annotation
 * that does not exist changes nothing but leaves an empty `annotations` map) and prints the
 * objects as concatenated JSON, which {@linkcode splitJsonStream} splits.
 *
 * @example
 * ```ts
 * import { kubectlAvailable, renderKustomization } from "./render.ts";
 * if (await kubectlAvailable()) {
 *   const objects = await renderKustomization("deploy/k8s");
 *   console.log(objects.map((o) => o.kind));
 * }
 * ```
 * @module
 */

// deno-lint-ignore no-explicit-any
type Any = any;

/** A Kubernetes object as decoded JSON. */
export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: Any;
  spec?: Any;
  [k: string]: Any;
};

/** Repository root (absolute path, trailing slash). */
export const REPO_ROOT: string = new URL("../../../", import.meta.url).pathname;

/**
 * True when `kubectl` runs here.
 *
 * @example
 * ```ts
 * import { kubectlAvailable } from "./render.ts";
 * await kubectlAvailable();
 * ```
 */
export async function kubectlAvailable(): Promise<boolean> {
  try {
    const out = await new Deno.Command("kubectl", {
      args: ["version", "--client"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

async function run(args: string[], stdin?: string): Promise<string> {
  const child = new Deno.Command("kubectl", {
    args,
    cwd: REPO_ROOT,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  const err = new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`kubectl ${args.join(" ")} failed: ${err}`);
  return new TextDecoder().decode(out.stdout);
}

/**
 * Split concatenated JSON values (`{...}{...}`) into parsed values.
 *
 * @example
 * ```ts
 * import { splitJsonStream } from "./render.ts";
 * splitJsonStream('{"a":1}\n{"b":"}"}'); // [{a: 1}, {b: "}"}]
 * ```
 */
export function splitJsonStream(text: string): unknown[] {
  const out: unknown[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === "{" || c === "[") {
      if (depth === 0) start = i;
      depth++;
    } else if (c === "}" || c === "]") {
      depth--;
      if (depth === 0) out.push(JSON.parse(text.slice(start, i + 1)));
    }
  }
  return out;
}

/**
 * Decode Kubernetes YAML (one or more documents) into objects, offline.
 *
 * @example
 * ```ts
 * import { decodeYaml } from "./render.ts";
 * await decodeYaml("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n");
 * ```
 */
export async function decodeYaml(yaml: string): Promise<K8sObject[]> {
  const json = await run(["annotate", "--local", "-f", "-", "augur-render-", "-o", "json"], yaml);
  return splitJsonStream(json).flatMap((o) => {
    const obj = o as K8sObject;
    return obj.kind === "List" ? (obj.items as K8sObject[]) : [obj];
  });
}

/**
 * `kubectl kustomize DIR` (relative to the repo root), decoded.
 *
 * @example
 * ```ts
 * import { renderKustomization } from "./render.ts";
 * (await renderKustomization("deploy/k8s")).length;
 * ```
 */
export async function renderKustomization(dir: string): Promise<K8sObject[]> {
  return await decodeYaml(await run(["kustomize", dir]));
}
