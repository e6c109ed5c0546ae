/**
 * The `llm` worker kind (`augur run llm`): a leased singleton that formats contexts into
 * intelligence briefs through the configured LLM backend.
 *
 * @example
 * ```ts
 * import { llmWorker } from "./llm_kind.ts";
 * import type { KindRequest } from "../worker_kinds.ts";
 * import type { Components } from "../components.ts";
 * declare const request: KindRequest;
 * declare const components: Components;
 * const worker = llmWorker(request, components);
 * ```
 * @module
 */
import { AugurError } from "../../config/errors.ts";
import { secretAccessors } from "../../config/loader.ts";
import type { Components } from "../components.ts";
import type { Worker } from "../harness.ts";
import type { KindRequest } from "../worker_kinds.ts";
import { runSingleton } from "../singleton.ts";
import { runBridge } from "../bridge.ts";
import { fenceHeader } from "../fencing.ts";
import { HEADER } from "../../adapters/bus/types.ts";
import { type LockBusConfig, lockTimings } from "../../adapters/lock/factory.ts";
import { LlmBriefFormatter } from "../../adapters/llm/brief_formatter.ts";
import { createLlmBackend } from "../../adapters/llm/factory.ts";
import { decode, encode, KINDS } from "../../pipeline/canonical_json.ts";

/**
 * The `llm` worker: idles when `llm.toml interpreter.enabled = false`; otherwise, while it
 * holds the `llm` lease, bridges contexts to fenced briefs. A lost lease ends it with an error.
 *
 * @example
 * ```ts
 * import { llmWorker } from "./llm_kind.ts";
 * import type { KindRequest } from "../worker_kinds.ts";
 * import type { Components } from "../components.ts";
 * declare const request: KindRequest;
 * declare const components: Components;
 * llmWorker(request, components).kind; // "llm"
 * ```
 */
export function llmWorker(request: KindRequest, components: Components): Worker {
  const { config, subjects } = components;
  return {
    kind: "llm",
    run: async (context) => {
      let role: "passive" | "active" | undefined;
      context.readiness.register("singleton_role", () => role !== undefined);
      if (!config.llm.interpreter.enabled) {
        role = "passive";
        context.logger.info("llm.toml interpreter.enabled = false: idle (no briefs)");
        await new Promise((resolve) => context.signal.addEventListener("abort", resolve));
        return;
      }
      const formatter = new LlmBriefFormatter({
        backend: createLlmBackend(config.llm, {
          apiKey: () => secretAccessors(config).anthropicApiKey(),
          logger: context.logger,
          registry: context.registry,
        }),
        forbiddenPhrases: config.forbidden_tokens.phrases,
        optedIn: config.consumers.llm_assisted.consumers,
        maxTokens: config.llm.interpreter.max_tokens,
        temperature: config.llm.interpreter.temperature,
        suspendDuringStorm: config.llm.interpreter.suspend_during_storm,
        logger: context.logger,
        registry: context.registry,
      });
      const outcome = await runSingleton(components.lock!, async (active) => {
        await runBridge(components.bus!, {
          decode: (delivery) => decode(delivery.payload, KINDS.context),
          transform: async (ctx) => {
            // In-flight briefs at failover are dropped by design (the signal aborts the call).
            const result = await formatter.format(ctx, { signal: active.signal });
            if (!("brief" in result) || !active.isValid()) return [];
            return [{
              subject: subjects.briefs("json"),
              payload: encode(result.brief, KINDS.brief),
              headers: {
                [HEADER.id]: `brief:${result.brief.signal_id}`,
                ...fenceHeader(active.token),
              },
            }];
          },
        }, {
          pattern: subjects.contexts(),
          group: "llm",
          worker: "llm",
          signal: active.signal,
          replicaId: request.replicaId,
          maxInFlight: config.dedup.bus.llm_formatter_concurrency,
          registry: context.registry,
          logger: context.logger,
        });
      }, {
        kind: "llm",
        replicaId: request.replicaId,
        signal: context.signal,
        lease: lockTimings(config.bus as unknown as LockBusConfig),
        registry: context.registry,
        logger: context.logger,
        onRole: (r) => role = r,
      });
      if (outcome === "lost") {
        throw new AugurError("llm: lease lost; exiting so the orchestrator restarts this replica");
      }
    },
  };
}
