/**
 * Every bus subject name in one place (DESIGN §4, §10). Grammar, with prefix `augur` and the
 * partition token `<pp>` zero-padded to the width of P − 1 (2 digits for P ≤ 100):
 *
 * | family | subject | partitioned |
 * | --- | --- | --- |
 * | snapshots | `augur.snapshots.<pp>.<platform>.<m>` | yes |
 * | features | `augur.features.<pp>.<m>` | yes |
 * | candidates | `augur.candidates.<pp>.<detector>` | yes |
 * | flagged_signals | `augur.flagged_signals.<pp>` | yes |
 * | calibrated_signals | `augur.calibrated_signals.<pp>` | yes |
 * | divergence | `augur.divergence` (calibrated cross-market candidates) | no |
 * | ticks | `augur.ticks.<platform>` | no |
 * | signals | `augur.signals` | no |
 * | contexts | `augur.contexts` | no |
 * | briefs | `augur.briefs.<format>` | no |
 * | writes | `augur.writes.<table>` | no |
 * | ops.events / ops.dlq | `augur.ops.events`, `augur.ops.dlq` | no |
 *
 * `<m>` is the market id with every UTF-8 byte outside `[A-Za-z0-9_-]` written `~XX`
 * (uppercase hex); the raw key also travels in the `Augur-Key` header. Variable tokens
 * (platform, detector, format, table) use the same encoding. Tick markers of a partition
 * travel on {@linkcode Subjects.marker}: `augur.<family>.<pp>.~tick` for families with tokens
 * after the partition (`~tick` can never be an encoded id), and the partition subject itself
 * for `flagged_signals` / `calibrated_signals`; either way the partition's one filter
 * ({@linkcode Subjects.partitionPattern}) covers them.
 *
 * Streams (matching adapters/bus): Redis keeps one stream per (family, partition),
 * `augur:snapshots:07`, and one per top-level family for unpartitioned subjects
 * (`augur.ticks.kalshi` → `augur:ticks`, `augur.ops.dlq` → `augur:ops`); the full subject
 * travels in each entry. NATS keeps one stream per top-level family, `<stream_name>_<family>`
 * (`augur_snapshots`, `augur_ops`).
 *
 * @example
 * ```ts
 * import { Subjects } from "./subjects.ts";
 * const s = new Subjects({ prefix: "augur", partitions: 60 });
 * s.snapshots(7, "kalshi", "kalshi_fed"); // "augur.snapshots.07.kalshi.kalshi_fed"
 * s.partitionPattern("snapshots", 7); // "augur.snapshots.07.>"
 * s.redisStreamKey("augur.snapshots.07.kalshi.kalshi_fed"); // "augur:snapshots:07"
 * ```
 * @module
 */
import { partitionOf } from "../pipeline/partition.ts";

/** Subject families, the label values metrics use (never concrete subjects). */
export const SUBJECT_FAMILIES = [
  "snapshots",
  "features",
  "candidates",
  "flagged_signals",
  "calibrated_signals",
  "divergence",
  "ticks",
  "signals",
  "contexts",
  "briefs",
  "writes",
  "ops.events",
  "ops.dlq",
] as const;

/** One subject family. */
export type SubjectFamily = typeof SUBJECT_FAMILIES[number];

/** Families whose subjects carry the partition token. */
export const PARTITIONED_FAMILIES = [
  "snapshots",
  "features",
  "candidates",
  "flagged_signals",
  "calibrated_signals",
] as const;

/** A partitioned family. */
export type PartitionedFamily = typeof PARTITIONED_FAMILIES[number];

/** Number of variable tokens after the family (and partition) in each family's subjects. */
const TAIL: Record<SubjectFamily, number> = {
  snapshots: 2,
  features: 1,
  candidates: 1,
  flagged_signals: 0,
  calibrated_signals: 0,
  divergence: 0,
  ticks: 1,
  signals: 0,
  contexts: 0,
  briefs: 1,
  writes: 1,
  "ops.events": 0,
  "ops.dlq": 0,
};

/** The reserved last token of a tick-marker subject (not a valid encoded token). */
export const TICK_TOKEN = "~tick";

/** A subject or token that breaks the grammar. */
export class SubjectError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SubjectError";
  }
}

const PLAIN = /^[A-Za-z0-9_-]+$/;
const PLAIN_BYTE = new Uint8Array(256);
for (const c of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") {
  PLAIN_BYTE[c.charCodeAt(0)] = 1;
}
const HEX = "0123456789ABCDEF";
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * Encode a raw key (market id, platform, detector, ...) as one subject token: every UTF-8
 * byte outside `[A-Za-z0-9_-]` becomes `~XX` (uppercase hex).
 *
 * @example
 * ```ts
 * import { encodeToken } from "./subjects.ts";
 * encodeToken("kalshi_fed"); // "kalshi_fed"
 * encodeToken("FED-26.JUN"); // "FED-26~2EJUN"
 * encodeToken("é"); // "~C3~A9"
 * ```
 * @throws {SubjectError} for an empty key (subjects have no empty tokens).
 */
export function encodeToken(raw: string): string {
  if (raw.length === 0) throw new SubjectError("subject token: expected a non-empty key");
  if (PLAIN.test(raw)) return raw;
  let out = "";
  for (const byte of encoder.encode(raw)) {
    out += PLAIN_BYTE[byte] ? String.fromCharCode(byte) : `~${HEX[byte >> 4]}${HEX[byte & 15]}`;
  }
  return out;
}

/**
 * Decode a token written by {@linkcode encodeToken}. Only the canonical encoding is accepted
 * (so each key has exactly one token).
 *
 * @example
 * ```ts
 * import { decodeToken } from "./subjects.ts";
 * decodeToken("FED-26~2EJUN"); // "FED-26.JUN"
 * ```
 * @throws {SubjectError} for a token that is not a canonical encoding.
 */
export function decodeToken(token: string): string {
  if (PLAIN.test(token)) return token;
  const bytes: number[] = [];
  for (let i = 0; i < token.length; i++) {
    const c = token.charCodeAt(i);
    if (c === 0x7e) {
      const hex = token.slice(i + 1, i + 3);
      if (!/^[0-9A-F]{2}$/.test(hex)) {
        throw new SubjectError(
          `subject token ${
            JSON.stringify(token)
          }: expected "~" followed by two uppercase hex digits at ${i}`,
        );
      }
      const byte = parseInt(hex, 16);
      if (PLAIN_BYTE[byte]) {
        throw new SubjectError(
          `subject token ${JSON.stringify(token)}: "~${hex}" escapes a plain character`,
        );
      }
      bytes.push(byte);
      i += 2;
    } else if (c < 256 && PLAIN_BYTE[c]) bytes.push(c);
    else {
      throw new SubjectError(
        `subject token ${JSON.stringify(token)}: unexpected character ${
          JSON.stringify(token[i])
        } at ${i}`,
      );
    }
  }
  if (bytes.length === 0) throw new SubjectError("subject token: expected a non-empty token");
  try {
    return decoder.decode(new Uint8Array(bytes));
  } catch (error) {
    throw new SubjectError(`subject token ${JSON.stringify(token)}: not UTF-8`, { cause: error });
  }
}

/**
 * Digits of the partition token for P partitions: the width of P − 1, at least 2.
 *
 * @example
 * ```ts
 * import { partitionWidth } from "./subjects.ts";
 * partitionWidth(60); // 2
 * partitionWidth(1000); // 3
 * ```
 */
export function partitionWidth(partitions: number): number {
  return Math.max(2, String(Math.max(0, partitions - 1)).length);
}

/** What {@linkcode Subjects.parse} finds in a subject. */
export interface ParsedSubject {
  /** The subject family. */
  family: SubjectFamily;
  /** Partition index, for partitioned families. */
  partition?: number;
  /** A tick marker (`~tick` or a marker on a partition subject is only known by header). */
  marker: boolean;
  /** Decoded platform (snapshots, ticks). */
  platform?: string;
  /** Decoded market id (snapshots, features). */
  market?: string;
  /** Decoded detector id (candidates). */
  detector?: string;
  /** Decoded brief format (briefs). */
  format?: string;
  /** Decoded table name (writes). */
  table?: string;
}

/** Markets whose partition and subjects {@linkcode Subjects} keeps (then it starts over). */
const MARKET_MEMO_LIMIT = 100_000;

/** What {@linkcode Subjects} keeps per market (partition -1, subject partitions NaN: not yet known). */
interface MarketSubjects {
  partition: number;
  snapshotP: number;
  snapshotPlatform: string;
  snapshot: string;
  featureP: number;
  feature: string;
}

/** Options of {@linkcode Subjects}. */
export interface SubjectsOptions {
  /** Subject prefix (`bus.nats.subject_prefix`), default `augur`. */
  prefix?: string;
  /** Partition count P (`bus.backend.partitions`), default 60. */
  partitions?: number;
}

/**
 * Builds, matches and parses augur subjects for one prefix and partition count.
 *
 * @example
 * ```ts
 * import { Subjects } from "./subjects.ts";
 * const s = new Subjects();
 * const p = s.partitionOf("kalshi_fed");
 * s.features(p, "kalshi_fed"); // "augur.features.<pp>.kalshi_fed"
 * ```
 */
export class Subjects {
  /** Subject prefix, e.g. `augur`. */
  readonly prefix: string;
  /** Partition count P. */
  readonly partitions: number;
  /** Digits of the partition token. */
  readonly width: number;

  constructor(options: SubjectsOptions = {}) {
    this.prefix = options.prefix ?? "augur";
    this.partitions = options.partitions ?? 60;
    if (!/^[A-Za-z0-9_-]+$/.test(this.prefix)) {
      throw new SubjectError(
        `subject prefix: expected one token of [A-Za-z0-9_-], received ${
          JSON.stringify(this.prefix)
        }`,
      );
    }
    if (!Number.isSafeInteger(this.partitions) || this.partitions < 1) {
      throw new SubjectError(
        `partitions: expected a positive integer, received ${this.partitions}`,
      );
    }
    this.width = partitionWidth(this.partitions);
  }

  /**
   * Subjects for a loaded config (`bus.nats.subject_prefix`, `bus.backend.partitions`).
   *
   * @example
   * ```ts
   * import { Subjects } from "./subjects.ts";
   * const s = Subjects.fromConfig({ bus: { nats: { subject_prefix: "augur" }, backend: { partitions: 60 } } });
   * ```
   */
  static fromConfig(
    config: {
      bus: { nats: { subject_prefix: string }; backend: { partitions: number } };
    },
  ): Subjects {
    return new Subjects({
      prefix: config.bus.nats.subject_prefix,
      partitions: config.bus.backend.partitions,
    });
  }

  /** The zero-padded partition token of partition `p`. */
  pp(p: number): string {
    if (!Number.isInteger(p) || p < 0 || p >= this.partitions) {
      throw new SubjectError(
        `partition: expected an integer in 0..${this.partitions - 1}, received ${p}`,
      );
    }
    return String(p).padStart(this.width, "0");
  }

  // Per-market memos of the hot paths (every snapshot and feature message): the same markets
  // recur every tick, so each keeps its partition and subjects. The same string instance also
  // saves the bus its per-subject lookups (hash kept in the string). Bounded: cleared when full.
  readonly #markets = new Map<string, MarketSubjects>();

  #market(market: string): MarketSubjects {
    let memo = this.#markets.get(market);
    if (memo === undefined) {
      if (this.#markets.size >= MARKET_MEMO_LIMIT) this.#markets.clear();
      // NaN partitions: never equal to any argument, so the first call builds the subject.
      memo = {
        partition: -1,
        snapshotP: NaN,
        snapshotPlatform: "",
        snapshot: "",
        featureP: NaN,
        feature: "",
      };
      this.#markets.set(market, memo);
    }
    return memo;
  }

  /** Partition of a key (market id): FNV-1a 64 mod P. */
  partitionOf(key: string): number {
    const memo = this.#market(key);
    if (memo.partition < 0) memo.partition = partitionOf(key, this.partitions);
    return memo.partition;
  }

  /** `augur.snapshots.<pp>.<platform>.<m>` */
  snapshots(p: number, platform: string, market: string): string {
    const memo = this.#market(market);
    if (memo.snapshotP !== p || memo.snapshotPlatform !== platform) {
      memo.snapshot = `${this.prefix}.snapshots.${this.pp(p)}.${encodeToken(platform)}.${
        encodeToken(market)
      }`;
      memo.snapshotP = p;
      memo.snapshotPlatform = platform;
    }
    return memo.snapshot;
  }

  /** `augur.features.<pp>.<m>` */
  features(p: number, market: string): string {
    const memo = this.#market(market);
    if (memo.featureP !== p) {
      memo.feature = `${this.prefix}.features.${this.pp(p)}.${encodeToken(market)}`;
      memo.featureP = p;
    }
    return memo.feature;
  }

  /** `augur.candidates.<pp>.<detector>` */
  candidates(p: number, detector: string): string {
    return `${this.prefix}.candidates.${this.pp(p)}.${encodeToken(detector)}`;
  }

  /** `augur.flagged_signals.<pp>` */
  flagged(p: number): string {
    return `${this.prefix}.flagged_signals.${this.pp(p)}`;
  }

  /** `augur.calibrated_signals.<pp>` */
  calibrated(p: number): string {
    return `${this.prefix}.calibrated_signals.${this.pp(p)}`;
  }

  /** `augur.divergence`: calibrated cross-market candidates from the divergence singleton. */
  divergence(): string {
    return `${this.prefix}.divergence`;
  }

  /** `augur.ticks.<platform>` */
  ticks(platform: string): string {
    return `${this.prefix}.ticks.${encodeToken(platform)}`;
  }

  /** `augur.signals` */
  signals(): string {
    return `${this.prefix}.signals`;
  }

  /** `augur.contexts` */
  contexts(): string {
    return `${this.prefix}.contexts`;
  }

  /** `augur.briefs.<format>` */
  briefs(format: string): string {
    return `${this.prefix}.briefs.${encodeToken(format)}`;
  }

  /** `augur.writes.<table>` */
  writes(table: string): string {
    return `${this.prefix}.writes.${encodeToken(table)}`;
  }

  /** `augur.ops.events` */
  opsEvents(): string {
    return `${this.prefix}.ops.events`;
  }

  /** `augur.ops.dlq` */
  opsDlq(): string {
    return `${this.prefix}.ops.dlq`;
  }

  /**
   * The subject a tick marker of partition `p` is published on (see the module doc).
   */
  marker(family: PartitionedFamily, p: number): string {
    const base = `${this.prefix}.${family}.${this.pp(p)}`;
    return TAIL[family] > 0 ? `${base}.${TICK_TOKEN}` : base;
  }

  /** The one filter covering partition `p` of a family: `augur.snapshots.07.>`. */
  partitionPattern(family: PartitionedFamily, p: number): string {
    const base = `${this.prefix}.${family}.${this.pp(p)}`;
    return TAIL[family] > 0 ? `${base}.>` : base;
  }

  /** The filter covering a whole family: `augur.snapshots.>`, or `augur.signals`. */
  familyPattern(family: SubjectFamily): string {
    const partitioned = (PARTITIONED_FAMILIES as readonly string[]).includes(family);
    const base = `${this.prefix}.${family}`;
    return partitioned || TAIL[family] > 0 ? `${base}.>` : base;
  }

  /** NATS stream name of a family: `<streamName>_<top-level family>` (`augur_ops`). */
  natsStreamName(family: SubjectFamily, streamName = "augur"): string {
    return `${streamName}_${family.split(".")[0]}`;
  }

  /** The family of a subject, or undefined when it is not one of ours. */
  familyOf(subject: string): SubjectFamily | undefined {
    return this.parse(subject)?.family;
  }

  /**
   * Parse a concrete subject (not a pattern). Undefined when it does not follow the grammar.
   *
   * @example
   * ```ts
   * import { Subjects } from "./subjects.ts";
   * new Subjects().parse("augur.features.07.kalshi_fed")?.market; // "kalshi_fed"
   * ```
   */
  parse(subject: string): ParsedSubject | undefined {
    if (!subject.startsWith(`${this.prefix}.`)) return undefined;
    const tokens = subject.slice(this.prefix.length + 1).split(".");
    let family: SubjectFamily;
    let rest: string[];
    if (tokens[0] === "ops" && (tokens[1] === "events" || tokens[1] === "dlq")) {
      family = `ops.${tokens[1]}` as SubjectFamily;
      rest = tokens.slice(2);
    } else if ((SUBJECT_FAMILIES as readonly string[]).includes(tokens[0])) {
      family = tokens[0] as SubjectFamily;
      rest = tokens.slice(1);
    } else return undefined;
    const out: ParsedSubject = { family, marker: false };
    if ((PARTITIONED_FAMILIES as readonly string[]).includes(family)) {
      const token = rest.shift();
      if (token === undefined || token.length !== this.width || !/^\d+$/.test(token)) {
        return undefined;
      }
      out.partition = Number(token);
      if (out.partition >= this.partitions) return undefined;
      if (rest.length === 1 && rest[0] === TICK_TOKEN && TAIL[family] > 0) {
        out.marker = true;
        return out;
      }
    }
    if (rest.length !== TAIL[family]) return undefined;
    try {
      const decoded = rest.map(decodeToken);
      switch (family) {
        case "snapshots":
          out.platform = decoded[0];
          out.market = decoded[1];
          break;
        case "features":
          out.market = decoded[0];
          break;
        case "candidates":
          out.detector = decoded[0];
          break;
        case "ticks":
          out.platform = decoded[0];
          break;
        case "briefs":
          out.format = decoded[0];
          break;
        case "writes":
          out.table = decoded[0];
          break;
      }
    } catch {
      return undefined;
    }
    return out;
  }

  /**
   * Redis stream key of a subject: `augur:snapshots:07` for partitioned families, else
   * `augur:<top-level family>` (`augur:ticks`, `augur:ops`), as adapters/bus/redis_keys.ts.
   *
   * @example
   * ```ts
   * import { Subjects } from "./subjects.ts";
   * new Subjects().redisStreamKey("augur.ticks.kalshi"); // "augur:ticks"
   * ```
   * @throws {SubjectError} for a subject outside the grammar.
   */
  redisStreamKey(subject: string): string {
    const parsed = this.parse(subject);
    if (!parsed) throw new SubjectError(`not an augur subject: ${JSON.stringify(subject)}`);
    if (parsed.partition !== undefined) {
      return `${this.prefix}:${parsed.family}:${this.pp(parsed.partition)}`;
    }
    return `${this.prefix}:${parsed.family.split(".")[0]}`;
  }

  /** Redis stream key of partition `p` of a partitioned family: `augur:snapshots:07`. */
  redisPartitionKey(family: PartitionedFamily, p: number): string {
    return `${this.prefix}:${family}:${this.pp(p)}`;
  }
}
