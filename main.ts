/**
 * augur — prediction-market activity into trustworthy signals. Entry point: hands argv to
 * the CLI dispatcher and exits with its code.
 *
 * @example
 * ```sh
 * deno run -A main.ts --help
 * ```
 * @module
 */
import { main } from "./cli/main.ts";

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
