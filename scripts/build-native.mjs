// Builds the C++ addon (build/Release/chimera_native.node) with node-gyp, using the local Node
// headers (npm config nodedir) — never downloads anything. A failed build prints a warning and
// exits 0: the pure-TypeScript reference backend is the fallback and installation must not break.
// Set CHIMERA_SKIP_NATIVE_BUILD=1 to skip the build entirely.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

const addonPath = join(root, "build", "Release", "chimera_native.node");

function warn(msg) {
  console.warn(`\n[chimera] WARNING: native addon not built: ${msg}`);
  if (existsSync(addonPath)) console.warn("[chimera] An earlier build/Release/chimera_native.node is still there and will be used.\n");
  else console.warn("[chimera] Falling back to the pure-TypeScript reference backend (slower, same results).\n");
}

if (process.env.CHIMERA_SKIP_NATIVE_BUILD === "1") {
  warn("CHIMERA_SKIP_NATIVE_BUILD=1");
  process.exit(0);
}

/** The node-gyp command: npm's configured one, npm's bundled copy, else npx. */
function nodeGyp() {
  const cfg = process.env.npm_config_node_gyp;
  if (cfg && existsSync(cfg)) return [process.execPath, [cfg]];
  const candidates = [
    join(dirname(process.execPath), "..", "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
    "/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js",
    "/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js",
  ];
  for (const c of candidates) if (existsSync(c)) return [process.execPath, [c]];
  return ["npx", ["--no-install", "node-gyp"]];
}

// configure + build (not rebuild): incremental, and build/Release/chimera_native.node stays in
// place (usable by running processes and tests) until the final link replaces it.
const args = ["configure", "build", "--release"];
// Headers: prefer a local Node install (nodedir) so the build never goes to the network.
const nodedir = process.env.npm_config_nodedir || (existsSync("/usr/include/node/node_api.h") ? "/usr" : "");
if (nodedir) args.push(`--nodedir=${nodedir}`);
const jobs = process.env.JOBS || "max";
args.push(`--jobs=${jobs}`);

const [cmd, pre] = nodeGyp();
const t0 = Date.now();
const r = spawnSync(cmd, [...pre, ...args], { cwd: root, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" });
if (r.error || r.status !== 0) {
  const tail = `${r.stdout ?? ""}\n${r.stderr ?? ""}`.trim().split("\n").slice(-25).join("\n");
  warn(r.error ? r.error.message : `node-gyp exited with status ${r.status}`);
  if (tail) console.warn(tail);
  process.exit(0);
}
if (!existsSync(addonPath)) {
  warn("node-gyp succeeded but build/Release/chimera_native.node is missing");
  process.exit(0);
}
console.log(`[chimera] native addon built in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
