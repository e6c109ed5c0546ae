/**
 * The `none` backend: no model. Every call fails with kind `disabled` (counted as a
 * `backend_error` rejection by the brief formatter), so no brief is ever produced.
 *
 * @example
 * ```ts
 * import { NoneBackend } from "./none.ts";
 * await new NoneBackend().generate({ system: "", user: "", maxTokens: 1, temperature: 0 })
 *   .catch((e) => e.kind); // "disabled"
 * ```
 * @module
 */
import { type LlmBackend, LlmBackendError } from "./types.ts";

/** A backend that never generates. */
export class NoneBackend implements LlmBackend {
  readonly id = "none";
  readonly model = "none";

  /** Always rejects with kind `disabled`. */
  generate(): Promise<string> {
    return Promise.reject(
      new LlmBackendError({
        backend: this.id,
        kind: "disabled",
        attempts: 0,
        detail: 'the "none" backend produces no briefs',
      }),
    );
  }

  /** Always healthy (nothing to reach). */
  health(): Promise<boolean> {
    return Promise.resolve(true);
  }
}
