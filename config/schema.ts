/**
 * The registry of configuration files: which TOML file feeds which key of the effective
 * config, its zod schema, how its parsed content becomes the section, and the cross-key
 * checks run afterwards. {@linkcode AugurConfig} is the type every component codes against.
 *
 * @example
 * ```ts
 * import { CONFIG_FILES } from "./schema.ts";
 * CONFIG_FILES.map((f) => f.file); // ["bus.toml", "storage.toml", ...]
 * ```
 * @module
 */
import type { z } from "zod";
import { type BusConfig, BusFileSchema, validateBus } from "./schemas/bus.ts";
import { type StorageConfig, StorageFileSchema } from "./schemas/storage.ts";
import { type ObservabilityConfig, ObservabilityFileSchema } from "./schemas/observability.ts";
import { type PollingConfig, PollingFileSchema, validatePolling } from "./schemas/polling.ts";
import { type MarketsConfig, MarketsFileSchema, validateMarkets } from "./schemas/markets.ts";
import { type DetectorsConfig, DetectorsFileSchema } from "./schemas/detectors.ts";
import { type DedupConfig, DedupFileSchema } from "./schemas/dedup.ts";
import { type LlmConfig, LlmFileSchema } from "./schemas/llm.ts";
import { type ConsumersConfig, ConsumersFileSchema } from "./schemas/consumers.ts";
import { type FormattersConfig, FormattersFileSchema } from "./schemas/formatters.ts";
import {
  flattenForbiddenTokens,
  type ForbiddenTokensConfig,
  ForbiddenTokensFileSchema,
} from "./schemas/forbidden_tokens.ts";
import {
  InvestigationPromptsFileSchema,
  type PromptEntry,
  validatePrompts,
} from "./schemas/investigation_prompts.ts";
import { type EngineConfig, EngineFileSchema } from "./schemas/engine.ts";
import type { ConfigIssue } from "./schemas/common.ts";

/** Recursively read-only view (the loader deep-freezes the config). */
export type DeepReadonly<T> = T extends (infer U)[] ? readonly DeepReadonly<U>[]
  : T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
  : T;

/** The mutable shape of the effective config, one key per file. */
export interface AugurConfigData {
  bus: BusConfig;
  storage: StorageConfig;
  observability: ObservabilityConfig;
  polling: PollingConfig;
  markets: MarketsConfig;
  detectors: DetectorsConfig;
  dedup: DedupConfig;
  llm: LlmConfig;
  consumers: ConsumersConfig;
  formatters: FormattersConfig;
  forbidden_tokens: ForbiddenTokensConfig;
  prompts: PromptEntry[];
  engine: EngineConfig;
}

/** The effective, validated, deeply frozen configuration. */
export type AugurConfig = DeepReadonly<AugurConfigData>;

/** One known configuration file. */
export interface ConfigFileSpec {
  /** File name inside the config directory. */
  readonly file: string;
  /** Key of the effective config it fills. */
  readonly key: keyof AugurConfigData;
  /** The file must exist (only markets.toml). */
  readonly required: boolean;
  /** Schema of the whole parsed file. */
  readonly schema: z.ZodType;
  /** Parsed file → section (e.g. unwrap `[polling]`). Identity when absent. */
  readonly section?: (parsed: never) => unknown;
  /** Cross-key checks on the parsed file; paths are relative to the file. */
  readonly validate?: (parsed: never) => ConfigIssue | undefined;
}

/** Every file the loader knows, in the order `config check` prints them. */
export const CONFIG_FILES: readonly ConfigFileSpec[] = [
  { file: "bus.toml", key: "bus", required: false, schema: BusFileSchema, validate: validateBus },
  { file: "storage.toml", key: "storage", required: false, schema: StorageFileSchema },
  {
    file: "observability.toml",
    key: "observability",
    required: false,
    schema: ObservabilityFileSchema,
  },
  {
    file: "polling.toml",
    key: "polling",
    required: false,
    schema: PollingFileSchema,
    section: (p: z.infer<typeof PollingFileSchema>) => p.polling,
    validate: (p: z.infer<typeof PollingFileSchema>) => validatePolling(p.polling),
  },
  {
    file: "markets.toml",
    key: "markets",
    required: true,
    schema: MarketsFileSchema,
    validate: validateMarkets,
  },
  { file: "detectors.toml", key: "detectors", required: false, schema: DetectorsFileSchema },
  {
    file: "dedup.toml",
    key: "dedup",
    required: false,
    schema: DedupFileSchema,
    section: (p: z.infer<typeof DedupFileSchema>) => p.dedup,
  },
  { file: "llm.toml", key: "llm", required: false, schema: LlmFileSchema },
  { file: "consumers.toml", key: "consumers", required: false, schema: ConsumersFileSchema },
  { file: "formatters.toml", key: "formatters", required: false, schema: FormattersFileSchema },
  {
    file: "forbidden_tokens.toml",
    key: "forbidden_tokens",
    required: false,
    schema: ForbiddenTokensFileSchema,
    section: flattenForbiddenTokens,
  },
  {
    file: "investigation_prompts.toml",
    key: "prompts",
    required: false,
    schema: InvestigationPromptsFileSchema,
    section: (p: z.infer<typeof InvestigationPromptsFileSchema>) => p.prompts,
    validate: (p: z.infer<typeof InvestigationPromptsFileSchema>) => validatePrompts(p.prompts),
  },
  { file: "engine.toml", key: "engine", required: false, schema: EngineFileSchema },
];

/** Files in a config directory that the loader skips on purpose (DOMAIN §12). */
export const IGNORED_FILES: readonly string[] = ["default.toml"];
