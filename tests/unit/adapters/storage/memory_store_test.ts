import { MemoryStore } from "../../../../adapters/storage/memory_store.ts";
import { runStoreContract } from "./store_contract.ts";

Deno.test("MemoryStore passes the store contract", (t) =>
  runStoreContract(t, () => Promise.resolve(new MemoryStore())));
