/**
 * Runs deploy/docker/rootfs.sh into a temporary folder and starts the binary under `chroot`
 * as the image's numeric user, with nothing but the copied files present: this proves the
 * shared-library list of the scratch image is complete without a Docker engine.
 *
 * The binary: `dist/augur` when `deno task compile` has produced it; otherwise the `deno`
 * binary itself, which has the same shared-library needs (`deno compile` cannot download
 * its runtime base in environments without network access to dl.deno.land).
 * Needs root (chroot); skipped with the reason otherwise.
 */
import { assert, assertEquals, assertMatch } from "../../helpers/assert.ts";
import { REPO_ROOT } from "./render.ts";
import denoJson from "../../../deno.json" with { type: "json" };

const isRoot = Deno.uid() === 0;
const chroot = ["/usr/sbin/chroot", "/usr/bin/chroot"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});
const ignore = !isRoot || chroot === undefined;
if (ignore) {
  console.warn("rootfs_test: skipped (needs root and chroot to start the binary in the rootfs)");
}

function compiledBinary(): string | undefined {
  try {
    return Deno.statSync(`${REPO_ROOT}dist/augur`).isFile ? `${REPO_ROOT}dist/augur` : undefined;
  } catch {
    return undefined;
  }
}

async function duckdbDir(): Promise<string | undefined> {
  const base = `${REPO_ROOT}node_modules/.deno`;
  try {
    for await (const e of Deno.readDir(base)) {
      if (/^@duckdb\+node-bindings-linux-(x64|arm64)@/.test(e.name)) {
        const arch = e.name.includes("arm64") ? "arm64" : "x64";
        return `${base}/${e.name}/node_modules/@duckdb/node-bindings-linux-${arch}`;
      }
    }
  } catch {
    return undefined;
  }
  return undefined;
}

async function sh(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(cmd, { args, env, clearEnv: true, cwd: REPO_ROOT }).output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

const PATH = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" };

async function walk(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    const rel = `${prefix}/${e.name}`;
    out.push(rel);
    if (e.isDirectory) out.push(...await walk(`${dir}/${e.name}`, rel));
  }
  return out;
}

Deno.test("rootfs.sh: rejects a root uid and a missing binary with exit 2", async () => {
  const tmp = await Deno.makeTempDir();
  try {
    const noBinary = await sh("bash", ["deploy/docker/rootfs.sh", "--out", tmp], PATH);
    assertEquals(noBinary.code, 2);
    assertMatch(noBinary.stderr, /--binary FILE is required/);
    const root = await sh("bash", [
      "deploy/docker/rootfs.sh",
      "--binary",
      Deno.execPath(),
      "--out",
      tmp,
      "--uid",
      "0",
    ], PATH);
    assertEquals(root.code, 2);
    assertMatch(root.stderr, /non-root uid/);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test({
  name: "rootfs.sh: the assembled filesystem runs the binary under chroot as uid 65532",
  ignore,
  async fn() {
    const tmp = await Deno.makeTempDir();
    const root = `${tmp}/rootfs`;
    try {
      const compiled = compiledBinary();
      const binary = compiled ?? Deno.execPath();
      const duckdb = await duckdbDir();
      const args = ["deploy/docker/rootfs.sh", "--binary", binary, "--out", root];
      if (duckdb) args.push("--duckdb", duckdb);
      const built = await sh("bash", args, PATH);
      assertEquals(built.code, 0, built.stderr);

      // Nothing but the binary, its libraries, config, CA bundle and the augur folders.
      const files = await walk(root);
      const top = new Set(files.filter((f) => f.split("/").length === 2));
      for (const entry of top) {
        assert(
          ["/augur", "/etc", "/lib", "/lib64", "/usr", "/tmp", "/var"].includes(entry),
          `unexpected top-level entry ${entry}`,
        );
      }
      for (const f of files) {
        const name = f.split("/").at(-1)!;
        assert(!["sh", "bash", "dash", "busybox", "env"].includes(name), `shell in rootfs: ${f}`);
      }
      assert(files.includes("/etc/ssl/certs/ca-certificates.crt"), "CA bundle");
      assert(files.includes("/etc/augur/markets.toml"), "config baked under /etc/augur");
      assertEquals((await Deno.stat(`${root}/tmp`)).mode! & 0o7777, 0o1777, "/tmp mode");

      const user = ["--userspec=65532:65532", root];
      const version = await sh(chroot!, [...user, "/augur", "--version"], PATH);
      assertEquals(version.code, 0, version.stderr);
      assertMatch(
        version.stdout,
        compiled
          ? new RegExp(`^augur ${denoJson.version}`)
          : new RegExp(`^deno ${Deno.version.deno}`),
      );

      if (!compiled) {
        // The deno binary stands in for the compiled one: run JavaScript as uid 65532 that
        // reads the baked config, writes the data folder, and (with libduckdb) loads it.
        const script = [
          `const n = [...Deno.readDirSync("/etc/augur")].length;`,
          `Deno.writeTextFileSync("/var/lib/augur/data/probe", "ok");`,
          `let ro = "writable"; try { Deno.writeTextFileSync("/etc/augur/x", "x"); } catch { ro = "read-only"; }`,
          `let duck = "none";`,
          duckdb
            ? `const l = Deno.dlopen("/usr/lib/augur/libduckdb.so", { duckdb_library_version: { parameters: [], result: "pointer" } }); duck = new Deno.UnsafePointerView(l.symbols.duckdb_library_version()).getCString();`
            : "",
          `console.log(JSON.stringify({ n, ro, duck, uid: Deno.uid() }));`,
        ].join("\n");
        const run = await sh(chroot!, [...user, "/augur", "eval", script], {
          HOME: "/var/lib/augur",
          DENO_DIR: "/tmp/deno",
          LD_LIBRARY_PATH: "/usr/lib/augur",
          DENO_NO_UPDATE_CHECK: "1",
        });
        assertEquals(run.code, 0, run.stderr);
        const result = JSON.parse(run.stdout.trim());
        assert(result.n >= 1, "config files visible in the chroot");
        assertEquals(result.uid, 65532);
        assertEquals(result.ro, "read-only", "/etc/augur is not writable by the augur user");
        if (duckdb) assertMatch(result.duck, /^v\d+\.\d+/);
      }
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  },
});
