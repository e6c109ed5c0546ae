/**
 * Lint-style checks of deploy/docker/Dockerfile and .dockerignore (DESIGN §8): base images
 * pinned by tag, final stage FROM scratch with no shell and nothing run in it, numeric
 * non-root USER, ENTRYPOINT ["/augur"], CMD ["run","engine"], the rootfs built by
 * deploy/docker/rootfs.sh.
 */
import { assert, assertEquals } from "../../helpers/assert.ts";
import { REPO_ROOT } from "./render.ts";

interface Instruction {
  op: string;
  args: string;
  stage: number;
}

/** Parse a Dockerfile into instructions (continuations joined, comments dropped). */
function parseDockerfile(text: string): Instruction[] {
  const logical: string[] = [];
  let current = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (current === "" && (line === "" || line.startsWith("#"))) continue;
    if (line.startsWith("#")) continue;
    if (line.endsWith("\\")) {
      current += line.slice(0, -1) + " ";
      continue;
    }
    logical.push(current + line);
    current = "";
  }
  let stage = -1;
  return logical.map((line) => {
    const [op, ...rest] = line.split(/\s+/);
    if (op.toUpperCase() === "FROM") stage++;
    return { op: op.toUpperCase(), args: rest.join(" "), stage };
  });
}

const dockerfile = await Deno.readTextFile(`${REPO_ROOT}deploy/docker/Dockerfile`);
const instructions = parseDockerfile(dockerfile);
const froms = instructions.filter((i) => i.op === "FROM");
const lastStage = froms.length - 1;
const final = instructions.filter((i) => i.stage === lastStage);

Deno.test("Dockerfile: every base image is pinned by tag (no :latest)", () => {
  assert(froms.length >= 2, "multi-stage: a builder and a final stage");
  const stages = new Set<string>();
  for (const from of froms) {
    const [image, as, name] = from.args.split(/\s+/).filter((t) => !t.startsWith("--"));
    if (as?.toUpperCase() === "AS") stages.add(name);
    if (image === "scratch" || stages.has(image)) continue;
    assert(!image.includes("$"), `FROM ${image}: no build-arg images (pin them)`);
    const tag = /^[^@]+:([^/:@]+)$/.exec(image)?.[1];
    assert(tag !== undefined || image.includes("@sha256:"), `FROM ${image}: not pinned`);
    assert(tag !== "latest", `FROM ${image}: :latest is not a pin`);
    assert(/\d/.test(tag ?? "sha256"), `FROM ${image}: tag without a version`);
  }
});

Deno.test("Dockerfile: the builder uses the official Deno image at the CI's Deno version", async () => {
  const ci = await Deno.readTextFile(`${REPO_ROOT}.ci/run`);
  const version = /DENO_VERSION="([^"]+)"/.exec(ci)?.[1];
  assert(version, ".ci/run pins DENO_VERSION");
  assert(
    froms[0].args.startsWith(`denoland/deno:debian-${version} `),
    `builder FROM ${froms[0].args}: expected denoland/deno:debian-${version}`,
  );
  assert(/RUN deno task compile/.test(dockerfile), "builder runs `deno task compile`");
  assert(/deploy\/docker\/rootfs\.sh --binary dist\/augur/.test(dockerfile), "rootfs.sh");
});

Deno.test("Dockerfile: final stage is FROM scratch with no shell and nothing run in it", () => {
  assertEquals(froms[lastStage].args.split(/\s+/)[0], "scratch");
  for (const i of final) {
    assert(!["RUN", "SHELL", "ADD", "ONBUILD"].includes(i.op), `final stage has ${i.op}`);
    if (i.op === "COPY") assert(/--from=builder\b/.test(i.args), `COPY ${i.args}: from builder`);
  }
  for (const op of ["ENTRYPOINT", "CMD", "HEALTHCHECK"]) {
    const found = final.find((i) => i.op === op);
    if (found) assert(found.args.startsWith("["), `${op} must be exec form (no /bin/sh)`);
  }
});

Deno.test("Dockerfile: numeric non-root USER, ENTRYPOINT /augur, CMD run engine", () => {
  const users = final.filter((i) => i.op === "USER");
  assertEquals(users.length, 1, "exactly one USER in the final stage");
  const user = users[0].args;
  assert(/^\d+(:\d+)?$/.test(user), `USER ${user}: must be numeric uid[:gid]`);
  assert(!user.startsWith("0") || user.split(":")[0] !== "0", "USER must not be root");
  const last = <T extends Instruction>(op: string) => final.filter((i) => i.op === op).at(-1) as T;
  assertEquals(JSON.parse(last("ENTRYPOINT").args), ["/augur"]);
  assertEquals(JSON.parse(last("CMD").args), ["run", "engine"]);
  const env = final.filter((i) => i.op === "ENV").map((i) => i.args).join(" ");
  assert(env.includes("AUGUR_CONFIG_DIR=/etc/augur"), "config baked in under /etc/augur");
  assert(env.includes("LD_LIBRARY_PATH=/usr/lib/augur"), "libduckdb on LD_LIBRARY_PATH");
});

Deno.test(".dockerignore keeps node_modules, .git, dist and data out of the build context", async () => {
  const lines = (await Deno.readTextFile(`${REPO_ROOT}.dockerignore`)).split("\n")
    .map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  for (const entry of ["node_modules", ".git", "dist", "data", "tests"]) {
    assert(lines.includes(entry), `.dockerignore lacks ${entry}`);
  }
  for (const needed of ["config", "deno.json", "deno.lock", "main.ts", "deploy/docker/rootfs.sh"]) {
    assert(!lines.includes(needed), `.dockerignore must not exclude ${needed}`);
  }
});
