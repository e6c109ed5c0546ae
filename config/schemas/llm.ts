/**
 * Schema of `llm.toml`, the gated brief interpreter (DOMAIN §11.5, §12). Off by default.
 *
 * @example
 * ```ts
 * import { LlmFileSchema } from "./llm.ts";
 * LlmFileSchema.parse({}).interpreter.enabled; // false
 * ```
 * @module
 */
import { z } from "zod";
import { bool, envName, natInt, oneOf, posInt, str, table } from "./common.ts";

/** LLM backends. */
export const LLM_BACKENDS = ["ollama", "anthropic", "none"] as const;

/** `llm.toml` (effective config key `llm`). */
export const LlmFileSchema = z.strictObject({
  interpreter: table({
    enabled: bool(false),
    default_backend: oneOf(LLM_BACKENDS, "ollama"),
    max_tokens: posInt(512),
    temperature: z.number().min(0).max(2).default(0.2),
    suspend_during_storm: bool(true),
  }),
  backends: table({
    ollama: table({
      endpoint: z.string().min(1).default("http://localhost:11434"),
      model: str("gemma2:27b"),
      timeout_seconds: posInt(30),
      max_retries: natInt(2),
    }),
    anthropic: table({
      model: str("claude-haiku-4-5-20251001"),
      timeout_seconds: posInt(20),
      max_retries: natInt(3),
      api_key_env: envName("ANTHROPIC_API_KEY"),
    }),
  }),
  prompts: table({
    /** Empty = the prompts built into augur. */
    template_dir: str(""),
  }),
});

/** The validated `llm` section. */
export type LlmConfig = z.infer<typeof LlmFileSchema>;
